# METADATA
# title: Plan scope
# description: |
#   With input.config.plan_scope.enabled and an approved plan listing paths
#   (input.task.plan.paths), every changed file (and, for a rename, its
#   previous path) matches one of the plan's path globs.
package agentgate.policies.plan_scope

import data.agentgate.lib

title := "Plan scope"

default applies := false

applies if {
	not lib.disabled("plan_scope")
	input.config.plan_scope.enabled == true
	count(lib.list(input.task.plan.paths)) > 0
}

violations contains lib.file_violation(f, msg) if {
	applies
	count(outside) > 0
	some f in input.files
	some p in lib.paths(f)
	outside[p]
	msg := sprintf("%s is outside the approved plan's paths (%s)", [p, concat(", ", input.task.plan.paths)])
}

plan_glob := lib.glob_of(input.task.plan.paths)

# The changed paths (and previous paths) outside the plan: input.derived's
# list when agentgate computed it (see rego/README.md), else one glob.match
# per path; a loop over files only when there are some.
outside := {p | some p in ps} if {
	ps := input.derived.plan_scope.outside
	is_array(ps)
} else := {p | some p in lib.changed_paths; not glob.match(plan_glob, ["/"], p)}

summary := sprintf("%d files, all within the plan's paths", [count(lib.list(input.files))]) if {
	applies
} else := "disabled in .github/agentgate.yml" if {
	lib.disabled("plan_scope")
} else := "plan scope is not enabled in .github/agentgate.yml" if {
	not input.config.plan_scope.enabled
} else := "no approved plan with paths"
