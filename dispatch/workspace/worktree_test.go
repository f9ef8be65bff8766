package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestWorktreeFromBranchTagAndSHA(t *testing.T) {
	f := newFixture(t)
	first := f.up.head(t, "main")
	writeFile(t, filepath.Join(f.up.work, "README.md"), "# r, second edition\n")
	second := f.up.commit(t, "second")
	gitT(t, f.up.work, "push", "--quiet", "origin", "main")
	f.sync(t)

	for _, tc := range []struct{ rev, base, readme string }{
		{"main", second, "# r, second edition\n"},
		{"refs/heads/main", second, "# r, second edition\n"},
		{"v1.0.0", first, "# r\n\nA test repository.\n"},
		{first, first, "# r\n\nA test repository.\n"},
	} {
		w := f.worktree(t, tc.rev)
		if w.Base != tc.base {
			t.Errorf("Worktree(%s).Base = %s, want %s", tc.rev, w.Base, tc.base)
		}
		if got := readFile(t, filepath.Join(w.Path, "README.md")); got != tc.readme {
			t.Errorf("Worktree(%s) README = %q, want %q", tc.rev, got, tc.readme)
		}
		// git works in it as in any clone, and sees no change.
		if st := gitT(t, w.Path, "status", "--porcelain"); st != "" {
			t.Errorf("Worktree(%s) is not clean:\n%s", tc.rev, st)
		}
		if head := gitT(t, w.Path, "rev-parse", "HEAD"); head != tc.base {
			t.Errorf("Worktree(%s) HEAD = %s, want %s", tc.rev, head, tc.base)
		}
		if got := gitT(t, w.Path, "rev-parse", "origin/main"); got != second {
			t.Errorf("Worktree(%s) origin/main = %s, want %s", tc.rev, got, second)
		}
	}
}

func TestWorktreeRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	if _, err := f.mirrors.Worktree(ctx, "o/r", "main", filepath.Join(t.TempDir(), "w")); err == nil ||
		!strings.Contains(err.Error(), "sync it first") {
		t.Errorf("Worktree before Sync = %v", err)
	}
	f.sync(t)
	exists := t.TempDir()
	if _, err := f.mirrors.Worktree(ctx, "o/r", "main", exists); err == nil {
		t.Error("Worktree into an existing directory succeeded")
	}
	for _, rev := range []string{"", "no-such-branch", "--orphan", strings.Repeat("0", 40)} {
		dir := filepath.Join(t.TempDir(), "w")
		if _, err := f.mirrors.Worktree(ctx, "o/r", rev, dir); err == nil {
			t.Errorf("Worktree(%q) succeeded", rev)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Worktree(%q) failed but left %s", rev, dir)
		}
	}
}

func TestWorktreeNamesAreUnique(t *testing.T) {
	f := newFixture(t)
	f.sync(t)
	// Every run directory has a "work" worktree: the registrations must
	// still be distinct.
	seen := map[string]bool{}
	for range 3 {
		w := f.worktree(t, "main")
		if seen[w.admin] {
			t.Errorf("registration %s used twice", w.admin)
		}
		seen[w.admin] = true
	}
}

