package githubtest_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/githubtest"
)

// pushBranch clones repo-000, makes a commit on branch for each change (which edits the
// work tree and returns the message) and pushes the branch.
func pushBranch(t *testing.T, s *githubtest.Server, token, branch string, commits ...func(dir string) string) string {
	t.Helper()
	dir := clone(t, s, token)
	if _, err := gitErr(dir, "checkout", "--quiet", branch); err != nil { // not on the remote yet
		git(t, dir, "checkout", "--quiet", "-b", branch)
	}
	for _, change := range commits {
		msg := change(dir)
		git(t, dir, "add", "-A")
		git(t, dir, "commit", "--quiet", "-m", msg)
	}
	git(t, dir, "push", "--quiet", "origin", branch)
	return git(t, dir, "rev-parse", "HEAD")
}

func TestCreatePullRequestFromGit(t *testing.T) {
	t.Parallel() // git is slow to start; the fakes share nothing
	ctx := context.Background()
	s, initial := newGitFake(t)
	s.AddIssue(repoName, githubtest.Issue{Number: 1, Title: "Add a greeting"})
	token := s.InstallationToken(installationID)
	head := pushBranch(t, s, token, "agent/issue-1",
		func(dir string) string {
			writeFile(t, dir, "main.go", "package main\n\nfunc main() {\n\tprintln(\"hi\")\n}\n")
			writeFile(t, dir, "docs/added.md", "new\n")
			git(t, dir, "mv", "old.txt", "new.txt")
			git(t, dir, "rm", "--quiet", "gone.txt")
			return "Greet\n\nAgent-Run: r-1"
		},
		func(dir string) string {
			writeFile(t, dir, "README.md", "# repo-000\n\nGreets.\n")
			return "Document the greeting"
		})
	gh := installationClient(t, s, installationID)

	pr, resp, err := gh.PullRequests.Create(ctx, "octo-org", "repo-000", &github.NewPullRequest{
		Title: github.Ptr("Add a greeting"), Head: github.Ptr("agent/issue-1"), Base: github.Ptr("main"),
		Body: github.Ptr("Closes #1."), Draft: github.Ptr(true), MaintainerCanModify: github.Ptr(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetNumber() != 2 || pr.GetUser().GetLogin() != "agentgate-test[bot]" || pr.GetUser().GetType() != "Bot" ||
		pr.GetHead().GetSHA() != head || pr.GetBase().GetSHA() != initial || !pr.GetDraft() || pr.GetCommits() != 2 ||
		pr.GetChangedFiles() != 5 || resp.Header.Get("Location") != pr.GetURL() {
		t.Errorf("pull request = %+v", pr)
	}

	files, _, err := gh.PullRequests.ListFiles(ctx, "octo-org", "repo-000", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*github.CommitFile{}
	var statuses []string
	for _, f := range files {
		got[f.GetFilename()] = f
		statuses = append(statuses, f.GetFilename()+":"+f.GetStatus())
	}
	slices.Sort(statuses)
	if want := []string{"README.md:modified", "docs/added.md:added", "gone.txt:removed", "main.go:modified", "new.txt:renamed"}; !slices.Equal(statuses, want) {
		t.Errorf("files = %v, want %v", statuses, want)
	}
	if f := got["main.go"]; f.GetAdditions() != 3 || f.GetDeletions() != 1 || !strings.HasPrefix(f.GetPatch(), "@@ ") ||
		!strings.Contains(f.GetPatch(), "+\tprintln(\"hi\")") || strings.HasSuffix(f.GetPatch(), "\n") {
		t.Errorf("main.go = %+v", f)
	}
	blob := git(t, "", "--git-dir="+s.GitDir(repoName), "rev-parse", head+":main.go")
	if got["main.go"].GetSHA() != blob {
		t.Errorf("main.go sha = %s, want the blob %s", got["main.go"].GetSHA(), blob)
	}
	if f := got["new.txt"]; f.GetPreviousFilename() != "old.txt" || f.GetPatch() != "" {
		t.Errorf("rename = %+v", f)
	}
	if f := got["gone.txt"]; f.GetDeletions() != 1 || f.SHA != nil {
		t.Errorf("removal = %+v", f)
	}

	commits, _, err := gh.PullRequests.ListCommits(ctx, "octo-org", "repo-000", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(commits) != 2 || commits[1].GetSHA() != head || commits[0].GetCommit().GetMessage() != "Greet\n\nAgent-Run: r-1" ||
		commits[0].Parents[0].GetSHA() != initial || commits[1].Parents[0].GetSHA() != commits[0].GetSHA() ||
		commits[0].GetAuthor().GetLogin() != "agentgate-test[bot]" || commits[0].GetCommit().GetAuthor().GetName() != "agentgate-test[bot]" ||
		commits[0].GetCommit().GetCommitter().GetEmail() != "4242+agentgate-test[bot]@users.noreply.github.com" ||
		commits[0].GetCommit().GetAuthor().GetDate().Format("2006-01-02T15:04") != "2025-02-01T10:00" {
		t.Errorf("commits = %+v", commits)
	}

	t.Run("refused", func(t *testing.T) {
		pushBranch(t, s, token, "empty")
		tests := []struct{ name, head, base, message string }{
			{"duplicate", "agent/issue-1", "main", "A pull request already exists for octo-org:agent/issue-1."},
			{"duplicate with owner", "octo-org:agent/issue-1", "main", "A pull request already exists for octo-org:agent/issue-1."},
			{"no commits", "empty", "main", "No commits between main and empty"},
			{"unknown head", "nope", "main", ""},
			{"unknown base", "empty", "nope", ""},
			{"another owner's branch", "someone:agent/issue-1", "main", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := gh.PullRequests.Create(ctx, "octo-org", "repo-000", &github.NewPullRequest{
					Title: github.Ptr("x"), Head: github.Ptr(tt.head), Base: github.Ptr(tt.base),
				})
				if statusOf(err) != 422 || !strings.Contains(err.Error(), tt.message) {
					t.Errorf("err = %v, want 422 %q", err, tt.message)
				}
			})
		}
	})

	t.Run("a push to the head updates the pull request", func(t *testing.T) {
		newHead := pushBranch(t, s, token, "agent/issue-1", func(dir string) string {
			writeFile(t, dir, "main_test.go", "package main\n")
			return "Test the greeting"
		})
		after, ok := s.PullRequest(repoName, 2)
		if !ok || after.Head.SHA != newHead || len(after.Commits) != 3 || len(after.Files) != 6 {
			t.Errorf("after the push: head %s, %d commits, %d files", after.Head.SHA, len(after.Commits), len(after.Files))
		}
		pr, _, err := gh.PullRequests.Get(ctx, "octo-org", "repo-000", 2)
		if err != nil || pr.GetHead().GetSHA() != newHead || pr.GetCommits() != 3 {
			t.Errorf("GET after the push: %+v, %v", pr, err)
		}
	})

	t.Run("list by head", func(t *testing.T) {
		for head, want := range map[string][]int{"octo-org:agent/issue-1": {2}, "octo-org:empty": nil, "someone:agent/issue-1": nil} {
			prs, _, err := gh.PullRequests.List(ctx, "octo-org", "repo-000", &github.PullRequestListOptions{Head: head, State: "all"})
			if err != nil || !slices.Equal(numbers(prs), want) {
				t.Errorf("head %s: %v, %v; want %v", head, numbers(prs), err, want)
			}
		}
	})

	t.Run("edit, close and reopen", func(t *testing.T) {
		pr, _, err := gh.PullRequests.Edit(ctx, "octo-org", "repo-000", 2, &github.PullRequest{Title: github.Ptr("Greet"), Body: github.Ptr("new body")})
		if err != nil || pr.GetTitle() != "Greet" || pr.GetBody() != "new body" || pr.GetState() != "open" {
			t.Errorf("edit: %+v, %v", pr, err)
		}
		pr, _, err = gh.PullRequests.Edit(ctx, "octo-org", "repo-000", 2, &github.PullRequest{State: github.Ptr("closed")})
		if err != nil || pr.GetState() != "closed" || pr.ClosedAt == nil {
			t.Errorf("close: %+v, %v", pr, err)
		}
		// Closed, its head may have a new pull request; then the old one cannot reopen.
		other, _, err := gh.PullRequests.Create(ctx, "octo-org", "repo-000", &github.NewPullRequest{
			Title: github.Ptr("again"), Head: github.Ptr("agent/issue-1"), Base: github.Ptr("main"),
		})
		if err != nil || other.GetNumber() != 3 {
			t.Fatalf("second pull request: %+v, %v", other, err)
		}
		if _, _, err := gh.PullRequests.Edit(ctx, "octo-org", "repo-000", 2, &github.PullRequest{State: github.Ptr("open")}); statusOf(err) != 422 {
			t.Errorf("reopen with another open pull request on the head: %v, want 422", err)
		}
		gh.PullRequests.Edit(ctx, "octo-org", "repo-000", 3, &github.PullRequest{State: github.Ptr("closed")})
		if pr, _, err := gh.PullRequests.Edit(ctx, "octo-org", "repo-000", 2, &github.PullRequest{State: github.Ptr("open")}); err != nil || pr.GetState() != "open" {
			t.Errorf("reopen: %+v, %v", pr, err)
		}
	})

	t.Run("permissions", func(t *testing.T) {
		readOnly := tokenClient(t, s, narrowToken(t, s, []string{"repo-000"}, &github.InstallationPermissions{PullRequests: github.Ptr("read")}))
		_, _, err := readOnly.PullRequests.Create(ctx, "octo-org", "repo-000", &github.NewPullRequest{Title: github.Ptr("x"), Head: github.Ptr("empty"), Base: github.Ptr("main")})
		if statusOf(err) != 403 {
			t.Errorf("create with pull_requests:read: %v, want 403", err)
		}
		if _, _, err := readOnly.PullRequests.Edit(ctx, "octo-org", "repo-000", 2, &github.PullRequest{Title: github.Ptr("x")}); statusOf(err) != 403 {
			t.Errorf("edit with pull_requests:read: %v, want 403", err)
		}
	})
}

func TestDeleteRef(t *testing.T) {
	t.Parallel() // git is slow to start; the fakes share nothing
	ctx := context.Background()
	s, _ := newGitFake(t)
	token := s.InstallationToken(installationID)
	pushBranch(t, s, token, "agent/issue-1/try-2", func(dir string) string {
		writeFile(t, dir, "x.txt", "x\n")
		return "x"
	})
	gh := installationClient(t, s, installationID)

	resp, err := gh.Git.DeleteRef(ctx, "octo-org", "repo-000", "heads/agent/issue-1/try-2")
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("delete: %v", err)
	}
	if _, ok := s.Branch(repoName, "agent/issue-1/try-2"); ok {
		t.Errorf("the fake still has the branch")
	}
	if out, err := gitErr("", "--git-dir="+s.GitDir(repoName), "show-ref", "--verify", "refs/heads/agent/issue-1/try-2"); err == nil {
		t.Errorf("git still has the branch: %s", out)
	}

	tests := []struct{ name, ref, message string }{
		{"already gone", "heads/agent/issue-1/try-2", "Reference does not exist"},
		{"never there", "refs/heads/nope", "Reference does not exist"},
		{"default branch", "heads/main", "default branch"},
	}
	for _, tt := range tests {
		if _, err := gh.Git.DeleteRef(ctx, "octo-org", "repo-000", tt.ref); statusOf(err) != 422 || !strings.Contains(err.Error(), tt.message) {
			t.Errorf("%s: %v, want 422 %q", tt.name, err, tt.message)
		}
	}

	// Without git, the fake's branches.
	s.SetBranch("octo-org/repo-001", "feature", headSHA)
	if _, err := gh.Git.DeleteRef(ctx, "octo-org", "repo-001", "heads/feature"); err != nil {
		t.Errorf("delete a branch without git: %v", err)
	}
	if _, ok := s.Branch("octo-org/repo-001", "feature"); ok {
		t.Errorf("branch without git not deleted")
	}

	readOnly := tokenClient(t, s, narrowToken(t, s, nil, &github.InstallationPermissions{Contents: github.Ptr("read")}))
	if _, err := readOnly.Git.DeleteRef(ctx, "octo-org", "repo-000", "heads/main"); statusOf(err) != 403 {
		t.Errorf("delete with contents:read: %v, want 403", err)
	}
}
