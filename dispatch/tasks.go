package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/policy"
	"github.com/agentgate/agentgate/store"
)

// errRunLimit is returned when a task has used its runs.
var errRunLimit = errors.New("run limit reached")

// start creates a task for an issue and queues its first run, or answers
// with the status of the task the issue already has.
func (d *Dispatcher) start(ctx context.Context, client *github.Client, o Origin, issue Issue, cfg policy.Config, quick bool, triggerKind, trigger string) error {
	repo := o.Repo
	runner := d.opts.Config.RepoRunner(repo.FullName)
	ag, err := d.opts.Config.AgentFor(repo.FullName, cfg.Dispatch.Agent)
	if err != nil && runner == "exec" {
		return d.reply(ctx, client, repo, issue.Number, fmt.Sprintf("@%s I cannot start: %v.", o.Sender.Login, err))
	}
	now := d.now()
	id := newID("t-")
	t := store.Task{
		ID: id, InstallationID: o.InstallationID, Repository: repo.FullName, RepositoryID: repo.ID,
		IssueNumber: issue.Number, IssueTitle: issue.Title, IssueBody: issue.Body, IssueAuthor: issue.Author,
		State: string(Queued), Quick: quick,
		Requester: o.Sender.Login, RequesterID: o.Sender.ID, TriggerKind: triggerKind, TriggerDelivery: o.DeliveryID,
		Agent: ag.Name, Runner: runner, Branch: fmt.Sprintf("agent/issue-%d-%s", issue.Number, id[2:10]),
		CreatedAt: now, UpdatedAt: now,
	}
	first, kind := Planning, KindPlan
	if quick {
		first, kind = Implementing, KindImplement
	}
	var inserted bool
	err = d.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		inserted, err = tx.InsertTask(ctx, t, store.TaskEvent{At: now, Actor: o.Sender.Login, Reason: "requested with " + trigger, DeliveryID: o.DeliveryID})
		if err != nil || !inserted {
			return err
		}
		if err := tx.TransitionTask(ctx, t.ID, string(Queued), string(first), true, store.TaskEvent{At: now, Actor: "agentgate", Reason: "started a " + kind + " run", DeliveryID: o.DeliveryID}); err != nil {
			return err
		}
		t.State = string(first)
		_, err = d.queueRun(ctx, tx, t, kind, o.Sender.Login, "")
		return err
	})
	if err != nil {
		return fmt.Errorf("start task for %s#%d: %w", repo.FullName, issue.Number, err)
	}
	if !inserted {
		existing, err := d.store.LatestTaskOfIssue(ctx, repo.FullName, issue.Number)
		if err != nil {
			return err
		}
		if existing.TriggerDelivery == o.DeliveryID {
			return d.sync(ctx, existing.ID) // this delivery made it; a retried job finishes the work
		}
		return d.reply(ctx, client, repo, issue.Number, d.statusLine(ctx, existing))
	}
	d.log.InfoContext(ctx, "task started", "task", t.ID, "repository", repo.FullName, "issue", issue.Number, "quick", quick)
	return d.sync(ctx, t.ID)
}

// queueRun records a queued run of kind and queues its job, in tx.
func (d *Dispatcher) queueRun(ctx context.Context, tx *store.Tx, t store.Task, kind, by, instructions string) (store.Run, error) {
	limits := d.opts.Config.RepoLimits(t.Repository)
	runs, err := tx.RunsOfTask(ctx, t.ID)
	if err != nil {
		return store.Run{}, err
	}
	if len(runs) >= limits.RunsPerTask {
		return store.Run{}, fmt.Errorf("%w: task %s has had %d runs, the most this server allows", errRunLimit, t.ID, len(runs))
	}
	r, err := tx.InsertRun(ctx, store.Run{
		ID: newID("r-"), TaskID: t.ID, Kind: kind, State: RunQueued, Runner: t.Runner, Agent: t.Agent,
		RequestedBy: by, Instructions: instructions, CreatedAt: d.now(),
	})
	if err != nil {
		return store.Run{}, err
	}
	// Retries are safe (the run is claimed by compare-and-set) and keep a
	// store hiccup before the claim from stranding the run.
	if err := d.opts.Queue.EnqueueTx(ctx, tx, RunTask, r.ID, RunJob{RunID: r.ID}, 0); err != nil {
		return store.Run{}, err
	}
	return r, nil
}

