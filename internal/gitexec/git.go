package gitexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Git runs the git binary. The zero value runs "git" found on PATH; a Git
// is safe for concurrent use.
type Git struct {
	// Path is the git binary; "" means "git" found on PATH.
	Path string
	// Trace, when set, sees every command's argv and environment before it
	// runs (a test seam: it proves tokens stay out of argv).
	Trace func(argv, env []string)
}

// Cmd is one invocation of git.
type Cmd struct {
	// Dir is the working directory; "" means the process's.
	Dir string
	// Env is added to the scrubbed base environment, e.g. GIT_DIR,
	// GIT_WORK_TREE, GIT_INDEX_FILE or an author identity.
	Env []string
	// Stdin is git's standard input; nil means /dev/null.
	Stdin io.Reader
	// Token, when set, is an installation token handed to git as an HTTP
	// Authorization header through the environment (never argv), and
	// redacted, in both its plain and its encoded form, from the output an
	// Error carries.
	Token string
	// Args are git's arguments, the subcommand and its options.
	Args []string
}

// Run runs git and returns its standard output, also when it fails. A
// failure is an *Error holding git's redacted output; when ctx ended the
// command, the error wraps ctx's error too.
func (g *Git) Run(ctx context.Context, c Cmd) ([]byte, error) {
	argv := append(append([]string{g.bin()}, fixedConfig()...), c.Args...)
	env := append(append(baseEnv(), c.Env...), authEnv(c.Token)...)
	if g.Trace != nil {
		g.Trace(argv, env)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = env
	cmd.Stdin = c.Stdin
	cmd.WaitDelay = 5 * time.Second
	ownGroup(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	code := -1
	var exit *exec.ExitError
	if errors.As(err, &exit) && ctx.Err() == nil {
		code = exit.ExitCode()
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	hide := secrets(c.Token)
	return stdout.Bytes(), &Error{
		Subcommand: subcommand(c.Args),
		Err:        err,
		ExitCode:   code,
		Stderr:     redact(tail(stderr.String(), 2000), hide),
		Stdout:     redact(tail(stdout.String(), 2000), hide),
	}
}

// Output runs git and returns its standard output with surrounding white
// space trimmed, for commands that print one value (rev-parse, write-tree).
func (g *Git) Output(ctx context.Context, c Cmd) (string, error) {
	b, err := g.Run(ctx, c)
	return strings.TrimSpace(string(b)), err
}

func (g *Git) bin() string {
	if g.Path == "" {
		return "git"
	}
	return g.Path
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
// says: no hooks, no credential helpers, no fsmonitor, no excludes or
// attributes from outside the repository, no signing, and no gc left
// running in the background after git returns.
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

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
