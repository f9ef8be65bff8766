// Package provenance is the one parser and writer of provenance: the block
// agentgate writes into the body of an agent pull request, and the Agent-*
// trailers it writes into commit messages. It also decides whether a pull
// request counts as agent-authored (IsAgentAuthored). Later it will build,
// sign, store and verify in-toto attestations (DESIGN.md §5).
//
// It must not import policy or dispatch: the gate and dispatch import it.
// Its types are shaped so the gate's conversion is trivial (Error has the
// same fields as policy.ProvenanceError; Fields is a map[string]any).
//
// # The provenance block, version 1
//
// The block is a fenced code block whose info string is
// "agentgate-provenance v1", holding one "key: value" line per field:
//
//	```agentgate-provenance v1
//	task: 01JABCDEF0123456789XYZ
//	plan: p-3f2a
//	plan_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//	trigger_actor: alice
//	trigger_delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958
//	agent: claude-code
//	agent_version: 2.1.0
//	model: claude-sonnet-4.5
//	prompt_sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
//	base_sha: 6dcb09b5b57875f334f61aebed695e2e4193db5e
//	head_sha: 0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c
//	runner: exec
//	usage: {"input_tokens":1200,"output_tokens":800,"cost_usd":0.12}
//	revisions: 2
//	involvement: authored
//	```
//
// Rules, each enforced by Parse with the line number in the body:
//   - The opening fence is three or more backticks (or tildes), indented by
//     at most three spaces, followed by "agentgate-provenance" and the
//     version; it closes with the same character, at least as many times, on
//     a line of its own. Blocks nested inside another fenced block (an
//     example quoted in a PR body) are ignored. A missing or unknown version
//     is an error; this package reads v1 only.
//   - At most one block per body; a second is an error (the first is read).
//   - Inside, each non-blank line is "key: value" (surrounding spaces are
//     trimmed; a line starting with "#" is a comment). Keys are lower-case.
//     A value is never empty and is taken verbatim: there is no quoting and
//     no trailing comment.
//   - A key appears at most once.
//   - Known keys and their values:
//     task, plan, trigger_actor, trigger_delivery, agent, agent_version,
//     model, runner: text (string);
//     plan_sha256, prompt_sha256: 64 lower-case hex digits (string);
//     base_sha, head_sha: 40 lower-case hex digits (string);
//     revisions: a non-negative decimal integer (int);
//     usage: a one-line JSON object with the optional non-negative members
//     input_tokens, output_tokens (integers) and cost_usd (number) (Usage);
//     involvement: authored, transformed or suggested (string).
//   - Unknown keys are errors, so a misspelt field is reported where it is
//     rather than read as missing. Keys starting with "x-" are extensions
//     for other tools: accepted as text and kept in Fields.
//
// The gate fails closed on any error. Write renders Fields in the order
// above (extensions last, sorted), so the same fields always give the same
// text, and Parse(Write(f)) gives back f for every f that passes Validate.
// A future incompatible format gets a new version in the info string.
//
// # Commit trailers
//
// ParseTrailers follows git's rules (git interpret-trailers): the trailers
// are the last paragraph of the message, never the first (the title); lines
// are "Key: value" (spaces before the colon allowed), and lines starting
// with white space continue the previous trailer's value. A paragraph counts
// as trailers when all of its lines are trailers or continuations, or, as
// git allows, at least a quarter are and one of them is git-generated
// (Signed-off-by, "(cherry picked from commit ...)").
package provenance
