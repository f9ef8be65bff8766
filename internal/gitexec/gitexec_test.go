package gitexec_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/gitexec"
	"github.com/agentgate/agentgate/internal/githubtest"
)

const testToken = "ghs_TESTtoken0123456789abcdefSECRET"

// identity lets the tests' own git commands commit.
var identity = []string{
	"GIT_AUTHOR_NAME=Pat Person", "GIT_AUTHOR_EMAIL=pat@example.com",
	"GIT_COMMITTER_NAME=Pat Person", "GIT_COMMITTER_EMAIL=pat@example.com",
}

func basicAuth(token string) string {
	return base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
}

// run runs c, failing the test on error, and returns the trimmed output.
func run(t *testing.T, g *gitexec.Git, c gitexec.Cmd) string {
	t.Helper()
	out, err := g.Output(context.Background(), c)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(c.Args, " "), err)
	}
	return out
}

// newRepo makes a repository with one commit on main and returns its path.
func newRepo(t *testing.T) string {
	t.Helper()
	var g gitexec.Git
	dir := t.TempDir()
	run(t, &g, gitexec.Cmd{Args: []string{"init", "--quiet", "--initial-branch=main", dir}})
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, &g, gitexec.Cmd{Dir: dir, Args: []string{"add", "README.md"}})
	run(t, &g, gitexec.Cmd{Dir: dir, Env: identity, Args: []string{"commit", "--quiet", "-m", "first"}})
	return dir
}

// gitErr is err as an *gitexec.Error, failing the test if it is not one.
func gitErr(t *testing.T, err error) *gitexec.Error {
	t.Helper()
	var gerr *gitexec.Error
	if !errors.As(err, &gerr) {
		t.Fatalf("err = %v (%T), want a *gitexec.Error", err, err)
	}
	return gerr
}

// The caller's environment and configuration files do not reach git; the
// repository's own configuration cannot turn hooks or signing back on.
func TestRunIgnoresTheCallersEnvironmentAndConfig(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[user]\n\tname = Leaked From Home\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("GIT_CONFIG_PARAMETERS", "'user.name'='Leaked From Env'")
	t.Setenv("AGENTGATE_SECRET", "do-not-pass-on")
	repo := newRepo(t)
	t.Setenv("GIT_DIR", t.TempDir()) // would point git elsewhere

	var envs [][]string
	g := &gitexec.Git{Trace: func(_, env []string) { envs = append(envs, env) }}
	ctx := context.Background()

	_, err := g.Run(ctx, gitexec.Cmd{Dir: repo, Args: []string{"config", "--get", "user.name"}})
	if gerr := gitErr(t, err); gerr.ExitCode != 1 {
		t.Errorf("user.name from HOME or the environment: exit %d, err %v; want exit 1 (unset)", gerr.ExitCode, err)
	}
	if got := run(t, g, gitexec.Cmd{Dir: repo, Args: []string{"rev-parse", "--absolute-git-dir"}}); got != filepath.Join(repo, ".git") {
		t.Errorf("git dir = %s, want the repository's (GIT_DIR leaked in)", got)
	}
	for _, e := range envs {
		for _, kv := range e {
			if strings.HasPrefix(kv, "AGENTGATE_SECRET=") || strings.HasPrefix(kv, "GIT_CONFIG_PARAMETERS=") || kv == "HOME="+home {
				t.Errorf("git's environment has %q", kv)
			}
		}
		if !slices.ContainsFunc(e, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
			t.Error("git's environment has no PATH")
		}
	}

	// A hook and signing the repository asks for do not run.
	hooks := filepath.Join(repo, "hooks")
	marker := filepath.Join(t.TempDir(), "hook-ran")
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hooks, "pre-commit"), []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, g, gitexec.Cmd{Dir: repo, Args: []string{"config", "core.hooksPath", hooks}})
	run(t, g, gitexec.Cmd{Dir: repo, Args: []string{"config", "commit.gpgSign", "true"}})
	run(t, g, gitexec.Cmd{Dir: repo, Env: identity, Args: []string{"commit", "--quiet", "--allow-empty", "-m", "second"}})
	if _, err := os.Stat(marker); err == nil {
		t.Error("the repository's pre-commit hook ran")
	}
	if sig := run(t, g, gitexec.Cmd{Dir: repo, Args: []string{"cat-file", "commit", "HEAD"}}); strings.Contains(sig, "gpgsig") {
		t.Error("the commit is signed")
	}
}

