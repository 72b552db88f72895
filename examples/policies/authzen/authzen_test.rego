# Unit tests of data.authzen: `coresdk-sidecar test examples/policies`
# (or `opa test examples/policies`).
package authzen_test

import data.authzen

req(user, action, doc) := {
	"subject": {"type": "user", "id": user},
	"action": {"name": action},
	"resource": {"type": "document", "id": doc},
}

test_owner_may_share if authzen.allow with input as req("alice", "can_share", "plan")

test_editor_may_write_not_share if {
	authzen.allow with input as req("bob", "can_write", "plan")
	not authzen.allow with input as req("bob", "can_share", "plan")
}

test_viewer_reads_only if {
	authzen.allow with input as req("carol", "can_read", "plan")
	not authzen.allow with input as req("carol", "can_write", "plan")
}

test_group_viewer if {
	authzen.allow with input as req("dave", "can_read", "roadmap")
	not authzen.allow with input as req("erin", "can_read", "roadmap")
}

test_public_document_readable_by_anyone if {
	authzen.allow with input as req("stranger", "can_read", "handbook")
	not authzen.allow with input as req("stranger", "can_write", "handbook")
}

test_unknown_document_denied if not authzen.allow with input as req("alice", "can_read", "nope")

test_unknown_action_denied if not authzen.allow with input as req("alice", "can_fly", "plan")

test_admin_role if {
	authzen.allow with input as {
		"subject": {"type": "user", "id": "root", "properties": {"roles": ["admin"]}},
		"action": {"name": "can_delete"},
		"resource": {"type": "document", "id": "plan"},
	}
}

test_context_names_the_role if {
	authzen.context == {"role": "editor"} with input as req("bob", "can_write", "plan")
}

test_search_resources if {
	authzen.search_resources == {{"type": "document", "id": "plan"}, {"type": "document", "id": "handbook"}, {"type": "document", "id": "roadmap"}} with input as req("alice", "can_read", "")
}

test_search_actions if {
	authzen.search_actions == {{"name": "can_read"}, {"name": "can_write"}} with input as req("bob", "can_read", "plan")
}

test_search_subjects if {
	subjects := authzen.search_subjects with input as req("", "can_read", "roadmap")
	subjects == {{"type": "user", "id": "alice"}, {"type": "user", "id": "carol"}, {"type": "user", "id": "dave"}}
}
