package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// patchFrom makes a patch the way the actions runner does: edits in a
// checkout of the same base, then `git diff --binary`.
func patchFrom(t *testing.T, f *fixture, edit func(dir string)) []byte {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "runner")
	gitT(t, "", "clone", "--quiet", f.up.bare, dir)
	edit(dir)
	gitT(t, dir, "add", "-A")
	out, err := gitE(dir, nil, "diff", "--cached", "--binary", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(out + "\n")
}

func TestApplyThenCollect(t *testing.T) {
	f := newFixture(t)
	f.sync(t)
	patch := patchFrom(t, f, func(dir string) {
		writeFile(t, filepath.Join(dir, "src", "main.go"), "package main\n\nfunc main() {}\n")
		writeFile(t, filepath.Join(dir, "added.txt"), "added\n")
		if err := os.WriteFile(filepath.Join(dir, "blob.bin"), []byte{0, 1, 2, 3, 0, 255}, 0o644); err != nil {
			t.Fatal(err)
		}
		mustRemove(t, filepath.Join(dir, "doomed.txt"))
		if err := os.Rename(filepath.Join(dir, "docs", "old-name.txt"), filepath.Join(dir, "docs", "new-name.txt")); err != nil {
			t.Fatal(err)
		}
	})
	w := f.worktree(t, "main")
	if err := w.Apply(testContext(t), patch); err != nil {
		t.Fatal(err)
	}
	res, err := w.Collect(testContext(t), testCommit(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range res.Files {
		got[f.Path] = f.Status
	}
	want := map[string]string{"src/main.go": "M", "added.txt": "A", "blob.bin": "A", "doomed.txt": "D", "docs/new-name.txt": "R"}
	if len(got) != len(want) {
		t.Errorf("Files = %+v", res.Files)
	}
	for p, st := range want {
		if got[p] != st {
			t.Errorf("%s: status %q, want %q", p, got[p], st)
		}
	}
	if b := readFile(t, filepath.Join(w.Path, "blob.bin")); b != "\x00\x01\x02\x03\x00\xff" {
		t.Errorf("binary file = %q", b)
	}
}

func TestApplyRefusals(t *testing.T) {
	f := newFixture(t)
	f.sync(t)
	ctx := testContext(t)
	w := f.worktree(t, "main")
	if err := w.Apply(ctx, []byte("  \n")); !errors.Is(err, ErrNoChanges) {
		t.Errorf("empty patch = %v, want ErrNoChanges", err)
	}
	outside := filepath.Join(filepath.Dir(w.Path), "escaped.txt")
	for name, patch := range map[string]string{
		"dotdot":   "diff --git a/../escaped.txt b/../escaped.txt\nnew file mode 100644\n--- /dev/null\n+++ b/../escaped.txt\n@@ -0,0 +1 @@\n+x\n",
		"dotgit":   "diff --git a/.git/hooks/post-commit b/.git/hooks/post-commit\nnew file mode 100755\n--- /dev/null\n+++ b/.git/hooks/post-commit\n@@ -0,0 +1 @@\n+touch /tmp/x\n",
		"conflict": "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1,3 +1,3 @@\n-# something else\n+# r2\n \n A test repository.\n",
		"garbage":  "this is not a patch\n",
	} {
		if err := w.Apply(ctx, []byte(patch)); err == nil {
			t.Errorf("%s: Apply succeeded", name)
		} else {
			assertNoSecret(t, "error", err.Error())
		}
	}
	if _, err := os.Stat(outside); err == nil {
		t.Error("a patch wrote outside the worktree")
	}
	if _, err := os.Stat(filepath.Join(w.Path, ".git", "hooks", "post-commit")); err == nil {
		t.Error("a patch wrote into .git")
	}
	if st := gitT(t, w.Path, "status", "--porcelain"); strings.TrimSpace(st) != "" {
		t.Errorf("failed patches changed the worktree:\n%s", st)
	}
}
