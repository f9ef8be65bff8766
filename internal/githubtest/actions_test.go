package githubtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/githubtest"
)

func TestWorkflowDispatch(t *testing.T) {
	t.Parallel() // git is slow to start; the fakes share nothing
	ctx := context.Background()
	s, _ := newGitFake(t)
	gh := installationClient(t, s, installationID)

	_, resp, err := gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, "octo-org", "repo-000", "agent.yml", github.CreateWorkflowDispatchEventRequest{
		Ref: "main", Inputs: map[string]any{"task": "issue-12"},
	})
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("dispatch: %v", err)
	}
	details, resp, err := gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, "octo-org", "repo-000", "agent.yml", github.CreateWorkflowDispatchEventRequest{
		Ref: "main", Inputs: map[string]any{"task": "issue-13", "model": "large"}, ReturnRunDetails: github.Ptr(true),
	})
	if err != nil || resp.StatusCode != 200 || details.GetWorkflowRunID() == 0 || !strings.HasSuffix(details.GetRunURL(), "/actions/runs/"+itoa(int(details.GetWorkflowRunID()))) {
		t.Errorf("dispatch with run details: %+v, %v", details, err)
	}
	got := s.WorkflowDispatches(repoName)
	if len(got) != 2 || got[0].Workflow != "agent.yml" || got[0].Ref != "main" || got[0].Inputs["task"] != "issue-12" || got[0].RunID != 0 ||
		got[1].RunID != details.GetWorkflowRunID() {
		t.Errorf("dispatches = %+v", got)
	}

	tests := []struct {
		name     string
		workflow string
		req      github.CreateWorkflowDispatchEventRequest
		status   int
		message  string
	}{
		{"no such workflow", "nope.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main"}, 404, "Not Found"},
		{"no such ref", "agent.yml", github.CreateWorkflowDispatchEventRequest{Ref: "nope", Inputs: map[string]any{"task": "x"}}, 422, "No ref found for: nope"},
		{"no workflow_dispatch trigger", "ci.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main"}, 422, "Workflow does not have 'workflow_dispatch' trigger"},
		{"required input missing", "agent.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main"}, 422, "Required input 'task' not provided"},
		{"unexpected input", "agent.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main", Inputs: map[string]any{"task": "x", "extra": "y"}}, 422, `Unexpected inputs provided: ["extra"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, "octo-org", "repo-000", tt.workflow, tt.req)
			if statusOf(err) != tt.status || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("err = %v, want %d %q", err, tt.status, tt.message)
			}
		})
	}

	t.Run("a workflow added on a branch", func(t *testing.T) {
		s.CommitFiles(repoName, "wf", "Add a workflow", map[string]string{".github/workflows/new.yaml": "on: workflow_dispatch\njobs: {}\n"})
		req := github.CreateWorkflowDispatchEventRequest{Ref: "wf"}
		if _, _, err := gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, "octo-org", "repo-000", "new.yaml", req); err != nil {
			t.Errorf("on its branch: %v", err)
		}
		req.Ref = "main"
		if _, _, err := gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, "octo-org", "repo-000", "new.yaml", req); statusOf(err) != 404 {
			t.Errorf("on main: %v, want 404", err)
		}
	})

	t.Run("registered workflow, by ID", func(t *testing.T) {
		s.SetBranch("octo-org/repo-001", "main", headSHA)
		id := s.AddWorkflow("octo-org/repo-001", "agent.yml")
		if _, _, err := gh.Actions.CreateWorkflowDispatchEventByID(ctx, "octo-org", "repo-001", id, github.CreateWorkflowDispatchEventRequest{Ref: "main", Inputs: map[string]any{"anything": "goes"}}); err != nil {
			t.Errorf("dispatch by ID: %v", err)
		}
		if d := s.WorkflowDispatches("octo-org/repo-001"); len(d) != 1 || d[0].Workflow != "agent.yml" {
			t.Errorf("dispatches = %+v", d)
		}
	})

	t.Run("needs actions:write", func(t *testing.T) {
		noActions := tokenClient(t, s, narrowToken(t, s, nil, &github.InstallationPermissions{Contents: github.Ptr("write")}))
		_, _, err := noActions.Actions.CreateWorkflowDispatchEventByFileName(ctx, "octo-org", "repo-000", "agent.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main", Inputs: map[string]any{"task": "x"}})
		if statusOf(err) != 403 {
			t.Errorf("err = %v, want 403", err)
		}
	})
}

func TestCommitFiles(t *testing.T) {
	t.Parallel() // git is slow to start; the fakes share nothing
	ctx := context.Background()
	s, initial := newGitFake(t)
	s.AddPullRequest(repoName, githubtest.PullRequest{Number: 3, Title: "t", Base: githubtest.PullRef{Ref: "main", SHA: initial}, Head: githubtest.PullRef{Ref: "topic", SHA: initial}})
	sha := s.CommitFiles(repoName, "topic", "Add docs", map[string]string{"docs/a.md": "a\n"})
	if again := s.CommitFiles(repoName, "main", "Move main", map[string]string{"main.go": "package main\n"}); again == sha {
		t.Errorf("two commits, one SHA")
	}
	pr, _ := s.PullRequest(repoName, 3)
	if pr.Head.SHA != sha || len(pr.Files) != 1 || pr.Files[0].Filename != "docs/a.md" || pr.Files[0].Status != "added" || len(pr.Commits) != 1 {
		t.Errorf("pull request after CommitFiles = %+v", pr)
	}
	if len(s.Pushes(repoName)) != 0 {
		t.Errorf("CommitFiles recorded a push")
	}
	// The commit is known to the checks API.
	gh := installationClient(t, s, installationID)
	if _, _, err := gh.Checks.CreateCheckRun(ctx, "octo-org", "repo-000", github.CreateCheckRunOptions{Name: "agentgate", HeadSHA: sha}); err != nil {
		t.Errorf("check run on a git commit: %v", err)
	}
}
