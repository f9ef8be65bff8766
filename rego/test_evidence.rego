# METADATA
# title: Test evidence
# description: |
#   On an agent pull request's head SHA:
#   - every input.config.test_evidence.required_checks name has a completed,
#     successful check run or status. A check that is missing or still running
#     keeps the policy pending (Go turns a pending that outlives
#     test_evidence.timeout into a failure); a completed one with any other
#     conclusion fails, unless another run of the same name is still going.
#   - with require_test_changes, changing code files (code_globs; every file
#     when empty) without changing a test file (test_globs) fails.
#   - each of the plan's acceptance commands is named in the evidence: an
#     entry is satisfied when the name of a completed, successful check
#     occurs in it ("go test ./server/..." and a check named "test"), or it
#     occurs in such a check's name. An unmatched entry is pending while any
#     check on the head is still running, and a violation once all are done.
package agentgate.policies.test_evidence

import data.agentgate.lib

title := "Test evidence"

default applies := false

applies if {
	not lib.disabled("test_evidence")
	input.agent_authored
}

succeeded(c) if {
	c.status == "completed"
	c.conclusion == "success"
}

# Complete sets (computed once), not partial ones: a lookup such as
# passed[name] in a partial set re-evaluates its rule.
#
# Check names that have at least one completed, successful run.
passed := {c.name | some c in input.checks; succeeded(c)}

# Check names with a run that has not completed yet.
running := {c.name | some c in input.checks; c.status != "completed"}

# Check names with a completed run that did not succeed. Every run of a
# required name must pass: a second run (or a commit status) of the same
# name that succeeds must not outvote one that failed.
failed := {c.name | some c in input.checks; c.status == "completed"; not succeeded(c)}

reported := {c.name | some c in input.checks}

pending contains sprintf("waiting for required check %q", [name]) if {
	applies
	some name in input.config.test_evidence.required_checks
	not failed[name]
	running[name]
}

pending contains sprintf("required check %q has not reported on the head commit yet", [name]) if {
	applies
	some name in input.config.test_evidence.required_checks
	not reported[name]
}

violations contains {"message": sprintf("required check %q concluded %q, not success", [c.name, c.conclusion])} if {
	applies
	some name in input.config.test_evidence.required_checks
	failed[name]
	some c in input.checks
	c.name == name
	c.status == "completed"
	not succeeded(c)
}

code_files contains f.path if {
	some f in input.files
	code_file(f)
	not is_test_file(f)
}

code_file(_) if count(lib.list(object.get(input.config.test_evidence, "code_globs", []))) == 0

code_file(f) if lib.touches(code_glob, f)

is_test_file(f) if lib.touches(tests_glob, f)

code_glob := lib.glob_of(input.config.test_evidence.code_globs)

tests_glob := lib.glob_of(input.config.test_evidence.test_globs)

changed_tests contains f.path if {
	some f in input.files
	is_test_file(f)
}

# How many code and test files changed: input.derived's counts when
# agentgate computed them (see rego/README.md).
code_file_count := n if {
	n := input.derived.test_evidence.code_files
	is_number(n)
} else := count(code_files)

changed_test_count := n if {
	n := input.derived.test_evidence.test_files
	is_number(n)
} else := count(changed_tests)

violations contains {"message": msg} if {
	applies
	input.config.test_evidence.require_test_changes == true
	code_file_count > 0
	changed_test_count == 0
	msg := sprintf("%d code files changed without any test change (test files match %s)", [code_file_count, concat(", ", globs(object.get(input.config.test_evidence, "test_globs", [])))])
}

globs(patterns) := [sprintf("%q", [g]) | some g in patterns] if count(lib.list(patterns)) > 0

else := ["no configured test_globs"]

acceptance_met(entry) if {
	some name in passed
	name != ""
	contains(entry, name)
}

acceptance_met(entry) if {
	some name in passed
	entry != ""
	contains(name, entry)
}

unmet_acceptance contains entry if {
	some entry in input.task.plan.acceptance
	not acceptance_met(entry)
}

pending contains sprintf("waiting for evidence of the plan's acceptance check %q", [entry]) if {
	applies
	some entry in unmet_acceptance
	count(running) > 0
}

violations contains {"message": sprintf("the plan's acceptance check %q is not named by any successful check", [entry])} if {
	applies
	some entry in unmet_acceptance
	count(running) == 0
}

summary := sprintf("%d required checks passed%s", [count(required), acceptance_note]) if {
	applies
} else := "disabled in .github/agentgate.yml" if {
	lib.disabled("test_evidence")
} else := "human-authored pull request (test evidence applies to agent pull requests)"

required := {name | some name in input.config.test_evidence.required_checks}

acceptance_note := sprintf("; %d acceptance checks named in the evidence", [count(input.task.plan.acceptance)]) if {
	count(lib.list(input.task.plan.acceptance)) > 0
} else := ""
