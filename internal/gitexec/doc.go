// Package gitexec runs the git binary safely on agentgate's behalf: with a
// scrubbed environment, a fixed configuration that no repository can
// override, and an optional installation token that git receives without it
// ever reaching argv, a URL, an error, a log line or a file.
//
// It exists so that every package that runs git (dispatch/workspace for
// mirrors, worktrees and pushes, provenance/publish for git notes) does so
// in one way; provenance may not import dispatch, so the rules live here,
// below both.
//
// What this package must not do:
//   - put a token in argv, a URL or an error: git gets it as an
//     http.extraHeader through GIT_CONFIG_COUNT / GIT_CONFIG_KEY_n /
//     GIT_CONFIG_VALUE_n, and git's output is redacted before it is wrapped
//     into an error;
//   - let git prompt, run hooks or credential helpers, sign, or read the
//     user's or the system's git configuration, or pass on agentgate's own
//     environment (its secrets among it) beyond what git needs to run;
//   - leave git's helpers (git-remote-https, index-pack, ssh) running after
//     a cancelled command returns.
//
// It knows nothing of mirrors, worktrees or notes: callers say which
// repository (GIT_DIR, a working directory) and which arguments.
package gitexec
