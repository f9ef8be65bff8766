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

	"github.com/agentgate/agentgate/internal/gitexec"
)

// Worktree is a checkout of one commit for one agent run. Its .git is a
// repository of the agent's own (HEAD, index, refs, and objects it makes)
// that borrows the mirror's objects through objects/info/alternates, so
// git works in it as usual and nothing the agent does reaches the mirror.
type Worktree struct {
	// Path is the worktree: the agent's working directory.
	Path string
	// Base is the commit the worktree was made from.
	Base string
	// Mirror is the bare mirror the worktree borrows objects from.
	Mirror string

	repo  string
	admin string // <Mirror>/worktrees/<name>: agentgate's registration, never the agent's
	git   *gitexec.Git
	log   *slog.Logger
}

// Worktree checks out rev of repo's mirror (a branch, a tag or a commit
// sha) at dir with `git worktree add --detach`, then gives the worktree a
// git directory of its own (see Worktree). dir must not exist; its parent
// is created. The mirror must have been synced.
func (m *Mirrors) Worktree(ctx context.Context, repo, rev, dir string) (_ *Worktree, err error) {
	path, err := m.mirrorPath(repo)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, fmt.Errorf("worktree of %s: no directory given", repo)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("worktree of %s: %w", repo, err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("worktree of %s: %s already exists", repo, dir)
	}
	unlock, err := m.lock(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("worktree of %s: %w", repo, err)
	}
	defer unlock()
	if reason := m.broken(ctx, path); reason != "" {
		return nil, fmt.Errorf("worktree of %s: no usable mirror (%s); sync it first", repo, reason)
	}
	g := m.git()
	sha, err := resolve(ctx, g, path, rev)
	if err != nil {
		return nil, fmt.Errorf("worktree of %s at %q: %w", repo, rev, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("worktree of %s: %w", repo, err)
	}
	if _, err := g.Run(ctx, gitexec.Cmd{
		Env:  []string{"GIT_DIR=" + path},
		Args: []string{"worktree", "add", "--detach", "--quiet", "--", dir, sha},
	}); err != nil {
		_ = removeAll(dir)
		return nil, fmt.Errorf("worktree of %s at %s: %w", repo, short(sha), err)
	}
	w := &Worktree{Path: dir, Base: sha, Mirror: path, repo: repo, git: g, log: m.log()}
	defer func() {
		if err != nil {
			_ = w.Remove(context.WithoutCancel(ctx))
		}
	}()
	if w.admin, err = adminDir(dir, path); err != nil {
		return nil, fmt.Errorf("worktree of %s: %w", repo, err)
	}
	if err := w.ownGitDir(ctx); err != nil {
		return nil, fmt.Errorf("worktree of %s: %w", repo, err)
	}
	return w, nil
}

// resolve turns rev into a commit sha: a branch first, then a tag, then
// whatever git makes of it (a sha).
func resolve(ctx context.Context, g *gitexec.Git, mirror, rev string) (string, error) {
	if rev == "" || strings.HasPrefix(rev, "-") || strings.ContainsAny(rev, "\x00\n") {
		return "", fmt.Errorf("%q is not a revision", rev)
	}
	candidates := []string{rev}
	if !strings.HasPrefix(rev, "refs/") && !isSHA(rev) {
		candidates = []string{"refs/heads/" + rev, "refs/tags/" + rev, rev}
	}
	for _, c := range candidates {
		sha, err := g.Output(ctx, gitexec.Cmd{
			Env:  []string{"GIT_DIR=" + mirror},
			Args: []string{"rev-parse", "--verify", "--quiet", c + "^{commit}"},
		})
		if err == nil && isSHA(sha) {
			return sha, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
	}
	return "", errors.New("no such branch, tag or commit in the mirror")
}

// adminDir reads the .git file `git worktree add` wrote (before any agent
// could touch it) and checks it points into the mirror.
func adminDir(dir, mirror string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, ".git"))
	if err != nil {
		return "", err
	}
	p, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
	if !ok {
		return "", errors.New("unexpected .git file in the new worktree")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	p = filepath.Clean(p)
	// git writes real paths; Dir may sit behind a symbolic link.
	want, err1 := filepath.EvalSymlinks(filepath.Join(mirror, "worktrees"))
	got, err2 := filepath.EvalSymlinks(filepath.Dir(p))
	if err := errors.Join(err1, err2); err != nil || got != want {
		return "", fmt.Errorf("worktree registered outside the mirror at %s", p)
	}
	return p, nil
}

// ownGitDir replaces the worktree's .git file with a repository of the
// worktree's own: HEAD detached at Base, the index git worktree add wrote,
// the mirror's branches as refs/remotes/origin/* and its tags, and the
// mirror's objects as an alternate.
func (w *Worktree) ownGitDir(ctx context.Context) error {
	gitDir := filepath.Join(w.Path, ".git")
	refs, err := w.g().Run(ctx, gitexec.Cmd{
		Env:  []string{"GIT_DIR=" + w.Mirror},
		Args: []string{"for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/tags"},
	})
	if err != nil {
		return fmt.Errorf("list the mirror's refs: %w", err)
	}
	var packed strings.Builder
	for _, line := range strings.Split(string(refs), "\n") {
		sha, ref, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
			ref = "refs/remotes/origin/" + b
		}
		fmt.Fprintf(&packed, "%s %s\n", sha, ref)
	}
	index, err := os.ReadFile(filepath.Join(w.admin, "index"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the worktree's index: %w", err)
	}
	if err := os.Remove(gitDir); err != nil {
		return fmt.Errorf("replace the worktree's .git file: %w", err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{"HEAD", []byte(w.Base + "\n")},
		{"config", []byte("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n")},
		{"objects/info/alternates", []byte(filepath.Join(w.Mirror, "objects") + "\n")},
		{"packed-refs", []byte(packed.String())},
		{"index", index},
	}
	for _, d := range []string{"objects/info", "objects/pack", "refs/heads", "refs/tags", "info"} {
		if err := os.MkdirAll(filepath.Join(gitDir, d), 0o755); err != nil {
			return fmt.Errorf("make the worktree's git directory: %w", err)
		}
	}
	for _, f := range files {
		if f.data == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(gitDir, f.name), f.data, 0o644); err != nil {
			return fmt.Errorf("make the worktree's git directory: %w", err)
		}
	}
	return nil
}

// GitDirs are the directories outside Path that git in the worktree writes
// to; a sandbox binds them writable. There are none in this layout (the
// worktree's git directory is inside Path); callers bind them anyway so
// the layout can change without them.
func (w *Worktree) GitDirs() []string { return nil }

// SharedDirs are the directories outside Path that git in the worktree
// reads: the mirror's objects. A sandbox binds them read-only; the agent
// must never be able to write to them, as other runs share them.
func (w *Worktree) SharedDirs() []string {
	return []string{filepath.Join(w.Mirror, "objects")}
}

// Remove deletes the worktree and its registration in the mirror. It
// trusts nothing the agent may have left in the worktree (a lock file, a
// rewritten .git): it removes the two directories it made and runs
// `git worktree prune`. Removing twice is not an error.
func (w *Worktree) Remove(ctx context.Context) error {
	var errs []error
	if err := removeAll(w.Path); err != nil {
		errs = append(errs, err)
	}
	if w.admin != "" {
		if err := removeAll(w.admin); err != nil {
			errs = append(errs, err)
		}
	}
	if w.Mirror != "" {
		if _, err := w.g().Run(ctx, gitexec.Cmd{Env: []string{"GIT_DIR=" + w.Mirror}, Args: []string{"worktree", "prune"}}); err != nil {
			if _, statErr := os.Stat(w.Mirror); statErr == nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove worktree %s of %s: %w", w.Path, w.repo, err)
	}
	return nil
}

// removeAll is os.RemoveAll that also copes with directories an agent
// made read-only.
func removeAll(path string) error {
	err := os.RemoveAll(path)
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// isSHA says whether s is a full SHA-1 or SHA-256 object name.
func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// g is the worktree's git (plain git for a Worktree not made by Mirrors).
func (w *Worktree) g() *gitexec.Git {
	if w.git == nil {
		return &gitexec.Git{}
	}
	return w.git
}

func (w *Worktree) logger() *slog.Logger {
	if w.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.log
}
