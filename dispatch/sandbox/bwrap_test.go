package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/dispatch/workspace"
)

// bwrapOrEmpty is the bwrap on PATH, or "".
func bwrapOrEmpty() string {
	p, _ := exec.LookPath("bwrap")
	return p
}

// needBwrap skips the test only when bwrap is not installed.
func needBwrap(t *testing.T) string {
	t.Helper()
	p := bwrapOrEmpty()
	if p == "" {
		t.Skip("bwrap is not installed (Debian package bubblewrap)")
	}
	return p
}

func TestBwrapAvailable(t *testing.T) {
	bwrap := needBwrap(t)
	if err := BwrapAvailable(context.Background(), bwrap); err != nil {
		t.Fatalf("BwrapAvailable(%s): %v", bwrap, err)
	}
	if err := BwrapAvailable(context.Background(), "/nonexistent/bwrap"); err == nil {
		t.Error("BwrapAvailable of a missing binary succeeded")
	}
	if err := BwrapAvailable(context.Background(), ""); err == nil {
		t.Error("BwrapAvailable of no binary succeeded")
	}
	// A "bwrap" that fails says why.
	fake := filepath.Join(t.TempDir(), "bwrap")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := BwrapAvailable(context.Background(), fake); err == nil || !strings.Contains(err.Error(), "No permissions") {
		t.Errorf("BwrapAvailable of a failing bwrap = %v", err)
	}
}

