package workspace

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testToken is the installation token the test server wants.
const testToken = "ghs_TESTtoken0123456789abcdefSECRET"

// gitT runs git for the test (as a person or an agent would), failing the
// test on error, and returns the trimmed output.
func gitT(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitE(dir, nil, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// basicAuth is the token as GitHub wants it over HTTP, and as it must
// never appear outside git's environment.
func basicAuth(token string) string {
	return base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
}

// gitE runs git with an isolated configuration and a fixed identity.
func gitE(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Pat Person", "GIT_AUTHOR_EMAIL=pat@example.com",
		"GIT_COMMITTER_NAME=Pat Person", "GIT_COMMITTER_EMAIL=pat@example.com",
	), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// upstream is a repository "on GitHub": a bare repository under root (as
// root/o/r.git, served over HTTP by gitServer) and a clone of it in which
// the test makes commits as people would.
type upstream struct {
	bare, work string
}

func newUpstream(t testing.TB, root string) *upstream {
	t.Helper()
	u := &upstream{bare: filepath.Join(root, "o", "r.git"), work: filepath.Join(t.TempDir(), "work")}
	gitT(t, "", "init", "--quiet", "--bare", "--initial-branch=main", u.bare)
	gitT(t, u.bare, "config", "http.receivepack", "true")
	gitT(t, "", "init", "--quiet", "--initial-branch=main", u.work)
	writeFile(t, filepath.Join(u.work, "README.md"), "# r\n\nA test repository.\n")
	writeFile(t, filepath.Join(u.work, "src", "main.go"), "package main\n\nfunc main() {\n\tprintln(\"hello\")\n}\n")
	writeFile(t, filepath.Join(u.work, "docs", "old-name.txt"), strings.Repeat("a line that stays the same\n", 20))
	writeFile(t, filepath.Join(u.work, "doomed.txt"), "to be deleted\n")
	writeFile(t, filepath.Join(u.work, ".gitignore"), "*.log\n")
	u.commit(t, "initial commit")
	gitT(t, u.work, "tag", "v1.0.0")
	gitT(t, u.work, "remote", "add", "origin", u.bare)
	gitT(t, u.work, "push", "--quiet", "origin", "main", "v1.0.0")
	// A pull request ref, which a mirror must not fetch.
	gitT(t, u.bare, "update-ref", "refs/pull/1/head", u.head(t, "main"))
	return u
}

// commit commits everything in the work clone and returns the sha.
func (u *upstream) commit(t testing.TB, msg string) string {
	t.Helper()
	gitT(t, u.work, "add", "-A")
	gitT(t, u.work, "commit", "--quiet", "--allow-empty", "-m", msg)
	return gitT(t, u.work, "rev-parse", "HEAD")
}

// head is the commit a branch of the bare repository points at ("" if none).
func (u *upstream) head(t testing.TB, branch string) string {
	t.Helper()
	out, err := gitE(u.bare, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	if err != nil {
		return ""
	}
	return out
}

// gitServer serves the repositories under a root with git http-backend and
// lets in only requests carrying testToken as GitHub expects it.
type gitServer struct {
	*httptest.Server
	mu       sync.Mutex
	urls     []string
	rejected int
}

func newGitServer(t testing.TB, root string) *gitServer {
	t.Helper()
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	backend := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"},
	}
	want := "Basic " + basicAuth(testToken)
	s := &gitServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.urls = append(s.urls, r.URL.String())
		ok := r.Header.Get("Authorization") == want && r.URL.User == nil
		if !ok {
			s.rejected++
		}
		s.mu.Unlock()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *gitServer) remote() Remote {
	return Remote{URL: s.URL + "/o/r.git", Token: testToken}
}

func (s *gitServer) seen() (urls []string, rejected int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.urls...), s.rejected
}

// traced records the argv and environment of every git command a Mirrors
// runs.
type traced struct {
	mu   sync.Mutex
	argv [][]string
	env  [][]string
}

func (tr *traced) record(argv, env []string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.argv = append(tr.argv, append([]string(nil), argv...))
	tr.env = append(tr.env, append([]string(nil), env...))
}

// fixture is a served upstream and a Mirrors that has not synced yet.
type fixture struct {
	up      *upstream
	srv     *gitServer
	mirrors *Mirrors
	trace   *traced
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{up: newUpstream(t, root), srv: newGitServer(t, root), trace: &traced{}}
	f.mirrors = &Mirrors{Dir: filepath.Join(t.TempDir(), "mirrors"), trace: f.trace.record}
	return f
}

func (f *fixture) sync(t testing.TB) string {
	t.Helper()
	path, err := f.mirrors.Sync(testContext(t), "o/r", f.srv.remote())
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return path
}

func (f *fixture) worktree(t testing.TB, rev string) *Worktree {
	t.Helper()
	w, err := f.mirrors.Worktree(testContext(t), "o/r", rev, filepath.Join(t.TempDir(), "run", "work"))
	if err != nil {
		t.Fatalf("Worktree(%s): %v", rev, err)
	}
	t.Cleanup(func() { _ = w.Remove(context.Background()) })
	return w
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// agentCommit plays an agent committing in its worktree with plain git.
func agentCommit(t testing.TB, w *Worktree, msg string) {
	t.Helper()
	gitT(t, w.Path, "add", "-A")
	gitT(t, w.Path, "commit", "--quiet", "-m", msg)
}

// testCommit is the commit agentgate makes in the tests.
func testCommit(when time.Time) Commit {
	return Commit{
		Subject: "Fix the greeting (#7)",
		Body:    "Agent test-agent implemented #7.",
		Trailers: [][2]string{
			{"Co-authored-by", "alice <1+alice@users.noreply.github.com>"},
			{"Agent-Task", "t-123"},
			{"Agent-Run", "r-456"},
		},
		AuthorName: "agentgate[bot]", AuthorEmail: "99+agentgate[bot]@users.noreply.github.com",
		When: when,
	}
}
