# Attribute-based access control over a 1,000-entry resource inventory
# (data.inventory.resources, keyed by resource id). User attributes come from input.
package abac

default allow := false

levels := data.inventory.clearance_levels

resource := data.inventory.resources[input.resource.id]

cleared if levels[input.user.clearance] >= levels[resource.classification]

same_region if resource.region in input.user.regions

# Owners may do anything with their own resources except delete one under legal hold.
allow if {
	resource.owner == input.user.id
	input.action != "delete"
}

allow if {
	resource.owner == input.user.id
	input.action == "delete"
	not resource.legal_hold
}

# Members of the owning department may read and update within their clearance and region.
allow if {
	input.action in {"read", "update"}
	resource.department == input.user.department
	cleared
	same_region
}

# Anyone may read a public resource.
allow if {
	input.action == "read"
	resource.classification == "public"
}

# Auditors may read anything below "secret", in any department, within their clearance.
allow if {
	input.action == "read"
	"auditor" in input.user.roles
	levels[resource.classification] < levels.secret
	cleared
}