func TestBwrapConfinesFiles(t *testing.T) {
	bwrap := needBwrap(t)
	work, scratch, task := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(task, "prompt.md"), []byte("do it\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A key kept where the server keeps its data, next to what the agent
	// is given, but not given.
	dataDir := t.TempDir()
	secret := filepath.Join(dataDir, "app-private-key.pem")
	if err := os.WriteFile(secret, []byte("-----BEGIN PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `
set -u
check() { if eval "$2" >/dev/null 2>&1; then echo "$1 yes"; else echo "$1 no"; fi; }
check read-secret "cat ` + secret + `"
check see-datadir "ls ` + dataDir + `"
check read-task "cat ` + task + `/prompt.md"
check write-task "touch ` + task + `/x"
check write-work "echo hi > ` + work + `/made-here"
check write-scratch "touch ` + scratch + `/x"
check write-usr "touch /usr/agent-was-here"
check write-etc "touch /etc/agent-was-here"
check write-tmp "touch /tmp/x"
check write-home "touch \$HOME/x"
check see-root "ls /root"
check see-etc-shadow "cat /etc/shadow"
check see-ssl-private "ls /etc/ssl/private"
check read-passwd "cat /etc/passwd"
check read-certs "ls /etc/ssl/certs"
check pwd-is-work "test \"\$(pwd)\" = ` + work + `"
`
	out, stdout, stderr := runT(t, context.Background(), Spec{
		Argv: sh(script), Workdir: work, Writable: []string{scratch}, ReadOnly: []string{task},
		Env: map[string]string{"PATH": testPath}, Bwrap: bwrap,
	})
	if out.ExitCode != 0 || !out.Sandboxed {
		t.Fatalf("Outcome %+v; stderr:\n%s", out, stderr)
	}
	want := map[string]string{
		"read-secret": "no", "see-datadir": "no", "read-task": "yes", "write-task": "no",
		"write-work": "yes", "write-scratch": "yes", "write-usr": "no", "write-etc": "no",
		"write-tmp": "yes", "write-home": "yes", "see-root": "no", "see-etc-shadow": "no",
		"see-ssl-private": "no", "read-passwd": "yes", "pwd-is-work": "yes",
	}
	if _, err := os.Stat("/etc/ssl/certs"); err == nil {
		want["read-certs"] = "yes"
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		k, v, _ := strings.Cut(line, " ")
		got[k] = v
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if b, err := os.ReadFile(filepath.Join(work, "made-here")); err != nil || string(b) != "hi\n" {
		t.Errorf("the agent's write to its workdir did not land: %q, %v", b, err)
	}
	for _, p := range []string{"/usr/agent-was-here", "/etc/agent-was-here"} {
		if _, err := os.Stat(p); err == nil {
			os.Remove(p)
			t.Errorf("the agent wrote %s on the host", p)
		}
	}
}

func TestBwrapHasItsOwnProcessesAndNoEnvInArgv(t *testing.T) {
	bwrap := needBwrap(t)
	host, err := os.ReadFile("/proc/1/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	out, stdout, stderr := runT(t, context.Background(), Spec{
		Argv: sh(`cat /proc/1/cmdline; echo; ls /proc | grep -c '^[0-9]'`),
		Env:  map[string]string{"PATH": testPath, "MODEL_API_KEY": "sk-very-secret"}, Bwrap: bwrap,
	})
	if out.ExitCode != 0 {
		t.Fatalf("Outcome %+v; stderr:\n%s", out, stderr)
	}
	cmdline, count, _ := strings.Cut(stdout, "\n")
	if cmdline == strings.TrimRight(string(host), "\x00") || cmdline == string(host) {
		t.Errorf("/proc/1/cmdline in the sandbox is the host's: %q", cmdline)
	}
	if !strings.Contains(cmdline, "bwrap") {
		t.Errorf("/proc/1/cmdline in the sandbox is %q, want bwrap's", cmdline)
	}
	if strings.Contains(cmdline, "sk-very-secret") {
		t.Errorf("an environment value is in bwrap's argv: %q", cmdline)
	}
	if n := strings.TrimSpace(count); n == "" || len(n) > 1 {
		t.Errorf("the sandbox sees %s processes", n)
	}
}

func TestBwrapNetwork(t *testing.T) {
	bwrap := needBwrap(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, network := range []bool{false, true} {
		out, _, stderr := runT(t, context.Background(), Spec{
			Argv:     []string{self},
			ReadOnly: []string{filepath.Dir(self)},
			Env:      map[string]string{"PATH": testPath, "SANDBOX_TEST_CONNECT": ln.Addr().String()},
			Bwrap:    bwrap, Network: network,
		})
		switch {
		case network && out.ExitCode != 0:
			t.Errorf("with Network the agent cannot connect to %s: %+v %s", ln.Addr(), out, stderr)
		case !network && out.ExitCode != 3:
			t.Errorf("without Network the agent's connection to %s ended with %+v %s; want a failure to connect", ln.Addr(), out, stderr)
		}
	}
}

func TestBwrapTimeoutKillsEverythingInside(t *testing.T) {
	bwrap := needBwrap(t)
	work := t.TempDir()
	tick := filepath.Join(work, "tick")
	// A background loop that ignores SIGTERM keeps touching a file.
	script := `trap '' TERM; (while :; do date +%s%N > ` + tick + `; sleep 0.05; done) & echo started > started; wait`
	out, _, stderr := runT(t, context.Background(), Spec{
		Argv: sh(script), Workdir: work, Env: map[string]string{"PATH": testPath}, Bwrap: bwrap,
		Timeout: 500 * time.Millisecond, Grace: 300 * time.Millisecond,
	})
	if !out.TimedOut || !out.Sandboxed {
		t.Errorf("Outcome = %+v (stderr %s)", out, stderr)
	}
	time.Sleep(200 * time.Millisecond)
	before, err := os.ReadFile(tick)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	after, _ := os.ReadFile(tick)
	if !bytes.Equal(before, after) {
		t.Error("a process in the sandbox is still running after Run returned")
	}
}

func TestBwrapHome(t *testing.T) {
	bwrap := needBwrap(t)
	// No HOME: a fresh /home/agent.
	out, stdout, stderr := runT(t, context.Background(), Spec{
		Argv: sh(`echo "$HOME"; touch "$HOME/x" && ls -A "$HOME"`), Env: map[string]string{"PATH": testPath}, Bwrap: bwrap,
	})
	if out.ExitCode != 0 || stdout != "/home/agent\nx\n" {
		t.Errorf("no HOME: %+v %q %s", out, stdout, stderr)
	}
	// A HOME outside the writable dirs is an empty tmpfs, whatever the
	// host has there.
	hostHome := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostHome, ".netrc"), []byte("machine github.com password x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stdout, stderr = runT(t, context.Background(), Spec{
		Argv: sh(`ls -A "$HOME"; touch "$HOME/y" && echo ok`), Env: map[string]string{"PATH": testPath, "HOME": hostHome}, Bwrap: bwrap,
	})
	if out.ExitCode != 0 || stdout != "ok\n" {
		t.Errorf("host HOME: %+v %q %s", out, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(hostHome, "y")); err == nil {
		t.Error("the tmpfs HOME wrote through to the host")
	}
	// A HOME in a writable dir is that dir.
	scratch := t.TempDir()
	out, _, stderr = runT(t, context.Background(), Spec{
		Argv: sh(`touch "$HOME/z"`), Writable: []string{scratch},
		Env: map[string]string{"PATH": testPath, "HOME": scratch}, Bwrap: bwrap,
	})
	if _, err := os.Stat(filepath.Join(scratch, "z")); out.ExitCode != 0 || err != nil {
		t.Errorf("writable HOME: %+v %s %v", out, stderr, err)
	}
}

func TestBwrapGitInAWorktree(t *testing.T) {
	bwrap := needBwrap(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// An upstream repository and agentgate's mirror of it.
	src := filepath.Join(t.TempDir(), "src")
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main", src},
		{"-C", src, "commit", "--quiet", "--allow-empty", "-m", "root"},
	} {
		gitCmd(t, args...)
	}
	if err := os.WriteFile(filepath.Join(src, "README.md"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitCmd(t, "-C", src, "add", "README.md")
	gitCmd(t, "-C", src, "commit", "--quiet", "-m", "readme")
	mirrors := &workspace.Mirrors{Dir: t.TempDir()}
	mirror, err := mirrors.Sync(ctx, "o/r", workspace.Remote{URL: src})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := mirrors.Worktree(ctx, "o/r", "main", filepath.Join(t.TempDir(), "run", "work"))
	if err != nil {
		t.Fatal(err)
	}
	defer wt.Remove(context.Background())
	before := tree(t, filepath.Join(mirror, "objects"))

	script := `set -e
echo "hello, agent" > README.md
echo new > new.txt
git status --porcelain
git diff --stat
git add -A
git -c user.name=agent -c user.email=agent@example.com commit --quiet -m "agent's commit"
git log --format=%s
git status --porcelain
`
	out, stdout, stderr := runT(t, ctx, Spec{
		Argv: sh(script), Workdir: wt.Path,
		Writable: wt.GitDirs(), ReadOnly: wt.SharedDirs(),
		Env:   map[string]string{"PATH": testPath, "GIT_CONFIG_NOSYSTEM": "1"},
		Bwrap: bwrap,
	})
	if out.ExitCode != 0 {
		t.Fatalf("git in the sandbox failed: %+v\nstdout:\n%s\nstderr:\n%s", out, stdout, stderr)
	}
	for _, want := range []string{" M README.md", "?? new.txt", "agent's commit\nreadme\nroot"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("git output lacks %q:\n%s", want, stdout)
		}
	}
	if after := tree(t, filepath.Join(mirror, "objects")); !maps.Equal(before, after) {
		t.Errorf("the agent's git changed the mirror's objects:\nbefore %v\nafter  %v", before, after)
	}

	// agentgate turns it into its own commit, and the mirror still syncs.
	res, err := wt.Collect(ctx, workspace.Commit{Subject: "Agent change", AuthorName: "agentgate", AuthorEmail: "agentgate@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 2 {
		t.Errorf("Collect found %+v", res.Files)
	}
	if _, err := mirrors.Sync(ctx, "o/r", workspace.Remote{URL: src}); err != nil {
		t.Errorf("Sync after the agent committed in the sandbox: %v", err)
	}
}

func gitCmd(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=p", "GIT_AUTHOR_EMAIL=p@example.com", "GIT_COMMITTER_NAME=p", "GIT_COMMITTER_EMAIL=p@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// tree maps every path under dir to its size and modification time.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		m[p] = fmt.Sprintf("%s %d %s", fi.Mode(), fi.Size(), fi.ModTime())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
