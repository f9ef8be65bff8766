package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrStale is returned when a compare-and-set update found the row changed
// by someone else (another replica, a concurrent command).
var ErrStale = errors.New("changed concurrently")

// Task is an issue handed to an agent (see package dispatch for the states).
type Task struct {
	ID              string
	InstallationID  int64
	Repository      string // owner/name
	RepositoryID    int64
	IssueNumber     int
	IssueTitle      string
	IssueBody       string // snapshot when the task started
	IssueAuthor     string
	State           string
	Active          bool
	Quick           bool
	Requester       string
	RequesterID     int64
	TriggerKind     string // label | command
	TriggerDelivery string
	Agent           string
	Runner          string
	Branch          string
	PullNumber      int
	PlanID          string
	ApprovedPlanID  string
	StatusCommentID int64
	Reason          string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TaskEvent is one transition of a task: the audit trail.
type TaskEvent struct {
	TaskID     string
	Seq        int
	At         time.Time
	Actor      string
	FromState  string
	ToState    string
	Reason     string
	DeliveryID string
}

// Plan is a plan an agent wrote for a task, and who approved it.
type Plan struct {
	TaskID     string
	ID         string
	SHA256     string
	Body       string
	Paths      []string
	Acceptance []string
	RunID      string
	CommentID  int64
	CreatedAt  time.Time
	ApprovedBy string
	ApprovedAt time.Time
}

// Run is one execution of the agent for a task.
type Run struct {
	ID           string
	TaskID       string
	Seq          int
	Kind         string // plan | implement | revise
	State        string // queued | running | succeeded | failed | interrupted | cancelled
	Runner       string
	Agent        string
	AgentVersion string
	Model        string
	RequestedBy  string
	Instructions string
	PromptSHA256 string
	BaseSHA      string
	HeadSHA      string
	ExitCode     int
	Error        string
	InputTokens  int64
	OutputTokens int64
	CostMicroUSD int64
	TokenSHA256  string
	Log          string
	Owner        string
	HeartbeatAt  time.Time
	Deadline     time.Time
	CreatedAt    time.Time
	StartedAt    time.Time
	FinishedAt   time.Time
}

const taskColumns = `id, installation_id, repository, repository_id, issue_number, issue_title, issue_body, issue_author, state, active, quick,
	requester, requester_id, trigger_kind, trigger_delivery, agent, runner, branch, pull_number, plan_id,
	approved_plan_id, status_comment_id, reason, created_at, updated_at`

// InsertTask records a new active task and its first event, unless the
// issue already has an active task: then it returns inserted == false and
// writes nothing. Run it in a transaction.
func (q Queries) InsertTask(ctx context.Context, t Task, ev TaskEvent) (inserted bool, err error) {
	n, err := q.q.exec(ctx, `INSERT INTO tasks (`+taskColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		t.ID, t.InstallationID, t.Repository, t.RepositoryID, t.IssueNumber, t.IssueTitle, t.IssueBody, t.IssueAuthor, t.State, boolInt(t.Quick),
		t.Requester, t.RequesterID, t.TriggerKind, t.TriggerDelivery, t.Agent, t.Runner, t.Branch, t.PullNumber, t.PlanID,
		t.ApprovedPlanID, t.StatusCommentID, t.Reason, millis(t.CreatedAt), millis(t.UpdatedAt))
	if err != nil {
		return false, fmt.Errorf("insert task for %s#%d: %w", t.Repository, t.IssueNumber, err)
	}
	if n == 0 {
		return false, nil
	}
	ev.TaskID, ev.ToState = t.ID, t.State
	if err := q.insertTaskEvent(ctx, ev); err != nil {
		return false, err
	}
	return true, nil
}

// GetTask looks a task up by id.
func (q Queries) GetTask(ctx context.Context, id string) (Task, error) {
	t, err := scanTask(q.q.queryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = ?`, id))
	if err != nil {
		return Task{}, fmt.Errorf("task %s: %w", id, err)
	}
	return t, nil
}

// LatestTaskOfIssue is the issue's active task, or else its newest one.
func (q Queries) LatestTaskOfIssue(ctx context.Context, repository string, issue int) (Task, error) {
	t, err := scanTask(q.q.queryRow(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE repository = ? AND issue_number = ? ORDER BY active DESC, created_at DESC, id DESC LIMIT 1`, repository, issue))
	if err != nil {
		return Task{}, fmt.Errorf("task of %s#%d: %w", repository, issue, err)
	}
	return t, nil
}

