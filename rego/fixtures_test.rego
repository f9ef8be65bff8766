# METADATA
# title: Shared test inputs
# description: Inputs for the policies' tests (a _test.rego file, so the engine never loads it).
package agentgate.fixtures

config := {
	"check_name": "agentgate",
	"agents": {"logins": ["agentgate[bot]"], "all_bots": false},
	"size": {"max_lines": 800, "max_files": 40, "exclude": ["vendor/**", "**/*.pb.go"], "applies_to": "agents"},
	"provenance": {"required_fields": ["agent", "model"]},
	"test_evidence": {
		"required_checks": ["test"],
		"require_test_changes": false,
		"test_globs": ["**/*_test.go"],
		"code_globs": ["*.go", "**/*.go"],
		"timeout": "30m",
	},
	"protected_paths": {
		"agents_may_not_touch": [".github/workflows/**"],
		"require_approval": [{"paths": ["policy/**"], "owners": ["alice", "agentgate/security"]}],
	},
	"plan_scope": {"enabled": true},
	"disabled_policies": [],
}

files := [
	{"path": "server/a.go", "status": "modified", "additions": 100, "deletions": 10, "first_line": 3},
	{"path": "server/a_test.go", "status": "modified", "additions": 10, "deletions": 0},
]

agent_pr := {
	"repository": {"full_name": "o/r", "default_branch": "main", "private": true},
	"pull_request": {
		"number": 7, "title": "Fix it", "body": "", "draft": false,
		"author": {"login": "agentgate[bot]", "type": "Bot"},
		"base": {"ref": "main", "sha": "base1"},
		"head": {"ref": "agent/issue-12-ab12", "sha": "head1"},
		"labels": ["agent"], "additions": 110, "deletions": 10, "changed_files": 2,
	},
	"files": files,
	"commits": [{"sha": "head1", "message": "Fix it", "author": "agentgate[bot]", "trailers": {}}],
	"provenance": {"present": true, "fields": {"agent": "claude", "model": "opus"}, "errors": []},
	"agent_authored": true,
	"agent_authored_because": ["author is agentgate[bot]"],
	"task": {"id": "t1", "plan": {"id": "p1", "sha256": "abc", "approved_by": "bob", "paths": ["server/**"], "acceptance": ["go test ./server/..."]}},
	"checks": [{"name": "test", "status": "completed", "conclusion": "success", "app": "github-actions", "kind": "check_run"}],
	"reviews": [],
	"config": config,
	"limits": {"files_truncated": false, "files_listed": 2},
	"requester": {"login": "bob", "type": "User"},
}

# A human's pull request: not agent-authored, no task.
human_pr := object.union(json.remove(agent_pr, ["task", "requester"]), {
	"agent_authored": false,
	"agent_authored_because": [],
	"pull_request": {"author": {"login": "carol", "type": "User"}},
	"provenance": {"present": false, "fields": {}, "errors": []},
})

# A bot that is not an agent (e.g. dependabot): judged like a human.
bot_pr := object.union(human_pr, {"pull_request": {"author": {"login": "dependabot[bot]", "type": "Bot"}}})

# Config with every list empty and every limit zero: what a sloppy default would give.
empty_config := {
	"size": {"max_lines": 0, "max_files": 0, "exclude": null, "applies_to": ""},
	"provenance": {"required_fields": null},
	"test_evidence": {"required_checks": null, "require_test_changes": true, "test_globs": null, "code_globs": null},
	"protected_paths": {"agents_may_not_touch": null, "require_approval": null},
	"plan_scope": {"enabled": false},
	"disabled_policies": null,
}

with_files(pr, fs) := object.union(pr, {"files": fs})

with_config(pr, c) := object.union(pr, {"config": c})

disabled(pr, name) := object.union(pr, {"config": {"disabled_policies": [name]}})

# The input with derived facts (input.derived), as agentgate computes them
# from the files and the base branch's config.
with_derived(pr, d) := object.union(pr, {"derived": d})
