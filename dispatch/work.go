package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/dispatch/plan"
	"github.com/agentgate/agentgate/dispatch/untrusted"
	"github.com/agentgate/agentgate/dispatch/workspace"
	"github.com/agentgate/agentgate/internal/queue"
	"github.com/agentgate/agentgate/store"
)

// maxLogBytes bounds the log kept in the store per run: the head and the
// tail are kept, the middle elided.
const maxLogBytes = 1 << 20

// Work executes one run (the RunTask job). It claims the run first, so a
// second copy of the job (a rescue, another replica) does nothing.
func (d *Dispatcher) Work(ctx context.Context, payload json.RawMessage) error {
	var job RunJob
	if err := json.Unmarshal(payload, &job); err != nil {
		return fmt.Errorf("run job payload: %w", err)
	}
	run, err := d.store.GetRun(ctx, job.RunID)
	if err != nil {
		return err
	}
	if run.State != RunQueued {
		return nil
	}
	t, err := d.store.GetTask(ctx, run.TaskID)
	if err != nil {
		return err
	}
	limits := d.opts.Config.RepoLimits(t.Repository)
	busy, err := d.store.RunningInRepository(ctx, t.Repository, run.ID)
	if err != nil {
		return err
	}
	if busy >= limits.ConcurrentRuns {
		return queue.Wait(5 * time.Second)
	}
	now := d.now()
	claimed, err := d.store.ClaimRun(ctx, run.ID, d.opts.Replica, now, now.Add(limits.WallTime))
	if err != nil || !claimed {
		return err
	}
	log := d.log.With("task", t.ID, "run", run.ID, "kind", run.Kind, "repository", t.Repository)
	log.InfoContext(ctx, "run started")

	// The heartbeat runs until the run is recorded, landing included (a
	// slow push must not look like a dead replica); it cancels runCtx, and
	// so the agent, when the store says the run was cancelled or
	// interrupted.
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	beatCtx, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.heartbeat(beatCtx, run.ID, stopRun) }()
	defer func() { stopBeat(); wg.Wait() }()

	logBuf := &boundedLog{max: maxLogBytes}
	out, runErr := d.execute(runCtx, t, run, logBuf, limits.WallTime)
	if out != nil && out.Pending && runErr == nil {
		return nil // the actions runner reports back through the API
	}
	return d.finish(context.WithoutCancel(ctx), t, run, out, runErr, logBuf.String())
}

// heartbeat keeps the run alive in the store and cancels it when the store
// says it was cancelled or interrupted.
func (d *Dispatcher) heartbeat(ctx context.Context, runID string, stop context.CancelCauseFunc) {
	tick := time.NewTicker(d.opts.Config.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			state, err := d.store.HeartbeatRun(ctx, runID, d.opts.Replica, d.now())
			if err != nil {
				d.log.WarnContext(ctx, "heartbeat failed", "run", runID, "err", err)
				continue
			}
			if state != RunRunning {
				stop(fmt.Errorf("run %s", state))
				return
			}
		}
	}
}

// execute prepares the job and hands it to the task's runner.
func (d *Dispatcher) execute(ctx context.Context, t store.Task, run store.Run, logw io.Writer, wall time.Duration) (*Outcome, error) {
	runner, ok := d.runners[t.Runner]
	if !ok {
		return nil, fmt.Errorf("runner %q is not available on this server", t.Runner)
	}
	job, err := d.prepare(ctx, t, run)
	if err != nil {
		return nil, err
	}
	job.Timeout, job.Log = wall, logw
	return runner.Run(ctx, job)
}

