package agentgate.policies.test_evidence_test

import data.agentgate.fixtures
import data.agentgate.policies.test_evidence

check(name, status, conclusion) := {"name": name, "status": status, "conclusion": conclusion, "app": "github-actions", "kind": "check_run"}

with_checks(cs) := object.union(fixtures.agent_pr, {"checks": cs})

test_passing_checks_pass if {
	test_evidence.applies with input as fixtures.agent_pr
	count(test_evidence.violations) == 0 with input as fixtures.agent_pr
	count(test_evidence.pending) == 0 with input as fixtures.agent_pr
	test_evidence.summary == "1 required checks passed; 1 acceptance checks named in the evidence" with input as fixtures.agent_pr
}

test_running_check_is_pending if {
	inp := with_checks([check("test", "in_progress", "")])
	test_evidence.pending == {
		"waiting for required check \"test\"",
		"waiting for evidence of the plan's acceptance check \"go test ./server/...\"",
	} with input as inp
	count(test_evidence.violations) == 0 with input as inp
}

test_missing_check_is_pending if {
	inp := json.remove(with_checks([]), ["task"])
	test_evidence.pending == {"required check \"test\" has not reported on the head commit yet"} with input as inp
}

test_failed_check_fails if {
	inp := json.remove(with_checks([check("test", "completed", "failure")]), ["task"])
	test_evidence.violations == {{"message": "required check \"test\" concluded \"failure\", not success"}} with input as inp
	count(test_evidence.pending) == 0 with input as inp
}

# The view lists the latest run per check, so a re-run replaces its failed
# run. Two runs of one name are two sources (another workflow, a commit
# status anyone with write access can post): a failure of either fails.
test_failure_of_one_source_fails_while_another_runs if {
	inp := json.remove(with_checks([check("test", "completed", "failure"), check("test", "queued", "")]), ["task"])
	test_evidence.violations == {{"message": "required check \"test\" concluded \"failure\", not success"}} with input as inp
	count(test_evidence.pending) == 0 with input as inp
}

test_success_does_not_outvote_a_failure if {
	inp := with_checks([check("test", "completed", "failure"), check("test", "completed", "success")])
	count(test_evidence.violations) == 1 with input as inp
}

test_neutral_is_not_success if {
	inp := json.remove(with_checks([check("test", "completed", "neutral")]), ["task"])
	test_evidence.violations == {{"message": "required check \"test\" concluded \"neutral\", not success"}} with input as inp
}

test_code_without_tests_fails_when_required if {
	inp := object.union(
		fixtures.with_files(fixtures.agent_pr, [{"path": "server/a.go", "status": "modified", "additions": 1, "deletions": 0}]),
		{"config": {"test_evidence": {"require_test_changes": true}}},
	)
	test_evidence.violations == {{"message": "1 code files changed without any test change (test files match \"**/*_test.go\")"}} with input as inp
}

test_code_with_tests_passes_when_required if {
	inp := object.union(fixtures.agent_pr, {"config": {"test_evidence": {"require_test_changes": true}}})
	count(test_evidence.violations) == 0 with input as inp
}

test_docs_only_needs_no_tests if {
	inp := object.union(
		fixtures.with_files(fixtures.agent_pr, [{"path": "README.md", "status": "modified", "additions": 1, "deletions": 0}]),
		{"config": {"test_evidence": {"require_test_changes": true}}},
	)
	count(test_evidence.violations) == 0 with input as inp
}

test_renamed_test_file_counts_as_test_change if {
	inp := object.union(
		fixtures.with_files(fixtures.agent_pr, [
			{"path": "server/a.go", "status": "modified", "additions": 1, "deletions": 0},
			{"path": "server/b_test.go", "previous_path": "server/a_test.go", "status": "renamed", "additions": 0, "deletions": 0},
		]),
		{"config": {"test_evidence": {"require_test_changes": true}}},
	)
	count(test_evidence.violations) == 0 with input as inp
}

test_empty_pr_with_required_tests_passes if {
	inp := object.union(fixtures.with_files(fixtures.agent_pr, []), {"config": {"test_evidence": {"require_test_changes": true}}})
	count(test_evidence.violations) == 0 with input as inp
}

test_empty_globs_treat_every_file_as_code if {
	inp := fixtures.with_config(fixtures.agent_pr, fixtures.empty_config)
	test_evidence.violations == {{"message": "2 code files changed without any test change (test files match no configured test_globs)"}} with input as inp
}

test_acceptance_named_by_check_name if {
	inp := object.union(with_checks([check("test", "completed", "success"), check("lint", "completed", "success")]), {"task": {"plan": {"acceptance": ["go test ./server/...", "golangci-lint run"]}}})
	count(test_evidence.violations) == 0 with input as inp
}

test_acceptance_unmet_fails_when_checks_done if {
	inp := object.union(fixtures.agent_pr, {"task": {"plan": {"acceptance": ["go test ./server/...", "npm run e2e"]}}})
	test_evidence.violations == {{"message": "the plan's acceptance check \"npm run e2e\" is not named by any successful check"}} with input as inp
}

test_acceptance_met_by_failed_check_does_not_count if {
	inp := object.union(with_checks([check("test", "completed", "success"), check("e2e", "completed", "failure")]), {"task": {"plan": {"acceptance": ["npm run e2e"]}}})
	test_evidence.violations == {{"message": "the plan's acceptance check \"npm run e2e\" is not named by any successful check"}} with input as inp
}

test_human_pr_skipped if {
	inp := object.union(fixtures.human_pr, {"checks": []})
	not test_evidence.applies with input as inp
	count(test_evidence.pending) == 0 with input as inp
}

test_non_agent_bot_skipped if {
	not test_evidence.applies with input as fixtures.bot_pr
}

test_disabled_skipped if {
	not test_evidence.applies with input as fixtures.disabled(fixtures.agent_pr, "test_evidence")
}

test_no_required_checks_passes if {
	inp := json.remove(with_checks([]), ["task"])
	inp2 := object.union(inp, {"config": {"test_evidence": {"required_checks": []}}})
	count(test_evidence.violations) == 0 with input as inp2
	count(test_evidence.pending) == 0 with input as inp2
}

# With input.derived.test_evidence the counts are read, with the same
# messages.
test_derived_counts_give_the_same_violation if {
	plain := object.union(
		fixtures.with_files(fixtures.agent_pr, [{"path": "server/a.go", "status": "modified", "additions": 1, "deletions": 0}]),
		{"config": {"test_evidence": {"require_test_changes": true}}},
	)
	want := test_evidence.violations with input as plain
	count(want) == 1
	inp := fixtures.with_derived(plain, {"test_evidence": {"code_files": 1, "test_files": 0}})
	test_evidence.violations == want with input as inp
}

test_derived_counts_are_read_not_recomputed if {
	inp := fixtures.with_derived(
		object.union(fixtures.agent_pr, {"config": {"test_evidence": {"require_test_changes": true}}}),
		{"test_evidence": {"code_files": 3, "test_files": 0}},
	)
	test_evidence.violations == {{"message": "3 code files changed without any test change (test files match \"**/*_test.go\")"}} with input as inp
}

# While any run of a required name is still running, the policy waits.
test_passed_and_running_waits if {
	inp := with_checks([check("test", "completed", "success"), check("test", "in_progress", "")])
	count(test_evidence.violations) == 0 with input as inp
	count(test_evidence.pending) == 1 with input as inp
}
