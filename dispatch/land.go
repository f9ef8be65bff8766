package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/dispatch/workspace"
	"github.com/agentgate/agentgate/provenance"
	"github.com/agentgate/agentgate/store"
)

// pushPermissions are all a push-and-open-PR token may do.
var pushPermissions = &github.InstallationPermissions{Contents: github.Ptr("write"), PullRequests: github.Ptr("write")}

// landChange commits what the agent left in its worktree (as the app, with
// the requester as co-author and the Agent-* trailers), pushes it to the
// task's branch with a token for that one repository, and opens or updates
// the pull request with a provenance block agentgate writes.
func (d *Dispatcher) landChange(ctx context.Context, client *github.Client, t store.Task, run store.Run, out *Outcome) (landing, error) {
	me, err := d.self(ctx, client)
	if err != nil {
		return landing{}, err
	}
	runs, err := d.store.RunsOfTask(ctx, t.ID)
	if err != nil {
		return landing{}, err
	}
	var approved *store.Plan
	if t.ApprovedPlanID != "" {
		p, err := d.store.GetPlan(ctx, t.ID, t.ApprovedPlanID)
		if err != nil {
			return landing{}, err
		}
		approved = &p
	}
	agentName := firstNonEmpty(out.Report.Agent, t.Agent)
	model := firstNonEmpty(out.Report.Model, "unknown")
	subject := fmt.Sprintf("%s (#%d)", clip(t.IssueTitle, 60), t.IssueNumber)
	body := fmt.Sprintf("Agent %s implemented #%d", agentName, t.IssueNumber)
	if approved != nil {
		body += fmt.Sprintf(" following plan %s approved by @%s", approved.ID, approved.ApprovedBy)
	}
	body += "."
	if run.Kind == KindRevise {
		subject = fmt.Sprintf("Revise #%d as requested by @%s", t.IssueNumber, run.RequestedBy)
		body = fmt.Sprintf("Agent %s revised the change for #%d at the request of @%s.", agentName, t.IssueNumber, run.RequestedBy)
	}
	commit := workspace.Commit{
		Subject: subject, Body: body,
		Trailers: [][2]string{
			{provenance.TrailerCoAuthoredBy, fmt.Sprintf("%s <%d+%s@users.noreply.github.com>", t.Requester, t.RequesterID, t.Requester)},
			{provenance.TrailerTask, t.ID},
			{provenance.TrailerRun, run.ID},
			{provenance.TrailerName, agentName},
			{provenance.TrailerModel, model},
			{provenance.TrailerPromptSHA256, run.PromptSHA256},
		},
		AuthorName: me.Login, AuthorEmail: fmt.Sprintf("%d+%s@users.noreply.github.com", me.ID, me.Login),
		When: d.now(),
	}
	res, err := out.Worktree.Collect(ctx, commit)
	if errors.Is(err, workspace.ErrNoChanges) {
		return landing{}, errors.New("the agent made no changes, so there is nothing to propose (an empty diff is not a pull request)")
	}
	if err != nil {
		return landing{}, fmt.Errorf("commit the agent's change: %w", err)
	}
	token, _, err := d.gh.RepoToken(ctx, t.InstallationID, t.RepositoryID, pushPermissions)
	if err != nil {
		return landing{}, err
	}
	remote := workspace.Remote{URL: d.cloneURL(t.Repository), Token: token}
	// An implement run starts the branch afresh from the default branch (a
	// retry after a crash may find its own earlier push there); a revision
	// builds on the branch and must fast-forward it.
	var opts []workspace.PushOption
	if run.Kind == KindImplement {
		opts = append(opts, workspace.Replace())
	}
	if err := out.Worktree.Push(ctx, remote, res.SHA, t.Branch, opts...); err != nil {
		return landing{}, fmt.Errorf("push %s: %w", t.Branch, err)
	}

	fields := d.provenanceFields(t, run, runs, approved, out, res.SHA, agentName, model)
	number, err := d.openOrUpdatePull(ctx, client, t, fields)
	if err != nil {
		return landing{}, err
	}
	next, reason := PROpen, fmt.Sprintf("pushed %s and opened pull request #%d", shortHash(res.SHA), number)
	if run.Kind == KindRevise {
		reason = fmt.Sprintf("pushed revision %s to pull request #%d", shortHash(res.SHA), number)
	}
	return landing{next: next, reason: reason, headSHA: res.SHA, pull: number, then: func(tx *store.Tx, t store.Task) error {
		return tx.SetTaskFields(ctx, t.ID, store.TaskUpdate{PullNumber: &number}, d.now())
	}}, nil
}

