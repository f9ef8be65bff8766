package githubtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/githubtest"
)

// mergeFixture is a repository whose pull request #2 (topic → main, by the app's bot) has
// two commits, while main moved on with a commit of its own that does not conflict.
type mergeFixture struct {
	s                  *githubtest.Server
	gh                 *github.Client
	rc                 *receiver
	initial, mainTip   string
	topic1, topic2     string // the pull request's commits
	gitDir             string
	pullNumber         int
	topicFiles, mainGo string
}

func newMergeFixture(t *testing.T) *mergeFixture {
	t.Helper()
	s, initial := newGitFake(t)
	rc, app := newReceiver(t, s.WebhookSecret(), http.StatusAccepted)
	s.SetWebhookURL(app.URL)
	f := &mergeFixture{s: s, rc: rc, initial: initial, gitDir: s.GitDir(repoName), pullNumber: 1}
	f.topic1 = s.CommitFiles(repoName, "topic", "Add docs\n\nAgent-Run: r-1", map[string]string{"docs/a.md": "a\n"})
	f.topic2 = s.CommitFiles(repoName, "topic", "Greet", map[string]string{"README.md": "# repo-000\n\nGreets.\n"})
	f.mainTip = s.CommitFiles(repoName, "main", "Move main", map[string]string{"main.go": "package main\n\nfunc main() { println(1) }\n"})
	f.gh = installationClient(t, s, installationID)
	pr, _, err := f.gh.PullRequests.Create(context.Background(), "octo-org", "repo-000", &github.NewPullRequest{
		Title: github.Ptr("Document and greet"), Head: github.Ptr("topic"), Base: github.Ptr("main"),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.pullNumber = pr.GetNumber()
	return f
}

// webhooks waits for n deliveries and returns what the app received, decoded.
func (f *mergeFixture) webhooks(t *testing.T, n int) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.s.WaitDeliveries(ctx, n); err != nil {
		t.Fatalf("waiting for %d deliveries: %v", n, err)
	}
	got, bad := f.rc.snapshot()
	if len(bad) > 0 {
		t.Fatalf("bad webhooks: %v", bad)
	}
	var out []map[string]any
	for _, r := range got {
		var p map[string]any
		if err := json.Unmarshal(r.payload, &p); err != nil {
			t.Fatal(err)
		}
		p["X-GitHub-Event"] = r.event
		out = append(out, p)
	}
	return out
}

func gitLog(t *testing.T, gitDir, format, rev string) []string {
	t.Helper()
	return strings.Split(git(t, "", "--git-dir="+gitDir, "log", "--format="+format, rev), "\n")
}

func TestMergePullRequestMethods(t *testing.T) {
	t.Parallel() // git is slow to start; the fakes share nothing
	for _, method := range []string{"merge", "squash", "rebase"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newMergeFixture(t)
			opts := &github.PullRequestOptions{MergeMethod: method, SHA: f.topic2}
			result, _, err := f.gh.PullRequests.Merge(ctx, "octo-org", "repo-000", f.pullNumber, "", opts)
			if err != nil {
				t.Fatal(err)
			}
			sha := result.GetSHA()
			if !result.GetMerged() || result.GetMessage() != "Pull Request successfully merged" || len(sha) != 40 {
				t.Fatalf("merge result = %+v", result)
			}
			if main := git(t, "", "--git-dir="+f.gitDir, "rev-parse", "main"); main != sha {
				t.Errorf("main = %s, the merge said %s", main, sha)
			}
			if branch, _ := f.s.Branch(repoName, "main"); branch != sha {
				t.Errorf("the fake's main = %s, want %s", branch, sha)
			}
			// Every change of both sides is on main.
			for file, want := range map[string]string{
				"docs/a.md": "a\n", "README.md": "# repo-000\n\nGreets.\n", "main.go": "package main\n\nfunc main() { println(1) }\n",
			} {
				if got := git(t, "", "--git-dir="+f.gitDir, "show", sha+":"+file); got != strings.TrimSuffix(want, "\n") {
					t.Errorf("%s on main = %q", file, got)
				}
			}
			headTree := git(t, "", "--git-dir="+f.gitDir, "rev-parse", sha+"^{tree}")
			commit, _, err := f.gh.Git.GetCommit(ctx, "octo-org", "repo-000", sha)
			if err != nil {
				t.Fatal(err)
			}
			var parents []string
			for _, p := range commit.Parents {
				parents = append(parents, p.GetSHA())
			}
			if commit.GetSHA() != sha || commit.GetTree().GetSHA() != headTree ||
				commit.GetCommitter().GetName() != "GitHub" || commit.GetCommitter().GetEmail() != "noreply@github.com" {
				t.Errorf("git commit = %+v", commit)
			}
			switch method {
			case "merge":
				if !slices.Equal(parents, []string{f.mainTip, f.topic2}) || commit.GetMessage() != "Merge pull request #1 from octo-org/topic\n\nDocument and greet" ||
					commit.GetAuthor().GetName() != "agentgate-test[bot]" || commit.GetAuthor().GetEmail() != "4242+agentgate-test[bot]@users.noreply.github.com" {
					t.Errorf("merge commit: parents %v, message %q, author %+v", parents, commit.GetMessage(), commit.GetAuthor())
				}
			case "squash":
				if !slices.Equal(parents, []string{f.mainTip}) || commit.GetMessage() != "Document and greet (#1)\n\n* Add docs\n\nAgent-Run: r-1\n\n* Greet" ||
					commit.GetAuthor().GetName() != "agentgate-test[bot]" {
					t.Errorf("squash commit: parents %v, message %q, author %+v", parents, commit.GetMessage(), commit.GetAuthor())
				}
			case "rebase":
				subjects := gitLog(t, f.gitDir, "%s|%an|%cn", f.mainTip+".."+sha)
				if !slices.Equal(subjects, []string{"Greet|octocat|GitHub", "Add docs|octocat|GitHub"}) {
					t.Errorf("rebased commits = %q", subjects)
				}
				first := git(t, "", "--git-dir="+f.gitDir, "rev-parse", sha+"^")
				if slices.Contains([]string{f.topic1, f.topic2}, sha) || slices.Contains([]string{f.topic1, f.topic2}, first) ||
					!slices.Equal(parents, []string{first}) || git(t, "", "--git-dir="+f.gitDir, "rev-parse", first+"^") != f.mainTip {
					t.Errorf("rebase: %s with parent %s, the originals %s %s", sha, first, f.topic1, f.topic2)
				}
				if msg := git(t, "", "--git-dir="+f.gitDir, "log", "-1", "--format=%B", first); msg != "Add docs\n\nAgent-Run: r-1" {
					t.Errorf("rebased message = %q", msg)
				}
			}

			pr, _, err := f.gh.PullRequests.Get(ctx, "octo-org", "repo-000", f.pullNumber)
			if err != nil {
				t.Fatal(err)
			}
			if pr.GetState() != "closed" || !pr.GetMerged() || pr.GetMergeCommitSHA() != sha || pr.GetMergedBy().GetLogin() != "agentgate-test[bot]" ||
				pr.MergedAt == nil || pr.ClosedAt == nil {
				t.Errorf("pull request after the merge: state %s merged %v sha %s by %s at %v", pr.GetState(), pr.GetMerged(), pr.GetMergeCommitSHA(), pr.GetMergedBy().GetLogin(), pr.MergedAt)
			}

			hooks := f.webhooks(t, 2)
			if len(hooks) != 2 {
				t.Fatalf("webhooks = %d", len(hooks))
			}
			closed, push := hooks[0], hooks[1]
			cpr, _ := closed["pull_request"].(map[string]any)
			if closed["X-GitHub-Event"] != "pull_request" || closed["action"] != "closed" || cpr["merged"] != true ||
				cpr["merge_commit_sha"] != sha || closed["number"] != float64(f.pullNumber) {
				t.Errorf("pull_request webhook = %v", closed)
			}
			if push["X-GitHub-Event"] != "push" || push["ref"] != "refs/heads/main" || push["before"] != f.mainTip || push["after"] != sha {
				t.Errorf("push webhook: %v %v %v %v", push["X-GitHub-Event"], push["ref"], push["before"], push["after"])
			}
			commits, _ := push["commits"].([]any)
			wantCommits := map[string]int{"merge": 3, "squash": 1, "rebase": 2}[method]
			head, _ := push["head_commit"].(map[string]any)
			if len(commits) != wantCommits || head["id"] != sha || head["distinct"] != true {
				t.Errorf("push: %d commits, head %v", len(commits), head)
			}
			if inst, _ := push["installation"].(map[string]any); inst["id"] != float64(installationID) {
				t.Errorf("push installation = %v", push["installation"])
			}
			if sender, _ := push["sender"].(map[string]any); sender["login"] != "agentgate-test[bot]" {
				t.Errorf("push sender = %v", push["sender"])
			}
			// A merged pull request cannot be merged again.
			if _, _, err := f.gh.PullRequests.Merge(ctx, "octo-org", "repo-000", f.pullNumber, "", opts); statusOf(err) != 405 ||
				!strings.Contains(err.Error(), "Pull Request is not mergeable") {
				t.Errorf("second merge: %v, want 405", err)
			}
			// What was merged is what a clone sees.
			dir := clone(t, f.s, f.s.InstallationToken(installationID))
			if got := git(t, dir, "rev-parse", "HEAD"); got != sha {
				t.Errorf("clone of main = %s, want %s", got, sha)
			}
		})
	}
}