func TestTokenReachesGitOnlyThroughItsEnvironment(t *testing.T) {
	// The fake GitHub serves the repository with git http-backend and
	// GitHub's rules for installation tokens.
	gh := githubtest.New(t)
	gh.AddInstallation(githubtest.Installation{ID: 42, Account: "o", Repos: []githubtest.Repo{{ID: 1000, FullName: "o/r"}}})
	gh.InitGitRepo("o/r", "main", map[string]string{"README.md": "# r\n"})
	token := gh.InstallationToken(42)
	remote := gitexec.Remote{URL: gh.GitURL("o/r"), Token: token}
	if err := remote.Check(); err != nil {
		t.Fatal(err)
	}

	var argvs, envs [][]string
	g := &gitexec.Git{Trace: func(argv, env []string) { argvs, envs = append(argvs, argv), append(envs, env) }}
	out := run(t, g, gitexec.Cmd{Token: remote.Token, Args: []string{"ls-remote", "--", remote.URL, "refs/heads/main"}})
	if !strings.HasSuffix(out, "\trefs/heads/main") {
		t.Errorf("ls-remote = %q", out)
	}
	header := "GIT_CONFIG_VALUE_0=Authorization: Basic " + basicAuth(token)
	for i, argv := range argvs {
		if a := strings.Join(argv, " "); strings.Contains(a, token) || strings.Contains(a, basicAuth(token)) {
			t.Errorf("argv carries the token: %q", argv)
		}
		for _, kv := range envs[i] {
			if kv != header && (strings.Contains(kv, token) || strings.Contains(kv, basicAuth(token))) {
				t.Errorf("environment variable %q carries the token", kv)
			}
		}
		if !slices.Contains(envs[i], header) {
			t.Errorf("git's environment lacks the token's header")
		}
	}
	for _, r := range gh.GitRequests() {
		if r.Status != 200 || r.InstallationID != 42 {
			t.Errorf("git request %s %s: status %d, installation %d", r.Method, r.Path, r.Status, r.InstallationID)
		}
	}

	// A wrong token, and none, are refused as such, without a prompt and
	// without the token in the error.
	for _, token := range []string{"ghs_WRONGtoken0123456789", ""} {
		_, err := g.Run(context.Background(), gitexec.Cmd{Token: token, Args: []string{"ls-remote", "--", remote.URL}})
		if !errors.Is(err, gitexec.ErrAuthentication) {
			t.Errorf("token %q: err = %v, want ErrAuthentication", token, err)
			continue
		}
		if token != "" && (strings.Contains(err.Error(), token) || strings.Contains(err.Error(), basicAuth(token))) {
			t.Errorf("the error repeats the token: %v", err)
		}
		if gerr := gitErr(t, err); gerr.Subcommand != "ls-remote" || gerr.ExitCode <= 0 {
			t.Errorf("Subcommand %q, ExitCode %d; want ls-remote and git's exit status", gerr.Subcommand, gerr.ExitCode)
		}
	}
}

// What git repeats of the token in its output is redacted, in both forms.
func TestErrorRedactsTheToken(t *testing.T) {
	repo := newRepo(t)
	var g gitexec.Git
	for _, secret := range []string{testToken, basicAuth(testToken)} {
		_, err := g.Run(context.Background(), gitexec.Cmd{Dir: repo, Token: testToken,
			Args: []string{"-c", "color.ui=false", "cat-file", "-t", secret}})
		gerr := gitErr(t, err)
		if strings.Contains(err.Error(), secret) || strings.Contains(gerr.Stderr, secret) {
			t.Errorf("error repeats the token: %v", err)
		}
		if !strings.Contains(gerr.Stderr, "[redacted]") {
			t.Errorf("stderr %q: want the token replaced by [redacted]", gerr.Stderr)
		}
		if gerr.Subcommand != "cat-file" {
			t.Errorf("Subcommand = %q, want cat-file (past -c)", gerr.Subcommand)
		}
	}
	if got := gitexec.Redact("fatal: Authorization: Basic "+basicAuth("tok123")+" tok123", "tok123"); strings.Contains(got, "tok123") || strings.Contains(got, basicAuth("tok123")) {
		t.Errorf("Redact left the token: %s", got)
	}
	if got := gitexec.Redact("nothing to hide", ""); got != "nothing to hide" {
		t.Errorf("Redact without a token = %q", got)
	}
}