// provenanceFields is the block of DESIGN.md §4 for the pull request after
// this run: usage summed over the task's runs, revisions counted.
func (d *Dispatcher) provenanceFields(t store.Task, run store.Run, runs []store.Run, approved *store.Plan, out *Outcome, head, agentName, model string) provenance.Fields {
	usage := provenance.Usage{
		InputTokens: out.Report.Usage.InputTokens, OutputTokens: out.Report.Usage.OutputTokens, CostUSD: out.Report.Usage.CostUSD,
	}
	revisions := 0
	base := out.Worktree.Base
	for _, r := range runs {
		if r.ID == run.ID || r.State != RunSucceeded {
			continue
		}
		usage.InputTokens += r.InputTokens
		usage.OutputTokens += r.OutputTokens
		usage.CostUSD += float64(r.CostMicroUSD) / 1e6
		if r.Kind == KindRevise {
			revisions++
		}
		if r.Kind == KindImplement && r.BaseSHA != "" {
			base = r.BaseSHA // the default-branch commit the change started from
		}
	}
	if run.Kind == KindRevise {
		revisions++
	}
	f := provenance.Fields{
		provenance.KeyTask:            t.ID,
		provenance.KeyTriggerActor:    t.Requester,
		provenance.KeyTriggerDelivery: t.TriggerDelivery,
		provenance.KeyAgent:           agentName,
		provenance.KeyModel:           model,
		provenance.KeyPromptSHA256:    run.PromptSHA256,
		provenance.KeyBaseSHA:         base,
		provenance.KeyHeadSHA:         head,
		provenance.KeyRunner:          t.Runner,
		provenance.KeyUsage:           usage,
		provenance.KeyRevisions:       revisions,
		provenance.KeyInvolvement:     provenance.InvolvementAuthored,
	}
	if out.Report.AgentVersion != "" {
		f[provenance.KeyAgentVersion] = out.Report.AgentVersion
	}
	if approved != nil {
		f[provenance.KeyPlan] = approved.ID
		f[provenance.KeyPlanSHA256] = approved.SHA256
	}
	for k, v := range f {
		if s, ok := v.(string); ok && s == "" {
			delete(f, k)
		}
	}
	return f
}

// openOrUpdatePull finds the task's pull request (by number, else by its
// branch, so a retry after a crash never opens a second one) and writes
// its body, or opens it.
func (d *Dispatcher) openOrUpdatePull(ctx context.Context, client *github.Client, t store.Task, fields provenance.Fields) (int, error) {
	if err := fields.Validate(); err != nil {
		return 0, fmt.Errorf("provenance block: %w", err)
	}
	owner, name, _ := strings.Cut(t.Repository, "/")
	number := t.PullNumber
	var existingBody string
	if number == 0 {
		prs, _, err := client.PullRequests.List(ctx, owner, name, &github.PullRequestListOptions{Head: owner + ":" + t.Branch, State: "open"})
		if err != nil {
			return 0, fmt.Errorf("find the pull request of %s: %w", t.Branch, err)
		}
		if len(prs) > 0 {
			number, existingBody = prs[0].GetNumber(), prs[0].GetBody()
		}
	} else {
		pr, _, err := client.PullRequests.Get(ctx, owner, name, number)
		if err != nil {
			return 0, fmt.Errorf("read pull request #%d: %w", number, err)
		}
		existingBody = pr.GetBody()
	}
	if number > 0 {
		body := provenance.Replace(existingBody, fields)
		if existingBody == "" {
			body = d.pullBody(t, fields)
		}
		if _, _, err := client.PullRequests.Edit(ctx, owner, name, number, &github.PullRequest{Body: github.Ptr(body)}); err != nil {
			return 0, fmt.Errorf("update pull request #%d: %w", number, err)
		}
		return number, nil
	}
	base, err := d.defaultBranch(ctx, client, t)
	if err != nil {
		return 0, err
	}
	pr, _, err := client.PullRequests.Create(ctx, owner, name, &github.NewPullRequest{
		Title: github.Ptr(clip(t.IssueTitle, 240)), Head: github.Ptr(t.Branch), Base: github.Ptr(base),
		Body: github.Ptr(d.pullBody(t, fields)), MaintainerCanModify: github.Ptr(false),
	})
	if err != nil {
		return 0, fmt.Errorf("open the pull request for %s: %w", t.Branch, err)
	}
	return pr.GetNumber(), nil
}

func (d *Dispatcher) pullBody(t store.Task, fields provenance.Fields) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Fixes #%d\n\n", t.IssueNumber)
	fmt.Fprintf(&sb, "Written by agent `%s` for task `%s`, requested by @%s.", fields.Text(provenance.KeyAgent), t.ID, t.Requester)
	if p := fields.Text(provenance.KeyPlan); p != "" {
		fmt.Fprintf(&sb, " It follows plan `%s`.", p)
	}
	sb.WriteString(" agentgate committed and pushed it; the agent held no write access. The gate's checks decide whether it is ready; a person reviews it.\n\n")
	if d.opts.Links != nil {
		fmt.Fprintf(&sb, "[Task page and audit trail](%s)\n\n", d.opts.Links.Task(t.ID))
	}
	sb.WriteString(provenance.Write(fields))
	return sb.String()
}

// defaultBranch is the base of a task's pull request, asked of GitHub:
// guessing "main" on an error would build on, or target, the wrong branch.
func (d *Dispatcher) defaultBranch(ctx context.Context, client *github.Client, t store.Task) (string, error) {
	owner, name, _ := strings.Cut(t.Repository, "/")
	r, _, err := client.Repositories.Get(ctx, owner, name)
	if err != nil {
		return "", fmt.Errorf("default branch of %s: %w", t.Repository, err)
	}
	if r.GetDefaultBranch() == "" {
		return "", fmt.Errorf("default branch of %s: GitHub named none", t.Repository)
	}
	return r.GetDefaultBranch(), nil
}

// cloneURL is where git reaches a repository.
func (d *Dispatcher) cloneURL(repository string) string {
	return d.opts.WebURL + repository + ".git"
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func clip(s string, n int) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\n", " "))
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
