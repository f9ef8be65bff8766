package agentgate.policies.protected_paths_test

import data.agentgate.fixtures
import data.agentgate.policies.protected_paths

workflow := {"path": ".github/workflows/ci.yml", "status": "modified", "additions": 1, "deletions": 1, "first_line": 9}

policy_file := {"path": "policy/engine.go", "status": "modified", "additions": 1, "deletions": 1}

review(user, state, commit) := {"id": 1, "user": user, "state": state, "commit_id": commit, "permission": "write"}

test_unprotected_agent_pr_passes if {
	protected_paths.applies with input as fixtures.agent_pr
	count(protected_paths.violations) == 0 with input as fixtures.agent_pr
	count(protected_paths.action_required) == 0 with input as fixtures.agent_pr
	protected_paths.summary == "touches no protected paths" with input as fixtures.agent_pr
}

test_agent_may_not_touch_workflow if {
	inp := fixtures.with_files(fixtures.agent_pr, [workflow])
	protected_paths.violations == {{"message": "agents may not change protected path .github/workflows/ci.yml", "file": ".github/workflows/ci.yml", "line": 9}} with input as inp
}

test_deleted_protected_file_fails if {
	inp := fixtures.with_files(fixtures.agent_pr, [{"path": ".github/workflows/old.yml", "status": "removed", "additions": 0, "deletions": 30}])
	protected_paths.violations == {{"message": "agents may not delete protected path .github/workflows/old.yml", "file": ".github/workflows/old.yml"}} with input as inp
}

test_renamed_out_of_protected_path_fails if {
	inp := fixtures.with_files(fixtures.agent_pr, [{"path": "ci.yml.bak", "previous_path": ".github/workflows/ci.yml", "status": "renamed", "additions": 0, "deletions": 0}])
	protected_paths.violations == {{"message": "agents may not rename protected path .github/workflows/ci.yml (to ci.yml.bak)", "file": "ci.yml.bak"}} with input as inp
}

test_renamed_into_protected_path_fails if {
	inp := fixtures.with_files(fixtures.agent_pr, [{"path": ".github/workflows/x.yml", "previous_path": "x.yml", "status": "renamed", "additions": 0, "deletions": 0}])
	protected_paths.violations == {{"message": "agents may not change protected path .github/workflows/x.yml", "file": ".github/workflows/x.yml"}} with input as inp
}

test_human_may_touch_workflow if {
	inp := fixtures.with_files(fixtures.human_pr, [workflow])
	count(protected_paths.violations) == 0 with input as inp
}

test_approval_missing_is_action_required if {
	inp := fixtures.with_files(fixtures.agent_pr, [policy_file])
	protected_paths.action_required == {{"message": "policy/engine.go needs an approving review of the head commit from alice or agentgate/security, who is not the requester or the author", "file": "policy/engine.go"}} with input as inp
	count(protected_paths.violations) == 0 with input as inp
}

test_owner_approval_on_head_passes if {
	inp := object.union(fixtures.with_files(fixtures.agent_pr, [policy_file]), {"reviews": [review("Alice", "APPROVED", "head1")]})
	count(protected_paths.action_required) == 0 with input as inp
	protected_paths.summary == "1 protected files, approved by their owners" with input as inp
}

test_team_approval_passes if {
	r := object.union(review("dave", "APPROVED", "head1"), {"teams": ["agentgate/security"]})
	inp := object.union(fixtures.with_files(fixtures.agent_pr, [policy_file]), {"reviews": [r]})
	count(protected_paths.action_required) == 0 with input as inp
}

test_stale_approval_does_not_count if {
	inp := object.union(fixtures.with_files(fixtures.agent_pr, [policy_file]), {"reviews": [review("alice", "APPROVED", "old")]})
	count(protected_paths.action_required) == 1 with input as inp
}

test_non_owner_or_non_approval_does_not_count if {
	inp := object.union(fixtures.with_files(fixtures.agent_pr, [policy_file]), {"reviews": [review("mallory", "APPROVED", "head1"), review("alice", "COMMENTED", "head1")]})
	count(protected_paths.action_required) == 1 with input as inp
}

