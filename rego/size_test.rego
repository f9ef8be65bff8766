package agentgate.policies.size_test

import data.agentgate.fixtures
import data.agentgate.policies.size

test_small_agent_pr_passes if {
	size.applies with input as fixtures.agent_pr
	count(size.violations) == 0 with input as fixtures.agent_pr
	size.summary == "120 lines in 2 files (limits 800 lines, 40 files)" with input as fixtures.agent_pr
}

test_too_many_lines_fails if {
	inp := fixtures.with_files(fixtures.agent_pr, [{"path": "server/big.go", "status": "added", "additions": 900, "deletions": 0}])
	size.violations == {{"message": "900 lines changed (additions + deletions); the limit is 800: split the pull request"}} with input as inp
}

test_too_many_files_fails if {
	fs := [{"path": sprintf("server/f%d.go", [i]), "status": "modified", "additions": 1, "deletions": 0} | some i in numbers.range(1, 41)]
	inp := fixtures.with_files(fixtures.agent_pr, fs)
	size.violations == {{"message": "41 files changed; the limit is 40: split the pull request"}} with input as inp
}

test_excluded_paths_not_counted if {
	fs := [
		{"path": "vendor/x/y.go", "status": "added", "additions": 5000, "deletions": 0},
		{"path": "api/v1/api.pb.go", "status": "modified", "additions": 3000, "deletions": 2000},
		{"path": "server/a.go", "status": "modified", "additions": 10, "deletions": 2},
	]
	inp := fixtures.with_files(fixtures.agent_pr, fs)
	count(size.violations) == 0 with input as inp
	size.summary == "12 lines in 1 files, not counting 2 excluded files (limits 800 lines, 40 files)" with input as inp
}

test_empty_pr_passes if {
	inp := fixtures.with_files(fixtures.agent_pr, [])
	count(size.violations) == 0 with input as inp
	size.summary == "0 lines in 0 files (limits 800 lines, 40 files)" with input as inp
}

test_deleted_and_renamed_files_count if {
	fs := [
		{"path": "server/gone.go", "status": "removed", "additions": 0, "deletions": 500},
		{"path": "server/new.go", "previous_path": "server/old.go", "status": "renamed", "additions": 200, "deletions": 200},
	]
	inp := fixtures.with_files(fixtures.agent_pr, fs)
	size.violations == {{"message": "900 lines changed (additions + deletions); the limit is 800: split the pull request"}} with input as inp
}

test_draft_pr_still_judged if {
	inp := object.union(fixtures.with_files(fixtures.agent_pr, [{"path": "a.go", "status": "added", "additions": 801, "deletions": 0}]), {"pull_request": {"draft": true}})
	count(size.violations) == 1 with input as inp
}

test_human_pr_skipped if {
	inp := fixtures.with_files(fixtures.human_pr, [{"path": "a.go", "status": "added", "additions": 5000, "deletions": 0}])
	not size.applies with input as inp
	count(size.violations) == 0 with input as inp
	size.summary == "human-authored pull request (size applies to agent pull requests)" with input as inp
}

test_non_agent_bot_skipped if {
	not size.applies with input as fixtures.bot_pr
}

test_applies_to_all_judges_humans if {
	inp := object.union(
		fixtures.with_files(fixtures.human_pr, [{"path": "a.go", "status": "added", "additions": 5000, "deletions": 0}]),
		{"config": {"size": {"applies_to": "all"}}},
	)
	size.applies with input as inp
	count(size.violations) == 1 with input as inp
}

test_disabled_skipped if {
	inp := fixtures.disabled(fixtures.agent_pr, "size")
	not size.applies with input as inp
	size.summary == "disabled in .github/agentgate.yml" with input as inp
}

test_missing_limits_mean_no_limit if {
	inp := fixtures.with_files(
		fixtures.with_config(fixtures.agent_pr, fixtures.empty_config),
		[{"path": "a.go", "status": "added", "additions": 100000, "deletions": 0}],
	)
	size.applies with input as inp
	count(size.violations) == 0 with input as inp
	size.summary == "100000 lines in 1 files (limits no lines, no files)" with input as inp
}

test_null_files_and_config if {
	inp := object.union(fixtures.with_config(fixtures.agent_pr, fixtures.empty_config), {"files": null})
	count(size.violations) == 0 with input as inp
	size.summary == "0 lines in 0 files (limits no lines, no files)" with input as inp
}

# With input.derived.size the totals are read, with the same messages.
excluded_files := [
	{"path": "vendor/x/y.go", "status": "added", "additions": 5000, "deletions": 0},
	{"path": "api/v1/api.pb.go", "status": "modified", "additions": 3000, "deletions": 2000},
	{"path": "server/a.go", "status": "modified", "additions": 10, "deletions": 2},
]

test_derived_totals_give_the_same_summary if {
	plain := fixtures.with_files(fixtures.agent_pr, excluded_files)
	inp := fixtures.with_derived(plain, {"size": {"lines": 12, "files": 1, "excluded_files": 2}})
	want := size.summary with input as plain
	size.summary == want with input as inp
	size.summary == "12 lines in 1 files, not counting 2 excluded files (limits 800 lines, 40 files)" with input as inp
	count(size.violations) == 0 with input as inp
}

test_derived_totals_give_the_same_violations if {
	plain := fixtures.with_files(fixtures.with_config(fixtures.agent_pr, {"size": {"max_lines": 10, "max_files": 1}}), excluded_files)
	plain_fails := size.violations with input as plain
	plain_fails == {{"message": "12 lines changed (additions + deletions, not counting 2 excluded files); the limit is 10: split the pull request"}}
	inp := fixtures.with_derived(plain, {"size": {"lines": 12, "files": 1, "excluded_files": 2}})
	size.violations == plain_fails with input as inp
}

test_derived_totals_are_read_not_recomputed if {
	inp := fixtures.with_derived(fixtures.with_files(fixtures.agent_pr, []), {"size": {"lines": 900, "files": 41, "excluded_files": 0}})
	size.violations == {
		{"message": "900 lines changed (additions + deletions); the limit is 800: split the pull request"},
		{"message": "41 files changed; the limit is 40: split the pull request"},
	} with input as inp
}

test_derived_without_size_falls_back if {
	inp := fixtures.with_derived(fixtures.with_files(fixtures.agent_pr, excluded_files), {"plan_scope": {"outside": []}})
	size.summary == "12 lines in 1 files, not counting 2 excluded files (limits 800 lines, 40 files)" with input as inp
}
