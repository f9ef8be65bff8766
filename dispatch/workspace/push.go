package workspace

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/internal/gitexec"
)

// ErrNotFastForward is Push's answer when the branch has moved and the
// push would not fast-forward it (or, with a lease, when the branch is not
// where the caller expected).
var ErrNotFastForward = errors.New("the branch has moved: the push is not a fast-forward")

// PushOption changes what Push accepts on the remote.
type PushOption func(*pushOptions)

type pushOptions struct {
	lease   bool
	old     string
	replace bool
}

// Lease lets the push replace the branch, fast-forward or not, only if it
// is at old now; old "" means the branch must not exist. Otherwise Push
// fails with ErrNotFastForward.
func Lease(old string) PushOption {
	return func(o *pushOptions) { o.lease, o.old, o.replace = true, old, false }
}

// Replace lets the push replace whatever the branch holds: Push reads the
// branch's current commit (git ls-remote) and pushes with a lease on it,
// so a push that lands in between still makes it fail rather than be
// lost. For a branch agentgate owns and starts afresh (a retried first
// run may find its own earlier push there).
func Replace() PushOption {
	return func(o *pushOptions) { o.replace, o.lease = true, false }
}

// Push pushes sha (a commit in the mirror, e.g. Collect's) to
// refs/heads/<branch> of remote. Without options it only creates the
// branch or fast-forwards it; when the branch has moved elsewhere it
// fails with an error wrapping ErrNotFastForward. On success the mirror's
// own copy of the branch is moved too, so a worktree made from it before
// the next Sync starts from what was pushed.
func (w *Worktree) Push(ctx context.Context, remote Remote, sha, branch string, opts ...PushOption) error {
	if err := remote.Check(); err != nil {
		return fmt.Errorf("push to %s: %w", branch, err)
	}
	if !isSHA(sha) {
		return fmt.Errorf("push to %s: %q is not a commit sha", branch, sha)
	}
	ref := "refs/heads/" + branch
	if err := w.checkRef(ctx, ref); err != nil {
		return fmt.Errorf("push to %q: %w", branch, err)
	}
	var o pushOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.replace {
		old, err := w.remoteRef(ctx, remote, ref)
		if err != nil {
			return fmt.Errorf("push %s to %s of %s: %w", short(sha), branch, remote, err)
		}
		o.lease, o.old = true, old
	}
	args := []string{"push", "--porcelain"}
	if o.lease {
		args = append(args, "--force-with-lease="+ref+":"+o.old)
	}
	args = append(args, "--", remote.URL, sha+":"+ref)
	out, err := w.g().Run(ctx, gitexec.Cmd{
		Env:   []string{"GIT_DIR=" + w.Mirror},
		Token: remote.Token,
		Args:  args,
	})
	if err != nil {
		if reason, ok := notFastForward(string(out)); ok {
			return fmt.Errorf("push %s to %s of %s: %w (%s)", short(sha), branch, remote, ErrNotFastForward, reason)
		}
		if reason := gitexec.PushRejection(string(out)); reason != "" {
			return fmt.Errorf("push %s to %s of %s: rejected: %s: %w", short(sha), branch, remote, gitexec.Redact(reason, remote.Token), err)
		}
		return fmt.Errorf("push %s to %s of %s: %w", short(sha), branch, remote, err)
	}
	if _, err := w.g().Run(ctx, gitexec.Cmd{Env: []string{"GIT_DIR=" + w.Mirror}, Args: []string{"update-ref", ref, sha}}); err != nil {
		w.logger().Warn("pushed, but cannot move the mirror's copy of the branch", "repo", w.repo, "branch", branch, "err", err)
	}
	w.logger().Info("pushed", "repo", w.repo, "branch", branch, "commit", sha)
	return nil
}

// checkRef refuses branch names git would not accept.
func (w *Worktree) checkRef(ctx context.Context, ref string) error {
	if strings.HasPrefix(ref, "refs/heads/-") || ref == "refs/heads/" {
		return errors.New("not a valid branch name")
	}
	if _, err := w.g().Run(ctx, gitexec.Cmd{Args: []string{"check-ref-format", ref}}); err != nil {
		return errors.New("not a valid branch name")
	}
	return nil
}

// remoteRef is the commit ref points at on remote, or "" if it does not
// exist there.
func (w *Worktree) remoteRef(ctx context.Context, remote Remote, ref string) (string, error) {
	out, err := w.g().Run(ctx, gitexec.Cmd{
		Env:   []string{"GIT_DIR=" + w.Mirror},
		Token: remote.Token,
		Args:  []string{"ls-remote", "--", remote.URL, ref},
	})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", ref, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		sha, name, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if ok && name == ref {
			return sha, nil
		}
	}
	return "", nil
}

// notFastForward finds, in `git push --porcelain` output, a ref rejected
// because it moved: "!\t<src>:<dst>\t[rejected] (non-fast-forward)", or
// "(fetch first)" when the new tip is unknown here, or "(stale info)" when
// a lease did not hold.
func notFastForward(out string) (string, bool) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "!") || !strings.Contains(line, "[rejected]") {
			continue
		}
		for _, r := range []string{"non-fast-forward", "fetch first", "stale info", "already exists"} {
			if strings.Contains(line, "("+r+")") {
				return r, true
			}
		}
	}
	return "", false
}
