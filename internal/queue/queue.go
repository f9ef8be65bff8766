// Package queue is agentgate's durable job queue: River, on the same
// database as the store, so a webhook delivery and its jobs are committed in
// one transaction. Jobs survive restarts and crashes (a job left running by a
// killed process is rescued and retried), retry with exponential backoff and
// jitter, wait out GitHub rate limits without spending attempts, and end as
// dead (River's discarded or cancelled states) after MaxAttempts or a
// permanent error. On PostgreSQL several replicas share the queue safely;
// River elects one leader, which alone schedules periodic jobs such as the
// reconciler.
//
// River was chosen over a hand-written queue because it already solves
// SKIP LOCKED fetching, stuck-job rescue, leader election, periodic jobs and
// transactional enqueue, for both PostgreSQL and SQLite, and is well kept.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/agentgate/agentgate/internal/ghapp"
	"github.com/agentgate/agentgate/internal/metrics"
	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/store"
)

// Options tune the queue (see config.Queue for meanings).
type Options struct {
	Workers      int
	MaxAttempts  int
	BackoffBase  time.Duration
	BackoffMax   time.Duration
	JobTimeout   time.Duration
	RescueAfter  time.Duration
	PollInterval time.Duration
	// Periodic jobs run on the leader replica only.
	Periodic []Periodic
	// Tasks are named jobs that handlers enqueue (EnqueueDebounced), e.g.
	// the gate's evaluation of one pull request head.
	Tasks []Task
}

// Task is a named job kind with a JSON payload. Run must be idempotent.
type Task struct {
	Name string
	Run  func(ctx context.Context, payload json.RawMessage) error
	// Timeout bounds one attempt; 0 means the queue's job timeout. A task
	// that runs longer than the queue's rescue_after must guard itself
	// against a second, rescued copy (dispatch claims its run by
	// compare-and-set).
	Timeout time.Duration
}

// Wait asks the queue to run the task again after d without counting an
// attempt (e.g. while a concurrency limit is reached).
func Wait(d time.Duration) error { return &waitError{d} }

type waitError struct{ d time.Duration }

func (e *waitError) Error() string { return fmt.Sprintf("waiting %s", e.d) }

// TaskArgs is one queued task. Name and Key make it unique while it waits
// or runs, which is how bursts are debounced.
type TaskArgs struct {
	Name    string          `json:"name" river:"unique"`
	Key     string          `json:"key" river:"unique"`
	Payload json.RawMessage `json:"payload"`
}

// Kind is the River job kind for tasks.
func (TaskArgs) Kind() string { return "task" }

// Periodic is a job the leader enqueues every Interval. At most one instance
// is queued or running at a time.
type Periodic struct {
	Name     string
	Interval time.Duration
	Run      func(ctx context.Context) error
}

// EventArgs is one handler's share of one webhook delivery. The payload is
// read from the deliveries table, not copied into the job.
type EventArgs struct {
	DeliveryID string `json:"delivery_id"`
	Handler    string `json:"handler"`
}

// Kind is the River job kind for webhook event jobs.
func (EventArgs) Kind() string { return "webhook_event" }

// PeriodicArgs names a periodic job.
type PeriodicArgs struct {
	Name string `json:"name"`
}

// Kind is the River job kind for periodic jobs.
func (PeriodicArgs) Kind() string { return "periodic" }

// Queue enqueues and works jobs.
type Queue struct {
	start    func(context.Context) error
	stop     func(context.Context) error
	insertTx func(ctx context.Context, tx *store.Tx, params []river.InsertManyParams) error
	insert   func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (skipped bool, err error)
	now      func() time.Time
}

