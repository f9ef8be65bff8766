package workspace

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/agentgate/agentgate/internal/gitexec"
)

// Apply applies a patch a runner posted back (the actions runner's
// `git diff --binary`, or git format-patch output) to the worktree's files,
// so Collect can commit it like an exec agent's edits. When the patch's
// context does not match it falls back on a three-way merge with the blobs
// the patch names, and fails if that leaves conflicts. Like Collect it
// reads nothing from the worktree's .git: git runs with the mirror as
// GIT_DIR, the worktree as GIT_WORK_TREE and a private index holding Base.
// git apply itself refuses paths outside the worktree, paths through
// symbolic links and paths in .git. An empty patch is ErrNoChanges.
func (w *Worktree) Apply(ctx context.Context, patch []byte) error {
	if len(bytes.TrimSpace(patch)) == 0 {
		return ErrNoChanges
	}
	tmp, err := os.MkdirTemp("", "agentgate-index-")
	if err != nil {
		return fmt.Errorf("apply the patch: %w", err)
	}
	defer os.RemoveAll(tmp)
	env := []string{"GIT_DIR=" + w.Mirror, "GIT_WORK_TREE=" + w.Path, "GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	if _, err := w.g().Run(ctx, gitexec.Cmd{Dir: w.Path, Env: env, Args: []string{"read-tree", w.Base}}); err != nil {
		return fmt.Errorf("apply the patch: %w", err)
	}
	// --3way works on the index, which must match the files: give it their
	// stat information (it exits 1 if some differ, which apply then says).
	_, _ = w.g().Run(ctx, gitexec.Cmd{Dir: w.Path, Env: env, Args: []string{"update-index", "-q", "--refresh"}})
	if _, err := w.g().Run(ctx, gitexec.Cmd{
		Dir: w.Path, Env: env, Stdin: bytes.NewReader(patch),
		Args: []string{"apply", "--3way", "--whitespace=nowarn", "-"},
	}); err != nil {
		return fmt.Errorf("apply the patch: %w", err)
	}
	return nil
}