func TestMergePullRequestRefused(t *testing.T) {
	t.Parallel() // git is slow to start; the fakes share nothing
	ctx := context.Background()
	f := newMergeFixture(t)
	s, gh := f.s, f.gh

	// The head moved since the client looked: 409, nothing merged.
	if _, _, err := gh.PullRequests.Merge(ctx, "octo-org", "repo-000", f.pullNumber, "", &github.PullRequestOptions{SHA: f.topic1}); statusOf(err) != 409 ||
		!strings.Contains(err.Error(), "Head branch was modified") {
		t.Errorf("merge with an old sha: %v, want 409", err)
	}
	// Read-only tokens cannot merge.
	readOnly := tokenClient(t, s, narrowToken(t, s, nil, &github.InstallationPermissions{Contents: github.Ptr("read"), PullRequests: github.Ptr("write")}))
	if _, _, err := readOnly.PullRequests.Merge(ctx, "octo-org", "repo-000", f.pullNumber, "", nil); statusOf(err) != 403 {
		t.Errorf("merge with contents:read: %v, want 403", err)
	}
	if _, _, err := gh.PullRequests.Merge(ctx, "octo-org", "repo-000", 99, "", nil); statusOf(err) != 404 {
		t.Errorf("merge of no pull request: %v, want 404", err)
	}

	// A conflict: main changes the same line as the pull request.
	s.CommitFiles(repoName, "main", "Retitle", map[string]string{"README.md": "# another title\n"})
	for _, method := range []string{"merge", "squash", "rebase"} {
		if _, _, err := gh.PullRequests.Merge(ctx, "octo-org", "repo-000", f.pullNumber, "", &github.PullRequestOptions{MergeMethod: method}); statusOf(err) != 405 ||
			!strings.Contains(err.Error(), "Pull Request is not mergeable") {
			t.Errorf("%s with a conflict: %v, want 405", method, err)
		}
	}
	pr, _ := s.PullRequest(repoName, f.pullNumber)
	if pr.State != "open" || pr.Merged {
		t.Errorf("the refused pull request is %s, merged %v", pr.State, pr.Merged)
	}
	if len(s.Deliveries()) != 0 {
		t.Errorf("refused merges sent webhooks: %d", len(s.Deliveries()))
	}

	// A draft cannot be merged; nor can a closed pull request.
	s.CommitFiles(repoName, "draft", "Draft", map[string]string{"draft.txt": "d\n"})
	draft, _, err := gh.PullRequests.Create(ctx, "octo-org", "repo-000", &github.NewPullRequest{
		Title: github.Ptr("wip"), Head: github.Ptr("draft"), Base: github.Ptr("main"), Draft: github.Ptr(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.PullRequests.Merge(ctx, "octo-org", "repo-000", draft.GetNumber(), "", nil); statusOf(err) != 405 ||
		!strings.Contains(err.Error(), "draft") {
		t.Errorf("merge of a draft: %v, want 405", err)
	}
	if _, _, err := gh.PullRequests.Edit(ctx, "octo-org", "repo-000", draft.GetNumber(), &github.PullRequest{State: github.Ptr("closed")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MergePull("octo-org", "repo-000", draft.GetNumber(), "merge", "alice"); err == nil {
		t.Errorf("alice merged a closed pull request without write access")
	}
	s.SetPermission(repoName, "alice", "write")
	var refused *githubtest.MergeError
	if _, err := s.MergePull("octo-org", "repo-000", draft.GetNumber(), "merge", "alice"); !errors.As(err, &refused) || refused.Status != 405 {
		t.Errorf("merge of a closed pull request: %v, want 405", err)
	}
}

// A person merges: MergePull runs the same merge and returns once the app has the webhooks.
func TestMergePullAsPerson(t *testing.T) {
	t.Parallel() // git is slow to start; the fakes share nothing
	ctx := context.Background()
	f := newMergeFixture(t)
	s := f.s

	var refused *githubtest.MergeError
	if _, err := s.MergePull("octo-org", "repo-000", f.pullNumber, "squash", "mallory"); !errors.As(err, &refused) || refused.Status != 403 {
		t.Errorf("merge by someone without write access: %v, want 403", err)
	}
	s.SetPermission(repoName, "alice", "maintain")
	sha, err := s.MergePullWith("octo-org", "repo-000", f.pullNumber, githubtest.MergeOptions{
		Method: "squash", User: "alice", CommitTitle: "Docs and greeting (#1)", CommitMessage: "Squashed.",
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := f.rc.snapshot() // no waiting: MergePull returns after the deliveries
	if len(got) != 2 || got[0].event != "pull_request" || got[1].event != "push" {
		t.Fatalf("webhooks after MergePull = %+v", got)
	}
	var closed struct {
		Action      string `json:"action"`
		PullRequest struct {
			Merged         bool   `json:"merged"`
			MergeCommitSHA string `json:"merge_commit_sha"`
			MergedBy       struct {
				Login string `json:"login"`
			} `json:"merged_by"`
		} `json:"pull_request"`
		Sender struct {
			Login string `json:"login"`
		} `json:"sender"`
	}
	if err := json.Unmarshal(got[0].payload, &closed); err != nil {
		t.Fatal(err)
	}
	if closed.Action != "closed" || !closed.PullRequest.Merged || closed.PullRequest.MergeCommitSHA != sha ||
		closed.PullRequest.MergedBy.Login != "alice" || closed.Sender.Login != "alice" {
		t.Errorf("pull_request webhook = %+v", closed)
	}
	commit, _, err := f.gh.Git.GetCommit(ctx, "octo-org", "repo-000", sha)
	if err != nil {
		t.Fatal(err)
	}
	// A squash is the pull request author's (here the app's bot); the message is alice's.
	if commit.GetMessage() != "Docs and greeting (#1)\n\nSquashed." || commit.GetAuthor().GetName() != "agentgate-test[bot]" || len(commit.Parents) != 1 {
		t.Errorf("squash commit = %q by %s, %d parents", commit.GetMessage(), commit.GetAuthor().GetName(), len(commit.Parents))
	}
	pr, _ := s.PullRequest(repoName, f.pullNumber)
	if !pr.Merged || pr.MergeCommitSHA != sha || pr.MergedBy.Login != "alice" || pr.MergedAt.IsZero() {
		t.Errorf("pull request = %+v", pr)
	}

	// Without a webhook URL the merge still happens, and the error says the app missed it.
	s.CommitFiles(repoName, "more", "More", map[string]string{"more.txt": "m\n"})
	more, _, err := f.gh.PullRequests.Create(ctx, "octo-org", "repo-000", &github.NewPullRequest{
		Title: github.Ptr("more"), Head: github.Ptr("more"), Base: github.Ptr("main"),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.SetWebhookURL("")
	sha, err = s.MergePull("octo-org", "repo-000", more.GetNumber(), "", "alice")
	if sha == "" || err == nil || errors.As(err, &refused) || !strings.Contains(err.Error(), "webhook") {
		t.Errorf("merge without a webhook URL: %q, %v", sha, err)
	}
	if log := gitLog(t, f.gitDir, "%P", "-1"); len(strings.Fields(log[0])) != 2 {
		t.Errorf("the default method did not make a merge commit: parents %q", log)
	}
}

func TestGetGitCommit(t *testing.T) {
	t.Parallel() // git is slow to start; the fakes share nothing
	ctx := context.Background()
	s, initial := newGitFake(t)
	gh := installationClient(t, s, installationID)
	commit, _, err := gh.Git.GetCommit(ctx, "octo-org", "repo-000", initial)
	if err != nil {
		t.Fatal(err)
	}
	tree := git(t, "", "--git-dir="+s.GitDir(repoName), "rev-parse", initial+"^{tree}")
	if commit.GetSHA() != initial || commit.GetTree().GetSHA() != tree || len(commit.Parents) != 0 || commit.GetMessage() != "Initial commit" ||
		commit.GetAuthor().GetName() != "octocat" || commit.GetAuthor().GetDate().UTC().Format(time.RFC3339) != "2025-01-01T00:00:00Z" ||
		commit.GetVerification().GetVerified() {
		t.Errorf("commit = %+v", commit)
	}
	next := s.CommitFiles(repoName, "main", "Second", map[string]string{"x.txt": "x\n"})
	if c, _, err := gh.Git.GetCommit(ctx, "octo-org", "repo-000", next); err != nil || len(c.Parents) != 1 || c.Parents[0].GetSHA() != initial {
		t.Errorf("second commit: %+v, %v", c, err)
	}
	for _, sha := range []string{strings.Repeat("a", 40), "main", initial[:12], tree} {
		if _, _, err := gh.Git.GetCommit(ctx, "octo-org", "repo-000", sha); statusOf(err) != 404 {
			t.Errorf("commit %q: %v, want 404", sha, err)
		}
	}
	if _, _, err := gh.Git.GetCommit(ctx, "octo-org", "repo-001", initial); statusOf(err) != 409 {
		t.Errorf("commit of a repository without git: %v, want 409", err)
	}
	if _, _, err := gh.Git.GetCommit(ctx, "octo-org", "elsewhere", initial); statusOf(err) != 404 {
		t.Errorf("commit of another repository: %v, want 404", err)
	}
}
