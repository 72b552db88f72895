# Role-based access control: a user's roles grant (action, resource type)
# permissions listed in data.rbac.roles. A wildcard "*" matches any action or type.
package authz

default allow := false

allow if {
	not input.user.disabled
	some role in input.user.roles
	some grant in data.rbac.roles[role].grants
	action_matches(grant.action)
	type_matches(grant.type)
}

action_matches(action) if action == "*"

action_matches(action) if action == input.action

type_matches(type) if type == "*"

type_matches(type) if type == input.resource.type
