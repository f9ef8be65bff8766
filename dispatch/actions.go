package dispatch

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/dispatch/agent"
	"github.com/agentgate/agentgate/dispatch/workspace"
	"github.com/agentgate/agentgate/store"
)

// ActionsRunner runs the agent in a GitHub Actions workflow of the
// repository: it dispatches the workflow with the run's id and a one-time
// task token; the workflow fetches the task from agentgate's API and posts
// back a plan or a patch with that token; agentgate pushes as with the
// exec runner. The workflow never needs a write token either.
type ActionsRunner struct {
	// Workflow is the workflow file in .github/workflows, read from the
	// default branch.
	Workflow string
	// PublicURL is where the workflow reaches agentgate's API.
	PublicURL string
	Mirrors   *workspace.Mirrors
	RunsDir   string
	d         *Dispatcher
}

// NewActionsRunner builds the actions runner of d.
func (d *Dispatcher) NewActionsRunner(workflow, publicURL string, mirrors *workspace.Mirrors, runsDir string) *ActionsRunner {
	return &ActionsRunner{Workflow: workflow, PublicURL: strings.TrimSuffix(publicURL, "/"), Mirrors: mirrors, RunsDir: runsDir, d: d}
}

// Name implements Runner.
func (*ActionsRunner) Name() string { return "actions" }

