package server

import (
	"context"
	"fmt"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/webhook"
)

// AttestTask is the queue task that attests one merged pull request.
const AttestTask = "attest.merge"

// AttestTarget is a pull request that merged, and the commit that landed.
type AttestTarget struct {
	InstallationID int64  `json:"installation_id"`
	RepositoryID   int64  `json:"repository_id"`
	Owner          string `json:"owner"`
	Repo           string `json:"repo"`
	Number         int    `json:"number"`
	// Landed is the commit that landed on the base branch as the event
	// reported it; the job reads the pull request again and trusts that.
	Landed   string `json:"landed"`
	Trigger  string `json:"trigger"`
	Delivery string `json:"delivery"`
}

// Key names the job: one per pull request and landed commit, so a
// redelivered merge event finds the job it already queued.
func (t AttestTarget) Key() string {
	return fmt.Sprintf("%s/%s#%d@%s", t.Owner, t.Repo, t.Number, t.Landed)
}

// onceEnqueuer is what the attest trigger needs of the queue.
type onceEnqueuer interface {
	Enqueue(ctx context.Context, name, key string, payload any, maxAttempts int) (duplicate bool, err error)
}

// AttestTrigger queues an attestation job for each merged pull request: a
// pull_request closed with merged true, and a push to a default branch
// whose commits belong to merged pull requests (what a merge queue
// landing a group looks like). Whether the pull request is agent-authored
// is the job's question: it needs the pull request's commits and body.
type AttestTrigger struct {
	tasks   onceEnqueuer
	clients installationClients
}

// Name implements webhook.Handler.
func (*AttestTrigger) Name() string { return "attest" }

// Subscriptions implements webhook.Handler.
func (*AttestTrigger) Subscriptions() []string {
	return []string{"pull_request.closed", "push"}
}

// Handle implements webhook.Handler.
func (h *AttestTrigger) Handle(ctx context.Context, ev webhook.Event) error {
	var targets []AttestTarget
	switch ev.Type {
	case "pull_request":
		var p github.PullRequestEvent
		if err := ev.Decode(&p); err != nil {
			return fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		pr := p.GetPullRequest()
		if !pr.GetMerged() || pr.GetMergeCommitSHA() == "" {
			return nil
		}
		repo := p.GetRepo()
		targets = append(targets, AttestTarget{
			RepositoryID: repo.GetID(), Owner: repo.GetOwner().GetLogin(), Repo: repo.GetName(),
			Number: pr.GetNumber(), Landed: pr.GetMergeCommitSHA(),
		})
	case "push":
		var p github.PushEvent
		if err := ev.Decode(&p); err != nil {
			return fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		var err error
		if targets, err = h.pushTargets(ctx, ev.InstallationID, &p); err != nil {
			return err
		}
	}
	log := webhook.Logger(ctx)
	for _, t := range targets {
		t.InstallationID, t.Trigger, t.Delivery = ev.InstallationID, ev.Type+"."+ev.Action, ev.DeliveryID
		dup, err := h.tasks.Enqueue(ctx, AttestTask, t.Key(), t, 0)
		if err != nil {
			return err
		}
		log.Info("attestation requested", "target", t.Key(), "duplicate", dup)
	}
	return nil
}

// pushTargets finds merged pull requests whose merge commit a push to the
// default branch landed. Only the default branch, and only pushes that
// move it forward, are looked at: every other push costs nothing.
func (h *AttestTrigger) pushTargets(ctx context.Context, installationID int64, p *github.PushEvent) ([]AttestTarget, error) {
	repo := p.GetRepo()
	if p.GetRef() != "refs/heads/"+repo.GetDefaultBranch() || p.GetDeleted() || p.GetForced() {
		return nil, nil
	}
	after := p.GetAfter()
	if after == "" || len(p.Commits) == 0 {
		return nil, nil
	}
	client, err := h.clients.Installation(installationID)
	if err != nil {
		return nil, err
	}
	owner, name := repo.GetOwner().GetLogin(), repo.GetName()
	if owner == "" {
		owner = repo.GetOwner().GetName() // push payloads name the owner this way
	}
	prs, _, err := client.PullRequests.ListPullRequestsWithCommit(ctx, owner, name, after, &github.ListOptions{PerPage: 100})
	if err != nil {
		return nil, fmt.Errorf("pull requests of %s/%s@%s: %w", owner, name, after, err)
	}
	landed := make(map[string]bool, len(p.Commits))
	for _, c := range p.Commits {
		landed[c.GetID()] = true
	}
	var out []AttestTarget
	for _, pr := range prs {
		if pr.GetMerged() || pr.MergedAt != nil {
			if sha := pr.GetMergeCommitSHA(); sha != "" && landed[sha] {
				out = append(out, AttestTarget{RepositoryID: repo.GetID(), Owner: owner, Repo: name, Number: pr.GetNumber(), Landed: sha})
			}
		}
	}
	return out, nil
}
