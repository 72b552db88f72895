# Token RBAC: the roles claim of a verified bearer token (input.claims.roles) grants
# (action, resource type) pairs listed in data.roles, with "*" matching any action or type;
# the token's tenant claim must be the resource's tenant. The caller adds input.claims after
# verifying the token (CoreSDK's authorize does it; the jose + opa-wasm pipeline spreads the
# verified payload into the input).
package authz

default allow := false

allow if {
	input.claims.tenant == input.resource.tenant
	some role in input.claims.roles
	some grant in data.roles[role].grants
	action_matches(grant.action)
	type_matches(grant.type)
}

action_matches(action) if action == "*"

action_matches(action) if action == input.action

type_matches(type) if type == "*"

type_matches(type) if type == input.resource.type
