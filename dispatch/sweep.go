package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/store"
)

// deadlineGrace is how long past its deadline a run may still report
// before the sweep gives up on it (its own timeout should have stopped it).
const deadlineGrace = time.Minute

// staleAfter is how long a run may be silent before it counts as
// interrupted: three heartbeats, and never less than 5 s, so a busy
// machine (a slow fsync, a CPU-bound agent) is not mistaken for a dead one.
func staleAfter(heartbeat time.Duration) time.Duration { return max(3*heartbeat, 5*time.Second) }

// Sweep is the leader's periodic repair: runs whose replica died (no
// heartbeat for three intervals, at least 5 s) are marked interrupted, runs past their
// deadline are failed, and their tasks fail with a comment saying
// `/agent retry` resumes them. Nothing is lost silently.
func (d *Dispatcher) Sweep(ctx context.Context) error {
	now := d.now()
	var errs []error
	stale, err := d.store.StaleRuns(ctx, now.Add(-staleAfter(d.opts.Config.Heartbeat)))
	if err != nil {
		return err
	}
	for _, r := range stale {
		errs = append(errs, d.abandon(ctx, r, RunInterrupted,
			"the run was interrupted: agentgate stopped while the agent was running (a crash or a restart)"))
	}
	overdue, err := d.store.OverdueRuns(ctx, now.Add(-deadlineGrace))
	if err != nil {
		return err
	}
	for _, r := range overdue {
		errs = append(errs, d.abandon(ctx, r, RunFailed, fmt.Sprintf("the run did not finish by its deadline (%s)", r.Deadline.Format(time.RFC3339))))
	}
	// A run waits in the queue while its repository is at its concurrency
	// limit; one still queued a day later lost its job.
	lost, err := d.store.QueuedBefore(ctx, now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	for _, r := range lost {
		errs = append(errs, d.abandon(ctx, r, RunFailed, "the run never started (its queue job was lost)"))
	}
	return errors.Join(errs...)
}

// abandon ends a run that nobody is executing and fails its task.
func (d *Dispatcher) abandon(ctx context.Context, r store.Run, state, reason string) error {
	err := d.store.FinishRun(ctx, r.ID, store.RunUpdate{State: state, Error: reason, FinishedAt: d.now()}, r.State)
	if errors.Is(err, store.ErrStale) {
		return nil // it finished meanwhile
	}
	if err != nil {
		return err
	}
	d.log.WarnContext(ctx, "run abandoned", "run", r.ID, "task", r.TaskID, "state", state, "reason", reason)
	t, err := d.store.GetTask(ctx, r.TaskID)
	if err != nil {
		return err
	}
	return d.fail(ctx, t, r.ID, reason, r.Log)
}
