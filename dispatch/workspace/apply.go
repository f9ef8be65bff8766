package workspace

import (
	"bytes"
	"context"
	"fmt"
)

// Apply applies a patch a runner posted back (the actions runner's
// `git diff --binary`, or git format-patch output) to the worktree's files,
// so Collect can commit it like an exec agent's edits. Paths outside the
// worktree are refused by git apply itself.
func (w *Worktree) Apply(ctx context.Context, patch []byte) error {
	if len(bytes.TrimSpace(patch)) == 0 {
		return ErrNoChanges
	}
	if _, err := w.git.run(ctx, gitCmd{dir: w.Path, stdin: bytes.NewReader(patch),
		args: []string{"apply", "--whitespace=nowarn", "--3way", "-"}}); err != nil {
		return fmt.Errorf("apply the patch: %w", err)
	}
	return nil
}
