# Unit tests of data.authz: `coresdk-sidecar test examples/policies`
# (or `opa test examples/policies`).
package authz_test

import data.authz

test_admin_may_do_anything if {
	authz.allow with input as {"user": {"id": "root", "roles": ["admin"]}, "action": "delete", "resource": {"type": "invoice", "id": "i-1"}}
}

test_viewer_may_read_documents if {
	authz.allow with input as {"user": {"id": "carol", "roles": ["viewer"]}, "action": "read", "resource": {"type": "document", "id": "doc-9"}}
}

test_viewer_may_not_write if {
	not authz.allow with input as {"user": {"id": "carol", "roles": ["viewer"]}, "action": "write", "resource": {"type": "document", "id": "doc-9"}}
}

test_grants_are_per_resource_type if {
	not authz.allow with input as {"user": {"id": "erin", "roles": ["billing"]}, "action": "read", "resource": {"type": "document", "id": "doc-1"}}
	authz.allow with input as {"user": {"id": "erin", "roles": ["billing"]}, "action": "write", "resource": {"type": "invoice", "id": "i-1"}}
}

test_owner_may_edit_own_document if {
	authz.allow with input as {"user": {"id": "alice", "roles": []}, "action": "write", "resource": {"type": "document", "id": "doc-1"}}
}

test_owner_may_not_delete if {
	not authz.allow with input as {"user": {"id": "alice", "roles": []}, "action": "delete", "resource": {"type": "document", "id": "doc-1"}}
}

test_not_the_owner if {
	not authz.allow with input as {"user": {"id": "alice", "roles": []}, "action": "write", "resource": {"type": "document", "id": "doc-2"}}
}

test_verified_claims_take_precedence if {
	# input.user says admin, the verified token says viewer: the token wins.
	not authz.allow with input as {
		"claims": {"sub": "carol", "roles": ["viewer"]},
		"user": {"id": "carol", "roles": ["admin"]},
		"action": "delete",
		"resource": {"type": "document", "id": "doc-1"},
	}
}

test_claims_without_roles if {
	authz.user == {"id": "dave", "roles": []} with input as {"claims": {"sub": "dave"}}
}

test_deny_by_default if {
	authz.allow == false with input as {}
}

test_reasons if {
	authz.reasons == {"no roles"} with input as {"user": {"id": "x", "roles": []}}
	authz.reasons == {"unknown role auditor"} with input as {"user": {"id": "x", "roles": ["auditor", "admin"]}}
}

# One case per role and action; each case is reported on its own.
grant_cases := [
	{"note": "editor reads", "roles": ["editor"], "action": "read", "want": true},
	{"note": "editor writes", "roles": ["editor"], "action": "write", "want": true},
	{"note": "editor deletes", "roles": ["editor"], "action": "delete", "want": false},
	{"note": "viewer reads", "roles": ["viewer"], "action": "read", "want": true},
	{"note": "no role reads", "roles": [], "action": "read", "want": false},
]

test_document_grants[tc.note] if {
	some tc in grant_cases
	got := authz.allow with input as {"user": {"id": "zed", "roles": tc.roles}, "action": tc.action, "resource": {"type": "document", "id": "doc-9"}}
	got == tc.want
}
