//go:build unix

package gitexec_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/gitexec"
)

// Cancelling kills what git started too: a child left holding git's
// output would keep Run waiting until its WaitDelay (5s) ran out.
func TestCancelKillsGitsChildren(t *testing.T) {
	repo := newRepo(t)
	var g gitexec.Git
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := g.Run(ctx, gitexec.Cmd{Dir: repo, Args: []string{"-c", "alias.slow=!sleep 60; :", "slow"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run returned after %s: git's child outlived the cancel", d)
	}
}
