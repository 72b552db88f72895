# ABAC as services write it: the subject's attributes compared with the resource's (both from
# the input), beside a deny set. The shape issue 31 names: `input.subject.clearance >=
# input.resource.level` had sent every query of such a policy to the interpreter.
package abacpair

default allow := false

allow if {
	input.subject.clearance >= input.resource.level
	input.subject.department == input.resource.department
	count(deny) == 0
}

allow if {
	input.resource.owner == input.subject.id
	count(deny) == 0
}

deny contains "suspended" if input.subject.suspended

deny contains "expired" if input.subject.expires_at <= input.request.time

deny contains "too large" if input.request.bytes > input.resource.max_bytes

deny contains "other region" if input.subject.region != input.resource.region

deny contains "write above clearance" if {
	input.action in {"write", "delete"}
	input.resource.level > input.subject.clearance
}
