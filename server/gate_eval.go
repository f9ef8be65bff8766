package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/checks"
	"github.com/agentgate/agentgate/internal/ghapp"
	"github.com/agentgate/agentgate/internal/metrics"
	"github.com/agentgate/agentgate/internal/queue"
	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/policy"
	"github.com/agentgate/agentgate/policy/pull"
	"github.com/agentgate/agentgate/store"
)

// Gate runs one evaluation of one pull request head and reports it as a
// check run: the gate's queue task. It is idempotent: evaluating the same
// head twice updates or replaces one check run with the same verdict.
type Gate struct {
	store    *store.Store
	clients  *ghapp.Clients
	engine   *policy.Engine
	reporter *checks.Reporter
	links    DetailsLinks
	metrics  *metrics.Metrics
	now      func() time.Time
	tasks    taskEnqueuer // set once the queue exists

	mu         sync.Mutex
	appLogin   string                   // agentgate's bot login, from GET /app once
	checkNames map[string]string        // repository → its configured check name
	running    map[string]chan struct{} // target key → held while it is evaluated
}

// lockTarget serialises evaluations of one target in this process: jobs of
// two debounce windows (or the reconciler's and a webhook's) may become due
// together, and two evaluations of one head at once race to create its check
// run. It returns the unlock function, or ctx's error.
func (g *Gate) lockTarget(ctx context.Context, key string) (func(), error) {
	for {
		g.mu.Lock()
		if g.running == nil {
			g.running = map[string]chan struct{}{}
		}
		held, busy := g.running[key]
		if !busy {
			done := make(chan struct{})
			g.running[key] = done
			g.mu.Unlock()
			return func() {
				g.mu.Lock()
				delete(g.running, key)
				g.mu.Unlock()
				close(done)
			}, nil
		}
		g.mu.Unlock()
		select {
		case <-held:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// evaluatorFor returns the evaluator, learning the app's bot login (whose
// pull requests are agent-authored by definition) on first use.
func (g *Gate) evaluatorFor(ctx context.Context) (*policy.Evaluator, error) {
	g.mu.Lock()
	login := g.appLogin
	g.mu.Unlock()
	if login == "" {
		client, err := g.clients.App()
		if err != nil {
			return nil, err
		}
		app, _, err := client.Apps.Get(ctx, "")
		if err != nil {
			return nil, fmt.Errorf("get app: %w", err)
		}
		login = app.GetSlug() + "[bot]"
		g.mu.Lock()
		g.appLogin = login
		g.mu.Unlock()
	}
	return &policy.Evaluator{Engine: g.engine, AppLogin: login}, nil
}

func (g *Gate) checkName(repository string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if name, ok := g.checkNames[repository]; ok {
		return name
	}
	return policy.DefaultConfig().CheckName
}

func (g *Gate) rememberCheckName(repository, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.checkNames == nil {
		g.checkNames = map[string]string{}
	}
	g.checkNames[repository] = name
}

// Run implements the GateTask queue task.
func (g *Gate) Run(ctx context.Context, payload json.RawMessage) error {
	var t GateTarget
	if err := json.Unmarshal(payload, &t); err != nil {
		return fmt.Errorf("%w: gate task payload: %v", webhook.ErrPermanent, err)
	}
	log := webhook.Logger(ctx).With("target", t.Key(), "installation", t.InstallationID)
	client, err := g.clients.Installation(t.InstallationID)
	if err != nil {
		return err
	}
	// One evaluation of a head at a time, in this process and across
	// replicas: evaluations that overlap could otherwise finish out of
	// order and leave an older verdict as the last word.
	unlock, err := g.lockTarget(ctx, t.Key())
	if err != nil {
		return err
	}
	defer unlock()
	unlockReplicas, err := g.store.Lock(ctx, "gate:"+t.Key())
	if err != nil {
		return err
	}
	defer unlockReplicas()
	reconcileChecked := false // the head is known to have no run of ours
	if t.Trigger == "reconcile" && t.MergeGroup == nil {
		// The repair queued this because the head had no check run of ours;
		// another evaluation (a webhook's, or the repair's own from an
		// earlier reconcile) may have made one since.
		run, err := g.findRun(ctx, client, t, t.HeadSHA, g.checkName(t.Owner+"/"+t.Repo))
		if err != nil {
			return err
		}
		if run != nil {
			log.Info("head has a check run of ours by now; skipping the repair's evaluation", "check_run", run.ID)
			return nil
		}
		reconcileChecked = true
	}
	var viewOpts []pull.Option
	var evalOpts []policy.EvalOption
	checkSHA := t.HeadSHA
	if t.MergeGroup != nil {
		checkSHA = t.MergeGroup.HeadSHA
		viewOpts = append(viewOpts, pull.WithHeadSHA(t.MergeGroup.HeadSHA))
		evalOpts = append(evalOpts, policy.ForMergeGroup(policy.MergeGroup{
			HeadSHA: t.MergeGroup.HeadSHA, HeadRef: t.MergeGroup.HeadRef, BaseSHA: t.MergeGroup.BaseSHA,
		}))
	}
	// Our own check run is not test evidence. Repositories that rename it
	// get the rename excluded from the second evaluation on.
	viewOpts = append(viewOpts, pull.WithCheckName(g.checkName(t.Owner+"/"+t.Repo)))
	src := pull.New(client, t.Owner, t.Repo, t.Number, viewOpts...)

	pr, err := src.PullRequest(ctx)
	if err != nil {
		return err
	}
	if t.MergeGroup == nil && pr.Head.SHA != t.HeadSHA {
		// The branch moved on; the push's own event evaluates the new head.
		log.Info("head moved since the event; skipping stale evaluation", "current_head", pr.Head.SHA)
		return nil
	}

	full := t.Owner + "/" + t.Repo
	details := g.links.URL(full, checkSHA)
	// The check goes to in_progress before the evaluation starts, so a
	// previous success on this head does not stand while the new facts
	// (a dismissed review, a removed label) are judged, nor if the
	// evaluation never finishes.
	var run *checks.CheckRun
	if reconcileChecked {
		run, err = g.startRun(ctx, client, t, checkSHA, g.checkName(full), details)
	} else {
		run, err = g.openRun(ctx, client, t, checkSHA, g.checkName(full), details)
	}
	if err != nil {
		return err
	}

	started := g.now()
	evaluator, err := g.evaluatorFor(ctx)
	if err != nil {
		return err
	}
	if _, task, ok := taskOf(ctx, g.store, full, t.Number); ok {
		evalOpts = append(evalOpts, policy.WithTask(task))
	}
	ev, err := evaluator.Evaluate(ctx, src, evalOpts...)
	if err != nil {
		verdict, _ := ghapp.Classify(err, g.now())
		if verdict != ghapp.GiveUp && !queue.FinalAttempt(ctx) {
			return err // transient: the queue retries; the run stays in progress
		}
		// Fail closed: a decision we cannot make is a failing check that
		// says why.
		log.Error("gate evaluation failed; failing the check", "err", err)
		ev = &policy.Evaluation{Decision: policy.Decision{
			Conclusion: "failure",
			LoadErrors: []policy.LoadError{{Message: "could not evaluate this pull request: " + err.Error()}},
		}, Config: policy.DefaultConfig()}
		ev.Config.CheckName = run.Name
	}
	if err := g.timeoutPending(ctx, ev, full, checkSHA, started); err != nil {
		return err
	}
	g.rememberCheckName(full, ev.Config.CheckName)
	if ev.Config.CheckName != run.Name {
		// The repository names its check differently from what we guessed:
		// the provisional run gets the same verdict, and the named run too.
		if err := g.reporter.Complete(ctx, client, t.Owner, t.Repo, *run, ev.Decision,
			checks.Render(ev.Decision, checks.RenderOptions{DetailsURL: details})); err != nil {
			return err
		}
		if run, err = g.openRun(ctx, client, t, checkSHA, ev.Config.CheckName, details); err != nil {
			return err
		}
	}
	out := checks.Render(ev.Decision, checks.RenderOptions{DetailsURL: details})
	if err := g.reporter.Complete(ctx, client, t.Owner, t.Repo, *run, ev.Decision, out); err != nil {
		return err
	}

	decision, _ := json.Marshal(ev.Decision)
	input, _ := json.Marshal(ev.Input)
	if err := g.store.InsertEvaluation(ctx, store.Evaluation{
		ID: newID(), Repository: full, PullNumber: t.Number, HeadSHA: checkSHA, MergeGroup: t.MergeGroup != nil,
		CheckRunID: run.ID, Conclusion: ev.Decision.Conclusion, PolicyDigest: ev.Decision.PolicyDigest,
		Decision: decision, Input: input, APIRequests: src.Requests(), Trigger: t.Trigger, DeliveryID: t.Delivery,
		StartedAt: started, FinishedAt: g.now(),
	}); err != nil {
		return err
	}
	conclusion := ev.Decision.Conclusion
	if conclusion == "" {
		conclusion = "in_progress"
		// Waiting on test evidence: look again even if no event comes, so
		// the test-evidence timeout fires for checks that never report.
		if err := g.recheckPending(ctx, t, ev.Config.TestEvidence.Timeout.Duration); err != nil {
			return err
		}
	}
	g.metrics.GateEvaluations.WithLabelValues(conclusion).Inc()
	g.metrics.GateAPIRequests.Observe(float64(src.Requests()))
	g.metrics.GateSeconds.Observe(g.now().Sub(started).Seconds())
	log.Info("gate evaluated", "conclusion", conclusion, "api_requests", src.Requests(), "check_run", run.ID)
	return nil
}

// recheckPending schedules another evaluation of a pending head within a
// quarter of the test-evidence timeout; each pending evaluation schedules
// the next, so the timeout is enforced at most a quarter late.
func (g *Gate) recheckPending(ctx context.Context, t GateTarget, timeout time.Duration) error {
	if timeout <= 0 || g.tasks == nil {
		return nil
	}
	t.Trigger = "pending-recheck"
	_, err := g.tasks.EnqueueDebounced(ctx, GateTask, t.Key()+"#recheck", t, max(timeout/4, time.Second))
	return err
}

// openRun returns our in-progress run called name on the head (one waiting
// for test evidence), or starts one.
func (g *Gate) openRun(ctx context.Context, client *github.Client, t GateTarget, sha, name, details string) (*checks.CheckRun, error) {
	run, err := g.findRun(ctx, client, t, sha, name)
	if err != nil {
		return nil, err
	}
	if run != nil && run.Status != "completed" {
		return run, nil
	}
	return g.startRun(ctx, client, t, sha, name, details)
}

// findRun is our latest run called name on the head, or nil.
func (g *Gate) findRun(ctx context.Context, client *github.Client, t GateTarget, sha, name string) (*checks.CheckRun, error) {
	run, err := checks.FindRun(ctx, client, t.Owner, t.Repo, sha, name, g.clients.AppID())
	if errors.Is(err, checks.ErrNoRun) {
		return nil, nil
	}
	return run, err
}

func (g *Gate) startRun(ctx context.Context, client *github.Client, t GateTarget, sha, name, details string) (*checks.CheckRun, error) {
	started, err := g.reporter.Start(ctx, client, t.Owner, t.Repo, sha, name, details, t.Key())
	if err != nil {
		return nil, err
	}
	return &started, nil
}

// timeoutPending fails policies still waiting on required checks once the
// configured test-evidence timeout has passed since the first evaluation
// of this head, so a check that never reports cannot hold a PR forever.
func (g *Gate) timeoutPending(ctx context.Context, ev *policy.Evaluation, repository, sha string, started time.Time) error {
	timeout := ev.Config.TestEvidence.Timeout.Duration
	if ev.Decision.Conclusion != "" || timeout <= 0 {
		return nil
	}
	first, err := g.store.FirstEvaluatedAt(ctx, repository, sha)
	if err != nil {
		return err
	}
	if first.IsZero() || started.Sub(first) < timeout {
		return nil
	}
	for i, p := range ev.Decision.Policies {
		if p.Verdict == policy.VerdictPending {
			ev.Decision.Policies[i].Verdict = policy.VerdictFail
			ev.Decision.Policies[i].Summary = fmt.Sprintf("required checks did not finish within %s", timeout)
		}
	}
	ev.Decision.Conclusion = policy.Conclude(ev.Decision.Policies, ev.Decision.LoadErrors)
	return nil
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// taskOf is the dispatch task whose pull request this is, as stored and as
// the policies see it (with its approved plan), from the store: only
// agentgate sets a task's pull request, so a PR body cannot claim a task or
// a plan it does not have. The gate and the attester both read it here.
func taskOf(ctx context.Context, st *store.Store, repository string, number int) (store.Task, policy.Task, bool) {
	t, err := st.LatestTaskOfPull(ctx, repository, number)
	if err != nil {
		return store.Task{}, policy.Task{}, false
	}
	task := policy.Task{ID: t.ID, Requester: t.Requester}
	if t.ApprovedPlanID != "" {
		if p, err := st.GetPlan(ctx, t.ID, t.ApprovedPlanID); err == nil {
			task.Plan = &policy.Plan{ID: p.ID, SHA256: p.SHA256, ApprovedBy: p.ApprovedBy, Paths: p.Paths, Acceptance: p.Acceptance}
		}
	}
	return t, task, true
}