// Run implements Runner: it dispatches the workflow and returns Pending.
func (a *ActionsRunner) Run(ctx context.Context, job *Job) (*Outcome, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	token := "agt_" + hex.EncodeToString(raw)
	if err := a.d.store.SetRunToken(ctx, job.Run.ID, tokenDigest(token)); err != nil {
		return nil, err
	}
	client, err := a.d.gh.Installation(job.Task.InstallationID)
	if err != nil {
		return nil, err
	}
	owner, name, _ := strings.Cut(job.Task.Repository, "/")
	ref := strings.TrimPrefix(job.Rev, "refs/heads/")
	if job.Run.Kind == KindRevise { // the workflow itself always comes from the default branch
		if ref, err = a.d.defaultBranch(ctx, client, job.Task); err != nil {
			return nil, err
		}
	}
	_, _, err = client.Actions.CreateWorkflowDispatchEventByFileName(ctx, owner, name, a.Workflow, github.CreateWorkflowDispatchEventRequest{
		Ref: ref,
		Inputs: map[string]any{
			"task_id": job.Task.ID, "run_id": job.Run.ID, "agentgate_url": a.PublicURL, "token": token,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("dispatch workflow %s in %s: %w", a.Workflow, job.Task.Repository, err)
	}
	fmt.Fprintf(job.Log, "agentgate: dispatched workflow %s on %s for run %s\n", a.Workflow, ref, job.Run.ID)
	return &Outcome{Pending: true}, nil
}

func tokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ErrBadToken is returned for a task token that is wrong, used or expired.
var ErrBadToken = errors.New("the task token is not valid for this run (wrong, already used, or the run is over)")

// ExternalTask is what an actions workflow fetches: the task as files, and
// where to start.
type ExternalTask struct {
	Task       string `json:"task"`
	Run        string `json:"run"`
	Kind       string `json:"kind"`
	Repository string `json:"repository"`
	Issue      int    `json:"issue"`
	Branch     string `json:"branch"`
	Rev        string `json:"rev"`
	// Files are prompt.md, issue.md, plan.md, instructions.md, task.json.
	Files map[string]string `json:"files"`
}

// ExternalTaskFor serves the workflow's fetch: it checks the token (without
// spending it) and returns the task.
func (d *Dispatcher) ExternalTaskFor(ctx context.Context, runID, token string) (*ExternalTask, error) {
	run, t, err := d.externalRun(ctx, runID, token)
	if err != nil {
		return nil, err
	}
	job, err := d.prepare(ctx, t, run)
	if err != nil {
		return nil, err
	}
	files := map[string]string{"prompt.md": job.Files.Prompt, "issue.md": job.Files.Issue, "task.json": string(job.Files.TaskJSON)}
	if job.Files.Plan != "" {
		files["plan.md"] = job.Files.Plan
	}
	if job.Files.Instructions != "" {
		files["instructions.md"] = job.Files.Instructions
	}
	return &ExternalTask{Task: t.ID, Run: run.ID, Kind: run.Kind, Repository: t.Repository, Issue: t.IssueNumber,
		Branch: t.Branch, Rev: job.Rev, Files: files}, nil
}

func (d *Dispatcher) externalRun(ctx context.Context, runID, token string) (store.Run, store.Task, error) {
	run, err := d.store.GetRun(ctx, runID)
	if err != nil || run.Runner != "actions" || run.State != RunRunning || run.TokenSHA256 == "" ||
		subtle.ConstantTimeCompare([]byte(run.TokenSHA256), []byte(tokenDigest(token))) != 1 {
		return store.Run{}, store.Task{}, ErrBadToken
	}
	t, err := d.store.GetTask(ctx, run.TaskID)
	if err != nil {
		return store.Run{}, store.Task{}, err
	}
	return run, t, nil
}

// ExternalResult is what the workflow posts back.
type ExternalResult struct {
	// ExitCode is the agent's exit status in the workflow.
	ExitCode int `json:"exit_code"`
	// Plan is plan.md, for plan runs.
	Plan string `json:"plan,omitempty"`
	// Patch is `git diff --binary` (or git format-patch output) against Rev,
	// for implement and revise runs.
	Patch string `json:"patch,omitempty"`
	// Result is the agent's result.json, if it wrote one.
	Result map[string]any `json:"result,omitempty"`
	// Log is the agent's output (kept like an exec run's log).
	Log string `json:"log,omitempty"`
}

// maxPatchBytes bounds a posted patch.
const maxPatchBytes = 20 << 20

// CompleteExternal takes the workflow's result: the token is spent, the
// patch is applied to a fresh worktree and landed like an exec run's.
func (d *Dispatcher) CompleteExternal(ctx context.Context, runID, token string, res ExternalResult) error {
	// The token is spent below: the landing must finish even if the
	// workflow's request goes away.
	ctx = context.WithoutCancel(ctx)
	run, t, err := d.externalRun(ctx, runID, token)
	if err != nil {
		return err
	}
	if ok, err := d.store.ConsumeRunToken(ctx, run.ID, tokenDigest(token)); err != nil {
		return err
	} else if !ok {
		return ErrBadToken
	}
	if len(res.Patch) > maxPatchBytes {
		return d.finish(ctx, t, run, nil, fmt.Errorf("the posted patch is larger than %d bytes", maxPatchBytes), res.Log)
	}
	out := &Outcome{ExitCode: res.ExitCode}
	if res.Result != nil {
		if raw, err := jsonBytes(res.Result); err == nil {
			if rep, err := agent.ReadResult(raw); err == nil {
				out.Report = rep
			}
		}
	}
	if out.Report.Agent == "" {
		out.Report.Agent = "actions"
	}
	if res.ExitCode != 0 {
		return d.finish(ctx, t, run, out, nil, res.Log)
	}
	switch run.Kind {
	case KindPlan:
		out.PlanMarkdown = []byte(res.Plan)
	default:
		wt, cleanup, err := d.applyPatch(ctx, t, run, res.Patch)
		if err != nil {
			return d.finish(ctx, t, run, out, err, res.Log)
		}
		out.Worktree, out.Cleanup = wt, cleanup
	}
	return d.finish(ctx, t, run, out, nil, res.Log)
}

// applyPatch makes a worktree at the run's start and applies the patch.
func (d *Dispatcher) applyPatch(ctx context.Context, t store.Task, run store.Run, patch string) (*workspace.Worktree, func(), error) {
	ar, ok := d.runners["actions"].(*ActionsRunner)
	if !ok {
		return nil, nil, errors.New("the actions runner is not configured")
	}
	client, err := d.gh.Installation(t.InstallationID)
	if err != nil {
		return nil, nil, err
	}
	token, _, err := d.gh.RepoToken(ctx, t.InstallationID, t.RepositoryID, &github.InstallationPermissions{Contents: github.Ptr("read")})
	if err != nil {
		return nil, nil, err
	}
	if _, err := ar.Mirrors.Sync(ctx, t.Repository, workspace.Remote{URL: d.cloneURL(t.Repository), Token: token}); err != nil {
		return nil, nil, err
	}
	rev := "refs/heads/" + t.Branch
	if run.Kind != KindRevise {
		base, err := d.defaultBranch(ctx, client, t)
		if err != nil {
			return nil, nil, err
		}
		rev = "refs/heads/" + base
	}
	dir := filepath.Join(ar.RunsDir, run.ID)
	_ = os.RemoveAll(dir)
	wt, err := ar.Mirrors.Worktree(ctx, t.Repository, rev, filepath.Join(dir, "work"))
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { _ = wt.Remove(context.WithoutCancel(ctx)); _ = os.RemoveAll(dir) }
	if err := wt.Apply(ctx, []byte(patch)); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("the posted patch does not apply to %s: %w", rev, err)
	}
	return wt, cleanup, nil
}

// workflowRunTitle finds our run id in a workflow run's title: the sample
// workflow sets run-name to "agentgate <run id>".
var workflowRunTitle = regexp.MustCompile(`\bagentgate (r-[0-9a-f]{10})\b`)

// WorkflowRun is the part of a workflow_run event dispatch looks at.
type WorkflowRun struct {
	Repository string // owner/name the run belongs to
	Event      string // what triggered it: must be workflow_dispatch
	Path       string // .github/workflows/<file>
	Title      string // display title (run-name)
	Conclusion string
	URL        string
}

// WorkflowCompleted follows a workflow_run completion: a run whose
// workflow ended without posting a result fails with the workflow's link.
// Only our own dispatch of the configured workflow in the task's repository
// counts: anyone can name a workflow run "agentgate r-...".
func (d *Dispatcher) WorkflowCompleted(ctx context.Context, wr WorkflowRun) error {
	m := workflowRunTitle.FindStringSubmatch(wr.Title)
	if m == nil || wr.Event != "workflow_dispatch" {
		return nil
	}
	ar, ok := d.runners["actions"].(*ActionsRunner)
	if !ok || wr.Path != ".github/workflows/"+ar.Workflow {
		return nil
	}
	run, err := d.store.GetRun(ctx, m[1])
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if run.Runner != "actions" || run.State != RunRunning {
		return nil // it reported back, was cancelled, or is not ours
	}
	if t, err := d.store.GetTask(ctx, run.TaskID); err != nil || !strings.EqualFold(t.Repository, wr.Repository) {
		return err
	}
	reason := fmt.Sprintf("the workflow run %s ended (%s) without posting a result", wr.URL, wr.Conclusion)
	return d.abandon(ctx, run, RunFailed, reason)
}

func jsonBytes(v any) ([]byte, error) { return json.Marshal(v) }
