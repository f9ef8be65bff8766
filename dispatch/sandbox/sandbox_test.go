package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain doubles as a helper the tests run as the agent: with
// SANDBOX_TEST_CONNECT set it dials that address and exits 0 on success,
// 3 on failure.
func TestMain(m *testing.M) {
	if addr := os.Getenv("SANDBOX_TEST_CONNECT"); addr != "" {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		c.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const testPath = "/usr/local/bin:/usr/bin:/bin"

// runT runs s with output captured and fails the test if it cannot start.
func runT(t *testing.T, ctx context.Context, s Spec) (Outcome, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	if s.Workdir == "" {
		s.Workdir = t.TempDir()
	}
	if s.Env == nil {
		s.Env = map[string]string{"PATH": testPath}
	}
	out, err := Run(ctx, s)
	if err != nil {
		t.Fatalf("Run(%q): %v", s.Argv, err)
	}
	return out, stdout.String(), stderr.String()
}

func sh(script string) []string { return []string{"sh", "-c", script} }

func TestRunExitCodeOutputAndStdin(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte("from stdin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stdout, stderr := runT(t, context.Background(), Spec{
		Argv:      sh(`cat; echo "in $PWD"; echo oops >&2; exit 3`),
		StdinFile: in, Workdir: dir,
	})
	if out.ExitCode != 3 || out.TimedOut || out.Cancelled || out.Sandboxed {
		t.Errorf("Outcome = %+v", out)
	}
	if want := "from stdin\nin " + dir + "\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	if stderr != "oops\n" {
		t.Errorf("stderr = %q", stderr)
	}
	if out.Duration <= 0 {
		t.Errorf("Duration = %s", out.Duration)
	}

	out, _, _ = runT(t, context.Background(), Spec{Argv: sh("kill -9 $$")})
	if out.ExitCode != 128+9 {
		t.Errorf("a command killed by SIGKILL has ExitCode %d", out.ExitCode)
	}
}

func TestRunCannotStart(t *testing.T) {
	dir := t.TempDir()
	for name, s := range map[string]Spec{
		"no command":        {Workdir: dir},
		"unknown command":   {Argv: []string{"no-such-command-xyz"}, Workdir: dir, Env: map[string]string{"PATH": testPath}},
		"no PATH":           {Argv: []string{"sh"}, Workdir: dir},
		"relative workdir":  {Argv: []string{"/bin/true"}, Workdir: "rel"},
		"missing workdir":   {Argv: []string{"/bin/true"}, Workdir: filepath.Join(dir, "missing")},
		"missing stdin":     {Argv: []string{"/bin/true"}, Workdir: dir, StdinFile: filepath.Join(dir, "missing")},
		"bad env name":      {Argv: []string{"/bin/true"}, Workdir: dir, Env: map[string]string{"A=B": "c"}},
		"missing bwrap":     {Argv: []string{"/bin/true"}, Workdir: dir, Bwrap: "/nonexistent/bwrap"},
		"missing read-only": {Argv: []string{"/bin/true"}, Workdir: dir, Bwrap: "bwrap", ReadOnly: []string{filepath.Join(dir, "missing")}},
		"bind root":         {Argv: []string{"/bin/true"}, Workdir: dir, Bwrap: "bwrap", ReadOnly: []string{"/"}},
	} {
		if _, err := Run(context.Background(), s); err == nil {
			t.Errorf("%s: Run succeeded", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if out, err := Run(ctx, Spec{Argv: []string{"/bin/true"}, Workdir: dir}); err == nil || !out.Cancelled {
		t.Errorf("Run with a cancelled context = %+v, %v", out, err)
	}
}

// groupScript starts a background sleep, records its pid and the shell's,
// and waits; with ignoreTerm both ignore SIGTERM, so only SIGKILL ends
// them.
func groupScript(ignoreTerm bool) string {
	s := `sleep 1000 & echo $! > pids; echo $$ >> pids; echo started > started; wait`
	if ignoreTerm {
		s = `trap '' TERM; ` + s
	}
	return s
}

func TestRunTimeoutKillsTheWholeGroup(t *testing.T) {
	for _, ignoreTerm := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignoreTERM=%t", ignoreTerm), func(t *testing.T) {
			dir := t.TempDir()
			out, _, _ := runT(t, context.Background(), Spec{
				Argv: sh(groupScript(ignoreTerm)), Workdir: dir,
				Timeout: 500 * time.Millisecond, Grace: 500 * time.Millisecond,
			})
			if !out.TimedOut || out.Cancelled {
				t.Errorf("Outcome = %+v, want TimedOut", out)
			}
			wantCode := 128 + 15
			if ignoreTerm {
				wantCode = 128 + 9
			}
			if out.ExitCode != wantCode {
				t.Errorf("ExitCode = %d, want %d", out.ExitCode, wantCode)
			}
			assertGone(t, readPids(t, dir))
		})
	}
}

