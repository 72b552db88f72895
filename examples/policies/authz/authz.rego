# Example policy: role-based access with document ownership.
#
# input:
#   user:     { id, roles: [..] }         (evaluatePolicy: the caller says who)
#   claims:   { sub, roles: [..], ... }   (authorize: verified token claims)
#   action:   "read" | "write" | "delete" | ...
#   resource: { type, id }
package authz

# Deny unless a rule below says otherwise.
default allow := false

# Who is asking: the verified token when there is one, else input.user.
user := {"id": input.claims.sub, "roles": object.get(input.claims, "roles", [])} if input.claims

user := input.user if not input.claims

# Admins may do anything.
allow if "admin" in user.roles

# Any role granting the action on the resource type.
allow if {
	some role in user.roles
	some grant in data.roles[role].grants
	grant.action == input.action
	grant.type == input.resource.type
}

# Owners may edit their own documents.
allow if {
	input.resource.type == "document"
	input.action in {"read", "write"}
	data.documents[input.resource.id].owner == user.id
}

# Why a request was denied, for logs (never includes the token).
reasons contains "no roles" if count(object.get(user, "roles", [])) == 0

reasons contains sprintf("unknown role %s", [role]) if {
	some role in user.roles
	not data.roles[role]
	role != "admin"
}
