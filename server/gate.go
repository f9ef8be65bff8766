package server

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/webhook"
)

// GateTask is the queue task that evaluates one pull request head.
const GateTask = "gate.evaluate"

// gateDebounce is the window in which events about one pull request head
// collapse into one evaluation.
const gateDebounce = 2 * time.Second

// GateTarget is what one evaluation judges: a pull request at a head SHA, or
// a merge group's head on behalf of the pull requests in it.
type GateTarget struct {
	InstallationID int64  `json:"installation_id"`
	Owner          string `json:"owner"`
	Repo           string `json:"repo"`
	Number         int    `json:"number"`
	HeadSHA        string `json:"head_sha"`
	// MergeGroup is set for merge_group events: the check run goes on the
	// merge group's head, and the evaluation looks at that commit.
	MergeGroup *MergeGroupTarget `json:"merge_group,omitempty"`
	Trigger    string            `json:"trigger"` // event.action that caused it
	Delivery   string            `json:"delivery"`
}

// MergeGroupTarget names a merge queue group.
type MergeGroupTarget struct {
	HeadSHA string `json:"head_sha"`
	HeadRef string `json:"head_ref"`
	BaseSHA string `json:"base_sha"`
}

// Key identifies what an evaluation is about, for debouncing.
func (t GateTarget) Key() string {
	sha := t.HeadSHA
	if t.MergeGroup != nil {
		sha = "mg:" + t.MergeGroup.HeadSHA
	}
	return fmt.Sprintf("%s/%s#%d@%s", t.Owner, t.Repo, t.Number, sha)
}

// taskEnqueuer is what the gate handler needs of the queue.
type taskEnqueuer interface {
	EnqueueDebounced(ctx context.Context, name, key string, payload any, window time.Duration) (bool, error)
}

// GateTrigger turns webhook events into debounced evaluations. It decides
// cheaply, from the payload, which pull request heads an event can change,
// so a storm of events costs one evaluation per head, and an event that
// cannot change a result (our own check run completing, a closed PR) costs
// nothing.
type GateTrigger struct {
	tasks   taskEnqueuer
	clients installationClients
	appID   int64
	window  time.Duration
}

// Name implements webhook.Handler.
func (*GateTrigger) Name() string { return "gate" }

// Subscriptions implements webhook.Handler: the events DESIGN.md §3 lists.
func (*GateTrigger) Subscriptions() []string {
	return []string{
		"pull_request.opened", "pull_request.reopened", "pull_request.synchronize", "pull_request.edited",
		"pull_request.ready_for_review", "pull_request.labeled", "pull_request.unlabeled",
		"pull_request_review.submitted", "pull_request_review.dismissed",
		"check_run.completed", "check_run.rerequested", "check_run.requested_action",
		"check_suite.completed", "status", "merge_group.checks_requested",
	}
}

// Handle implements webhook.Handler.
func (g *GateTrigger) Handle(ctx context.Context, ev webhook.Event) error {
	targets, err := g.targets(ctx, ev)
	if err != nil {
		return err
	}
	log := webhook.Logger(ctx)
	for _, t := range targets {
		t.InstallationID, t.Trigger, t.Delivery = ev.InstallationID, ev.Type+"."+ev.Action, ev.DeliveryID
		collapsed, err := g.tasks.EnqueueDebounced(ctx, GateTask, t.Key(), t, g.window)
		if err != nil {
			return err
		}
		log.Debug("gate evaluation requested", "target", t.Key(), "collapsed", collapsed)
	}
	return nil
}

