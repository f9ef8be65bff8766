package workspace

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSyncColdOverHTTP(t *testing.T) {
	f := newFixture(t)
	path := f.sync(t)

	if want := filepath.Join(f.mirrors.Dir, "o", "r.git"); path != want {
		t.Errorf("mirror path = %s, want %s", path, want)
	}
	if got, want := gitT(t, path, "rev-parse", "refs/heads/main"), f.up.head(t, "main"); got != want {
		t.Errorf("mirror main = %s, want %s", got, want)
	}
	if got := gitT(t, path, "rev-parse", "--is-bare-repository"); got != "true" {
		t.Errorf("mirror is not bare")
	}
	refs := gitT(t, path, "for-each-ref", "--format=%(refname)")
	if !strings.Contains(refs, "refs/tags/v1.0.0") {
		t.Errorf("mirror lacks the tag; refs:\n%s", refs)
	}
	if strings.Contains(refs, "refs/pull/") {
		t.Errorf("mirror fetched pull request refs:\n%s", refs)
	}
	urls, rejected := f.srv.seen()
	if len(urls) == 0 {
		t.Fatal("the server saw no request")
	}
	if rejected != 0 {
		t.Errorf("the server rejected %d requests for want of the token", rejected)
	}
}

func TestSyncFromPath(t *testing.T) {
	up := newUpstream(t, t.TempDir())
	m := &Mirrors{Dir: t.TempDir()}
	ctx := testContext(t)
	path, err := m.Sync(ctx, "o/r", Remote{URL: up.bare})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := gitT(t, path, "rev-parse", "main"), up.head(t, "main"); got != want {
		t.Errorf("mirror main = %s, want %s", got, want)
	}
	writeFile(t, filepath.Join(up.work, "new.txt"), "new\n")
	sha := up.commit(t, "second")
	gitT(t, up.work, "push", "--quiet", "origin", "main")
	if _, err := m.Sync(ctx, "o/r", Remote{URL: up.bare}); err != nil {
		t.Fatal(err)
	}
	if got := gitT(t, path, "rev-parse", "main"); got != sha {
		t.Errorf("after a warm sync main = %s, want %s", got, sha)
	}
}

func TestSyncWarmPicksUpNewCommits(t *testing.T) {
	f := newFixture(t)
	path := f.sync(t)
	before := mustStat(t, path)

	writeFile(t, filepath.Join(f.up.work, "src", "main.go"), "package main\n")
	sha := f.up.commit(t, "second")
	gitT(t, f.up.work, "push", "--quiet", "origin", "main")
	gitT(t, f.up.work, "push", "--quiet", "origin", "main:refs/heads/feature")

	if again := f.sync(t); again != path {
		t.Errorf("second sync returned %s, want %s", again, path)
	}
	if got := gitT(t, path, "rev-parse", "main"); got != sha {
		t.Errorf("main = %s, want %s", got, sha)
	}
	if got := gitT(t, path, "rev-parse", "feature"); got != sha {
		t.Errorf("feature = %s, want %s", got, sha)
	}
	if !os.SameFile(before, mustStat(t, path)) {
		t.Error("the warm sync cloned the mirror again instead of fetching")
	}
}

func TestSyncConcurrent(t *testing.T) {
	f := newFixture(t)
	// A second Mirrors on the same directory stands in for another process:
	// only the lock file serialises it with the first.
	other := &Mirrors{Dir: f.mirrors.Dir}
	ctx := testContext(t)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	paths := make([]string, 6)
	for i := range errs {
		m := f.mirrors
		if i%2 == 1 {
			m = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = m.Sync(ctx, "o/r", f.srv.remote())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("sync %d: %v", i, err)
		}
		if paths[i] != paths[0] {
			t.Errorf("sync %d returned %s, want %s", i, paths[i], paths[0])
		}
	}
	if got, want := gitT(t, paths[0], "rev-parse", "main"), f.up.head(t, "main"); got != want {
		t.Errorf("main = %s, want %s", got, want)
	}
	leftovers, _ := filepath.Glob(paths[0] + ".*-*")
	if len(leftovers) > 0 {
		t.Errorf("leftovers next to the mirror: %v", leftovers)
	}
}

func TestSyncWaitsForTheLockFile(t *testing.T) {
	f := newFixture(t)
	path := f.sync(t)
	// Hold the lock as another process would.
	release, err := lockFile(context.Background(), path+".lock")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.mirrors.Sync(testContext(t), "o/r", f.srv.remote())
		done <- err
	}()
	select {
	case err := <-done:
		release()
		t.Fatalf("Sync did not wait for the lock held by another process (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Sync did not finish after the lock was released")
	}

	// Waiting honours the context.
	release, err = lockFile(context.Background(), path+".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := f.mirrors.Sync(ctx, "o/r", f.srv.remote()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Sync with a held lock and an expiring context = %v, want DeadlineExceeded", err)
	}
}

