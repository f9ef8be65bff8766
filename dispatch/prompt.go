package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/dispatch/untrusted"
	"github.com/agentgate/agentgate/store"
)

// prepare gathers the task for a run: the issue as it was when the task
// started (an edit after a person approved the plan must not change what
// the agent is told), the approved plan, the instructions, and the prompt
// whose digest the provenance records.
func (d *Dispatcher) prepare(ctx context.Context, t store.Task, run store.Run) (*Job, error) {
	client, err := d.gh.Installation(t.InstallationID)
	if err != nil {
		return nil, err
	}
	var approved *store.Plan
	if t.ApprovedPlanID != "" && run.Kind != KindPlan {
		p, err := d.store.GetPlan(ctx, t.ID, t.ApprovedPlanID)
		if err != nil {
			return nil, err
		}
		approved = &p
	}
	ag, err := d.opts.Config.AgentFor(t.Repository, t.Agent)
	if err != nil && t.Runner == "exec" {
		return nil, err
	}
	rev := "refs/heads/" + t.Branch
	if run.Kind != KindRevise {
		base, err := d.defaultBranch(ctx, client, t)
		if err != nil {
			return nil, err
		}
		rev = "refs/heads/" + base
	}
	files := TaskFiles{
		Issue: untrusted.Wrap("issue", "@"+t.IssueAuthor, "# "+t.IssueTitle+"\n\n"+t.IssueBody),
	}
	if approved != nil {
		files.Plan = approved.Body
	}
	if run.Instructions != "" {
		files.Instructions = untrusted.Wrap("instructions", "@"+run.RequestedBy, run.Instructions)
	}
	files.TaskJSON, _ = json.MarshalIndent(map[string]any{
		"task": t.ID, "run": run.ID, "kind": run.Kind, "repository": t.Repository, "issue": t.IssueNumber,
		"branch": t.Branch, "requester": t.Requester, "plan": t.ApprovedPlanID,
	}, "", "  ")
	files.Prompt = renderPrompt(t, run, files)
	sum := sha256.Sum256([]byte(files.Prompt))
	run.PromptSHA256 = hex.EncodeToString(sum[:])
	if err := d.store.SetRunPrompt(ctx, run.ID, run.PromptSHA256); err != nil {
		return nil, err
	}
	return &Job{
		Task: t, Run: run, Agent: ag, CloneURL: d.cloneURL(t.Repository), Rev: rev, Files: files,
		FetchToken: func(ctx context.Context) (string, error) {
			tok, _, err := d.gh.RepoToken(ctx, t.InstallationID, t.RepositoryID, &github.InstallationPermissions{Contents: github.Ptr("read")})
			return tok, err
		},
	}, nil
}

// renderPrompt is the whole task in one file; the other task files repeat
// its parts for agents that prefer them.
func renderPrompt(t store.Task, run store.Run, files TaskFiles) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# agentgate task %s, run %s (%s)\n\n", t.ID, run.ID, run.Kind)
	fmt.Fprintf(&sb, "You are working in a checkout of %s for issue #%d.\n\n", t.Repository, t.IssueNumber)
	switch run.Kind {
	case KindPlan:
		sb.WriteString("Write a plan for the issue. Do not change any file in the checkout.\n" +
			"Write the plan as Markdown to $AGENTGATE_OUTPUT_DIR/plan.md with these sections:\n" +
			"- `## Summary`: what you will do and why.\n" +
			"- `## Files`: a list of the paths or globs you will change (one per item, e.g. `- src/**/*.go`).\n" +
			"- `## Acceptance`: a list of checks that show the change works (tests to run, behaviour to observe).\n" +
			"A person will read and approve exactly this plan before you implement it.\n\n")
	case KindImplement:
		sb.WriteString("Implement the change. Edit files in the checkout; do not commit, push or open pull requests: agentgate does that, and the repository's gate checks the result.\n")
		if files.Plan != "" {
			sb.WriteString("Follow the approved plan below and change only files its `## Files` section names.\n")
		}
		sb.WriteString("\n")
	case KindRevise:
		sb.WriteString("The checkout is the branch of your pull request. Revise the change as the instructions below ask. Edit files; do not commit or push: agentgate does that.\n\n")
	}
	sb.WriteString("You may write $AGENTGATE_OUTPUT_DIR/result.json: {\"agent\", \"agent_version\", \"model\", \"usage\": {\"input_tokens\", \"output_tokens\", \"cost_usd\"}}.\n\n")
	sb.WriteString("## The issue\n\n" + files.Issue + "\n")
	if files.Plan != "" {
		sb.WriteString("## The approved plan\n\n" + files.Plan + "\n")
	}
	if files.Instructions != "" {
		sb.WriteString("## Instructions for this revision\n\n" + files.Instructions + "\n")
	}
	return sb.String()
}
