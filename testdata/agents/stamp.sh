#!/bin/bash
# An agent for the dispatch benchmark (cmd/agentgate/dispatch_bench_test.go).
# $1 is a directory the benchmark reads. First thing, the agent writes the
# time it started (nanoseconds since the epoch) to $1/<run id>.start. Then
# it writes to $1/<run id>.steps when agentgate made its run directory's
# scratch/ (just after syncing the mirror) and last wrote task/ (just after
# checking out the worktree), from their modification times, and to
# $1/<run id>.du the disk its run directory (the parent of its working
# directory: worktree, task, out, scratch) uses, in KB (du -sk). Last it
# changes one file, so the run lands a pull request, and exits 0.
now=$(date +%s%N)
set -eu
stamps="$1"
run="$AGENTGATE_RUN_ID"
printf '%s\n' "$now" > "$stamps/$run.start.tmp"
mv "$stamps/$run.start.tmp" "$stamps/$run.start"
synced=$(stat -c %.9Y ../scratch)
checked_out=$(stat -c %.9Y ../task)
printf 'synced %s\nchecked-out %s\n' "${synced/./}" "${checked_out/./}" > "$stamps/$run.steps"
kb=$(du -sk .. | cut -f1)
printf '%s\n' "$kb" > "$stamps/$run.du.tmp"
mv "$stamps/$run.du.tmp" "$stamps/$run.du"
printf 'stamped by run %s\n' "$run" > STAMP.txt
echo "stamp agent: started at $now, run directory $kb KB"