func TestCollectEditsAddsDeletesRenames(t *testing.T) {
	f := newFixture(t)
	f.sync(t)
	w := f.worktree(t, "main")

	writeFile(t, filepath.Join(w.Path, "src", "main.go"), "package main\n\nfunc main() {\n\tprintln(\"hello, world\")\n\tprintln(\"bye\")\n}\n")
	writeFile(t, filepath.Join(w.Path, "src", "new.go"), "package main\n\nconst x = 1\n")
	writeFile(t, filepath.Join(w.Path, "build.log"), "ignored by .gitignore\n")
	writeFile(t, filepath.Join(w.Path, "docs", "with space\tand tab é.txt"), "odd name\n")
	mustRemove(t, filepath.Join(w.Path, "doomed.txt"))
	if err := os.Rename(filepath.Join(w.Path, "docs", "old-name.txt"), filepath.Join(w.Path, "docs", "new-name.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.Path, "image.bin"), []byte{0, 1, 2, 0, 255}, 0o644); err != nil {
		t.Fatal(err)
	}

	when := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("", 2*3600))
	c := testCommit(when)
	res, err := w.Collect(testContext(t), c)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []File{
		{Path: "docs/new-name.txt", OldPath: "docs/old-name.txt", Status: "R"},
		{Path: "docs/with space\tand tab é.txt", Status: "A", Additions: 1},
		{Path: "doomed.txt", Status: "D", Deletions: 1},
		{Path: "image.bin", Status: "A", Binary: true},
		{Path: "src/main.go", Status: "M", Additions: 2, Deletions: 1},
		{Path: "src/new.go", Status: "A", Additions: 3},
	}
	got := append([]File(nil), res.Files...)
	sort.Slice(got, func(i, j int) bool { return got[i].Path < got[j].Path })
	if !reflect.DeepEqual(got, wantFiles) {
		t.Errorf("Files =\n%+v\nwant\n%+v", got, wantFiles)
	}
	assertAgentgateCommit(t, w, res, c)
	if got := lsTree(t, w.Mirror, res.SHA); strings.Contains(got, "build.log") || strings.Contains(got, ".git\n") {
		t.Errorf("the commit holds ignored files or .git:\n%s", got)
	}
}

func TestCollectAfterTheAgentCommitted(t *testing.T) {
	f := newFixture(t)
	f.sync(t)
	w := f.worktree(t, "main")

	// The agent commits twice, stages a third change and leaves a fourth
	// in the working tree.
	writeFile(t, filepath.Join(w.Path, "a.txt"), "one\n")
	agentCommit(t, w, "agent commit 1")
	writeFile(t, filepath.Join(w.Path, "a.txt"), "one\ntwo\n")
	mustRemove(t, filepath.Join(w.Path, "doomed.txt"))
	agentCommit(t, w, "agent commit 2")
	writeFile(t, filepath.Join(w.Path, "staged.txt"), "staged\n")
	gitT(t, w.Path, "add", "staged.txt")
	writeFile(t, filepath.Join(w.Path, "README.md"), "unstaged\n")
	// ... and makes a branch and a tag of its own.
	gitT(t, w.Path, "branch", "agent-branch")
	gitT(t, w.Path, "tag", "agent-tag")

	c := testCommit(time.Unix(1700000000, 0).UTC())
	res, err := w.Collect(testContext(t), c)
	if err != nil {
		t.Fatal(err)
	}
	assertAgentgateCommit(t, w, res, c)
	// None of the agent's commits or refs reached the mirror.
	for _, ref := range []string{"refs/heads/agent-branch", "refs/tags/agent-tag"} {
		if out, err := gitE(w.Mirror, nil, "rev-parse", "--verify", "--quiet", ref); err == nil {
			t.Errorf("the agent's %s reached the mirror: %s", ref, out)
		}
	}
	agentHead := gitT(t, w.Path, "rev-parse", "HEAD")
	if _, err := gitE(w.Mirror, nil, "cat-file", "-e", agentHead+"^{commit}"); err == nil {
		t.Error("the agent's commit is in the mirror")
	}

	// The mirror still syncs: nothing in it points at the agent's commits.
	f.sync(t)
}

func TestCollectNoChanges(t *testing.T) {
	f := newFixture(t)
	f.sync(t)
	ctx := testContext(t)

	untouched := f.worktree(t, "main")
	if _, err := untouched.Collect(ctx, testCommit(time.Now())); !errors.Is(err, ErrNoChanges) {
		t.Errorf("Collect of an untouched worktree = %v, want ErrNoChanges", err)
	}

	rewritten := f.worktree(t, "main")
	p := filepath.Join(rewritten.Path, "README.md")
	writeFile(t, p, readFile(t, p)) // same content, new mtime
	writeFile(t, filepath.Join(rewritten.Path, "debug.log"), "ignored\n")
	if _, err := rewritten.Collect(ctx, testCommit(time.Now())); !errors.Is(err, ErrNoChanges) {
		t.Errorf("Collect of rewritten but equal files = %v, want ErrNoChanges", err)
	}

	reverted := f.worktree(t, "main")
	writeFile(t, filepath.Join(reverted.Path, "x.txt"), "x\n")
	agentCommit(t, reverted, "add x")
	gitT(t, reverted.Path, "revert", "--no-edit", "HEAD")
	if _, err := reverted.Collect(ctx, testCommit(time.Now())); !errors.Is(err, ErrNoChanges) {
		t.Errorf("Collect after commit and revert = %v, want ErrNoChanges", err)
	}
}

