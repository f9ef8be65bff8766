package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/agentgate/agentgate/dispatch"
	"github.com/agentgate/agentgate/dispatch/sandbox"
	"github.com/agentgate/agentgate/dispatch/workspace"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/ghapp"
	"github.com/agentgate/agentgate/internal/queue"
	"github.com/agentgate/agentgate/store"
)

// lateQueue lets the dispatcher be built before the queue that runs its
// jobs (the queue needs the handlers, the handlers need the dispatcher).
type lateQueue struct{ q *queue.Queue }

func (l *lateQueue) EnqueueTx(ctx context.Context, tx *store.Tx, name, key string, payload any, maxAttempts int) error {
	if l.q == nil {
		return fmt.Errorf("enqueue %s: the queue is not started", name)
	}
	return l.q.EnqueueTx(ctx, tx, name, key, payload, maxAttempts)
}

// runJobTimeout bounds a run job: the agent's wall time plus room to fetch,
// commit, push and open the pull request.
func runJobTimeout(d config.Dispatch) time.Duration {
	longest := d.Limits.WallTime
	for _, r := range d.Repos {
		longest = max(longest, r.Limits.WallTime)
	}
	return longest + 10*time.Minute
}

// newDispatcher builds dispatch with the exec runner over the data dir.
func newDispatcher(cfg *config.Config, st *store.Store, clients *ghapp.Clients, q dispatch.Queue, links dispatch.Links, log *slog.Logger) (*dispatch.Dispatcher, error) {
	dir := cfg.Dispatch.Dir(cfg.DataDir)
	for _, sub := range []string{"mirrors", "runs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("dispatch work dir: %w", err)
		}
	}
	if cfg.Dispatch.Sandbox.Bwrap != "" {
		if err := sandbox.BwrapAvailable(context.Background(), cfg.Dispatch.Sandbox.Bwrap); err != nil {
			return nil, fmt.Errorf("dispatch.sandbox.bwrap: %w", err)
		}
	}
	d := dispatch.New(dispatch.Options{
		Store: st, GitHub: clients, Queue: q, Links: links, Config: cfg.Dispatch,
		WebURL: cfg.GitHub.WebURL, DataDir: cfg.DataDir, Environ: cfg.Environ, Log: log.With("component", "dispatch"),
	})
	mirrors := &workspace.Mirrors{Dir: filepath.Join(dir, "mirrors"), Log: log}
	runs := filepath.Join(dir, "runs")
	d.AddRunner(&dispatch.ExecRunner{Mirrors: mirrors, RunsDir: runs, Bwrap: cfg.Dispatch.Sandbox.Bwrap, Environ: cfg.Environ, Log: log})
	d.AddRunner(d.NewActionsRunner(cfg.Dispatch.Actions.Workflow, cfg.PublicURL, mirrors, runs))
	return d, nil
}