// finish records how a run ended and moves the task on: a plan is posted
// for approval, a change is landed as a pull request, a failure is
// reported with its reason and the tail of the log.
func (d *Dispatcher) finish(ctx context.Context, t store.Task, run store.Run, out *Outcome, runErr error, log string) error {
	if out != nil && out.Cleanup != nil {
		defer out.Cleanup()
	}
	upd := store.RunUpdate{Log: &log, FinishedAt: d.now()}
	if out != nil {
		upd.ExitCode = out.ExitCode
		upd.Agent, upd.AgentVersion, upd.Model = out.Report.Agent, out.Report.AgentVersion, out.Report.Model
		upd.InputTokens, upd.OutputTokens = out.Report.Usage.InputTokens, out.Report.Usage.OutputTokens
		upd.CostMicroUSD = int64(out.Report.Usage.CostUSD * 1e6)
		if out.Worktree != nil {
			upd.BaseSHA = out.Worktree.Base
		}
	}
	if run.PromptSHA256 == "" {
		if r, err := d.store.GetRun(ctx, run.ID); err == nil {
			run.PromptSHA256 = r.PromptSHA256
		}
	}

	// A cancelled or interrupted run keeps that verdict; only its log and
	// numbers are recorded.
	current, err := d.store.GetRun(ctx, run.ID)
	if err != nil {
		return err
	}
	if current.State != RunRunning {
		upd.State = ""
		_ = d.store.FinishRun(ctx, run.ID, upd, current.State)
		return d.sync(ctx, t.ID)
	}

	var result landing
	if runErr == nil {
		runErr = d.judge(out)
	}
	if runErr == nil {
		result, runErr = d.land(ctx, t, run, out)
	}
	if runErr != nil {
		upd.State, upd.Error = RunFailed, runErr.Error()
		if err := d.store.FinishRun(ctx, run.ID, upd, RunRunning); err != nil && !errors.Is(err, store.ErrStale) {
			return err
		}
		return d.fail(ctx, t, run.ID, runErr.Error(), log)
	}
	upd.State, upd.HeadSHA = RunSucceeded, result.headSHA
	// The run's verdict and the task's move commit together, and only if
	// neither changed while the change was landing (a cancel, the sweep).
	err = d.move(ctx, t, result.next, "agentgate", result.reason, "", func(tx *store.Tx, t store.Task) error {
		if err := tx.FinishRun(ctx, run.ID, upd, RunRunning); err != nil {
			return err
		}
		if result.then != nil {
			return result.then(tx, t)
		}
		return nil
	})
	if errors.Is(err, store.ErrStale) {
		upd.State = ""
		_ = d.store.FinishRun(ctx, run.ID, upd, RunCancelled, RunInterrupted, RunFailed)
		d.undoLanding(ctx, t, run, result)
		return d.sync(ctx, t.ID)
	}
	if err != nil {
		return err
	}
	return d.sync(ctx, t.ID)
}

// undoLanding takes back what a run landed after its task was cancelled,
// closed or failed meanwhile: a pull request this run opened is closed and
// its branch deleted, so nothing is left that no task tracks.
func (d *Dispatcher) undoLanding(ctx context.Context, t store.Task, run store.Run, result landing) {
	if run.Kind != KindImplement || t.PullNumber != 0 || result.pull == 0 {
		return
	}
	client, err := d.gh.Installation(t.InstallationID)
	if err != nil {
		return
	}
	owner, name, _ := strings.Cut(t.Repository, "/")
	if _, _, err := client.PullRequests.Edit(ctx, owner, name, result.pull, &github.PullRequest{State: github.Ptr("closed")}); err != nil {
		d.log.WarnContext(ctx, "could not close the pull request of a stopped task", "task", t.ID, "pull", result.pull, "err", err)
	}
	d.deleteBranch(ctx, client, t)
}

// judge turns how the agent process ended into an error for people.
func (d *Dispatcher) judge(out *Outcome) error {
	switch {
	case out == nil:
		return errors.New("the runner returned nothing")
	case out.TimedOut:
		return errors.New("the agent ran past its wall-clock limit and was stopped")
	case out.Cancelled:
		return errors.New("the run was cancelled")
	case out.ExitCode != 0:
		msg := fmt.Sprintf("the agent exited with status %d", out.ExitCode)
		if out.Report.Error != "" {
			msg += ": " + out.Report.Error
		}
		return errors.New(msg)
	}
	return nil
}

// fail marks the task failed and tells the issue why, with the log's tail.
func (d *Dispatcher) fail(ctx context.Context, t store.Task, runID, reason, log string) error {
	t, err := d.store.GetTask(ctx, t.ID)
	if err != nil {
		return err
	}
	if State(t.State).Active() {
		if err := d.move(ctx, t, Failed, "agentgate", reason, "", nil); err != nil && !errors.Is(err, store.ErrStale) {
			return err
		}
	}
	client, err := d.gh.Installation(t.InstallationID)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("❌ Run `%s` of task `%s` failed: %s\n\n", runID, t.ID, quote(reason))
	if tail := logTail(log, 30, 3000); strings.TrimSpace(tail) != "" {
		msg += "<details><summary>Last lines of the log</summary>\n\n" + fence(tail) + "\n</details>\n\n"
	}
	msg += "Comment `/agent retry` to run it again."
	if t.PullNumber == 0 {
		d.deleteBranch(ctx, client, t)
	}
	// The progress comment first: it is the record people look at; the
	// failure comment is the notification.
	if err := d.sync(ctx, t.ID); err != nil {
		return err
	}
	return d.reply(ctx, client, Repo{FullName: t.Repository}, t.IssueNumber, msg)
}

