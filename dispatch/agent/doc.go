// Package agent knows how to run well-known coding-agent CLIs without a
// terminal and how to read what they report about a run: the model, the
// tokens used and the cost.
//
// An agent is configured by the server operator (internal/config's
// dispatch.agents: a name, an adapter, a command and a model), never by a
// repository or an issue. An Adapter turns that configuration and the
// run's files into an Invocation: an argv for exec (no shell is involved)
// and, for CLIs that read their prompt on stdin, the file to feed them. The
// prompt itself is never put on the command line: it holds issue text, and
// argv is visible to every process on the machine and limited in size.
// Parse reads the CLI's stdout after the run; it is best effort, never
// fails, and returns a zero Report for output it does not recognise.
//
// The operator's extra arguments (config command[1:]) follow the adapter's
// own flags and may use the placeholders {prompt_file}, {task_dir},
// {output_dir}, {workdir} and {model}; each is replaced inside the argument
// that holds it, so a value never splits into several arguments. Any other
// {name} is an error naming it, as is a placeholder whose value is empty;
// write "{{" and "}}" for literal braces. Paths in Files must be absolute,
// and the model may not start with "-", so neither can be read as a flag.
//
// # Adapters
//
// claude-code runs Claude Code in print mode with the prompt on stdin:
//
//	claude -p --output-format json --permission-mode acceptEdits [--model M] [--add-dir DIR]... EXTRA...
//
// acceptEdits lets it write files without asking (print mode cannot ask);
// shell commands stay denied unless the operator allows them in EXTRA
// (--allowedTools). --add-dir is given for the task and output
// directories when they are outside the work directory. Its stdout is one
// JSON object: type "result", subtype ("success", or an "error_..." value
// such as "error_max_turns"), is_error, result, total_cost_usd, usage
// {input_tokens, cache_creation_input_tokens, cache_read_input_tokens,
// output_tokens} and modelUsage keyed by model name {inputTokens,
// outputTokens, cacheReadInputTokens, cacheCreationInputTokens, costUSD}.
// Parse also accepts --output-format stream-json, whose last "result" line
// has the same fields. Sources: the Claude Code CLI reference
// (docs.anthropic.com/en/docs/claude-code/cli-reference: -p, --output-format,
// --permission-mode, --add-dir, --model), its headless-mode page, and the
// result objects recorded in github.com/Omar-Unpossible/claude_code_orchestrator
// docs/research/claude-code-json-response-schema.md and
// github.com/matt-grain/Claude-Debussy docs/CLAUDE_JSON_FORMAT.md.
//
// codex runs the OpenAI Codex CLI's exec mode with the prompt on stdin:
//
//	codex exec --json --sandbox workspace-write --skip-git-repo-check [--cd W] [--add-dir OUT] [--model M] EXTRA... -
//
// exec is read-only unless given --sandbox workspace-write; "-" reads the
// prompt from stdin. Its stdout is JSON Lines: thread.started,
// turn.started, item.*, then turn.completed {usage: {input_tokens,
// cached_input_tokens, output_tokens}} or turn.failed {error: {message}},
// and "error" {message} events (some are transient reconnect notices).
// The usage on turn.completed is the thread's running total, so the last
// one counts; input_tokens already includes the cached ones. No event names
// the model or a cost, so Parse leaves them to result.json or the
// configuration. Sources: codex-rs/exec/src/cli.rs and
// codex-rs/utils/cli/src/shared_options.rs in github.com/openai/codex
// (flags, "-" for stdin), developers.openai.com/codex/noninteractive,
// github.com/openai/codex PR #4309 (exec_events.rs: the turn events and
// Usage) and issue #5276 (a real turn.completed line).
//
// aider runs Aider with the prompt in a file:
//
//	aider --message-file PROMPT --yes-always --no-auto-commits --no-stream --no-pretty --no-check-update --no-analytics [--model M] EXTRA...
//
// agentgate commits the agent's changes itself, hence --no-auto-commits;
// --no-pretty keeps colour codes out of stdout. Aider prints "Aider
// vX.Y.Z", "Model: NAME with ..." (or "Main model: ..."), and after each
// message to the model a line "Tokens: 2.3k sent, 412 received. Cost:
// $0.01 message, $0.02 session." (older versions: "Tokens: 2,300 sent, 412
// received. Cost: $0.01 request, $0.02 session."; cache write and cache
// hit counts may sit between sent and received). Parse adds up the sent and
// received counts (abbreviated counts like 2.3k are read as 2300) and takes
// the last session cost. Aider prints no machine-readable error. Sources:
// aider.chat/docs/scripting.html and aider.chat/docs/config/options.html
// (flags), aider/coders/base_coder.py (get_announcements,
// calculate_and_show_tokens_and_cost) and aider/utils.py (format_tokens)
// in github.com/Aider-AI/aider.
//
// generic runs the operator's command as written, placeholders expanded.
// When no argument mentions {prompt_file}, the prompt is fed on stdin. It
// reads nothing from stdout: such an agent reports through result.json.
//
// # result.json
//
// Any agent may write result.json in its output directory; ReadResult reads
// it (see there) and Merge combines it with what Parse found.
//
// Input tokens are every token the model read, cached or not (Claude's
// input, cache-creation and cache-read tokens; Codex's input_tokens, which
// include the cached ones; Aider's "sent"), so budgets compare across
// agents; the cost is the CLI's own estimate.
//
// This package must not start processes, read the environment, or decide
// which agent a repository gets; the runner does. It must not put
// untrusted text (issue or comment bodies) into an Invocation.
package agent
