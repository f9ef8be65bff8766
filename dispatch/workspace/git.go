package workspace

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
	"strconv"
	"strings"
	"time"
)

// Remote is where a repository is fetched from and pushed to. Token is an
// installation token (or "" for a remote that needs none, such as a local
// path). It never appears in argv, in a URL, in an error message, in a log
// or on disk: git receives it as an http.extraHeader through
// GIT_CONFIG_COUNT / GIT_CONFIG_KEY_n / GIT_CONFIG_VALUE_n, and git's
// output is redacted before it is wrapped into an error.
type Remote struct {
	URL   string
	Token string
}

// String is the remote's URL without any user information in it.
func (r Remote) String() string { return redactURL(r.URL) }

// check refuses URLs git would read as an option, and credentials in the
// URL (they belong in Token).
func (r Remote) check() error {
	if r.URL == "" {
		return errors.New("remote has no URL")
	}
	if strings.HasPrefix(r.URL, "-") {
		return fmt.Errorf("remote URL %q starts with '-'", r.URL)
	}
	if u, err := url.Parse(r.URL); err == nil && u.User != nil {
		return fmt.Errorf("remote URL %s carries credentials; pass the token in Remote.Token", redactURL(r.URL))
	}
	return nil
}

// authEnv is the environment that hands the token to git.
func (r Remote) authEnv() []string {
	if r.Token == "" {
		return nil
	}
	return []string{
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http.extraHeader",
		"GIT_CONFIG_VALUE_0=Authorization: Basic " + basicAuth(r.Token),
	}
}

// secrets are the strings that must not leave this package.
func (r Remote) secrets() []string {
	if r.Token == "" {
		return nil
	}
	return []string{r.Token, basicAuth(r.Token)}
}

func basicAuth(token string) string {
	return base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
}

// redactURL drops user information from a URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

// git runs the git binary with a fixed, minimal environment.
type git struct {
	path string
	// trace, when set, sees every command's argv and environment before it
	// runs (a test seam: it proves tokens stay out of argv).
	trace func(argv, env []string)
}

// gitCmd is one invocation of git.
type gitCmd struct {
	dir     string    // working directory ("" = the process's)
	env     []string  // added to the base environment
	stdin   io.Reader // nil = /dev/null
	secrets []string  // redacted from output wrapped into errors
	args    []string
}

// baseEnv makes git non-interactive and blind to every configuration
// file but the repository's own. Of agentgate's own environment git sees
// only where to find programs, where temporary files go, proxies and CA
// bundles; everything else (GIT_DIR, a user's GIT_SSH_COMMAND, agentgate's
// secrets) is left out. HOME points nowhere, so neither ~/.netrc (which
// git's curl reads) nor ~/.config/git apply.
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

// fixedConfig applies to every command, whatever the repository's config
// says: no hooks, no credential helpers, no fsmonitor, no signing, and no
// gc left running in the background after git returns.
func fixedConfig() []string {
	return []string{
		"-c", "core.hooksPath=/dev/null",
		"-c", "credential.helper=",
		"-c", "core.fsmonitor=false",
		"-c", "core.excludesFile=/dev/null",
		"-c", "core.attributesFile=/dev/null",
		"-c", "commit.gpgSign=false",
		"-c", "tag.gpgSign=false",
		"-c", "gc.autoDetach=false",
		"-c", "advice.detachedHead=false",
	}
}

// run runs git and returns its standard output. A failure is a *gitError
// holding git's redacted standard error.
func (g *git) run(ctx context.Context, c gitCmd) ([]byte, error) {
	argv := append(append([]string{g.bin()}, fixedConfig()...), c.args...)
	env := append(baseEnv(), c.env...)
	if g.trace != nil {
		g.trace(argv, env)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = env
	cmd.Stdin = c.stdin
	cmd.WaitDelay = 5 * time.Second
	ownGroup(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return stdout.Bytes(), &gitError{
			sub:    subcommand(c.args),
			err:    err,
			stderr: redact(tail(stderr.String(), 2000), c.secrets),
			stdout: redact(tail(stdout.String(), 2000), c.secrets),
		}
	}
	return stdout.Bytes(), nil
}

// out runs git and returns its trimmed standard output.
func (g *git) out(ctx context.Context, c gitCmd) (string, error) {
	b, err := g.run(ctx, c)
	return strings.TrimSpace(string(b)), err
}

func (g *git) bin() string {
	if g.path == "" {
		return "git"
	}
	return g.path
}

// ErrAuthentication is wrapped by errors of git commands the remote
// refused for want of a valid token (missing, wrong or expired).
var ErrAuthentication = errors.New("the remote refused the credentials")

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

// gitDate is the raw date format git reads from GIT_*_DATE.
func gitDate(t time.Time) string {
	return "@" + strconv.FormatInt(t.Unix(), 10) + " " + t.Format("-0700")
}
