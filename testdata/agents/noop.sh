#!/bin/bash
# An agent that reads its task and changes nothing, for the empty-diff case.
echo "noop agent: read $(wc -c < "$AGENTGATE_PROMPT_FILE") bytes of prompt; changing nothing"