// targets lists the pull request heads an event may change.
func (g *GateTrigger) targets(ctx context.Context, ev webhook.Event) ([]GateTarget, error) {
	switch ev.Type {
	case "pull_request":
		var p github.PullRequestEvent
		if err := ev.Decode(&p); err != nil {
			return nil, fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		return prTarget(p.GetRepo(), p.GetPullRequest()), nil
	case "pull_request_review":
		var p github.PullRequestReviewEvent
		if err := ev.Decode(&p); err != nil {
			return nil, fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		return prTarget(p.GetRepo(), p.GetPullRequest()), nil
	case "check_run":
		var p github.CheckRunEvent
		if err := ev.Decode(&p); err != nil {
			return nil, fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		run := p.GetCheckRun()
		ours := run.GetApp().GetID() == g.appID
		switch ev.Action {
		case "completed":
			if ours {
				return nil, nil // our own verdict landing changes nothing
			}
		case "rerequested":
			if !ours {
				return nil, nil
			}
		case "requested_action":
			if !ours || p.GetRequestedAction().Identifier != "reevaluate" {
				return nil, nil
			}
		}
		return g.shaTargets(ctx, ev.InstallationID, p.GetRepo(), run.GetHeadSHA(), run.PullRequests)
	case "check_suite":
		var p github.CheckSuiteEvent
		if err := ev.Decode(&p); err != nil {
			return nil, fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		if p.GetCheckSuite().GetApp().GetID() == g.appID {
			return nil, nil
		}
		return g.shaTargets(ctx, ev.InstallationID, p.GetRepo(), p.GetCheckSuite().GetHeadSHA(), p.GetCheckSuite().PullRequests)
	case "status":
		var p github.StatusEvent
		if err := ev.Decode(&p); err != nil {
			return nil, fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		return g.shaTargets(ctx, ev.InstallationID, p.GetRepo(), p.GetSHA(), nil)
	case "merge_group":
		var p github.MergeGroupEvent
		if err := ev.Decode(&p); err != nil {
			return nil, fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		mg := p.GetMergeGroup()
		owner, repo := p.GetRepo().GetOwner().GetLogin(), p.GetRepo().GetName()
		target := &MergeGroupTarget{HeadSHA: mg.GetHeadSHA(), HeadRef: mg.GetHeadRef(), BaseSHA: mg.GetBaseSHA()}
		numbers := mergeGroupPRs(mg.GetHeadRef())
		if len(numbers) == 0 {
			return nil, fmt.Errorf("%w: merge group ref %q names no pull request", webhook.ErrPermanent, mg.GetHeadRef())
		}
		// The group's head holds every PR in it; judge it on behalf of the
		// newest, whose head ref names the group.
		return []GateTarget{{Owner: owner, Repo: repo, Number: numbers[len(numbers)-1], HeadSHA: mg.GetHeadSHA(), MergeGroup: target}}, nil
	}
	return nil, nil
}

func prTarget(repo *github.Repository, pr *github.PullRequest) []GateTarget {
	if pr.GetState() == "closed" || pr.GetNumber() == 0 {
		return nil
	}
	return []GateTarget{{
		Owner: repo.GetOwner().GetLogin(), Repo: repo.GetName(),
		Number: pr.GetNumber(), HeadSHA: pr.GetHead().GetSHA(),
	}}
}

// shaTargets maps a commit to the open pull requests it heads: from the
// payload when GitHub listed them (same-repository PRs), otherwise with one
// API call. Never a sweep of every open PR.
func (g *GateTrigger) shaTargets(ctx context.Context, installationID int64, repo *github.Repository, sha string, listed []*github.PullRequest) ([]GateTarget, error) {
	owner, name := repo.GetOwner().GetLogin(), repo.GetName()
	var out []GateTarget
	if len(listed) > 0 {
		for _, pr := range listed {
			if pr.GetHead().GetSHA() == sha {
				out = append(out, GateTarget{Owner: owner, Repo: name, Number: pr.GetNumber(), HeadSHA: sha})
			}
		}
		return out, nil
	}
	client, err := g.clients.Installation(installationID)
	if err != nil {
		return nil, err
	}
	prs, _, err := client.PullRequests.ListPullRequestsWithCommit(ctx, owner, name, sha, &github.ListOptions{PerPage: 100})
	if err != nil {
		return nil, fmt.Errorf("pull requests with commit %s: %w", sha, err)
	}
	for _, pr := range prs {
		if pr.GetState() == "open" && pr.GetHead().GetSHA() == sha {
			out = append(out, GateTarget{Owner: owner, Repo: name, Number: pr.GetNumber(), HeadSHA: sha})
		}
	}
	return out, nil
}

// mergeQueueRef matches GitHub's merge queue branches:
// gh-readonly-queue/<base>/pr-<number>-<sha>.
var mergeQueueRef = regexp.MustCompile(`pr-(\d+)-[0-9a-f]{40}`)

func mergeGroupPRs(ref string) []int {
	var out []int
	for _, m := range mergeQueueRef.FindAllStringSubmatch(strings.TrimPrefix(ref, "refs/heads/"), -1) {
		if n, err := strconv.Atoi(m[1]); err == nil {
			out = append(out, n)
		}
	}
	return out
}