// New builds a queue over st's database. Jobs for webhook events are handed
// to router's handlers.
func New(st *store.Store, router *webhook.Router, opts Options, m *metrics.Metrics, log *slog.Logger) (*Queue, error) {
	if opts.RescueAfter < opts.JobTimeout {
		return nil, fmt.Errorf("queue: rescue_after (%s) must not be shorter than job_timeout (%s)", opts.RescueAfter, opts.JobTimeout)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &eventWorker{store: st, router: router, metrics: m, log: log, now: time.Now})
	periodic := map[string]Periodic{}
	var periodicJobs []*river.PeriodicJob
	for _, p := range opts.Periodic {
		periodic[p.Name] = p
		name := p.Name
		periodicJobs = append(periodicJobs, river.NewPeriodicJob(
			river.PeriodicInterval(p.Interval),
			func() (river.JobArgs, *river.InsertOpts) {
				return PeriodicArgs{Name: name}, &river.InsertOpts{
					MaxAttempts: 1, // the next tick is the retry
					UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
						rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
						rivertype.JobStateRetryable, rivertype.JobStateScheduled,
					}},
				}
			},
			&river.PeriodicJobOpts{ID: name, RunOnStart: true},
		))
	}
	river.AddWorker(workers, &periodicWorker{jobs: periodic, metrics: m, log: log})
	tasks := map[string]Task{}
	for _, t := range opts.Tasks {
		tasks[t.Name] = t
	}
	river.AddWorker(workers, &taskWorker{tasks: tasks, metrics: m, log: log, now: time.Now})

	cfg := &river.Config{
		Logger:               log.With("component", "queue"),
		Workers:              workers,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}},
		MaxAttempts:          opts.MaxAttempts,
		RetryPolicy:          &Backoff{Base: opts.BackoffBase, Max: opts.BackoffMax},
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: opts.RescueAfter,
		FetchPollInterval:    opts.PollInterval,
		// River fetches at most once per cooldown, so a replica finishes at
		// most Workers jobs per cooldown: 50 workers / 20 ms = 2,500 jobs/s.
		FetchCooldown: min(opts.PollInterval, 20*time.Millisecond),
		PeriodicJobs:  periodicJobs,
		// Completed jobs are history the deliveries table already keeps.
		CompletedJobRetentionPeriod: 24 * time.Hour,
		// Dead jobs stay long enough to be inspected and requeued.
		DiscardedJobRetentionPeriod: 30 * 24 * time.Hour,
		CancelledJobRetentionPeriod: 30 * 24 * time.Hour,
	}
	q := &Queue{now: time.Now}
	switch st.Dialect() {
	case store.SQLite:
		cfg.PollOnly = true // SQLite has no LISTEN/NOTIFY
		client, err := river.NewClient(riversqlite.New(st.SQLDB()), cfg)
		if err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		q.start, q.stop = client.Start, client.Stop
		q.insertTx = func(ctx context.Context, tx *store.Tx, params []river.InsertManyParams) error {
			_, err := client.InsertManyTx(ctx, tx.SQLTx(), params)
			return err
		}
		q.insert = func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (bool, error) {
			res, err := client.Insert(ctx, args, opts)
			return err == nil && res.UniqueSkippedAsDuplicate, err
		}
	case store.Postgres:
		client, err := river.NewClient(riverpgxv5.New(st.PgxPool()), cfg)
		if err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		q.start, q.stop = client.Start, client.Stop
		q.insertTx = func(ctx context.Context, tx *store.Tx, params []river.InsertManyParams) error {
			_, err := client.InsertManyTx(ctx, tx.PgxTx(), params)
			return err
		}
		q.insert = func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (bool, error) {
			res, err := client.Insert(ctx, args, opts)
			return err == nil && res.UniqueSkippedAsDuplicate, err
		}
	default:
		return nil, fmt.Errorf("queue: unsupported store dialect %q", st.Dialect())
	}
	return q, nil
}

// Start begins working jobs (and, on the leader, scheduling periodic ones).
func (q *Queue) Start(ctx context.Context) error {
	if err := q.start(ctx); err != nil {
		return fmt.Errorf("start queue: %w", err)
	}
	return nil
}

// Stop waits for running jobs to finish or ctx to end. Jobs cut short are
// rescued and retried later, by this or another replica.
func (q *Queue) Stop(ctx context.Context) error {
	if err := q.stop(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stop queue: %w", err)
	}
	return nil
}

