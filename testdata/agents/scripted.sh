#!/bin/bash
# A deterministic stand-in for an agent CLI, for agentgate's tests: it
# writes a plan, implements it, and revises it by editing files exactly the
# same way every time. It also probes what it can reach, so tests can check
# the sandbox: $1 is a file it must not be able to read (the app's private
# key), $2 a TCP port on 127.0.0.1 it must not be able to connect to, $3
# another file it must not read (a key in agentgate's data directory).
set -u
out="$AGENTGATE_OUTPUT_DIR"
task="$AGENTGATE_TASK_DIR"
echo "scripted agent: $AGENTGATE_RUN_KIND run $AGENTGATE_RUN_ID of task $AGENTGATE_TASK_ID"

if [ -n "${1:-}" ]; then
  if cat "$1" >/dev/null 2>&1; then echo "probe: key readable"; else echo "probe: key unreadable"; fi
fi
if [ -n "${3:-}" ]; then
  if cat "$3" >/dev/null 2>&1; then echo "probe: data dir readable"; else echo "probe: data dir unreadable"; fi
fi
if [ -n "${2:-}" ]; then
  if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then echo "probe: network reachable"; else echo "probe: network unreachable"; fi
fi
env | cut -d= -f1 | sort | sed 's/^/probe-env: /'
grep -q "untrusted" "$task/issue.md" && echo "probe: issue marked untrusted"
sed 's/^/issue.md: /' "$task/issue.md"

case "$AGENTGATE_RUN_KIND" in
plan)
  cat > "$out/plan.md" <<'PLAN'
# Plan: greet the reader

## Summary
Add a greeting file that says hello.

## Files
- `hello.txt`
- docs/**

## Acceptance
- hello.txt says hello
PLAN
  # Each plan run words its plan a little differently: a new plan, a new id.
  echo "Written by run $AGENTGATE_RUN_ID." >> "$out/plan.md"
  ;;
implement)
  printf 'hello from the agent\n' > hello.txt
  git status --short
  ;;
revise)
  test -s "$task/instructions.md" || { echo "no instructions"; exit 3; }
  printf 'revised as asked\n' >> hello.txt
  ;;
esac
cat > "$out/result.json" <<'RESULT'
{"agent": "scripted", "agent_version": "1.0.0", "model": "scripted-model-1", "usage": {"input_tokens": 1200, "output_tokens": 340, "cost_usd": 0.0125}}
RESULT
echo "scripted agent: done"