test_requester_cannot_approve if {
	inp := object.union(fixtures.with_files(fixtures.agent_pr, [policy_file]), {
		"requester": {"login": "alice", "type": "User"},
		"reviews": [review("alice", "APPROVED", "head1")],
	})
	count(protected_paths.action_required) == 1 with input as inp
}

test_author_cannot_approve if {
	inp := object.union(fixtures.with_files(fixtures.human_pr, [policy_file]), {
		"pull_request": {"author": {"login": "alice", "type": "User"}},
		"reviews": [review("alice", "APPROVED", "head1")],
	})
	protected_paths.applies with input as inp
	count(protected_paths.action_required) == 1 with input as inp
}

test_human_pr_needs_approval_too if {
	inp := fixtures.with_files(fixtures.human_pr, [policy_file])
	count(protected_paths.action_required) == 1 with input as inp
	inp2 := object.union(inp, {"reviews": [review("alice", "APPROVED", "head1")]})
	count(protected_paths.action_required) == 0 with input as inp2
}

test_deleted_file_needs_approval if {
	inp := fixtures.with_files(fixtures.human_pr, [{"path": "policy/old.go", "status": "removed", "additions": 0, "deletions": 3}])
	count(protected_paths.action_required) == 1 with input as inp
}

test_empty_pr_passes if {
	inp := fixtures.with_files(fixtures.agent_pr, [])
	count(protected_paths.violations) == 0 with input as inp
	count(protected_paths.action_required) == 0 with input as inp
}

test_human_pr_without_rules_skipped if {
	inp := fixtures.with_config(fixtures.human_pr, fixtures.empty_config)
	not protected_paths.applies with input as inp
}

test_bot_pr_touching_workflow_not_agent if {
	inp := fixtures.with_files(fixtures.bot_pr, [workflow])
	count(protected_paths.violations) == 0 with input as inp
}

test_empty_config_agent_pr_passes if {
	inp := fixtures.with_files(fixtures.with_config(fixtures.agent_pr, fixtures.empty_config), [workflow, policy_file])
	protected_paths.applies with input as inp
	count(protected_paths.violations) == 0 with input as inp
	count(protected_paths.action_required) == 0 with input as inp
}

test_disabled_skipped if {
	not protected_paths.applies with input as fixtures.disabled(fixtures.agent_pr, "protected_paths")
}

# With input.derived.protected_paths the matching paths are read, with the
# same messages.
test_derived_blocked_paths_give_the_same_violations if {
	plain := fixtures.with_files(fixtures.agent_pr, [workflow, {"path": "ci.yml.bak", "previous_path": ".github/workflows/ci.yml", "status": "renamed", "additions": 0, "deletions": 0}])
	want := protected_paths.violations with input as plain
	count(want) == 2
	inp := fixtures.with_derived(plain, {"protected_paths": {"agents_may_not_touch": [".github/workflows/ci.yml"], "require_approval": [[]]}})
	protected_paths.violations == want with input as inp
}

test_derived_approval_paths_give_the_same_action_required if {
	plain := fixtures.with_files(fixtures.agent_pr, [policy_file])
	want := protected_paths.action_required with input as plain
	count(want) == 1
	inp := fixtures.with_derived(plain, {"protected_paths": {"agents_may_not_touch": [], "require_approval": [["policy/engine.go"]]}})
	protected_paths.action_required == want with input as inp
	approved := object.union(inp, {"reviews": [review("alice", "APPROVED", "head1")]})
	count(protected_paths.action_required) == 0 with input as approved
	protected_paths.summary == "1 protected files, approved by their owners" with input as approved
}

test_derived_protected_paths_are_read_not_recomputed if {
	inp := fixtures.with_derived(fixtures.with_files(fixtures.agent_pr, [workflow, policy_file]), {"protected_paths": {"agents_may_not_touch": [], "require_approval": [null]}})
	count(protected_paths.violations) == 0 with input as inp
	count(protected_paths.action_required) == 0 with input as inp
	protected_paths.summary == "touches no protected paths" with input as inp
}
