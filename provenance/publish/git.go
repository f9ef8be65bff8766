package publish

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// This file follows dispatch/workspace/git.go (same environment, same fixed
// configuration, same redaction); its helpers are unexported, and
// provenance may not import dispatch, so the few lines are repeated here.

// ErrAuthentication is wrapped by errors of git commands the remote
// refused for want of a valid token (missing, wrong or expired).
var ErrAuthentication = errors.New("the remote refused the credentials")

// remote is a repository's URL and the installation token that reaches it.
type remote struct {
	url   string
	token string
}

// check refuses URLs git would read as an option, and credentials in the
// URL (they belong in the token, which git sees only in its environment).
func (r remote) check() error {
	if r.url == "" {
		return errors.New("no repository URL")
	}
	if strings.HasPrefix(r.url, "-") {
		return fmt.Errorf("repository URL %q starts with '-'", r.url)
	}
	if u, err := url.Parse(r.url); err == nil && u.User != nil {
		u.User = nil
		return fmt.Errorf("repository URL %s carries credentials; pass the token separately", u)
	}
	return nil
}

// authEnv hands the token to git as an HTTP header.
func (r remote) authEnv() []string {
	if r.token == "" {
		return nil
	}
	return []string{
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http.extraHeader",
		"GIT_CONFIG_VALUE_0=Authorization: Basic " + basicAuth(r.token),
	}
}

// secrets are the strings redacted from git's output.
func (r remote) secrets() []string {
	if r.token == "" {
		return nil
	}
	return []string{r.token, basicAuth(r.token)}
}

func basicAuth(token string) string {
	return base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
}

// baseEnv makes git non-interactive and blind to every configuration file
// but the repository's own; of agentgate's environment it keeps only where
// programs and temporary files are, proxies and CA bundles.
func baseEnv() []string {
	env := []string{
		"HOME=/nonexistent",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=/bin/false",
		"SSH_ASKPASS=/bin/false",
		"GIT_SSH_COMMAND=ssh -o BatchMode=yes",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_ALLOW_PROTOCOL=file:git:http:https:ssh",
		"LC_ALL=C",
		"LANGUAGE=",
	}
	for _, k := range []string{
		"PATH", "TMPDIR",
		"http_proxy", "https_proxy", "no_proxy", "all_proxy",
		"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
		"SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH",
	} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// fixedConfig applies to every command: no hooks, no credential helpers,
// no signing, no gc left running after git returns.
var fixedConfig = []string{
	"-c", "core.hooksPath=/dev/null",
	"-c", "credential.helper=",
	"-c", "core.fsmonitor=false",
	"-c", "commit.gpgSign=false",
	"-c", "gc.autoDetach=false",
	"-c", "gc.auto=0",
}

// gitRunner runs git on one (bare) repository.
type gitRunner struct {
	bin    string // "" = git on PATH
	gitDir string
	// identity is added to the environment of commands that write commits.
	identity []string
	// trace, when set, sees every command's argv and environment before it
	// runs (a test seam: it proves tokens stay out of argv).
	trace func(argv, env []string)
}

// gitCmd is one invocation of git.
type gitCmd struct {
	remote *remote   // its token is handed over and redacted; nil for local commands
	stdin  io.Reader // nil = /dev/null
	commit bool      // the command writes a commit: add the identity
	args   []string
	okExit []int // exit codes that are answers, not failures (git notes list: 1 = no note)
}

// run runs git and returns its standard output and exit code. A failure
// is a *gitError holding git's redacted standard error.
func (g *gitRunner) run(ctx context.Context, c gitCmd) (string, int, error) {
	bin := g.bin
	if bin == "" {
		bin = "git"
	}
	argv := append(append([]string{bin}, fixedConfig...), c.args...)
	env := append(baseEnv(), "GIT_DIR="+g.gitDir)
	var secrets []string
	if c.remote != nil {
		env = append(env, c.remote.authEnv()...)
		secrets = c.remote.secrets()
	}
	if c.commit {
		env = append(env, g.identity...)
	}
	if g.trace != nil {
		g.trace(argv, env)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = c.stdin
	cmd.WaitDelay = 5 * time.Second
	ownGroup(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err == nil {
		return stdout.String(), 0, nil
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && ctx.Err() == nil {
		for _, ok := range c.okExit {
			if code == ok {
				return stdout.String(), code, nil
			}
		}
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return stdout.String(), code, &gitError{
		sub:    subcommand(c.args),
		err:    err,
		stderr: redact(tail(stderr.String(), 2000), secrets),
		stdout: redact(tail(stdout.String(), 2000), secrets),
	}
}

// gitError is a failed git command: the subcommand, how it ended and what
// it said (redacted).
type gitError struct {
	sub    string
	err    error
	stderr string
	stdout string
}

func (e *gitError) Error() string {
	msg := strings.Join(strings.Fields(e.stderr), " ")
	if e.authFailed() {
		msg = ErrAuthentication.Error() + ": " + msg
	}
	if msg == "" {
		return fmt.Sprintf("git %s: %v", e.sub, e.err)
	}
	return fmt.Sprintf("git %s: %v: %s", e.sub, e.err, msg)
}

func (e *gitError) Unwrap() []error {
	if e.authFailed() {
		return []error{e.err, ErrAuthentication}
	}
	return []error{e.err}
}

// authFailed recognises git's ways of saying the server wanted other
// credentials: with prompts disabled it fails to read a username.
func (e *gitError) authFailed() bool {
	for _, s := range []string{"could not read Username", "could not read Password", "Authentication failed", "The requested URL returned error: 401", "The requested URL returned error: 403"} {
		if strings.Contains(e.stderr, s) {
			return true
		}
	}
	return false
}

// subcommand is the first argument that is not an option of git itself.
func subcommand(args []string) string {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-c" || a == "-C":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return "?"
}

// redact replaces every secret in s.
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