// EnqueueEventsTx adds one job per handler for a delivery, inside tx, so the
// jobs exist exactly when the delivery row does.
func (q *Queue) EnqueueEventsTx(ctx context.Context, tx *store.Tx, deliveryID string, handlers []string) error {
	params := make([]river.InsertManyParams, 0, len(handlers))
	for _, h := range handlers {
		params = append(params, river.InsertManyParams{Args: EventArgs{DeliveryID: deliveryID, Handler: h}})
	}
	if err := q.insertTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue %d jobs for delivery %s: %w", len(handlers), deliveryID, err)
	}
	return nil
}

// EnqueueDebounced queues task name for key to run at the end of the
// current debounce window. Every call for the same name and key within one
// window collapses into one job, which starts only after the window closed,
// so it sees everything that happened in it: a burst of 20 webhooks about
// one pull request head gives one evaluation. It reports whether the call
// was collapsed into an existing job.
func (q *Queue) EnqueueDebounced(ctx context.Context, name, key string, payload any, window time.Duration) (collapsed bool, err error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return false, fmt.Errorf("encode %s task payload: %w", name, err)
	}
	bucket := q.now().Truncate(window)
	args := TaskArgs{Name: name, Key: fmt.Sprintf("%s@%d", key, bucket.UnixMilli()), Payload: raw}
	collapsed, err = q.insert(ctx, args, &river.InsertOpts{
		ScheduledAt: bucket.Add(window),
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	})
	if err != nil {
		return false, fmt.Errorf("enqueue %s task %s: %w", name, key, err)
	}
	return collapsed, nil
}

// Enqueue queues task name once per key: a second call with the same name
// and key while the first job exists (in any state River keeps) is a
// duplicate and adds nothing. maxAttempts > 0 overrides the queue's.
func (q *Queue) Enqueue(ctx context.Context, name, key string, payload any, maxAttempts int) (duplicate bool, err error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return false, fmt.Errorf("encode %s task payload: %w", name, err)
	}
	opts := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
	if maxAttempts > 0 {
		opts.MaxAttempts = maxAttempts
	}
	duplicate, err = q.insert(ctx, TaskArgs{Name: name, Key: key, Payload: raw}, opts)
	if err != nil {
		return false, fmt.Errorf("enqueue %s task %s: %w", name, key, err)
	}
	return duplicate, nil
}

// EnqueueTx is Enqueue inside tx: the job exists exactly when the rows
// written in tx do (a dispatch run and its job, say).
func (q *Queue) EnqueueTx(ctx context.Context, tx *store.Tx, name, key string, payload any, maxAttempts int) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s task payload: %w", name, err)
	}
	opts := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
	if maxAttempts > 0 {
		opts.MaxAttempts = maxAttempts
	}
	if err := q.insertTx(ctx, tx, []river.InsertManyParams{{Args: TaskArgs{Name: name, Key: key, Payload: raw}, InsertOpts: opts}}); err != nil {
		return fmt.Errorf("enqueue %s task %s: %w", name, key, err)
	}
	return nil
}

// Backoff is exponential backoff with "equal jitter": attempt n waits
// between d/2 and d, where d = Base·2^(n-1) capped at Max. Half the delay is
// random so retries from a burst of failures spread out; half is fixed so a
// retry never comes straight back.
type Backoff struct {
	Base, Max time.Duration
}

// Delay is the wait before retry number n (1-based).
func (b *Backoff) Delay(n int) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	half := d / 2
	return half + rand.N(d-half+1)
}

// NextRetry implements river.ClientRetryPolicy.
func (b *Backoff) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(b.Delay(len(job.Errors) + 1))
}

// eventWorker runs one handler for one delivery.
type eventWorker struct {
	river.WorkerDefaults[EventArgs]
	store   *store.Store
	router  *webhook.Router
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time
}

