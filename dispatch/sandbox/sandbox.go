package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultGrace is how long a timed-out or cancelled agent has between
// SIGTERM and SIGKILL when Spec.Grace is zero.
const DefaultGrace = 5 * time.Second

// Spec is one run of an agent command.
type Spec struct {
	// Argv is the command, already expanded; no shell is involved. A name
	// without a slash is looked up in Env["PATH"].
	Argv []string
	// StdinFile, if set, is fed on standard input; otherwise it is empty.
	StdinFile string
	// Workdir is the working directory (the worktree), writable.
	Workdir string
	// Writable are other directories the agent may write (scratch, the
	// output directory), bound at their own paths. They must exist.
	Writable []string
	// ReadOnly are other files or directories the agent may read (the task
	// files, the mirror's objects), bound at their own paths. They must
	// exist.
	ReadOnly []string
	// Env is the complete environment the agent gets; nothing is added
	// but HOME under bwrap (see below). The caller scrubs it (ScrubbedEnv)
	// and must give PATH.
	//
	// To let git in a worktree whose objects live in a read-only directory
	// commit, the caller puts GIT_OBJECT_DIRECTORY (an existing directory
	// under a Writable one) and GIT_ALTERNATE_OBJECT_DIRECTORIES here;
	// worktrees from package workspace need neither, as their .git keeps
	// the agent's objects inside Workdir.
	//
	// Under bwrap HOME is a fresh, empty tmpfs, unless it lies in Workdir
	// or a Writable directory; when Env has no HOME it is set to
	// /home/agent.
	Env map[string]string
	// Timeout is the wall-clock limit; zero means none.
	Timeout time.Duration
	// Grace is the time between SIGTERM and SIGKILL; zero means
	// DefaultGrace.
	Grace time.Duration
	// Stdout and Stderr receive the command's output; nil discards it.
	Stdout, Stderr io.Writer
	// Bwrap is the bubblewrap binary; "" runs the command without a
	// sandbox (still in its own process group, with Env only).
	Bwrap string
	// Network keeps the network under bwrap; without it the agent has
	// only a loopback interface of its own.
	Network bool
}

// Outcome is how a run ended.
type Outcome struct {
	// ExitCode is the command's exit status, or 128+n when a signal n
	// killed it (or killed bwrap).
	ExitCode int
	// TimedOut is set when Spec.Timeout ended the run, Cancelled when the
	// context did.
	TimedOut, Cancelled bool
	// Duration is the wall-clock time from start to exit.
	Duration time.Duration
	// Sandboxed is set when the command ran under bwrap.
	Sandboxed bool
}

// Run runs s.Argv as s says and waits for it and everything it started
// in its process group (or, under bwrap, in its PID namespace). The error
// is only for a run that could not start; an exit status, a timeout or a
// cancellation is in the Outcome. Output that the writers fail to take is
// dropped.
func Run(ctx context.Context, s Spec) (Outcome, error) {
	if err := s.check(); err != nil {
		return Outcome{}, err
	}
	if err := ctx.Err(); err != nil {
		return Outcome{Cancelled: true}, fmt.Errorf("run %s: %w", s.Argv[0], err)
	}
	env := maps.Clone(s.Env)
	if env == nil {
		env = map[string]string{}
	}
	var argv []string
	if s.Bwrap != "" {
		bwrap, err := lookBwrap(s.Bwrap)
		if err != nil {
			return Outcome{}, err
		}
		args, err := bwrapArgs(s, env)
		if err != nil {
			return Outcome{}, fmt.Errorf("sandbox for %s: %w", s.Argv[0], err)
		}
		argv = append(append(append([]string{bwrap}, args...), "--"), s.Argv...)
	} else {
		path, err := lookPath(s.Argv[0], env["PATH"], s.Workdir)
		if err != nil {
			return Outcome{}, err
		}
		argv = append([]string{path}, s.Argv[1:]...)
	}
	grace := s.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	out, err := run(ctx, process{
		argv: argv, env: envList(env), dir: s.Workdir, stdinFile: s.StdinFile,
		stdout: s.Stdout, stderr: s.Stderr, timeout: s.Timeout, grace: grace,
	})
	out.Sandboxed = s.Bwrap != "" && err == nil
	if err != nil {
		return out, fmt.Errorf("start %s: %w", s.Argv[0], err)
	}
	return out, nil
}

func (s Spec) check() error {
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return errors.New("sandbox: no command")
	}
	if !filepath.IsAbs(s.Workdir) {
		return fmt.Errorf("sandbox: workdir %q is not an absolute path", s.Workdir)
	}
	if fi, err := os.Stat(s.Workdir); err != nil || !fi.IsDir() {
		return fmt.Errorf("sandbox: workdir %s is not a directory", s.Workdir)
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("sandbox: %q is not an environment variable name", k)
		}
	}
	return nil
}

// process is what the platform code starts.
type process struct {
	argv      []string
	env       []string
	dir       string
	stdinFile string
	stdout    io.Writer
	stderr    io.Writer
	timeout   time.Duration
	grace     time.Duration
}

// envList is env as sorted KEY=VALUE pairs, never nil (a nil Env would
// make os/exec pass agentgate's own environment).
func envList(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		list = append(list, k+"="+env[k])
	}
	return list
}

// lookPath finds a command the way the agent's shell would: in its own
// PATH, not agentgate's. A name with a slash is taken relative to dir.
func lookPath(name, path, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("command %s: %w", name, err)
		}
		return p, nil
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" || !filepath.IsAbs(d) {
			continue // an empty or relative PATH entry would mean the worktree
		}
		p := filepath.Join(d, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in the agent's PATH %q", name, path)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}

// ScrubbedEnv is the environment for an agent: PATH, LANG, LC_ALL and TZ
// from environ (KEY=VALUE pairs, as os.Environ returns), the variables
// named in pass that environ has, then extra. No name from pass that
// starts with AGENTGATE_ or may hold a GitHub token or a private key is
// passed; extra (set by agentgate itself, so it may hold AGENTGATE_*
// variables describing the task) is still refused token and key names.
func ScrubbedEnv(pass []string, environ []string, extra map[string]string) map[string]string {
	from := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			from[k] = v
		}
	}
	env := map[string]string{}
	for _, k := range append([]string{"PATH", "LANG", "LC_ALL", "TZ"}, pass...) {
		if v, ok := from[k]; ok && !secretName(k) && !strings.HasPrefix(strings.ToUpper(k), "AGENTGATE_") {
			env[k] = v
		}
	}
	for k, v := range extra {
		if !secretName(k) {
			env[k] = v
		}
	}
	return env
}

// secretName says whether an environment variable may hold a GitHub
// token or a private key.
func secretName(k string) bool {
	u := strings.ToUpper(k)
	switch u {
	case "GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN":
		return true
	}
	return strings.Contains(u, "PRIVATE_KEY")
}