func TestRunCancelKillsTheWholeGroup(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitForFile(filepath.Join(dir, "started"))
		cancel()
	}()
	out, _, _ := runT(t, ctx, Spec{Argv: sh(groupScript(true)), Workdir: dir, Grace: 300 * time.Millisecond})
	if !out.Cancelled || out.TimedOut {
		t.Errorf("Outcome = %+v, want Cancelled", out)
	}
	assertGone(t, readPids(t, dir))
}

func TestRunKillsWhatTheAgentLeftBehind(t *testing.T) {
	dir := t.TempDir()
	// The shell exits at once; its background sleep holds stdout open.
	out, _, _ := runT(t, context.Background(), Spec{
		Argv: sh(`sleep 1000 & echo $! > pids; echo $$ >> pids; exit 0`), Workdir: dir,
	})
	if out.ExitCode != 0 || out.TimedOut || out.Cancelled {
		t.Errorf("Outcome = %+v", out)
	}
	assertGone(t, readPids(t, dir))
}

func TestRunEnvironmentIsExactlyTheScrubbedOne(t *testing.T) {
	t.Setenv("AGENTGATE_GITHUB_PRIVATE_KEY", "-----BEGIN RSA PRIVATE KEY-----")
	t.Setenv("GITHUB_TOKEN", "ghs_parent")
	t.Setenv("MY_MODEL_API_KEY", "sk-model")
	t.Setenv("UNRELATED", "x")
	t.Setenv("PATH", testPath)
	env := ScrubbedEnv([]string{"MY_MODEL_API_KEY", "GITHUB_TOKEN", "AGENTGATE_GITHUB_PRIVATE_KEY"}, os.Environ(),
		map[string]string{"AGENTGATE_TASK_ID": "t-1", "HOME": "/tmp", "GH_TOKEN": "ghs_extra"})

	for _, bwrap := range []string{"", bwrapOrEmpty()} {
		out, stdout, stderr := runT(t, context.Background(), Spec{Argv: []string{"env"}, Env: env, Bwrap: bwrap})
		if out.ExitCode != 0 {
			t.Fatalf("env (bwrap %q) failed: %s", bwrap, stderr)
		}
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			k, v, _ := strings.Cut(line, "=")
			got[k] = v
		}
		if !reflect.DeepEqual(got, env) {
			t.Errorf("bwrap %q: the agent's environment is\n%v\nwant\n%v", bwrap, got, env)
		}
		if bwrap == "" {
			break
		}
	}
}

func TestScrubbedEnv(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin", "LANG=C.UTF-8", "TZ=UTC", "HOME=/root", "USER=root",
		"GITHUB_TOKEN=t1", "GH_TOKEN=t2", "AGENTGATE_WEBHOOK_SECRET=s", "agentgate_x=y",
		"APP_PRIVATE_KEY=k", "MY_KEY=m", "OPENAI_API_KEY=o", "BROKEN",
	}
	got := ScrubbedEnv([]string{"MY_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN", "GH_TOKEN", "AGENTGATE_WEBHOOK_SECRET", "agentgate_x", "APP_PRIVATE_KEY", "ABSENT"},
		environ, map[string]string{"AGENTGATE_TASK_ID": "t", "GITHUB_TOKEN": "no", "SSH_PRIVATE_KEY_PATH": "no", "PATH": "/agent/bin"})
	want := map[string]string{
		"PATH": "/agent/bin", "LANG": "C.UTF-8", "TZ": "UTC",
		"MY_KEY": "m", "OPENAI_API_KEY": "o", "AGENTGATE_TASK_ID": "t",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ScrubbedEnv =\n%v\nwant\n%v", got, want)
	}
}

func TestRunLooksCommandsUpInTheAgentsPath(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "my-agent"), []byte("#!/bin/sh\necho agent here\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, stdout, _ := runT(t, context.Background(), Spec{
		Argv: []string{"my-agent"}, Env: map[string]string{"PATH": bin + ":" + testPath},
	})
	if out.ExitCode != 0 || stdout != "agent here\n" {
		t.Errorf("Outcome %+v, stdout %q", out, stdout)
	}
}

// readPids reads the pids a group script recorded.
func readPids(t *testing.T, dir string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if len(pids) != 2 {
		t.Fatalf("pids = %v", pids)
	}
	return pids
}

// assertGone fails unless every pid is dead (or a zombie waiting for a
// reaper we do not control) within a second.
func assertGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("process %d is still running after Run returned", pid)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	state := b[i+2]
	return state != 'Z' && state != 'X'
}

func waitForFile(p string) {
	for range 500 {
		if _, err := os.Stat(p); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
