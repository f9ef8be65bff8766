package githubtest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v89/github"
)

// Git notes (refs/notes/agentgate, where agentgate can keep attestations next to the
// commits) travel over the fake's smart HTTP like any ref, with GitHub's token rules.
func TestGitNotesPushAndFetch(t *testing.T) {
	t.Parallel() // git is slow to start; the fakes share nothing
	s, initial := newGitFake(t)
	token := narrowToken(t, s, []string{"repo-000"}, &github.InstallationPermissions{Contents: github.Ptr("write")})
	dir := clone(t, s, token)
	git(t, dir, "notes", "--ref=agentgate", "add", "-m", `{"predicateType":"https://slsa.dev/provenance/v1"}`, initial)
	git(t, dir, "push", "--quiet", "origin", "refs/notes/agentgate")
	notesTip := git(t, dir, "rev-parse", "refs/notes/agentgate")

	if got := git(t, "", "--git-dir="+s.GitDir(repoName), "rev-parse", "refs/notes/agentgate"); got != notesTip {
		t.Errorf("the fake's refs/notes/agentgate = %s, pushed %s", got, notesTip)
	}
	pushes := s.Pushes(repoName)
	if len(pushes) != 1 || pushes[0].Ref != "refs/notes/agentgate" || pushes[0].New != notesTip || pushes[0].Old != strings.Repeat("0", 40) {
		t.Errorf("pushes = %+v", pushes)
	}
	if main, _ := s.Branch(repoName, "main"); main != initial {
		t.Errorf("pushing notes moved main to %s", main)
	}

	// A second note on a new commit is a fast-forward of the notes ref.
	writeFile(t, dir, "x.txt", "x\n")
	git(t, dir, "add", "x.txt")
	git(t, dir, "commit", "--quiet", "-m", "x")
	git(t, dir, "push", "--quiet", "origin", "HEAD:main")
	head := git(t, dir, "rev-parse", "HEAD")
	git(t, dir, "notes", "--ref=agentgate", "add", "-m", "second", head)
	git(t, dir, "push", "--quiet", "origin", "refs/notes/agentgate")

	// Another clone, with a read-only token, fetches the notes and reads both.
	readOnly := narrowToken(t, s, []string{"repo-000"}, &github.InstallationPermissions{Contents: github.Ptr("read")})
	other := filepath.Join(t.TempDir(), "other")
	git(t, "", "clone", "--quiet", tokenURL(t, s, repoName, readOnly), other)
	git(t, other, "fetch", "--quiet", "origin", "refs/notes/agentgate:refs/notes/agentgate")
	if got := git(t, other, "notes", "--ref=agentgate", "show", initial); got != `{"predicateType":"https://slsa.dev/provenance/v1"}` {
		t.Errorf("note on the initial commit = %q", got)
	}
	if got := git(t, other, "notes", "--ref=agentgate", "show", head); got != "second" {
		t.Errorf("note on the second commit = %q", got)
	}
	// The read-only token cannot push notes.
	git(t, other, "notes", "--ref=agentgate", "add", "-f", "-m", "forged", initial)
	if out, err := gitErr(other, "push", "origin", "refs/notes/agentgate"); err == nil || !strings.Contains(out, "403") {
		t.Errorf("push of notes with contents:read: %v\n%s", err, out)
	}
	if got := git(t, "", "--git-dir="+s.GitDir(repoName), "notes", "--ref=agentgate", "show", initial); got != `{"predicateType":"https://slsa.dev/provenance/v1"}` {
		t.Errorf("the fake's note = %q after a refused push", got)
	}
}