func TestErrorSaysHowGitEnded(t *testing.T) {
	repo := newRepo(t)
	var g gitexec.Git

	// An exit status is an answer.
	_, err := g.Run(context.Background(), gitexec.Cmd{Dir: repo, Args: []string{"config", "--get", "no.such"}})
	if gerr := gitErr(t, err); gerr.ExitCode != 1 || errors.Is(err, gitexec.ErrAuthentication) {
		t.Errorf("missing key: ExitCode %d, err %v; want 1", gerr.ExitCode, err)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Errorf("err %v does not wrap the *exec.ExitError", err)
	}

	// A cancelled command's is not.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = g.Run(ctx, gitexec.Cmd{Dir: repo, Args: []string{"status"}})
	if gerr := gitErr(t, err); gerr.ExitCode != -1 || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: ExitCode %d, err %v; want -1 and context.Canceled", gerr.ExitCode, err)
	}

	// Nor is a git that does not start.
	missing := &gitexec.Git{Path: filepath.Join(t.TempDir(), "no-git")}
	_, err = missing.Run(context.Background(), gitexec.Cmd{Args: []string{"version"}})
	if gerr := gitErr(t, err); gerr.ExitCode != -1 || !strings.HasPrefix(err.Error(), "git version: ") {
		t.Errorf("missing binary: ExitCode %d, err %v", gerr.ExitCode, err)
	}

	// Standard output comes back with the error, as is.
	out, err := g.Run(context.Background(), gitexec.Cmd{Dir: repo, Stdin: strings.NewReader("HEAD\nno-such-rev\n"),
		Args: []string{"cat-file", "--batch-check"}})
	if err != nil || !strings.Contains(string(out), "no-such-rev missing") {
		t.Errorf("cat-file --batch-check = %q, %v", out, err)
	}
}

func TestRemoteCheck(t *testing.T) {
	for _, tc := range []struct {
		url, want string // want: "" for a URL Check accepts
	}{
		{"https://github.com/o/r.git", ""},
		{"/srv/git/o/r.git", ""},
		{"", "has no URL"},
		{"--upload-pack=touch /tmp/x", "starts with '-'"},
		{"https://x-access-token:ghs_secret@github.com/o/r.git", "carries credentials"},
	} {
		err := gitexec.Remote{URL: tc.url}.Check()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Check(%q) = %v", tc.url, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Check(%q) = %v, want %q", tc.url, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "ghs_secret"):
			t.Errorf("Check(%q) repeats the credentials: %v", tc.url, err)
		}
	}
	if s := (gitexec.Remote{URL: "https://u:p@example.com/o/r.git", Token: "tok"}).String(); s != "https://example.com/o/r.git" {
		t.Errorf("Remote.String = %s", s)
	}
}

func TestPushRejection(t *testing.T) {
	// A real rejection: a push that is not a fast-forward.
	upstream := newRepo(t)
	bare := filepath.Join(t.TempDir(), "r.git")
	var g gitexec.Git
	run(t, &g, gitexec.Cmd{Args: []string{"clone", "--quiet", "--bare", "--", upstream, bare}})
	run(t, &g, gitexec.Cmd{Dir: upstream, Env: identity, Args: []string{"commit", "--quiet", "--amend", "-m", "rewritten"}})
	out, err := g.Run(context.Background(), gitexec.Cmd{Dir: upstream, Args: []string{"push", "--porcelain", "--", bare, "main:main"}})
	if err == nil {
		t.Fatal("a push that is not a fast-forward succeeded")
	}
	if got := gitexec.PushRejection(string(out)); got != "[rejected] (non-fast-forward)" {
		t.Errorf("PushRejection(%q) = %q", out, got)
	}

	for porcelain, want := range map[string]string{
		"To /srv/r.git\n=\trefs/heads/main:refs/heads/main\t[up to date]\nDone\n":                           "",
		"To /srv/r.git\n!\trefs/heads/a:refs/heads/a\t[remote rejected] (protected branch hook declined)\n": "[remote rejected] (protected branch hook declined)",
		"!  odd line without tabs\n": "odd line without tabs",
	} {
		if got := gitexec.PushRejection(porcelain); got != want {
			t.Errorf("PushRejection(%q) = %q, want %q", porcelain, got, want)
		}
	}
}
