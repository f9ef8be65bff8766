package agentgate.policies.provenance_test

import data.agentgate.fixtures
import data.agentgate.policies.provenance

test_complete_block_passes if {
	provenance.applies with input as fixtures.agent_pr
	count(provenance.violations) == 0 with input as fixtures.agent_pr
	provenance.summary == "provenance block with all 2 required fields" with input as fixtures.agent_pr
}

test_missing_block_fails if {
	inp := object.union(fixtures.agent_pr, {"provenance": {"present": false, "fields": {}}})
	provenance.violations == {{"message": "agent pull request has no provenance block: add one to the description (agentgate writes it for its own runs)"}} with input as inp
}

test_parse_errors_are_violations_with_lines if {
	inp := object.union(fixtures.agent_pr, {"provenance": {"errors": [
		{"field": "model", "line": 12, "message": "duplicate field"},
		{"message": "unterminated block"},
	]}})
	provenance.violations == {
		{"message": "provenance model: duplicate field", "line": 12},
		{"message": "provenance: unterminated block"},
	} with input as inp
}

test_missing_and_empty_fields_fail if {
	inp := json.patch(fixtures.agent_pr, [{"op": "replace", "path": "/provenance/fields", "value": {"agent": "  ", "other": "x"}}])
	provenance.violations == {
		{"message": "provenance field \"agent\" is missing or empty"},
		{"message": "provenance field \"model\" is missing or empty"},
	} with input as inp
}

test_non_string_fields_count_as_filled if {
	inp := json.patch(fixtures.agent_pr, [{"op": "replace", "path": "/provenance/fields", "value": {"agent": ["a"], "model": {"name": "m"}}}])
	count(provenance.violations) == 0 with input as inp
}

test_human_pr_skipped if {
	not provenance.applies with input as fixtures.human_pr
	count(provenance.violations) == 0 with input as fixtures.human_pr
}

test_non_agent_bot_skipped if {
	not provenance.applies with input as fixtures.bot_pr
}

test_disabled_skipped if {
	not provenance.applies with input as fixtures.disabled(fixtures.agent_pr, "provenance")
}

test_no_required_fields_only_needs_block if {
	inp := fixtures.with_config(fixtures.agent_pr, fixtures.empty_config)
	count(provenance.violations) == 0 with input as inp
	provenance.summary == "provenance block with all 0 required fields" with input as inp
}

test_empty_and_draft_pr_still_need_provenance if {
	inp := object.union(fixtures.with_files(fixtures.agent_pr, []), {"pull_request": {"draft": true}, "provenance": {"present": false}})
	count(provenance.violations) == 1 with input as inp
}