// LatestTaskOfPull is the task whose pull request this is, newest first.
func (q Queries) LatestTaskOfPull(ctx context.Context, repository string, pull int) (Task, error) {
	if pull <= 0 {
		return Task{}, fmt.Errorf("task of %s#%d: %w", repository, pull, ErrNotFound)
	}
	t, err := scanTask(q.q.queryRow(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE repository = ? AND pull_number = ? ORDER BY active DESC, created_at DESC, id DESC LIMIT 1`, repository, pull))
	if err != nil {
		return Task{}, fmt.Errorf("task of pull request %s#%d: %w", repository, pull, err)
	}
	return t, nil
}

// ListTasks lists tasks, newest first: of one repository when repository
// is not "", active ones only when activeOnly.
func (q Queries) ListTasks(ctx context.Context, repository string, activeOnly bool, limit int) ([]Task, error) {
	query := `SELECT ` + taskColumns + ` FROM tasks WHERE (? = '' OR repository = ?) AND (? = 0 OR active = 1)
		ORDER BY created_at DESC, id DESC LIMIT ?`
	r, err := q.q.query(ctx, query, repository, repository, boolInt(activeOnly), limit)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	defer r.Close()
	var out []Task
	for r.Next() {
		t, err := scanTask(r)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		out = append(out, t)
	}
	return out, r.Err()
}

// TransitionTask moves a task from state from to state to, if it is still
// in from (else ErrStale), and records the event. active says whether the
// new state is unfinished. Run it in a transaction.
func (q Queries) TransitionTask(ctx context.Context, id, from, to string, active bool, ev TaskEvent) error {
	n, err := q.q.exec(ctx, `UPDATE tasks SET state = ?, active = ?, reason = ?, updated_at = ? WHERE id = ? AND state = ?`,
		to, boolInt(active), ev.Reason, millis(ev.At), id, from)
	if err != nil {
		return fmt.Errorf("task %s %s → %s: %w", id, from, to, err)
	}
	if n == 0 {
		return fmt.Errorf("task %s %s → %s: %w", id, from, to, ErrStale)
	}
	ev.TaskID, ev.FromState, ev.ToState = id, from, to
	return q.insertTaskEvent(ctx, ev)
}

func (q Queries) insertTaskEvent(ctx context.Context, ev TaskEvent) error {
	_, err := q.q.exec(ctx, `INSERT INTO task_events (task_id, seq, at, actor, from_state, to_state, reason, delivery_id)
		SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ?, ? FROM task_events WHERE task_id = ?`,
		ev.TaskID, millis(ev.At), ev.Actor, ev.FromState, ev.ToState, ev.Reason, ev.DeliveryID, ev.TaskID)
	if err != nil {
		return fmt.Errorf("record event of task %s: %w", ev.TaskID, err)
	}
	return nil
}

// TaskEvents lists a task's transitions, oldest first.
func (q Queries) TaskEvents(ctx context.Context, id string) ([]TaskEvent, error) {
	r, err := q.q.query(ctx, `SELECT task_id, seq, at, actor, from_state, to_state, reason, delivery_id
		FROM task_events WHERE task_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("events of task %s: %w", id, err)
	}
	defer r.Close()
	var out []TaskEvent
	for r.Next() {
		var ev TaskEvent
		var at int64
		if err := r.Scan(&ev.TaskID, &ev.Seq, &at, &ev.Actor, &ev.FromState, &ev.ToState, &ev.Reason, &ev.DeliveryID); err != nil {
			return nil, fmt.Errorf("events of task %s: %w", id, err)
		}
		ev.At = fromMillis(at)
		out = append(out, ev)
	}
	return out, r.Err()
}

// TaskUpdate names the task columns SetTaskFields may change; nil leaves a
// column as it is.
type TaskUpdate struct {
	PullNumber      *int
	PlanID          *string
	ApprovedPlanID  *string
	StatusCommentID *int64
	Agent           *string
	Runner          *string
}

// SetTaskFields changes some of a task's columns.
func (q Queries) SetTaskFields(ctx context.Context, id string, u TaskUpdate, now time.Time) error {
	set, args := "updated_at = ?", []any{millis(now)}
	add := func(col string, v any) { set += ", " + col + " = ?"; args = append(args, v) }
	if u.PullNumber != nil {
		add("pull_number", *u.PullNumber)
	}
	if u.PlanID != nil {
		add("plan_id", *u.PlanID)
	}
	if u.ApprovedPlanID != nil {
		add("approved_plan_id", *u.ApprovedPlanID)
	}
	if u.StatusCommentID != nil {
		add("status_comment_id", *u.StatusCommentID)
	}
	if u.Agent != nil {
		add("agent", *u.Agent)
	}
	if u.Runner != nil {
		add("runner", *u.Runner)
	}
	n, err := q.q.exec(ctx, `UPDATE tasks SET `+set+` WHERE id = ?`, append(args, id)...)
	if err != nil {
		return fmt.Errorf("update task %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("update task %s: %w", id, ErrNotFound)
	}
	return nil
}

func scanTask(r row) (Task, error) {
	var (
		t                Task
		active, quick    int
		created, updated int64
	)
	if err := r.Scan(&t.ID, &t.InstallationID, &t.Repository, &t.RepositoryID, &t.IssueNumber, &t.IssueTitle, &t.IssueBody, &t.IssueAuthor, &t.State,
		&active, &quick, &t.Requester, &t.RequesterID, &t.TriggerKind, &t.TriggerDelivery, &t.Agent, &t.Runner, &t.Branch,
		&t.PullNumber, &t.PlanID, &t.ApprovedPlanID, &t.StatusCommentID, &t.Reason, &created, &updated); err != nil {
		return Task{}, err
	}
	t.Active, t.Quick = active != 0, quick != 0
	t.CreatedAt, t.UpdatedAt = fromMillis(created), fromMillis(updated)
	return t, nil
}

// --- plans ---

// ErrPlanIDCollision is returned when a task already has a different plan
// under the same short id: approving by that id would be ambiguous.
var ErrPlanIDCollision = errors.New("another plan of the task has the same id")

// InsertPlan records a plan; the same plan (same digest, so same id) for
// the same task again is not an error and changes nothing.
func (q Queries) InsertPlan(ctx context.Context, p Plan) error {
	var existing string
	switch err := q.q.queryRow(ctx, `SELECT sha256 FROM plans WHERE task_id = ? AND id = ?`, p.TaskID, p.ID).Scan(&existing); {
	case err == nil && existing != p.SHA256:
		return fmt.Errorf("record plan %s of task %s: %w", p.ID, p.TaskID, ErrPlanIDCollision)
	case err != nil && !errors.Is(err, ErrNotFound):
		return fmt.Errorf("record plan %s of task %s: %w", p.ID, p.TaskID, err)
	}
	paths, _ := json.Marshal(nonNil(p.Paths))
	acceptance, _ := json.Marshal(nonNil(p.Acceptance))
	_, err := q.q.exec(ctx, `INSERT INTO plans (task_id, id, sha256, body, paths, acceptance, run_id, comment_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		p.TaskID, p.ID, p.SHA256, p.Body, string(paths), string(acceptance), p.RunID, p.CommentID, millis(p.CreatedAt))
	if err != nil {
		return fmt.Errorf("record plan %s of task %s: %w", p.ID, p.TaskID, err)
	}
	return nil
}

// SetPlanComment remembers the issue comment that shows a plan.
func (q Queries) SetPlanComment(ctx context.Context, taskID, planID string, commentID int64) error {
	_, err := q.q.exec(ctx, `UPDATE plans SET comment_id = ? WHERE task_id = ? AND id = ?`, commentID, taskID, planID)
	if err != nil {
		return fmt.Errorf("plan %s comment: %w", planID, err)
	}
	return nil
}

// ApprovePlan records who approved a plan. The plan must exist and have
// the digest sha256 (an approval binds to the exact text).
func (q Queries) ApprovePlan(ctx context.Context, taskID, planID, sha256, by string, at time.Time) error {
	n, err := q.q.exec(ctx, `UPDATE plans SET approved_by = ?, approved_at = ? WHERE task_id = ? AND id = ? AND sha256 = ?`,
		by, millis(at), taskID, planID, sha256)
	if err != nil {
		return fmt.Errorf("approve plan %s: %w", planID, err)
	}
	if n == 0 {
		return fmt.Errorf("approve plan %s: %w", planID, ErrNotFound)
	}
	return nil
}

// GetPlan looks up one plan of a task.
func (q Queries) GetPlan(ctx context.Context, taskID, planID string) (Plan, error) {
	var (
		p                 Plan
		paths, acceptance string
		created, approved int64
	)
	err := q.q.queryRow(ctx, `SELECT task_id, id, sha256, body, paths, acceptance, run_id, comment_id, created_at, approved_by, approved_at
		FROM plans WHERE task_id = ? AND id = ?`, taskID, planID).Scan(
		&p.TaskID, &p.ID, &p.SHA256, &p.Body, &paths, &acceptance, &p.RunID, &p.CommentID, &created, &p.ApprovedBy, &approved)
	if err != nil {
		return Plan{}, fmt.Errorf("plan %s of task %s: %w", planID, taskID, err)
	}
	if err := json.Unmarshal([]byte(paths), &p.Paths); err != nil {
		return Plan{}, fmt.Errorf("plan %s paths: %w", planID, err)
	}
	if err := json.Unmarshal([]byte(acceptance), &p.Acceptance); err != nil {
		return Plan{}, fmt.Errorf("plan %s acceptance: %w", planID, err)
	}
	p.CreatedAt, p.ApprovedAt = fromMillis(created), fromMillis(approved)
	return p, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// --- runs ---

const runColumns = `id, task_id, seq, kind, state, runner, agent, agent_version, model, requested_by, instructions,
	prompt_sha256, base_sha, head_sha, exit_code, error, input_tokens, output_tokens, cost_micro_usd, token_sha256,
	log, owner, heartbeat_at, deadline, created_at, started_at, finished_at`

// InsertRun records a queued run; its Seq is the next in the task.
func (q Queries) InsertRun(ctx context.Context, r Run) (Run, error) {
	err := q.q.queryRow(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM runs WHERE task_id = ?`, r.TaskID).Scan(&r.Seq)
	if err != nil {
		return Run{}, fmt.Errorf("number run of task %s: %w", r.TaskID, err)
	}
	_, err = q.q.exec(ctx, `INSERT INTO runs (`+runColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.TaskID, r.Seq, r.Kind, r.State, r.Runner, r.Agent, r.AgentVersion, r.Model, r.RequestedBy, r.Instructions,
		r.PromptSHA256, r.BaseSHA, r.HeadSHA, r.ExitCode, r.Error, r.InputTokens, r.OutputTokens, r.CostMicroUSD, r.TokenSHA256,
		r.Log, r.Owner, millis(r.HeartbeatAt), millis(r.Deadline), millis(r.CreatedAt), millis(r.StartedAt), millis(r.FinishedAt))
	if err != nil {
		return Run{}, fmt.Errorf("record run of task %s: %w", r.TaskID, err)
	}
	return r, nil
}

// GetRun looks a run up by id.
func (q Queries) GetRun(ctx context.Context, id string) (Run, error) {
	r, err := scanRun(q.q.queryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if err != nil {
		return Run{}, fmt.Errorf("run %s: %w", id, err)
	}
	return r, nil
}

// RunByToken finds the run a one-time task token (its sha256) was issued for.
func (q Queries) RunByToken(ctx context.Context, tokenSHA256 string) (Run, error) {
	if tokenSHA256 == "" {
		return Run{}, fmt.Errorf("run by token: %w", ErrNotFound)
	}
	r, err := scanRun(q.q.queryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE token_sha256 = ?`, tokenSHA256))
	if err != nil {
		return Run{}, fmt.Errorf("run by token: %w", err)
	}
	return r, nil
}

// RunsOfTask lists a task's runs in order.
func (q Queries) RunsOfTask(ctx context.Context, taskID string) ([]Run, error) {
	return q.listRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE task_id = ? ORDER BY seq`, taskID)
}

// StaleRuns lists runs still marked running whose heartbeat is older than
// before: their process died with its replica. Runs of the actions runner
// execute elsewhere and send no heartbeat; their deadline bounds them.
func (q Queries) StaleRuns(ctx context.Context, before time.Time) ([]Run, error) {
	return q.listRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE state = 'running' AND runner <> 'actions' AND heartbeat_at < ? ORDER BY created_at`, millis(before))
}

// QueuedBefore lists runs still queued that were created before t: runs
// whose job died before claiming them.
func (q Queries) QueuedBefore(ctx context.Context, t time.Time) ([]Run, error) {
	return q.listRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE state = 'queued' AND created_at < ? ORDER BY created_at`, millis(t))
}

// OverdueRuns lists runs still marked running past their deadline.
func (q Queries) OverdueRuns(ctx context.Context, now time.Time) ([]Run, error) {
	return q.listRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE state = 'running' AND deadline > 0 AND deadline < ? ORDER BY created_at`, millis(now))
}

func (q Queries) listRuns(ctx context.Context, query string, args ...any) ([]Run, error) {
	rs, err := q.q.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rs.Close()
	var out []Run
	for rs.Next() {
		r, err := scanRun(rs)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// RunningInRepository counts runs queued or running for a repository's
// tasks, for the per-repository concurrency limit (exclude is the asking run).
func (q Queries) RunningInRepository(ctx context.Context, repository, exclude string) (int, error) {
	var n int
	err := q.q.queryRow(ctx, `SELECT COUNT(*) FROM runs JOIN tasks ON tasks.id = runs.task_id
		WHERE tasks.repository = ? AND runs.state = 'running' AND runs.id <> ?`, repository, exclude).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count runs in %s: %w", repository, err)
	}
	return n, nil
}

// ClaimRun marks a queued run running for owner, if it is still queued.
// claimed is false when another worker has it or it was finished.
func (q Queries) ClaimRun(ctx context.Context, id, owner string, now, deadline time.Time) (claimed bool, err error) {
	n, err := q.q.exec(ctx, `UPDATE runs SET state = 'running', owner = ?, started_at = ?, heartbeat_at = ?, deadline = ?
		WHERE id = ? AND state = 'queued'`, owner, millis(now), millis(now), millis(deadline), id)
	if err != nil {
		return false, fmt.Errorf("claim run %s: %w", id, err)
	}
	return n == 1, nil
}

// HeartbeatRun says the run's process is alive. It returns the run's
// current state, so the worker learns of a cancellation or interruption.
func (q Queries) HeartbeatRun(ctx context.Context, id, owner string, now time.Time) (state string, err error) {
	if _, err := q.q.exec(ctx, `UPDATE runs SET heartbeat_at = ? WHERE id = ? AND owner = ? AND state = 'running'`,
		millis(now), id, owner); err != nil {
		return "", fmt.Errorf("heartbeat run %s: %w", id, err)
	}
	if err := q.q.queryRow(ctx, `SELECT state FROM runs WHERE id = ?`, id).Scan(&state); err != nil {
		return "", fmt.Errorf("heartbeat run %s: %w", id, err)
	}
	return state, nil
}

// RunUpdate is what a run reports when it ends (or learns something on the way).
type RunUpdate struct {
	State        string // "" keeps the state
	Agent        string
	AgentVersion string
	Model        string
	PromptSHA256 string
	BaseSHA      string
	HeadSHA      string
	ExitCode     int
	Error        string
	InputTokens  int64
	OutputTokens int64
	CostMicroUSD int64
	Log          *string
	FinishedAt   time.Time
}

// FinishRun records how a run ended, if it is in one of states (else ErrStale).
func (q Queries) FinishRun(ctx context.Context, id string, u RunUpdate, states ...string) error {
	query := `UPDATE runs SET state = CASE WHEN ? = '' THEN state ELSE ? END,
		agent = CASE WHEN ? = '' THEN agent ELSE ? END, agent_version = CASE WHEN ? = '' THEN agent_version ELSE ? END,
		model = CASE WHEN ? = '' THEN model ELSE ? END, prompt_sha256 = CASE WHEN ? = '' THEN prompt_sha256 ELSE ? END,
		base_sha = CASE WHEN ? = '' THEN base_sha ELSE ? END, head_sha = CASE WHEN ? = '' THEN head_sha ELSE ? END,
		exit_code = ?, error = CASE WHEN ? = '' THEN error ELSE ? END, input_tokens = ?, output_tokens = ?, cost_micro_usd = ?,
		log = CASE WHEN ? = 1 THEN ? ELSE log END, finished_at = ?
		WHERE id = ?`
	logSet, logText := 0, ""
	if u.Log != nil {
		logSet, logText = 1, *u.Log
	}
	args := []any{u.State, u.State, u.Agent, u.Agent, u.AgentVersion, u.AgentVersion, u.Model, u.Model,
		u.PromptSHA256, u.PromptSHA256, u.BaseSHA, u.BaseSHA, u.HeadSHA, u.HeadSHA,
		u.ExitCode, u.Error, u.Error, u.InputTokens, u.OutputTokens, u.CostMicroUSD, logSet, logText, millis(u.FinishedAt), id}
	if len(states) > 0 {
		query += ` AND state IN (?` + repeatPlaceholder(len(states)-1) + `)`
		for _, s := range states {
			args = append(args, s)
		}
	}
	n, err := q.q.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("finish run %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("finish run %s: %w", id, ErrStale)
	}
	return nil
}

// SetRunToken stores the hash of a run's one-time task token.
func (q Queries) SetRunToken(ctx context.Context, id, tokenSHA256 string) error {
	if _, err := q.q.exec(ctx, `UPDATE runs SET token_sha256 = ? WHERE id = ?`, tokenSHA256, id); err != nil {
		return fmt.Errorf("run %s token: %w", id, err)
	}
	return nil
}

func repeatPlaceholder(n int) string {
	s := ""
	for range n {
		s += ", ?"
	}
	return s
}

func scanRun(r row) (Run, error) {
	var (
		run                                             Run
		heartbeat, deadline, created, started, finished int64
	)
	if err := r.Scan(&run.ID, &run.TaskID, &run.Seq, &run.Kind, &run.State, &run.Runner, &run.Agent, &run.AgentVersion,
		&run.Model, &run.RequestedBy, &run.Instructions, &run.PromptSHA256, &run.BaseSHA, &run.HeadSHA, &run.ExitCode,
		&run.Error, &run.InputTokens, &run.OutputTokens, &run.CostMicroUSD, &run.TokenSHA256, &run.Log, &run.Owner,
		&heartbeat, &deadline, &created, &started, &finished); err != nil {
		return Run{}, err
	}
	run.HeartbeatAt, run.Deadline = fromMillis(heartbeat), fromMillis(deadline)
	run.CreatedAt, run.StartedAt, run.FinishedAt = fromMillis(created), fromMillis(started), fromMillis(finished)
	return run, nil
}

// SetRunPrompt records the digest of what a run's agent was given.
func (q Queries) SetRunPrompt(ctx context.Context, id, promptSHA256 string) error {
	if _, err := q.q.exec(ctx, `UPDATE runs SET prompt_sha256 = ? WHERE id = ?`, promptSHA256, id); err != nil {
		return fmt.Errorf("run %s prompt: %w", id, err)
	}
	return nil
}

// ConsumeRunToken spends a run's one-time token: it reports whether
// tokenSHA256 was the run's token, and clears it so it never works again.
func (q Queries) ConsumeRunToken(ctx context.Context, id, tokenSHA256 string) (bool, error) {
	if tokenSHA256 == "" {
		return false, nil
	}
	n, err := q.q.exec(ctx, `UPDATE runs SET token_sha256 = '' WHERE id = ? AND token_sha256 = ? AND state = 'running'`, id, tokenSHA256)
	if err != nil {
		return false, fmt.Errorf("run %s token: %w", id, err)
	}
	return n == 1, nil
}