func TestSyncFollowsForcePushAndDeletion(t *testing.T) {
	f := newFixture(t)
	writeFile(t, filepath.Join(f.up.work, "feature.txt"), "feature\n")
	f.up.commit(t, "feature work")
	gitT(t, f.up.work, "push", "--quiet", "origin", "HEAD:refs/heads/feature")
	gitT(t, f.up.work, "push", "--quiet", "origin", "HEAD:refs/heads/doomed")
	path := f.sync(t)
	if gitT(t, path, "for-each-ref", "refs/heads/doomed") == "" {
		t.Fatal("setup: the mirror lacks the branch that will be deleted")
	}

	// Upstream rewrites main and feature, and deletes doomed.
	gitT(t, f.up.work, "reset", "--quiet", "--hard", "HEAD~1")
	writeFile(t, filepath.Join(f.up.work, "rewritten.txt"), "rewritten\n")
	rewritten := f.up.commit(t, "rewritten history")
	gitT(t, f.up.work, "push", "--quiet", "--force", "origin", "HEAD:refs/heads/feature", "HEAD:refs/heads/main")
	gitT(t, f.up.work, "push", "--quiet", "origin", ":refs/heads/doomed")
	gitT(t, f.up.work, "push", "--quiet", "origin", ":refs/tags/v1.0.0")

	f.sync(t)
	for _, b := range []string{"main", "feature"} {
		if got := gitT(t, path, "rev-parse", "refs/heads/"+b); got != rewritten {
			t.Errorf("%s = %s after the force-push, want %s", b, got, rewritten)
		}
	}
	if got := gitT(t, path, "for-each-ref", "refs/heads/doomed", "refs/tags/v1.0.0"); got != "" {
		t.Errorf("deleted refs survived the sync: %s", got)
	}
}

func TestSyncUnreachableRemoteKeepsTheMirror(t *testing.T) {
	f := newFixture(t)
	path := f.sync(t)
	f.srv.Close()

	_, err := f.mirrors.Sync(testContext(t), "o/r", f.srv.remote())
	if err == nil {
		t.Fatal("Sync from a closed server succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"fetch mirror of o/r", f.srv.URL} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	assertNoSecret(t, "error", msg)

	// The mirror is still usable.
	w := f.worktree(t, "main")
	if got := readFile(t, filepath.Join(w.Path, "README.md")); !strings.Contains(got, "A test repository") {
		t.Errorf("worktree after a failed sync has README %q", got)
	}
	if _, err := os.Stat(filepath.Join(path, "HEAD")); err != nil {
		t.Error(err)
	}
}

func TestSyncWithAWrongTokenFailsWithoutPrompting(t *testing.T) {
	f := newFixture(t)
	remote := f.srv.remote()
	remote.Token = "ghs_WRONGtoken"
	start := time.Now()
	_, err := f.mirrors.Sync(testContext(t), "o/r", remote)
	if err == nil {
		t.Fatal("Sync with a wrong token succeeded")
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("Sync took %s: did git wait for a prompt?", time.Since(start))
	}
	if strings.Contains(err.Error(), "ghs_WRONGtoken") || strings.Contains(err.Error(), basicAuth("ghs_WRONGtoken")) {
		t.Errorf("error leaks the token: %v", err)
	}
	if !errors.Is(err, ErrAuthentication) {
		t.Errorf("error %q does not wrap ErrAuthentication", err)
	}
	if !strings.Contains(err.Error(), "clone mirror of o/r") {
		t.Errorf("error %q does not say what failed", err)
	}
	if _, err := os.Stat(filepath.Join(f.mirrors.Dir, "o", "r.git")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed clone left a mirror behind (stat: %v)", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(f.mirrors.Dir, "o", "r.git.*-*"))
	if len(leftovers) > 0 {
		t.Errorf("a failed clone left %v", leftovers)
	}
}

func TestSyncRecoversFromACrash(t *testing.T) {
	breakages := map[string]func(t *testing.T, path string){
		"partial marker": func(t *testing.T, path string) { writeFile(t, filepath.Join(path, partialMarker), "") },
		"no HEAD":        func(t *testing.T, path string) { mustRemove(t, filepath.Join(path, "HEAD")) },
		"no objects":     func(t *testing.T, path string) { mustRemove(t, filepath.Join(path, "objects")) },
		"no refs":        func(t *testing.T, path string) { mustRemove(t, filepath.Join(path, "refs")) },
		"empty dir": func(t *testing.T, path string) {
			mustRemove(t, path)
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		},
		"a file": func(t *testing.T, path string) {
			mustRemove(t, path)
			writeFile(t, path, "not a repository")
		},
		"garbage config": func(t *testing.T, path string) { writeFile(t, filepath.Join(path, "config"), "[[[not config") },
	}
	for name, breakIt := range breakages {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			path := f.sync(t)
			breakIt(t, path)
			// A clone that was interrupted, and a broken mirror that was
			// being moved aside, leave these.
			writeFile(t, path+".tmp-123/HEAD", "ref: refs/heads/main\n")
			writeFile(t, path+".old-456/HEAD", "ref: refs/heads/main\n")

			if again := f.sync(t); again != path {
				t.Errorf("Sync returned %s, want %s", again, path)
			}
			if got, want := gitT(t, path, "rev-parse", "refs/heads/main"), f.up.head(t, "main"); got != want {
				t.Errorf("repaired mirror main = %s, want %s", got, want)
			}
			if _, err := os.Stat(filepath.Join(path, partialMarker)); err == nil {
				t.Error("the partial marker survived")
			}
			leftovers, _ := filepath.Glob(path + ".*-*")
			if len(leftovers) > 0 {
				t.Errorf("leftovers survived: %v", leftovers)
			}
			f.worktree(t, "main")
		})
	}
}

func TestSyncPrunesStaleWorktrees(t *testing.T) {
	f := newFixture(t)
	path := f.sync(t)
	w := f.worktree(t, "main")
	// A crash: the run directory is gone, the registration is not.
	if err := os.RemoveAll(w.Path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w.admin); err != nil {
		t.Fatal(err)
	}
	f.sync(t)
	if _, err := os.Stat(w.admin); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale registration %s survived the sync (%v)", w.admin, err)
	}
	if list := gitT(t, path, "worktree", "list", "--porcelain"); strings.Contains(list, w.Path) {
		t.Errorf("worktree list still has %s:\n%s", w.Path, list)
	}
}

func TestSyncBigRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the big repository")
	}
	f := newFixture(t)
	for i := range 300 {
		writeFile(t, filepath.Join(f.up.work, "gen", fmt.Sprintf("d%02d", i%20), fmt.Sprintf("f%03d.txt", i)),
			strings.Repeat(fmt.Sprintf("line %d of a generated file\n", i), 50))
	}
	blob := make([]byte, 6<<20)
	_, _ = rand.Read(blob)
	if err := os.WriteFile(filepath.Join(f.up.work, "blob.bin"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	sha := f.up.commit(t, "a lot of files")
	gitT(t, f.up.work, "push", "--quiet", "origin", "main")

	path := f.sync(t)
	if got := gitT(t, path, "rev-parse", "main"); got != sha {
		t.Errorf("main = %s, want %s", got, sha)
	}
	w := f.worktree(t, "main")
	if fi, err := os.Stat(filepath.Join(w.Path, "blob.bin")); err != nil || fi.Size() != int64(len(blob)) {
		t.Errorf("blob.bin in the worktree: %v, %v", fi, err)
	}
	n, err := DiskUsage(testContext(t), w.Path)
	if err != nil {
		t.Fatal(err)
	}
	if n < int64(len(blob)) {
		t.Errorf("DiskUsage = %d, want at least %d", n, len(blob))
	}
}

func TestSyncRefusesBadNames(t *testing.T) {
	m := &Mirrors{Dir: t.TempDir()}
	for _, repo := range []string{"", "o", "o/", "/r", "../r", "o/..", "o/r/x", "-o/r", "o/r;x", "o/ r"} {
		if _, err := m.Sync(testContext(t), repo, Remote{URL: "/nonexistent"}); err == nil {
			t.Errorf("Sync(%q) succeeded", repo)
		}
	}
	if _, err := m.Sync(testContext(t), "o/r", Remote{URL: "https://x-access-token:secret@example.com/o/r.git"}); err == nil ||
		strings.Contains(err.Error(), "secret") {
		t.Errorf("Sync with credentials in the URL = %v", err)
	}
	if _, err := m.Sync(testContext(t), "o/r", Remote{URL: "--upload-pack=touch /tmp/x"}); err == nil {
		t.Error("Sync with an option for a URL succeeded")
	}
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// assertNoSecret fails if s carries the test token in any form.
func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{testToken, basicAuth(testToken)} {
		if strings.Contains(s, secret) {
			t.Errorf("%s carries the token: %s", what, s)
		}
	}
}
