package publish

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/ghapp"
	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/internal/metrics"
	"github.com/agentgate/agentgate/provenance/sign"
)

const (
	testInstallation = 42
	testRepoID       = 1000
	testRepo         = "octo-org/widgets"
)

// fixture is a fake GitHub with one repository that has git content, the
// app's clients, and a signing key.
type fixture struct {
	s       *githubtest.Server
	clients *ghapp.Clients
	key     *sign.LocalKey
	commits []string // landed commits: the initial one, then one per landCommit
}

func newFixture(t *testing.T, perms map[string]string) *fixture {
	t.Helper()
	s := githubtest.New(t)
	s.AddInstallation(githubtest.Installation{
		ID: testInstallation, Account: "octo-org",
		Repos:       []githubtest.Repo{{ID: testRepoID, FullName: testRepo}},
		Permissions: perms,
	})
	first := s.InitGitRepo(testRepo, "main", map[string]string{"README.md": "# widgets\n"})
	clients, err := ghapp.New(ghapp.Config{AppID: s.AppID(), PrivateKeyPEM: s.AppPrivateKeyPEM(), APIURL: s.URL()}, metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	key, err := sign.Generate(filepath.Join(t.TempDir(), "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{s: s, clients: clients, key: key, commits: []string{first}}
}

// landCommit adds a commit to main, as a merge would.
func (f *fixture) landCommit(t *testing.T, file string) string {
	t.Helper()
	sha := f.s.CommitFiles(testRepo, "main", "Change "+file, map[string]string{file: file + "\n"})
	f.commits = append(f.commits, sha)
	return sha
}

// token mints an installation token for the repository, as the orchestrator will.
func (f *fixture) token(t *testing.T, contents string) string {
	t.Helper()
	tok, _, err := f.clients.RepoToken(context.Background(), testInstallation, testRepoID,
		&github.InstallationPermissions{Contents: github.Ptr(contents)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) url() string { return f.s.GitURL(testRepo) }

// bundle signs a statement about commit with the fixture's key: a real
// Sigstore bundle, compact JSON.
func (f *fixture) bundle(t *testing.T, commit, predicateType, name string) []byte {
	t.Helper()
	st := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"git+https://github.com/%s","digest":{"gitCommit":%q}}],"predicateType":%q,"predicate":{"name":%q}}`,
		testRepo, commit, predicateType, name)
	b, err := sign.Statement(context.Background(), f.key, []byte(st))
	if err != nil {
		t.Fatal(err)
	}
	return b.JSON
}

// bundles are n bundles about commit, told apart by name.
func (f *fixture) bundles(t *testing.T, commit string, names ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, n := range names {
		out = append(out, f.bundle(t, commit, "https://agentgate.dev/test/"+n, n))
	}
	return out
}

// plainGit runs git as a user would, with no configuration but the
// repository's, and returns its trimmed output.
func plainGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := plainGitErr(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func plainGitErr(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=someone", "GIT_AUTHOR_EMAIL=someone@example.com",
		"GIT_COMMITTER_NAME=someone", "GIT_COMMITTER_EMAIL=someone@example.com")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// clone is a fresh repository with the remote's notes fetched, the way a
// user reads them: git fetch origin refs/notes/agentgate:refs/notes/agentgate.
func (f *fixture) cloneNotes(t *testing.T, token string) string {
	t.Helper()
	dir := t.TempDir()
	plainGit(t, dir, "init", "--quiet")
	plainGit(t, dir, "remote", "add", "origin", f.url())
	plainGit(t, dir, "config", "http.extraHeader", "Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token)))
	plainGit(t, dir, "fetch", "--quiet", "origin", NotesRef+":"+NotesRef)
	return dir
}

// note reads the note on commit with plain git; "" if there is none.
func (f *fixture) note(t *testing.T, token, commit string) string {
	t.Helper()
	dir := f.cloneNotes(t, token)
	out, err := plainGitErr(dir, "notes", "--ref=agentgate", "show", commit)
	if err != nil {
		if strings.Contains(out, "no note found") {
			return ""
		}
		t.Fatalf("git notes show %s: %v\n%s", commit, err, out)
	}
	return out
}

// wantLines checks that a note is exactly the bundles, one per line, each
// ending with a newline, with no blank line.
func wantLines(t *testing.T, note string, bundles [][]byte) {
	t.Helper()
	var want strings.Builder
	for _, b := range bundles {
		want.Write(b)
		want.WriteByte('\n')
	}
	if note != want.String() {
		t.Errorf("note =\n%s\nwant the %d bundles one per line:\n%s", clip(note), len(bundles), clip(want.String()))
	}
}

func clip(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if len(l) > 100 {
			l = l[:100] + "…"
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// notesPushes counts the pushes to the notes ref the fake recorded.
func (f *fixture) notesPushes() int {
	n := 0
	for _, p := range f.s.Pushes(testRepo) {
		if p.Ref == NotesRef {
			n++
		}
	}
	return n
}
