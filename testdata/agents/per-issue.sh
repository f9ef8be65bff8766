#!/bin/bash
# An agent for the attestation tests: it writes one file named after its
# issue, so pull requests from different issues never conflict when they
# merge one after another, and reports its agent and model like a real one.
set -eu
mkdir -p changes
printf 'change for issue %s (run %s)\n' "$AGENTGATE_ISSUE" "$AGENTGATE_RUN_ID" > "changes/issue-$AGENTGATE_ISSUE.txt"
cat > "$AGENTGATE_OUTPUT_DIR/result.json" <<'RESULT'
{"agent": "per-issue", "agent_version": "2.0.0", "model": "per-issue-model-1"}
RESULT
echo "per-issue agent: wrote changes/issue-$AGENTGATE_ISSUE.txt"
