package server

import (
	"context"
	"fmt"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/dispatch"
	"github.com/agentgate/agentgate/dispatch/command"
	"github.com/agentgate/agentgate/internal/webhook"
)

// DispatchTrigger turns webhook events into dispatch calls: labels on
// issues, comments and reviews that may hold /agent commands, and closed
// agent pull requests.
type DispatchTrigger struct {
	dispatcher *dispatch.Dispatcher
}

// Name implements webhook.Handler.
func (*DispatchTrigger) Name() string { return "dispatch" }

// Subscriptions implements webhook.Handler.
func (*DispatchTrigger) Subscriptions() []string {
	return []string{
		"issues.labeled",
		"issue_comment.created",
		"pull_request_review_comment.created",
		"pull_request_review.submitted",
		"pull_request.closed",
		"workflow_run.completed",
	}
}

// Handle implements webhook.Handler.
func (h *DispatchTrigger) Handle(ctx context.Context, ev webhook.Event) error {
	switch ev.Type {
	case "issues":
		var p github.IssuesEvent
		if err := ev.Decode(&p); err != nil {
			return fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		is := p.GetIssue()
		return h.dispatcher.Labeled(ctx, origin(ev, p.GetRepo(), p.GetSender()), dispatch.Issue{
			Number: is.GetNumber(), Title: is.GetTitle(), Body: is.GetBody(), Author: is.GetUser().GetLogin(),
			IsPullRequest: is.IsPullRequest(),
		}, p.GetLabel().GetName())
	case "issue_comment":
		var p github.IssueCommentEvent
		if err := ev.Decode(&p); err != nil {
			return fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		is, c := p.GetIssue(), p.GetComment()
		return h.dispatcher.Commented(ctx, dispatch.Comment{
			Origin: origin(ev, p.GetRepo(), p.GetSender()),
			Issue: dispatch.Issue{Number: is.GetNumber(), Title: is.GetTitle(), Body: is.GetBody(),
				Author: is.GetUser().GetLogin(), IsPullRequest: is.IsPullRequest()},
			Comment: command.Comment{
				Source: command.IssueComment, Repo: p.GetRepo().GetFullName(), Number: is.GetNumber(),
				IsPullRequest: is.IsPullRequest(), CommentID: c.GetID(), Author: c.GetUser().GetLogin(),
				AuthorType: c.GetUser().GetType(), AuthorID: c.GetUser().GetID(), Body: c.GetBody(), URL: c.GetHTMLURL(),
			},
		})
	case "pull_request_review_comment":
		var p github.PullRequestReviewCommentEvent
		if err := ev.Decode(&p); err != nil {
			return fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		pr, c := p.GetPullRequest(), p.GetComment()
		return h.dispatcher.Commented(ctx, dispatch.Comment{
			Origin: origin(ev, p.GetRepo(), p.GetSender()),
			Issue:  dispatch.Issue{Number: pr.GetNumber(), Title: pr.GetTitle(), Author: pr.GetUser().GetLogin(), IsPullRequest: true},
			Comment: command.Comment{
				Source: command.ReviewComment, Repo: p.GetRepo().GetFullName(), Number: pr.GetNumber(),
				IsPullRequest: true, CommentID: c.GetID(), ReviewID: c.GetPullRequestReviewID(), Author: c.GetUser().GetLogin(),
				AuthorType: c.GetUser().GetType(), AuthorID: c.GetUser().GetID(), Body: c.GetBody(), URL: c.GetHTMLURL(),
			},
		})
	case "pull_request_review":
		var p github.PullRequestReviewEvent
		if err := ev.Decode(&p); err != nil {
			return fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		pr, rv := p.GetPullRequest(), p.GetReview()
		return h.dispatcher.Reviewed(ctx, dispatch.Comment{
			Origin: origin(ev, p.GetRepo(), p.GetSender()),
			Issue:  dispatch.Issue{Number: pr.GetNumber(), Title: pr.GetTitle(), Author: pr.GetUser().GetLogin(), IsPullRequest: true},
			Comment: command.Comment{
				Source: command.Review, Repo: p.GetRepo().GetFullName(), Number: pr.GetNumber(),
				IsPullRequest: true, ReviewID: rv.GetID(), Author: rv.GetUser().GetLogin(),
				AuthorType: rv.GetUser().GetType(), AuthorID: rv.GetUser().GetID(), Body: rv.GetBody(), URL: rv.GetHTMLURL(),
			},
		}, rv.GetState(), rv.GetID())
	case "workflow_run":
		var p github.WorkflowRunEvent
		if err := ev.Decode(&p); err != nil {
			return fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		run := p.GetWorkflowRun()
		return h.dispatcher.WorkflowCompleted(ctx, dispatch.WorkflowRun{
			Repository: p.GetRepo().GetFullName(), Event: run.GetEvent(), Path: run.GetPath(),
			Title: run.GetDisplayTitle(), Conclusion: run.GetConclusion(), URL: run.GetHTMLURL(),
		})
	case "pull_request":
		var p github.PullRequestEvent
		if err := ev.Decode(&p); err != nil {
			return fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		return h.dispatcher.PullClosed(ctx, origin(ev, p.GetRepo(), p.GetSender()), p.GetNumber(), p.GetPullRequest().GetMerged())
	}
	return nil
}

func origin(ev webhook.Event, repo *github.Repository, sender *github.User) dispatch.Origin {
	return dispatch.Origin{
		DeliveryID: ev.DeliveryID, InstallationID: ev.InstallationID,
		Repo:   dispatch.Repo{FullName: repo.GetFullName(), ID: repo.GetID(), DefaultBranch: repo.GetDefaultBranch()},
		Sender: dispatch.Person{Login: sender.GetLogin(), ID: sender.GetID(), Type: sender.GetType()},
	}
}