func (w *eventWorker) Work(ctx context.Context, job *river.Job[EventArgs]) error {
	started := w.now()
	w.metrics.JobWaitSeconds.WithLabelValues(job.Kind).Observe(started.Sub(job.ScheduledAt).Seconds())
	outcome, err := w.work(ctx, job)
	w.metrics.JobRunSeconds.WithLabelValues(job.Kind, job.Args.Handler, outcome).Observe(w.now().Sub(started).Seconds())
	return err
}

func (w *eventWorker) work(ctx context.Context, job *river.Job[EventArgs]) (outcome string, _ error) {
	log := w.log.With("delivery", job.Args.DeliveryID, "handler", job.Args.Handler, "job", job.ID, "attempt", job.Attempt)
	h, ok := w.router.Handler(job.Args.Handler)
	if !ok {
		w.metrics.JobsDead.WithLabelValues(job.Kind, job.Args.Handler).Inc()
		log.Error("job names no registered handler; giving up")
		return "dead", river.JobCancel(fmt.Errorf("no handler named %q", job.Args.Handler))
	}
	d, err := w.store.Delivery(ctx, job.Args.DeliveryID)
	if err != nil {
		return w.failed(log, job, fmt.Errorf("load delivery: %w", err))
	}
	if d.Payload == nil {
		w.metrics.JobsDead.WithLabelValues(job.Kind, job.Args.Handler).Inc()
		log.Error("delivery payload was pruned before its job ran; giving up")
		return "dead", river.JobCancel(fmt.Errorf("delivery %s has no payload", d.ID))
	}
	ev := webhook.Event{
		DeliveryID: d.ID, Type: d.Event, Action: d.Action, InstallationID: d.InstallationID,
		Repository: d.Repository, Payload: json.RawMessage(d.Payload), ReceivedAt: d.ReceivedAt,
	}
	log = log.With("event", d.Event, "action", d.Action, "installation", d.InstallationID)
	if err := handle(webhook.WithLogger(ctx, log), h, ev); err != nil {
		return w.failed(log, job, err)
	}
	log.Debug("handled")
	return "completed", nil
}

// handle runs h, turning a panic into an error so that a panicking handler
// is retried, measured and counted dead like a failing one (left to River, a
// panic bypasses failed and the dead-letter metric).
func handle(ctx context.Context, h webhook.Handler, ev webhook.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler %s panicked: %v\n%s", h.Name(), p, debug.Stack())
		}
	}()
	return h.Handle(ctx, ev)
}

// failed decides between snoozing for a rate limit, retrying with backoff,
// and giving up.
func (w *eventWorker) failed(log *slog.Logger, job *river.Job[EventArgs], err error) (string, error) {
	return judgeFailure(w.metrics, log, job.Kind, job.Args.Handler, job.Attempt, job.MaxAttempts, w.now(), err)
}

// judgeFailure is the one place a failed job attempt is classified: wait out
// a GitHub rate limit (a snooze, not an attempt), give up on a permanent
// error, or retry with backoff until attempts run out.
func judgeFailure(m *metrics.Metrics, log *slog.Logger, kind, name string, attempt, maxAttempts int, now time.Time, err error) (string, error) {
	verdict, wait := ghapp.Classify(err, now)
	if errors.Is(err, webhook.ErrPermanent) {
		verdict = ghapp.GiveUp
	}
	switch verdict {
	case ghapp.WaitForRateLimit:
		m.JobRetries.WithLabelValues(kind, name, "rate_limited").Inc()
		log.Warn("rate limited by GitHub; waiting", "wait", wait, "err", err)
		// A snooze is not an attempt: waiting out a limit must not push a
		// job towards the dead-letter state.
		// Up to 10 % jitter: every job of an installation would otherwise
		// wake at the same reset second and hit the limit again together.
		return "snoozed", river.JobSnooze(wait + rand.N(wait/10+1))
	case ghapp.GiveUp:
		m.JobsDead.WithLabelValues(kind, name).Inc()
		log.Error("permanent failure; giving up", "err", err)
		return "dead", river.JobCancel(err)
	}
	if attempt >= maxAttempts {
		m.JobsDead.WithLabelValues(kind, name).Inc()
		log.Error("attempts exhausted; job is dead", "err", err, "max_attempts", maxAttempts)
		return "dead", err
	}
	m.JobRetries.WithLabelValues(kind, name, "error").Inc()
	log.Warn("job failed; will retry", "err", err)
	return "retry", err
}