// move transitions a task and runs then (e.g. queueRun) in the same
// transaction. ErrStale means someone else moved it first.
func (d *Dispatcher) move(ctx context.Context, t store.Task, to State, actor, reason, delivery string, then func(tx *store.Tx, t store.Task) error) error {
	from := State(t.State)
	if err := checkMove(from, to); err != nil {
		return err
	}
	return d.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.TransitionTask(ctx, t.ID, string(from), string(to), to.Active(), store.TaskEvent{
			At: d.now(), Actor: actor, Reason: reason, DeliveryID: delivery,
		}); err != nil {
			return err
		}
		t.State = string(to)
		if then != nil {
			return then(tx, t)
		}
		return nil
	})
}

// approve approves the task's latest plan, if planID names it.
func (d *Dispatcher) approve(ctx context.Context, client *github.Client, c Comment, planID string) error {
	repo, who := c.Origin.Repo, c.Author
	t, err := d.taskFor(ctx, repo, c.Number, c.IsPullRequest)
	if errors.Is(err, store.ErrNotFound) {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s there is no agent task here, so no plan to approve.", who))
	}
	if err != nil {
		return err
	}
	if State(t.State) != AwaitingApproval {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s there is no plan waiting for approval: %s", who, d.statusLine(ctx, t)))
	}
	if !strings.EqualFold(planID, t.PlanID) {
		if _, err := d.store.GetPlan(ctx, t.ID, planID); err == nil {
			return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s plan `%s` is stale: the agent has written a newer plan, `%s`. Read it and approve that one with `/agent approve %s`.", who, planID, t.PlanID, t.PlanID))
		}
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s this task has no plan `%s`. The plan waiting for approval is `%s`.", who, planID, t.PlanID))
	}
	plan, err := d.store.GetPlan(ctx, t.ID, t.PlanID)
	if err != nil {
		return err
	}
	err = d.move(ctx, t, Implementing, who, fmt.Sprintf("approved plan %s (sha256 %s)", plan.ID, plan.SHA256), c.Origin.DeliveryID, func(tx *store.Tx, t store.Task) error {
		if err := tx.ApprovePlan(ctx, t.ID, plan.ID, plan.SHA256, who, d.now()); err != nil {
			return err
		}
		id := plan.ID
		if err := tx.SetTaskFields(ctx, t.ID, store.TaskUpdate{ApprovedPlanID: &id}, d.now()); err != nil {
			return err
		}
		_, err := d.queueRun(ctx, tx, t, KindImplement, who, "")
		return err
	})
	if errors.Is(err, errRunLimit) {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s %v.", who, err))
	}
	if errors.Is(err, store.ErrStale) {
		t, _ = d.store.GetTask(ctx, t.ID)
		return d.reply(ctx, client, repo, c.Number, d.statusLine(ctx, t))
	}
	if err != nil {
		return err
	}
	return d.sync(ctx, t.ID)
}

// replan asks the agent for a new plan; the old one can no longer be approved.
func (d *Dispatcher) replan(ctx context.Context, client *github.Client, c Comment, t store.Task) error {
	err := d.move(ctx, t, Planning, c.Author, "asked for a new plan", c.Origin.DeliveryID, func(tx *store.Tx, t store.Task) error {
		_, err := d.queueRun(ctx, tx, t, KindPlan, c.Author, "")
		return err
	})
	if errors.Is(err, errRunLimit) {
		return d.reply(ctx, client, c.Origin.Repo, c.Number, fmt.Sprintf("@%s %v.", c.Author, err))
	}
	if err != nil {
		return err
	}
	return d.sync(ctx, t.ID)
}

