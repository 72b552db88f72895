# Example AuthZEN policy: a small document-sharing service.
#
# Served by `coresdk-sidecar --dev` on the AuthZEN endpoints (docs/authzen.md).
# The request's entities are the input, as sent:
#   input.subject:  { type: "user", id, properties?: { roles?: [..] } }
#   input.action:   { name: "can_read" | "can_write" | "can_share" | "can_delete" }
#   input.resource: { type: "document", id }
#   input.context:  { ... }  (unused here)
#
# Documents (data.sharing.documents) have an owner, editors and viewers; a
# principal is a user id or "group:<name>" (data.sharing.groups). Owners may
# do anything, editors read and write, viewers read; anyone may read a public
# document; a subject with the "admin" role may do anything.
package authzen

# Deny unless a rule below says otherwise.
default allow := false

grants := {
	"owner": {"can_read", "can_write", "can_share", "can_delete"},
	"editor": {"can_read", "can_write"},
	"viewer": {"can_read"},
}

actions := {"can_read", "can_write", "can_share", "can_delete"}

# A principal names the user, or a group the user is in.
member(user, principal) if principal == user

member(user, principal) if {
	startswith(principal, "group:")
	user in data.sharing.groups[substring(principal, 6, -1)]
}

has_role(user, doc, role) if {
	role == "owner"
	doc.owner == user
}

has_role(user, doc, role) if {
	role == "editor"
	some p in doc.editors
	member(user, p)
}

has_role(user, doc, role) if {
	role == "viewer"
	some p in doc.viewers
	member(user, p)
}

permitted(user, doc, action) if {
	some role, allowed in grants
	action in allowed
	has_role(user, doc, role)
}

permitted(_, doc, "can_read") if doc.public

admin if "admin" in object.get(object.get(input.subject, "properties", {}), "roles", [])

allow if {
	input.subject.type == "user"
	admin
	input.action.name in actions
}

allow if {
	input.subject.type == "user"
	input.resource.type == "document"
	permitted(input.subject.id, data.sharing.documents[input.resource.id], input.action.name)
}

# The response context (sidecar.authzen.context_query = "data.authzen.context"):
# which role granted the action.
context := {"role": role} if {
	input.resource.type == "document"
	some role, allowed in grants
	input.action.name in allowed
	has_role(input.subject.id, data.sharing.documents[input.resource.id], role)
}

# Everyone the data knows of.
users contains doc.owner if some doc in data.sharing.documents

users contains u if {
	some doc in data.sharing.documents
	some p in array.concat(doc.editors, doc.viewers)
	not startswith(p, "group:")
	u := p
}

users contains u if {
	some members in data.sharing.groups
	some u in members
}

# Subject search: the users who may perform the action on the document.
search_subjects contains {"type": "user", "id": u} if {
	input.subject.type == "user"
	doc := data.sharing.documents[input.resource.id]
	some u in users
	permitted(u, doc, input.action.name)
}

# Resource search: the documents the subject may perform the action on.
search_resources contains {"type": "document", "id": id} if {
	input.resource.type == "document"
	some id, doc in data.sharing.documents
	permitted(input.subject.id, doc, input.action.name)
}

# Action search: what the subject may do with the document.
search_actions contains {"name": a} if {
	doc := data.sharing.documents[input.resource.id]
	some a in actions
	permitted(input.subject.id, doc, a)
}