type taskWorker struct {
	river.WorkerDefaults[TaskArgs]
	tasks   map[string]Task
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time
}

func (w *taskWorker) Work(ctx context.Context, job *river.Job[TaskArgs]) error {
	log := w.log.With("task", job.Args.Name, "key", job.Args.Key, "job", job.ID, "attempt", job.Attempt)
	t, ok := w.tasks[job.Args.Name]
	if !ok {
		w.metrics.JobsDead.WithLabelValues(job.Kind, job.Args.Name).Inc()
		return river.JobCancel(fmt.Errorf("no task named %q", job.Args.Name))
	}
	started := w.now()
	w.metrics.JobWaitSeconds.WithLabelValues(job.Kind).Observe(started.Sub(job.ScheduledAt).Seconds())
	ctx = context.WithValue(webhook.WithLogger(ctx, log), attemptKey{}, attempt{job.Attempt, job.MaxAttempts})
	outcome, err := "completed", runTask(ctx, t, job.Args.Payload)
	var wait *waitError
	if errors.As(err, &wait) {
		w.metrics.JobRunSeconds.WithLabelValues(job.Kind, job.Args.Name, "snoozed").Observe(w.now().Sub(started).Seconds())
		return river.JobSnooze(wait.d)
	}
	if err != nil {
		outcome, err = judgeFailure(w.metrics, log, job.Kind, job.Args.Name, job.Attempt, job.MaxAttempts, w.now(), err)
	}
	w.metrics.JobRunSeconds.WithLabelValues(job.Kind, job.Args.Name, outcome).Observe(w.now().Sub(started).Seconds())
	return err
}

// Timeout is the task's own timeout, if it has one (River asks per job).
func (w *taskWorker) Timeout(job *river.Job[TaskArgs]) time.Duration {
	if t, ok := w.tasks[job.Args.Name]; ok && t.Timeout > 0 {
		return t.Timeout
	}
	return 0
}

type attemptKey struct{}

type attempt struct{ n, max int }

// FinalAttempt reports whether the running task will not be retried if it
// fails now, so it can leave a visible verdict (fail closed) instead of
// dying silently in the dead-letter state.
func FinalAttempt(ctx context.Context) bool {
	a, ok := ctx.Value(attemptKey{}).(attempt)
	return ok && a.n >= a.max
}

// runTask runs t, turning a panic into an error like handle does.
func runTask(ctx context.Context, t Task, payload json.RawMessage) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("task %s panicked: %v\n%s", t.Name, p, debug.Stack())
		}
	}()
	return t.Run(ctx, payload)
}

type periodicWorker struct {
	river.WorkerDefaults[PeriodicArgs]
	jobs    map[string]Periodic
	metrics *metrics.Metrics
	log     *slog.Logger
}

func (w *periodicWorker) Work(ctx context.Context, job *river.Job[PeriodicArgs]) error {
	p, ok := w.jobs[job.Args.Name]
	if !ok {
		return river.JobCancel(fmt.Errorf("no periodic job named %q", job.Args.Name))
	}
	started := time.Now()
	err := p.Run(webhook.WithLogger(ctx, w.log.With("periodic", p.Name, "job", job.ID)))
	outcome := "completed"
	if err != nil {
		outcome = "failed"
		w.log.Error("periodic job failed", "periodic", p.Name, "err", err)
	}
	w.metrics.JobRunSeconds.WithLabelValues(job.Kind, p.Name, outcome).Observe(time.Since(started).Seconds())
	return err
}
