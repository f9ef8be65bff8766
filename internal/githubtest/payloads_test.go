package githubtest_test

import (
	"strings"
	"testing"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/internal/githubtest/openapi"
)

// Every template is checked against its webhook's schema, so the schema must be in the
// cut-down description (a SCHEMA line of operations.txt).
func TestPayloadSchemas(t *testing.T) {
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range githubtest.PayloadNames() {
		parts := strings.SplitN(name, ".", 3)
		schema := "webhook-" + strings.NewReplacer("_", "-", ".", "-").Replace(strings.Join(parts[:min(len(parts), 2)], "."))
		if doc.Components.Schemas[schema] == nil {
			t.Errorf("%s: no schema %s in the description", name, schema)
		}
	}
}

// The dispatch templates parse with go-github, as agentgate reads them, and take the vars
// tests need.
func TestDispatchPayloads(t *testing.T) {
	tests := []struct {
		name  string
		event string
		vars  map[string]any
		check func(t *testing.T, ev any)
	}{
		{"issue_comment.created", "issue_comment", map[string]any{
			"comment.id": 123, "comment.body": "/agent run", "comment.user.login": "alice", "issue.number": 12,
		}, func(t *testing.T, ev any) {
			e := ev.(*github.IssueCommentEvent)
			if e.GetComment().GetID() != 123 || e.GetComment().GetBody() != "/agent run" || e.GetComment().GetUser().GetLogin() != "alice" ||
				e.GetIssue().GetNumber() != 12 || e.GetIssue().IsPullRequest() {
				t.Errorf("event = %+v", e)
			}
		}},
		{"issue_comment.created.pull_request", "issue_comment", map[string]any{"comment.user.type": "Bot", "comment.user.login": "other[bot]"}, func(t *testing.T, ev any) {
			e := ev.(*github.IssueCommentEvent)
			if !e.GetIssue().IsPullRequest() || e.GetIssue().GetNumber() != 8 || e.GetComment().GetUser().GetType() != "Bot" {
				t.Errorf("event = %+v", e)
			}
		}},
		{"issue_comment.edited", "issue_comment", nil, func(t *testing.T, ev any) {
			e := ev.(*github.IssueCommentEvent)
			if e.GetAction() != "edited" || e.GetChanges().GetBody().GetFrom() != "/agent approve plan-0001" || e.GetComment().GetBody() != "/agent approve plan-0002" {
				t.Errorf("event = %+v", e)
			}
		}},
		{"pull_request_review.submitted.changes_requested", "pull_request_review", nil, func(t *testing.T, ev any) {
			e := ev.(*github.PullRequestReviewEvent)
			if e.GetReview().GetState() != "changes_requested" || e.GetReview().GetUser().GetLogin() != "octocat" || e.GetPullRequest().GetUser().GetLogin() != "agentgate-test[bot]" {
				t.Errorf("event = %+v", e)
			}
		}},
		{"pull_request_review_comment.created", "pull_request_review_comment", map[string]any{"comment.id": 456}, func(t *testing.T, ev any) {
			e := ev.(*github.PullRequestReviewCommentEvent)
			if e.GetComment().GetID() != 456 || e.GetComment().GetPullRequestReviewID() != 81 || e.GetComment().GetPath() == "" || e.GetPullRequest().GetNumber() != 8 {
				t.Errorf("event = %+v", e)
			}
		}},
		{"pull_request.closed", "pull_request", nil, func(t *testing.T, ev any) {
			if e := ev.(*github.PullRequestEvent); e.GetAction() != "closed" || e.GetPullRequest().GetMerged() || e.GetPullRequest().GetState() != "closed" {
				t.Errorf("event = %+v", e)
			}
		}},
		{"pull_request.closed.merged", "pull_request", nil, func(t *testing.T, ev any) {
			if e := ev.(*github.PullRequestEvent); !e.GetPullRequest().GetMerged() || e.GetPullRequest().MergedAt == nil {
				t.Errorf("event = %+v", e)
			}
		}},
		{"workflow_run.completed", "workflow_run", map[string]any{"workflow_run.conclusion": "failure", "workflow_run.id": 77}, func(t *testing.T, ev any) {
			e := ev.(*github.WorkflowRunEvent)
			if e.GetWorkflowRun().GetConclusion() != "failure" || e.GetWorkflowRun().GetID() != 77 || e.GetWorkflowRun().GetEvent() != "workflow_dispatch" ||
				e.GetWorkflow().GetPath() != ".github/workflows/agent.yml" || e.GetInstallation().GetID() != installationID {
				t.Errorf("event = %+v", e)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := github.ParseWebHook(tt.event, githubtest.Payload(t, tt.name, tt.vars))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, ev)
		})
	}
}
