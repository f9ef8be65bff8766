package dispatch

import (
	"context"
	"io"
	"time"

	"github.com/agentgate/agentgate/dispatch/agent"
	"github.com/agentgate/agentgate/dispatch/workspace"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/store"
)

// Run kinds.
const (
	KindPlan      = "plan"
	KindImplement = "implement"
	KindRevise    = "revise"
)

// Run states.
const (
	RunQueued      = "queued"
	RunRunning     = "running"
	RunSucceeded   = "succeeded"
	RunFailed      = "failed"
	RunInterrupted = "interrupted"
	RunCancelled   = "cancelled"
)

// Job is everything a runner needs for one run. It holds no GitHub token:
// FetchToken mints a read-only one for the runner's git fetch, and pushing
// is agentgate's (Dispatcher.land), never the runner's or the agent's.
type Job struct {
	Task  store.Task
	Run   store.Run
	Agent config.Agent
	// CloneURL is the repository's git URL.
	CloneURL string
	// Rev is what the worktree starts from: the default branch, or the
	// task's branch for a revision.
	Rev string
	// FetchToken mints a contents:read token for this one repository.
	FetchToken func(ctx context.Context) (string, error)
	// Files are the task as the agent receives it.
	Files TaskFiles
	// Timeout is the run's wall-clock limit.
	Timeout time.Duration
	// Log receives the agent's output as it runs.
	Log io.Writer
}

// TaskFiles are the files a run's agent reads. Issue and comment text in
// them is cleaned and marked as untrusted data (package untrusted).
type TaskFiles struct {
	Prompt       string // prompt.md: what to do, with everything below inline
	Issue        string // issue.md
	Plan         string // plan.md: the approved plan, for implement and revise runs
	Instructions string // instructions.md: revise instructions and review comments
	TaskJSON     []byte // task.json: ids and refs, for scripts
}

// Outcome is what a run produced.
type Outcome struct {
	// Pending is set by runners that finish later (actions); the rest is empty.
	Pending   bool
	ExitCode  int
	TimedOut  bool
	Cancelled bool
	Sandboxed bool
	Report    agent.Report
	// PlanMarkdown is the plan.md a plan run wrote (nil if none).
	PlanMarkdown []byte
	// Worktree holds the agent's files after an implement or revise run.
	Worktree *workspace.Worktree
	// Cleanup removes the run's workspace; the dispatcher calls it when it
	// has landed the change.
	Cleanup func()
}