// landing is what a successful run leads to.
type landing struct {
	next    State
	reason  string
	headSHA string
	pull    int // the pull request the run opened or updated
	then    func(tx *store.Tx, t store.Task) error
}

// land acts on a successful run: a plan is stored and posted; a change is
// committed by agentgate, pushed and opened (or updated) as a pull request.
func (d *Dispatcher) land(ctx context.Context, t store.Task, run store.Run, out *Outcome) (landing, error) {
	client, err := d.gh.Installation(t.InstallationID)
	if err != nil {
		return landing{}, err
	}
	if run.Kind == KindPlan {
		return d.landPlan(ctx, client, t, run, out)
	}
	if out.Worktree == nil {
		return landing{}, errors.New("the runner left no worktree to collect")
	}
	return d.landChange(ctx, client, t, run, out)
}

func (d *Dispatcher) landPlan(ctx context.Context, client *github.Client, t store.Task, run store.Run, out *Outcome) (landing, error) {
	if len(out.PlanMarkdown) == 0 {
		return landing{}, errors.New("the agent wrote no plan.md in its output directory")
	}
	// What the approver reads must be all the plan says: HTML comments and
	// invisible characters (which GitHub does not show) are removed before
	// the plan is parsed, digested and posted.
	p, err := plan.Parse([]byte(untrusted.Clean(string(out.PlanMarkdown))))
	if err != nil {
		return landing{}, fmt.Errorf("the agent's plan.md is not usable: %w", err)
	}
	stored := store.Plan{TaskID: t.ID, ID: p.ID, SHA256: p.SHA256, Body: p.Body, Paths: p.Paths, Acceptance: p.Acceptance, RunID: run.ID, CreatedAt: d.now()}
	if err := d.store.InsertPlan(ctx, stored); err != nil {
		return landing{}, err
	}
	owner, name, _ := strings.Cut(t.Repository, "/")
	var scope []string
	for _, path := range p.Paths {
		scope = append(scope, quote(path))
	}
	body := fmt.Sprintf("### 📝 Plan `%s` for #%d\n\n%s\n\n---\n**Approving it lets the agent change only:** %s\n\nsha256 `%s` · written by run `%s`\n\nTo approve exactly this plan, a person with write access comments:\n\n```\n/agent approve %s\n```\n\nA new plan needs a new approval; `/agent plan` asks for one.",
		p.ID, t.IssueNumber, strings.TrimRight(p.Body, "\n"), strings.Join(scope, ", "), p.SHA256, run.ID, p.ID)
	c, _, err := client.Issues.CreateComment(ctx, owner, name, t.IssueNumber, &github.IssueComment{Body: github.Ptr(body)})
	if err != nil {
		return landing{}, fmt.Errorf("post plan %s: %w", p.ID, err)
	}
	if err := d.store.SetPlanComment(ctx, t.ID, p.ID, c.GetID()); err != nil {
		return landing{}, err
	}
	id := p.ID
	return landing{next: AwaitingApproval, reason: "plan " + p.ID + " written", then: func(tx *store.Tx, t store.Task) error {
		return tx.SetTaskFields(ctx, t.ID, store.TaskUpdate{PlanID: &id}, d.now())
	}}, nil
}

// boundedLog keeps the first and the last max/2 bytes written to it.
type boundedLog struct {
	mu      sync.Mutex
	max     int
	head    bytes.Buffer
	tail    []byte
	dropped int64
}

func (b *boundedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if room := b.max/2 - b.head.Len(); room > 0 {
		k := min(room, len(p))
		b.head.Write(p[:k])
		p = p[k:]
	}
	if len(p) > 0 {
		b.tail = append(b.tail, p...)
		if over := len(b.tail) - b.max/2; over > 0 {
			b.dropped += int64(over)
			b.tail = append(b.tail[:0], b.tail[over:]...)
		}
	}
	return n, nil
}

func (b *boundedLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return b.head.String() + string(b.tail)
	}
	return b.head.String() + fmt.Sprintf("\n… %d bytes elided …\n", b.dropped) + string(b.tail)
}

var _ = workspace.ErrNoChanges
