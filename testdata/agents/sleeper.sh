#!/bin/bash
# An agent that sleeps until it is stopped, for cancellation and crash
# tests. It records its pid and its child's pid in its output directory.
# When the file named by $1 exists (a second attempt), it works instead:
# it writes done.txt and exits 0.
set -u
out="$AGENTGATE_OUTPUT_DIR"
echo $$ > "$out/pid"
if [ -n "${1:-}" ] && [ -e "$1" ]; then
  echo "sleeper: second attempt, working"
  printf 'done\n' > done.txt
  exit 0
fi
[ -n "${1:-}" ] && touch "$1"
echo "sleeper: sleeping"
sleep 1000 &
echo $! > "$out/child"
wait
