package agentgate.policies.plan_scope_test

import data.agentgate.fixtures
import data.agentgate.policies.plan_scope

test_files_in_plan_pass if {
	plan_scope.applies with input as fixtures.agent_pr
	count(plan_scope.violations) == 0 with input as fixtures.agent_pr
	plan_scope.summary == "2 files, all within the plan's paths" with input as fixtures.agent_pr
}

test_file_outside_plan_fails if {
	inp := fixtures.with_files(fixtures.agent_pr, [
		{"path": "server/a.go", "status": "modified", "additions": 1, "deletions": 0},
		{"path": "store/db.go", "status": "modified", "additions": 1, "deletions": 0, "first_line": 4},
	])
	plan_scope.violations == {{"message": "store/db.go is outside the approved plan's paths (server/**)", "file": "store/db.go", "line": 4}} with input as inp
}

test_rename_from_outside_plan_fails if {
	inp := fixtures.with_files(fixtures.agent_pr, [{"path": "server/db.go", "previous_path": "store/db.go", "status": "renamed", "additions": 0, "deletions": 0}])
	plan_scope.violations == {{"message": "store/db.go is outside the approved plan's paths (server/**)", "file": "server/db.go"}} with input as inp
}

test_deleted_file_outside_plan_fails if {
	inp := fixtures.with_files(fixtures.agent_pr, [{"path": "README.md", "status": "removed", "additions": 0, "deletions": 4}])
	count(plan_scope.violations) == 1 with input as inp
}

test_empty_pr_passes if {
	inp := fixtures.with_files(fixtures.agent_pr, [])
	count(plan_scope.violations) == 0 with input as inp
}

test_disabled_in_config_skipped if {
	inp := object.union(fixtures.agent_pr, {"config": {"plan_scope": {"enabled": false}}})
	not plan_scope.applies with input as inp
	plan_scope.summary == "plan scope is not enabled in .github/agentgate.yml" with input as inp
}

test_disabled_policy_skipped if {
	not plan_scope.applies with input as fixtures.disabled(fixtures.agent_pr, "plan_scope")
}

test_no_plan_skipped if {
	inp := json.remove(fixtures.agent_pr, ["task"])
	not plan_scope.applies with input as inp
	plan_scope.summary == "no approved plan with paths" with input as inp
}

test_plan_without_paths_skipped if {
	inp := json.patch(fixtures.agent_pr, [{"op": "replace", "path": "/task/plan/paths", "value": null}])
	not plan_scope.applies with input as inp
}

test_human_pr_skipped if {
	not plan_scope.applies with input as fixtures.human_pr
}

# With input.derived.plan_scope the paths outside the plan are read, with
# the same messages.
test_derived_outside_gives_the_same_violations if {
	plain := fixtures.with_files(fixtures.agent_pr, [
		{"path": "server/a.go", "status": "modified", "additions": 1, "deletions": 0},
		{"path": "store/db.go", "status": "modified", "additions": 1, "deletions": 0, "first_line": 4},
		{"path": "server/db.go", "previous_path": "store/old.go", "status": "renamed", "additions": 0, "deletions": 0},
	])
	want := plan_scope.violations with input as plain
	count(want) == 2
	inp := fixtures.with_derived(plain, {"plan_scope": {"outside": ["store/db.go", "store/old.go"]}})
	plan_scope.violations == want with input as inp
}

test_derived_outside_is_read_not_recomputed if {
	inp := fixtures.with_derived(fixtures.with_files(fixtures.agent_pr, [{"path": "store/db.go", "status": "modified", "additions": 1, "deletions": 0}]), {"plan_scope": {"outside": []}})
	count(plan_scope.violations) == 0 with input as inp
	plan_scope.summary == "1 files, all within the plan's paths" with input as inp
}