// revise starts a revision of the task's pull request.
func (d *Dispatcher) revise(ctx context.Context, client *github.Client, c Comment, instructions, reviewComments string) error {
	repo, who := c.Origin.Repo, c.Author
	t, err := d.taskFor(ctx, repo, c.Number, c.IsPullRequest)
	if errors.Is(err, store.ErrNotFound) {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s there is no agent task here to revise.", who))
	}
	if err != nil {
		return err
	}
	if State(t.State) != PROpen {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s I can revise only an open agent pull request: %s", who, d.statusLine(ctx, t)))
	}
	text := strings.TrimSpace(instructions)
	if reviewComments != "" {
		text += "\n\n## Review comments\n\n" + reviewComments
	}
	if strings.TrimSpace(text) == "" {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s say what to change: `/agent revise <instructions>`.", who))
	}
	err = d.move(ctx, t, Revising, who, "asked for a revision", c.Origin.DeliveryID, func(tx *store.Tx, t store.Task) error {
		_, err := d.queueRun(ctx, tx, t, KindRevise, who, text)
		return err
	})
	if errors.Is(err, errRunLimit) {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s %v.", who, err))
	}
	if err != nil {
		return err
	}
	return d.sync(ctx, t.ID)
}

// retry runs a failed task's last run again.
func (d *Dispatcher) retry(ctx context.Context, client *github.Client, c Comment) error {
	repo, who := c.Origin.Repo, c.Author
	t, err := d.taskFor(ctx, repo, c.Number, c.IsPullRequest)
	if errors.Is(err, store.ErrNotFound) {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s there is no agent task here to retry.", who))
	}
	if err != nil {
		return err
	}
	if State(t.State) != Failed {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s only a failed task can be retried: %s", who, d.statusLine(ctx, t)))
	}
	runs, err := d.store.RunsOfTask(ctx, t.ID)
	if err != nil {
		return err
	}
	kind, instructions := KindPlan, ""
	if t.Quick {
		kind = KindImplement
	}
	if len(runs) > 0 {
		last := runs[len(runs)-1]
		kind, instructions = last.Kind, last.Instructions
	}
	to := map[string]State{KindPlan: Planning, KindImplement: Implementing, KindRevise: Revising}[kind]
	err = d.move(ctx, t, to, who, "retried the "+kind+" run", c.Origin.DeliveryID, func(tx *store.Tx, t store.Task) error {
		_, err := d.queueRun(ctx, tx, t, kind, who, instructions)
		return err
	})
	switch {
	case errors.Is(err, errRunLimit):
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s %v.", who, err))
	case errors.Is(err, store.ErrStale):
		t, _ = d.store.GetTask(ctx, t.ID)
		return d.reply(ctx, client, repo, c.Number, d.statusLine(ctx, t))
	case err != nil && isUniqueViolation(err):
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s this issue has a newer active task; retry is for the latest one.", who))
	case err != nil:
		return err
	}
	return d.sync(ctx, t.ID)
}

// cancel stops a task; a running agent is killed within a heartbeat.
func (d *Dispatcher) cancel(ctx context.Context, client *github.Client, c Comment) error {
	repo, who := c.Origin.Repo, c.Author
	t, err := d.taskFor(ctx, repo, c.Number, c.IsPullRequest)
	if errors.Is(err, store.ErrNotFound) {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s there is no agent task here to cancel.", who))
	}
	if err != nil {
		return err
	}
	if !State(t.State).Active() {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s there is nothing to cancel: %s", who, d.statusLine(ctx, t)))
	}
	reason := "cancelled by @" + who
	err = d.move(ctx, t, Cancelled, who, reason, c.Origin.DeliveryID, func(tx *store.Tx, t store.Task) error {
		return stopRuns(ctx, tx, t.ID, reason, d.now())
	})
	if errors.Is(err, store.ErrStale) {
		t, _ = d.store.GetTask(ctx, t.ID)
		return d.reply(ctx, client, repo, c.Number, d.statusLine(ctx, t))
	}
	if err != nil {
		return err
	}
	if t.PullNumber == 0 {
		d.deleteBranch(ctx, client, t)
	}
	return d.sync(ctx, t.ID)
}

