package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/store"
)

// The end-to-end tests build the real binary once and run it as a separate
// process against the fake GitHub, as an operator would run it.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agentgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "agentgate")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build agentgate:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output safely across goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is one running agentgate.
type process struct {
	t    testing.TB
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan struct{}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// appEnv is the environment of an agentgate configured for the fake's app,
// with queue timings shortened so tests finish quickly.
func appEnv(t testing.TB, fake *githubtest.Server, dataDir, databaseURL string) map[string]string {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(keyFile, fake.AppPrivateKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"AGENTGATE_DATA_DIR":                dataDir,
		"AGENTGATE_GITHUB_APP_ID":           fmt.Sprint(fake.AppID()),
		"AGENTGATE_GITHUB_PRIVATE_KEY_FILE": keyFile,
		"AGENTGATE_WEBHOOK_SECRET":          fake.WebhookSecret(),
		"AGENTGATE_GITHUB_API_URL":          fake.URL(),
		"AGENTGATE_QUEUE_BACKOFF_BASE":      "100ms",
		"AGENTGATE_QUEUE_BACKOFF_MAX":       "1s",
		"AGENTGATE_QUEUE_POLL_INTERVAL":     "50ms",
		"AGENTGATE_QUEUE_JOB_TIMEOUT":       "3s",
		"AGENTGATE_QUEUE_RESCUE_AFTER":      "4s",
		"AGENTGATE_RECONCILE_INTERVAL":      "0s",
		"AGENTGATE_LOG_LEVEL":               "debug",
	}
	if databaseURL != "" {
		env["AGENTGATE_DATABASE_URL"] = databaseURL
	}
	return env
}

// start runs agentgate serve with env on a free port and waits for /readyz.
func start(t testing.TB, env map[string]string) *process {
	t.Helper()
	return startWith(t, env)
}

// startWith is start with extra arguments to serve (e.g. --config FILE).
func startWith(t testing.TB, env map[string]string, args ...string) *process {
	t.Helper()
	addr := freeAddr(t)
	p := &process{t: t, url: "http://" + addr, logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, append([]string{"serve"}, args...)...)
	p.cmd.Env = append(minimalEnv(), "AGENTGATE_ADDR="+addr)
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start agentgate: %v", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("agentgate logs (%s):\n%s", addr, tail(p.logs.String(), 60))
		}
	})
	waitFor(t, 30*time.Second, "agentgate ready at "+p.url, func() bool {
		select {
		case <-p.done:
			t.Fatalf("agentgate exited early:\n%s", p.logs.String())
		default:
		}
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// minimalEnv keeps what a process needs to run but no AGENTGATE_* from the
// test's own environment.
func minimalEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTGATE_") {
			env = append(env, kv)
		}
	}
	return env
}

// stop ends the process with SIGTERM (a clean shutdown) and waits.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(25 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill9 ends the process the way a crash or an OOM kill would.
func (p *process) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *process) get(path string) (int, string) {
	p.t.Helper()
	resp, err := http.Get(p.url + path)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// metric returns the value of one exported series, e.g.
// `agentgate_webhook_deliveries_total{event="ping",outcome="ping"}`, or 0.
func (p *process) metric(series string) float64 {
	p.t.Helper()
	_, body := p.get("/metrics")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, series+" ") {
			var v float64
			fmt.Sscan(strings.TrimPrefix(line, series+" "), &v)
			return v
		}
	}
	return 0
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// openStore opens the store the process uses, beside it (SQLite in WAL mode
// and PostgreSQL both allow that).
func openStore(t testing.TB, driver, dsn string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// requestsTo lists the fake's requests whose operation is op, e.g.
// "GET /installation/repositories".
func requestsTo(fake *githubtest.Server, op string) []githubtest.Request {
	var out []githubtest.Request
	for _, r := range fake.Requests() {
		if r.Operation == op || r.Method+" "+r.Path == op {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}
