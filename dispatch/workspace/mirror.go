package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/agentgate/agentgate/internal/gitexec"
)

// Mirrors keeps one bare mirror per repository under Dir and makes
// worktrees from them. The zero value plus Dir is ready to use; a Mirrors
// must not be copied after first use. Syncs of one repository are
// serialised within the process and, through a lock file, across
// processes sharing Dir.
type Mirrors struct {
	// Dir holds the mirrors, as <owner>/<name>.git.
	Dir string
	// Git is the git binary; "" means "git" found on PATH.
	Git string
	// Log receives what the mirrors do; nil discards it.
	Log *slog.Logger

	mu    sync.Mutex
	locks map[string]chan struct{}
	// trace sees every git command's argv and environment (a test seam).
	trace func(argv, env []string)
}

// partialMarker is left in a mirror that is not complete; a mirror that
// has one is cloned again.
const partialMarker = ".partial"

// Sync makes or updates the bare mirror of repo ("owner/name") from remote
// and returns its path. The first sync clones (branches and tags only);
// later ones fetch with --prune, so branches deleted or force-pushed
// upstream are deleted or moved here too, and prune the registrations of
// worktrees whose directories are gone. A mirror a crash left half made
// (no HEAD, objects or refs, or a .partial marker) is cloned again; a
// clone is made in a temporary directory and renamed into place, so a
// failed or cancelled sync leaves the previous mirror as it was.
func (m *Mirrors) Sync(ctx context.Context, repo string, remote Remote) (string, error) {
	path, err := m.mirrorPath(repo)
	if err != nil {
		return "", err
	}
	if err := remote.Check(); err != nil {
		return "", fmt.Errorf("sync mirror of %s: %w", repo, err)
	}
	unlock, err := m.lock(ctx, path)
	if err != nil {
		return "", fmt.Errorf("sync mirror of %s: %w", repo, err)
	}
	defer unlock()
	m.removeLeftovers(path)

	if reason := m.broken(ctx, path); reason != "" {
		if reason != reasonMissing {
			m.log().Warn("mirror is broken, cloning it again", "repo", repo, "path", path, "reason", reason)
		}
		start := time.Now()
		if err := m.clone(ctx, path, remote); err != nil {
			return "", fmt.Errorf("clone mirror of %s from %s: %w", repo, remote, err)
		}
		m.log().Info("mirror cloned", "repo", repo, "path", path, "duration", time.Since(start).Round(time.Millisecond))
		return path, nil
	}

	start := time.Now()
	_, err = m.git().Run(ctx, gitexec.Cmd{
		Env:   []string{"GIT_DIR=" + path},
		Token: remote.Token,
		Args: []string{"fetch", "--prune", "--quiet", "--no-write-fetch-head", "--", remote.URL,
			"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"},
	})
	if err != nil {
		return "", fmt.Errorf("fetch mirror of %s from %s: %w", repo, remote, err)
	}
	if _, err := m.git().Run(ctx, gitexec.Cmd{Env: []string{"GIT_DIR=" + path}, Args: []string{"worktree", "prune"}}); err != nil {
		m.log().Warn("cannot prune stale worktrees", "repo", repo, "err", err)
	}
	m.log().Debug("mirror fetched", "repo", repo, "duration", time.Since(start).Round(time.Millisecond))
	return path, nil
}

// clone makes the mirror in a temporary directory next to path and
// renames it into place, moving a broken mirror out of the way first.
func (m *Mirrors) clone(ctx context.Context, path string, remote Remote) (err error) {
	tmp, err := os.MkdirTemp(filepath.Dir(path), filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = removeAll(tmp)
		}
	}()
	_, err = m.git().Run(ctx, gitexec.Cmd{
		Token: remote.Token,
		Args:  []string{"clone", "--bare", "--quiet", "--template=", "--", remote.URL, tmp},
	})
	if err != nil {
		return err
	}
	if _, err := os.Lstat(path); err == nil {
		old := fmt.Sprintf("%s.old-%d", path, time.Now().UnixNano())
		if err := os.Rename(path, old); err != nil {
			return fmt.Errorf("move the broken mirror aside: %w", err)
		}
		_ = removeAll(old)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("move the new mirror into place: %w", err)
	}
	return nil
}

const reasonMissing = "missing"

// broken says why path is not a usable mirror, or "" if it is.
func (m *Mirrors) broken(ctx context.Context, path string) string {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return reasonMissing
	case err != nil:
		return err.Error()
	case !fi.IsDir():
		return "not a directory"
	}
	if _, err := os.Lstat(filepath.Join(path, partialMarker)); err == nil {
		return "an unfinished clone left a " + partialMarker + " marker"
	}
	for _, name := range []string{"HEAD", "config", "objects", "refs"} {
		if _, err := os.Lstat(filepath.Join(path, name)); err != nil {
			return "no " + name
		}
	}
	out, err := m.git().Output(ctx, gitexec.Cmd{Env: []string{"GIT_DIR=" + path}, Args: []string{"rev-parse", "--is-bare-repository"}})
	if err != nil {
		if ctx.Err() != nil {
			return "" // not a verdict on the mirror; the next command fails on ctx
		}
		return err.Error()
	}
	if out != "true" {
		return "not a bare repository"
	}
	return ""
}

// removeLeftovers deletes what an interrupted clone or re-clone left next
// to path. Only called under the repository's lock.
func (m *Mirrors) removeLeftovers(path string) {
	for _, pattern := range []string{path + ".tmp-*", path + ".old-*"} {
		matches, _ := filepath.Glob(pattern)
		for _, p := range matches {
			if err := removeAll(p); err != nil {
				m.log().Warn("cannot remove a leftover of an interrupted sync", "path", p, "err", err)
			}
		}
	}
}

// mirrorPath is where repo's mirror lives. GitHub names are case
// insensitive, so the path is lower case.
func (m *Mirrors) mirrorPath(repo string) (string, error) {
	if m.Dir == "" {
		return "", errors.New("mirrors: no directory configured")
	}
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || !validName(owner) || !validName(name) {
		return "", fmt.Errorf("mirror: %q is not an owner/name repository", repo)
	}
	return filepath.Join(m.Dir, strings.ToLower(owner), strings.ToLower(name)+".git"), nil
}

// validName accepts GitHub owner and repository names and nothing that
// could walk out of Dir or read as an option.
func validName(s string) bool {
	if s == "" || len(s) > 100 || s == "." || s == ".." || strings.HasPrefix(s, "-") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// lock serialises work on one mirror: first among goroutines (a channel,
// so waiting honours ctx), then among processes (a lock file).
func (m *Mirrors) lock(ctx context.Context, path string) (func(), error) {
	m.mu.Lock()
	if m.locks == nil {
		m.locks = map[string]chan struct{}{}
	}
	ch := m.locks[path]
	if ch == nil {
		ch = make(chan struct{}, 1)
		m.locks[path] = ch
	}
	m.mu.Unlock()

	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the mirror lock: %w", ctx.Err())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		<-ch
		return nil, fmt.Errorf("make mirror directory: %w", err)
	}
	unlockFile, err := lockFile(ctx, path+".lock")
	if err != nil {
		<-ch
		return nil, err
	}
	return func() {
		unlockFile()
		<-ch
	}, nil
}

func (m *Mirrors) git() *gitexec.Git { return &gitexec.Git{Path: m.Git, Trace: m.trace} }

func (m *Mirrors) log() *slog.Logger {
	if m.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Log
}