// stopRuns cancels a task's queued and running runs, in tx; a running
// agent is killed at its worker's next heartbeat.
func stopRuns(ctx context.Context, tx *store.Tx, taskID, reason string, now time.Time) error {
	runs, err := tx.RunsOfTask(ctx, taskID)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.State != RunQueued && r.State != RunRunning {
			continue
		}
		err := tx.FinishRun(ctx, r.ID, store.RunUpdate{State: RunCancelled, Error: reason, FinishedAt: now}, RunQueued, RunRunning)
		if err != nil && !errors.Is(err, store.ErrStale) {
			return err
		}
	}
	return nil
}

// isUniqueViolation recognises both databases' unique-constraint errors.
func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505")
}

// statusLine says where a task is, with a link to its page.
func (d *Dispatcher) statusLine(ctx context.Context, t store.Task) string {
	s := fmt.Sprintf("Task `%s` for #%d is %s.", t.ID, t.IssueNumber, State(t.State).Describe())
	switch State(t.State) {
	case AwaitingApproval:
		s += fmt.Sprintf(" Approve plan `%s` with `/agent approve %s`, or ask for a new one with `/agent plan`.", t.PlanID, t.PlanID)
	case PROpen, Revising:
		s += fmt.Sprintf(" Pull request: #%d.", t.PullNumber)
	case Failed:
		if t.Reason != "" {
			s += " Reason: " + quote(t.Reason) + "."
		}
		s += " Comment `/agent retry` to try again."
	}
	if d.opts.Links != nil {
		s += " [Details](" + d.opts.Links.Task(t.ID) + ")"
	}
	return s
}

// reply comments on an issue or pull request.
func (d *Dispatcher) reply(ctx context.Context, client *github.Client, repo Repo, number int, body string) error {
	owner, name := repo.split()
	if _, _, err := client.Issues.CreateComment(ctx, owner, name, number, &github.IssueComment{Body: github.Ptr(body)}); err != nil {
		return fmt.Errorf("comment on %s#%d: %w", repo.FullName, number, err)
	}
	return nil
}

// deleteBranch removes a task's branch; it may never have been pushed.
func (d *Dispatcher) deleteBranch(ctx context.Context, client *github.Client, t store.Task) {
	owner, name, _ := strings.Cut(t.Repository, "/")
	_, err := client.Git.DeleteRef(ctx, owner, name, "heads/"+t.Branch)
	if err != nil && !isNotFound(err) && !isUnprocessable(err) {
		d.log.WarnContext(ctx, "could not delete a task branch", "task", t.ID, "branch", t.Branch, "err", err)
	}
}

// reviewComments lists a review's inline comments as text for the agent.
func (d *Dispatcher) reviewComments(ctx context.Context, client *github.Client, repo Repo, number int, reviewID int64) (string, error) {
	owner, name := repo.split()
	var sb strings.Builder
	opts := &github.ListOptions{PerPage: 100}
	for {
		cs, resp, err := client.PullRequests.ListReviewComments(ctx, owner, name, number, reviewID, opts)
		if err != nil {
			return "", fmt.Errorf("comments of review %d on %s#%d: %w", reviewID, repo.FullName, number, err)
		}
		for _, c := range cs {
			fmt.Fprintf(&sb, "- %s:%d (@%s): %s\n", c.GetPath(), c.GetLine(), c.GetUser().GetLogin(), c.GetBody())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return sb.String(), nil
}