func TestCollectIgnoresTheAgentsGitDirectory(t *testing.T) {
	f := newFixture(t)
	f.sync(t)
	w := f.worktree(t, "main")
	marker := filepath.Join(t.TempDir(), "pwned")
	script := filepath.Join(t.TempDir(), "evil.sh")
	writeFile(t, script, "#!/bin/sh\ntouch "+marker+"\necho\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	// The agent plants config that would run its script if agentgate's git
	// read it, breaks its alternates and index, and points HEAD nowhere.
	gitDir := filepath.Join(w.Path, ".git")
	writeFile(t, filepath.Join(gitDir, "config"), "[core]\n\tfsmonitor = "+script+"\n\thooksPath = /nonexistent\n[include]\n\tpath = /etc/passwd\n")
	writeFile(t, filepath.Join(gitDir, "objects", "info", "alternates"), "/nonexistent\n")
	writeFile(t, filepath.Join(gitDir, "index"), "garbage")
	writeFile(t, filepath.Join(gitDir, "HEAD"), strings.Repeat("1", 40)+"\n")
	writeFile(t, filepath.Join(w.Path, "change.txt"), "a change\n")

	res, err := w.Collect(testContext(t), testCommit(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("Collect ran a command the agent planted in its git config")
	}
	if len(res.Files) != 1 || res.Files[0].Path != "change.txt" {
		t.Errorf("Files = %+v", res.Files)
	}
	// Replacing .git with a file pointing elsewhere changes nothing either.
	mustRemove(t, gitDir)
	writeFile(t, gitDir, "gitdir: /nonexistent\n")
	if _, err := w.Collect(testContext(t), testCommit(time.Now())); err != nil {
		t.Errorf("Collect with a rewritten .git file: %v", err)
	}
}

func TestCollectValidatesTheCommit(t *testing.T) {
	f := newFixture(t)
	f.sync(t)
	w := f.worktree(t, "main")
	writeFile(t, filepath.Join(w.Path, "x"), "x\n")
	for name, edit := range map[string]func(*Commit){
		"empty subject":     func(c *Commit) { c.Subject = " " },
		"two-line subject":  func(c *Commit) { c.Subject = "a\nb" },
		"no author":         func(c *Commit) { c.AuthorName = "" },
		"bracket in email":  func(c *Commit) { c.AuthorEmail = "a>b@example.com" },
		"bad trailer key":   func(c *Commit) { c.Trailers = [][2]string{{"Bad Key", "v"}} },
		"multiline trailer": func(c *Commit) { c.Trailers = [][2]string{{"Agent-Task", "a\nSigned-off-by: x"}} },
	} {
		c := testCommit(time.Now())
		edit(&c)
		if _, err := w.Collect(testContext(t), c); err == nil {
			t.Errorf("%s: Collect succeeded", name)
		}
	}
}

func TestPushCreatesThenFastForwardsTheBranch(t *testing.T) {
	f := newFixture(t)
	f.sync(t)
	ctx := testContext(t)
	const branch = "agent/issue-7-abc123"

	w := f.worktree(t, "main")
	writeFile(t, filepath.Join(w.Path, "fix.txt"), "fix\n")
	first, err := w.Collect(ctx, testCommit(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Push(ctx, f.srv.remote(), first.SHA, branch); err != nil {
		t.Fatal(err)
	}
	if got := f.up.head(t, branch); got != first.SHA {
		t.Fatalf("upstream %s = %q, want %s", branch, got, first.SHA)
	}

	// A revision starts from the branch and fast-forwards it.
	f.sync(t)
	rev := f.worktree(t, branch)
	if rev.Base != first.SHA {
		t.Fatalf("revision worktree base = %s, want %s", rev.Base, first.SHA)
	}
	writeFile(t, filepath.Join(rev.Path, "fix.txt"), "fix, revised\n")
	second, err := rev.Collect(ctx, testCommit(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := rev.Push(ctx, f.srv.remote(), second.SHA, branch); err != nil {
		t.Fatal(err)
	}
	if got := f.up.head(t, branch); got != second.SHA {
		t.Errorf("upstream %s = %s after the revision, want %s", branch, got, second.SHA)
	}
	if got := gitT(t, f.up.bare, "rev-parse", second.SHA+"^"); got != first.SHA {
		t.Errorf("the revision's parent is %s, want %s", got, first.SHA)
	}
	// The mirror followed the push.
	if got := gitT(t, w.Mirror, "rev-parse", "refs/heads/"+branch); got != second.SHA {
		t.Errorf("mirror %s = %s, want %s", branch, got, second.SHA)
	}
}

func TestPushRefusesToRewriteTheBranch(t *testing.T) {
	f := newFixture(t)
	f.sync(t)
	ctx := testContext(t)
	const branch = "agent/issue-8-def456"

	one := f.worktree(t, "main")
	writeFile(t, filepath.Join(one.Path, "one.txt"), "one\n")
	first, err := one.Collect(ctx, testCommit(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := one.Push(ctx, f.srv.remote(), first.SHA, branch); err != nil {
		t.Fatal(err)
	}

	// Another change from main does not fast-forward the branch.
	two := f.worktree(t, "main")
	writeFile(t, filepath.Join(two.Path, "two.txt"), "two\n")
	second, err := two.Collect(ctx, testCommit(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	err = two.Push(ctx, f.srv.remote(), second.SHA, branch)
	if !errors.Is(err, ErrNotFastForward) {
		t.Fatalf("non-fast-forward push = %v, want ErrNotFastForward", err)
	}
	assertNoSecret(t, "push error", err.Error())
	if got := f.up.head(t, branch); got != first.SHA {
		t.Errorf("a rejected push moved the branch to %s", got)
	}

	// A lease on the wrong commit, or on absence, fails the same way.
	for _, old := range []string{second.SHA, ""} {
		if err := two.Push(ctx, f.srv.remote(), second.SHA, branch, Lease(old)); !errors.Is(err, ErrNotFastForward) {
			t.Errorf("push with Lease(%q) = %v, want ErrNotFastForward", old, err)
		}
	}
	// A lease on the right commit replaces the branch.
	if err := two.Push(ctx, f.srv.remote(), second.SHA, branch, Lease(first.SHA)); err != nil {
		t.Fatalf("push with the right lease: %v", err)
	}
	if got := f.up.head(t, branch); got != second.SHA {
		t.Errorf("after the leased push the branch is %s, want %s", got, second.SHA)
	}

	// Someone pushes to the branch directly; agentgate's mirror has not
	// seen their commit.
	gitT(t, f.up.work, "fetch", "--quiet", "origin", branch)
	gitT(t, f.up.work, "checkout", "--quiet", "--detach", "FETCH_HEAD")
	writeFile(t, filepath.Join(f.up.work, "human.txt"), "human\n")
	human := f.up.commit(t, "a person's fix")
	gitT(t, f.up.work, "push", "--quiet", "origin", "HEAD:refs/heads/"+branch)
	three := f.worktree(t, "main")
	writeFile(t, filepath.Join(three.Path, "three.txt"), "three\n")
	third, err := three.Collect(ctx, testCommit(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := three.Push(ctx, f.srv.remote(), third.SHA, branch); !errors.Is(err, ErrNotFastForward) {
		t.Errorf("push over an unseen commit = %v, want ErrNotFastForward", err)
	}
	// Replace takes whatever is there.
	if err := three.Push(ctx, f.srv.remote(), third.SHA, branch, Replace()); err != nil {
		t.Fatalf("push with Replace: %v", err)
	}
	if got := f.up.head(t, branch); got != third.SHA {
		t.Errorf("after Replace the branch is %s, want %s (was %s)", got, third.SHA, human)
	}
	// Replace also creates.
	if err := three.Push(ctx, f.srv.remote(), third.SHA, "agent/new", Replace()); err != nil {
		t.Fatalf("push of a new branch with Replace: %v", err)
	}

	for _, bad := range []string{"", "-x", "a..b", "a b", "x:y", "refs/heads/../x"} {
		if err := three.Push(ctx, f.srv.remote(), third.SHA, bad); err == nil {
			t.Errorf("push to branch %q succeeded", bad)
		}
	}
}

func TestTokenStaysOutOfArgvURLsAndErrors(t *testing.T) {
	f := newFixture(t)
	f.sync(t)
	f.sync(t)
	w := f.worktree(t, "main")
	writeFile(t, filepath.Join(w.Path, "t.txt"), "t\n")
	res, err := w.Collect(testContext(t), testCommit(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Push(testContext(t), f.srv.remote(), res.SHA, "agent/t", Replace()); err != nil {
		t.Fatal(err)
	}

	f.trace.mu.Lock()
	defer f.trace.mu.Unlock()
	authenticated := 0
	for i, argv := range f.trace.argv {
		assertNoSecret(t, "argv", strings.Join(argv, " "))
		for _, kv := range f.trace.env[i] {
			if strings.HasPrefix(kv, "GIT_CONFIG_VALUE_0=") {
				if kv != "GIT_CONFIG_VALUE_0=Authorization: Basic "+basicAuth(testToken) {
					t.Errorf("unexpected auth env %q", kv)
				}
				authenticated++
				continue
			}
			assertNoSecret(t, "environment variable", kv)
		}
	}
	// clone, fetch, ls-remote and push each carried it.
	if authenticated < 4 {
		t.Errorf("only %d git commands got the token through the environment", authenticated)
	}
	urls, rejected := f.srv.seen()
	for _, u := range urls {
		assertNoSecret(t, "URL", u)
	}
	if rejected != 0 {
		t.Errorf("%d requests came without the token", rejected)
	}
	// Nothing on disk either.
	_ = filepath.WalkDir(f.mirrors.Dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil {
				assertNoSecret(t, p, string(b))
			}
		}
		return nil
	})
}

func TestRemoveIsThoroughAndIdempotent(t *testing.T) {
	f := newFixture(t)
	path := f.sync(t)
	w := f.worktree(t, "main")
	// The agent locks its registration (were it able to) and makes a
	// read-only directory.
	writeFile(t, filepath.Join(w.admin, "locked"), "mine\n")
	writeFile(t, filepath.Join(w.Path, "ro", "f"), "f\n")
	if err := os.Chmod(filepath.Join(w.Path, "ro"), 0o555); err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	for i := range 2 {
		if err := w.Remove(ctx); err != nil {
			t.Fatalf("Remove #%d: %v", i+1, err)
		}
	}
	for _, p := range []string{w.Path, w.admin} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived Remove (%v)", p, err)
		}
	}
	if list := gitT(t, path, "worktree", "list", "--porcelain"); strings.Contains(list, w.Path) {
		t.Errorf("worktree list still has it:\n%s", list)
	}
}

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a"), strings.Repeat("x", 100000))
	writeFile(t, filepath.Join(dir, "sub", "b"), strings.Repeat("y", 50000))
	if err := os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "sub", "a-link")); err != nil {
		t.Fatal(err)
	}
	n, err := DiskUsage(testContext(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	if n < 150000 || n > 250000 {
		t.Errorf("DiskUsage = %d, want about 150000 (the hard link counted once)", n)
	}
	if n, err := DiskUsage(testContext(t), filepath.Join(dir, "missing")); err != nil || n != 0 {
		t.Errorf("DiskUsage of a missing dir = %d, %v", n, err)
	}
}

// assertAgentgateCommit checks res is one commit on Base whose tree is
// exactly the worktree's files, with c's message, author and committer.
func assertAgentgateCommit(t *testing.T, w *Worktree, res Result, c Commit) {
	t.Helper()
	if !isSHA(res.SHA) || !isSHA(res.Tree) {
		t.Fatalf("Result = %+v", res)
	}
	parents := gitT(t, w.Mirror, "rev-list", "--parents", "-n", "1", res.SHA)
	if want := res.SHA + " " + w.Base; parents != want {
		t.Errorf("commit and parents = %q, want %q", parents, want)
	}
	if got := gitT(t, w.Mirror, "rev-parse", res.SHA+"^{tree}"); got != res.Tree {
		t.Errorf("tree = %s, Result.Tree = %s", got, res.Tree)
	}
	raw := gitT(t, w.Mirror, "cat-file", "commit", res.SHA)
	_, msg, _ := strings.Cut(raw, "\n\n")
	want := c.Subject + "\n\n" + c.Body + "\n\n"
	for _, tr := range c.Trailers {
		want += tr[0] + ": " + tr[1] + "\n"
	}
	if msg+"\n" != want {
		t.Errorf("message =\n%q\nwant\n%q", msg+"\n", want)
	}
	ident := c.AuthorName + " <" + c.AuthorEmail + "> " + gitDate(c.When)[1:]
	for _, role := range []string{"author", "committer"} {
		if !strings.Contains(raw, "\n"+role+" "+ident+"\n") {
			t.Errorf("%s is not %q in\n%s", role, ident, raw)
		}
	}
	if strings.Contains(raw, "gpgsig") {
		t.Error("the commit is signed")
	}
	// The tree is the worktree's files: a fresh checkout of the commit
	// equals them.
	check := filepath.Join(t.TempDir(), "check")
	gitT(t, w.Mirror, "worktree", "add", "--detach", "--quiet", check, res.SHA)
	defer gitT(t, w.Mirror, "worktree", "remove", "--force", check)
	if a, b := snapshot(t, w.Path), snapshot(t, check); !reflect.DeepEqual(a, b) {
		t.Errorf("the commit's tree differs from the agent's files:\nagent:  %v\ncommit: %v", a, b)
	}
}

// snapshot maps each file under dir (but .git and ignored *.log) to its
// content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || strings.HasSuffix(rel, ".log") {
			return nil
		}
		b, err := os.ReadFile(p)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func lsTree(t *testing.T, gitDir, rev string) string {
	t.Helper()
	return gitT(t, gitDir, "ls-tree", "-r", "--name-only", rev) + "\n"
}

func TestGitIgnoresTheServerUsersConfiguration(t *testing.T) {
	f := newFixture(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	// Were any of these read, the fetch would go elsewhere, the hook would
	// run and the new file would be ignored.
	marker := filepath.Join(t.TempDir(), "hook-ran")
	writeFile(t, filepath.Join(home, ".gitconfig"), "[url \"http://127.0.0.1:1/\"]\n\tinsteadOf = "+f.srv.URL+"/\n[core]\n\thooksPath = "+home+"/hooks\n")
	writeFile(t, filepath.Join(home, "hooks", "post-checkout"), "#!/bin/sh\ntouch "+marker+"\n")
	if err := os.Chmod(filepath.Join(home, "hooks", "post-checkout"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(home, ".config", "git", "ignore"), "*.txt\n")
	writeFile(t, filepath.Join(home, ".netrc"), "machine 127.0.0.1 login x-access-token password wrong\n")

	f.sync(t)
	w := f.worktree(t, "main")
	writeFile(t, filepath.Join(w.Path, "notes.txt"), "kept\n")
	res, err := w.Collect(testContext(t), testCommit(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || res.Files[0].Path != "notes.txt" {
		t.Errorf("Files = %+v, want notes.txt", res.Files)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a hook from the user's configuration ran")
	}
}

func TestCollectRefusesNestedRepositories(t *testing.T) {
	f := newFixture(t)
	f.sync(t)
	w := f.worktree(t, "main")
	sub := filepath.Join(w.Path, "vendor", "lib")
	gitT(t, "", "init", "--quiet", sub)
	writeFile(t, filepath.Join(sub, "lib.go"), "package lib\n")
	if _, err := w.Collect(testContext(t), testCommit(time.Now())); err == nil {
		t.Error("Collect of a nested repository without commits succeeded")
	}
	gitT(t, sub, "add", "lib.go")
	gitT(t, sub, "commit", "--quiet", "-m", "nested")
	_, err := w.Collect(testContext(t), testCommit(time.Now()))
	if err == nil || !strings.Contains(err.Error(), "vendor/lib") {
		t.Errorf("Collect of a nested repository = %v, want an error naming vendor/lib", err)
	}
	// Without its .git it is just files.
	mustRemove(t, filepath.Join(sub, ".git"))
	res, err := w.Collect(testContext(t), testCommit(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || res.Files[0].Path != "vendor/lib/lib.go" {
		t.Errorf("Files = %+v", res.Files)
	}
}
