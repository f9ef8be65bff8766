package githubtest_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/githubtest"
)

// newIssueFake is newRepoFake (pull request #7) with issue #12.
func newIssueFake(t *testing.T, opts ...githubtest.Option) *githubtest.Server {
	t.Helper()
	s := newRepoFake(t, []githubtest.PullFile{{Filename: "main.go", Additions: 1, Patch: "@@ -1 +1,2 @@\n package main\n+func main() {}"}}, opts...)
	s.AddIssue(repoName, githubtest.Issue{
		Number: 12, Title: "Add a --dry-run flag", Body: "Please.", User: githubtest.Account{Login: "alice"}, Labels: []string{"agent"},
	})
	return s
}

func TestIssues(t *testing.T) {
	ctx := context.Background()
	s := newIssueFake(t)
	s.SetPermission(repoName, "alice", "write")
	gh := installationClient(t, s, installationID)

	is, _, err := gh.Issues.Get(ctx, "octo-org", "repo-000", 12)
	if err != nil {
		t.Fatal(err)
	}
	if is.GetTitle() != "Add a --dry-run flag" || is.GetBody() != "Please." || is.GetUser().GetLogin() != "alice" || is.GetState() != "open" ||
		len(is.Labels) != 1 || is.Labels[0].GetName() != "agent" || is.IsPullRequest() || is.GetAuthorAssociation() != "COLLABORATOR" {
		t.Errorf("issue = %+v", is)
	}
	pr, _, err := gh.Issues.Get(ctx, "octo-org", "repo-000", 7)
	if err != nil || !pr.IsPullRequest() || pr.GetTitle() != "Fix the thing" || pr.GetUser().GetType() != "Bot" || pr.Labels[0].GetName() != "agent" {
		t.Errorf("pull request as an issue = %+v, %v", pr, err)
	}
	if _, _, err := gh.Issues.Get(ctx, "octo-org", "repo-000", 99); statusOf(err) != 404 {
		t.Errorf("missing issue: %v, want 404", err)
	}

	t.Run("permissions", func(t *testing.T) {
		pullsOnly := tokenClient(t, s, narrowToken(t, s, nil, &github.InstallationPermissions{PullRequests: github.Ptr("write")}))
		if _, _, err := pullsOnly.Issues.Get(ctx, "octo-org", "repo-000", 7); err != nil {
			t.Errorf("a pull request with pull_requests permission: %v", err)
		}
		if _, _, err := pullsOnly.Issues.Get(ctx, "octo-org", "repo-000", 12); statusOf(err) != 403 {
			t.Errorf("an issue without issues permission: %v, want 403", err)
		}
		if _, _, err := pullsOnly.Issues.AddLabelsToIssue(ctx, "octo-org", "repo-000", 12, []string{"x"}); statusOf(err) != 403 {
			t.Errorf("labelling an issue without issues permission: %v, want 403", err)
		}
		readOnly := tokenClient(t, s, narrowToken(t, s, nil, &github.InstallationPermissions{Issues: github.Ptr("read")}))
		if _, _, err := readOnly.Issues.CreateComment(ctx, "octo-org", "repo-000", 12, &github.IssueComment{Body: github.Ptr("x")}); statusOf(err) != 403 {
			t.Errorf("commenting with issues:read: %v, want 403", err)
		}
		s.AddRepo(installationID, githubtest.Repo{ID: 2000, FullName: "octo-org/other"})
		other := tokenClient(t, s, narrowToken(t, s, []string{"other"}, nil))
		if _, _, err := other.Issues.Get(ctx, "octo-org", "repo-000", 12); statusOf(err) != 404 {
			t.Errorf("a repository outside the token: %v, want 404", err)
		}
	})
}

func TestIssueLabels(t *testing.T) {
	ctx := context.Background()
	s := newIssueFake(t)
	gh := installationClient(t, s, installationID)

	names := func(labels []*github.Label) []string {
		var out []string
		for _, l := range labels {
			out = append(out, l.GetName())
		}
		return out
	}
	// go-github sends a bare array, which GitHub takes; "Agent" is the existing "agent".
	labels, _, err := gh.Issues.AddLabelsToIssue(ctx, "octo-org", "repo-000", 12, []string{"agent:running", "Agent"})
	if err != nil || !slices.Equal(names(labels), []string{"agent", "agent:running"}) {
		t.Errorf("add: %v, %v", names(labels), err)
	}
	// The documented form.
	resp := do(t, s, http.MethodPost, "/repos/octo-org/repo-000/issues/7/labels", `{"labels":["agent:done",{"name":"size/S"}]}`)
	if resp.StatusCode != 200 || !slices.Equal(s.IssueLabels(repoName, 7), []string{"agent", "agent:done", "size/S"}) {
		t.Errorf("add to a pull request: %d, %v", resp.StatusCode, s.IssueLabels(repoName, 7))
	}

	if _, err := gh.Issues.RemoveLabelForIssue(ctx, "octo-org", "repo-000", 12, "agent:running"); err != nil {
		t.Errorf("remove: %v", err)
	}
	if _, err := gh.Issues.RemoveLabelForIssue(ctx, "octo-org", "repo-000", 12, "agent:running"); statusOf(err) != 404 || !strings.Contains(err.Error(), "Label does not exist") {
		t.Errorf("remove a label the issue lacks: %v, want 404", err)
	}
	listed, _, err := gh.Issues.ListLabelsByIssue(ctx, "octo-org", "repo-000", 12, nil)
	if err != nil || !slices.Equal(names(listed), []string{"agent"}) || !slices.Equal(s.IssueLabels(repoName, 12), []string{"agent"}) {
		t.Errorf("labels = %v, %v; IssueLabels = %v", names(listed), err, s.IssueLabels(repoName, 12))
	}
	if _, _, err := gh.Issues.AddLabelsToIssue(ctx, "octo-org", "repo-000", 99, []string{"x"}); statusOf(err) != 404 {
		t.Errorf("label a missing issue: %v, want 404", err)
	}
}

// do sends an API request with an installation token.
func do(t *testing.T, s *githubtest.Server, method, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+strings.TrimPrefix(path, "/"), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+s.InstallationToken(installationID))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestIssueComments(t *testing.T) {
	ctx := context.Background()
	s := newIssueFake(t)
	gh := installationClient(t, s, installationID)

	alice := s.AddIssueComment(repoName, 12, githubtest.Account{Login: "alice"}, "/agent run")
	c, resp, err := gh.Issues.CreateComment(ctx, "octo-org", "repo-000", 12, &github.IssueComment{Body: github.Ptr("On it.")})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetUser().GetLogin() != "agentgate-test[bot]" || c.GetUser().GetType() != "Bot" || c.GetBody() != "On it." ||
		resp.StatusCode != 201 || resp.Header.Get("Location") != c.GetURL() ||
		!strings.HasSuffix(c.GetHTMLURL(), "/issues/12#issuecomment-"+itoa(int(c.GetID()))) {
		t.Errorf("comment = %+v", c)
	}
	edited, _, err := gh.Issues.EditComment(ctx, "octo-org", "repo-000", c.GetID(), &github.IssueComment{Body: github.Ptr("Done.")})
	if err != nil || edited.GetBody() != "Done." {
		t.Errorf("edit: %+v, %v", edited, err)
	}
	got, _, err := gh.Issues.GetComment(ctx, "octo-org", "repo-000", alice)
	if err != nil || got.GetBody() != "/agent run" || got.GetUser().GetLogin() != "alice" {
		t.Errorf("get: %+v, %v", got, err)
	}
	tok := "token " + s.InstallationToken(installationID)
	for id, want := range map[int64]string{c.GetID(): "agentgate-test", alice: ""} {
		var raw struct {
			PerformedVia *struct{ Slug string } `json:"performed_via_github_app"`
		}
		decode(t, get(t, s, "/repos/octo-org/repo-000/issues/comments/"+itoa(int(id)), tok), &raw)
		via := ""
		if raw.PerformedVia != nil {
			via = raw.PerformedVia.Slug
		}
		if via != want {
			t.Errorf("comment %d performed via %q, want %q", id, via, want)
		}
	}
	if _, _, err := gh.Issues.GetComment(ctx, "octo-org", "repo-000", 1); statusOf(err) != 404 {
		t.Errorf("missing comment: %v, want 404", err)
	}
	comments := s.Comments(repoName, 12)
	if len(comments) != 2 || comments[0].ID != alice || comments[1].Body != "Done." || comments[1].User.Login != "agentgate-test[bot]" || comments[1].Created.IsZero() {
		t.Errorf("Comments = %+v", comments)
	}
	if _, _, err := gh.Issues.CreateComment(ctx, "octo-org", "repo-000", 12, &github.IssueComment{Body: github.Ptr(strings.Repeat("x", 65537))}); statusOf(err) != 422 {
		t.Errorf("a body over 65,536 characters: %v, want 422", err)
	}

	// Pagination: 2 + 33 comments are two pages of 30.
	for i := range 33 {
		s.AddIssueComment(repoName, 12, githubtest.Account{Login: "bob"}, "comment "+itoa(i))
	}
	var all []*github.IssueComment
	opts := &github.IssueListCommentsOptions{}
	pages := 0
	for {
		page, resp, err := gh.Issues.ListComments(ctx, "octo-org", "repo-000", 12, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, page...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if pages != 2 || len(all) != 35 || all[0].GetID() != alice || all[34].GetBody() != "comment 32" {
		t.Errorf("%d pages, %d comments", pages, len(all))
	}
	onPR, _, err := gh.Issues.ListComments(ctx, "octo-org", "repo-000", 7, nil)
	if err != nil || len(onPR) != 0 {
		t.Errorf("comments of #7 = %v, %v", onPR, err)
	}
	if pr, _, _ := gh.PullRequests.Get(ctx, "octo-org", "repo-000", 7); pr.GetComments() != 0 {
		t.Errorf("comments of #7 = %d", pr.GetComments())
	}
	if is, _, _ := gh.Issues.Get(ctx, "octo-org", "repo-000", 12); is.GetComments() != 35 {
		t.Errorf("issue comments = %d", is.GetComments())
	}
}

func TestReactions(t *testing.T) {
	ctx := context.Background()
	s := newIssueFake(t)
	gh := installationClient(t, s, installationID)
	comment := s.AddIssueComment(repoName, 12, githubtest.Account{Login: "alice"}, "/agent run")
	review := s.AddReview(repoName, 7, githubtest.Review{User: githubtest.Account{Login: "bob"}, State: "CHANGES_REQUESTED"})
	reviewComment := s.AddReviewComment(repoName, 7, review, githubtest.Account{Login: "bob"}, "main.go", 2, "use a flag")

	for i, want := range []int{201, 200} {
		r, resp, err := gh.Reactions.CreateIssueCommentReaction(ctx, "octo-org", "repo-000", comment, "eyes")
		if err != nil || resp.StatusCode != want || r.GetContent() != "eyes" || r.GetUser().GetLogin() != "agentgate-test[bot]" {
			t.Errorf("reaction %d: %d %+v, %v; want %d", i, resp.StatusCode, r, err, want)
		}
	}
	if _, resp, err := gh.Reactions.CreateIssueCommentReaction(ctx, "octo-org", "repo-000", comment, "rocket"); err != nil || resp.StatusCode != 201 {
		t.Errorf("another reaction: %v", err)
	}
	if got := s.Reactions(repoName, comment); !slices.Equal(got, []string{"eyes", "rocket"}) {
		t.Errorf("Reactions = %v", got)
	}
	if c, _, _ := gh.Issues.GetComment(ctx, "octo-org", "repo-000", comment); c.GetReactions().GetEyes() != 1 || c.GetReactions().GetTotalCount() != 2 {
		t.Errorf("rollup = %+v", c.GetReactions())
	}
	if _, resp, err := gh.Reactions.CreatePullRequestCommentReaction(ctx, "octo-org", "repo-000", reviewComment, "+1"); err != nil || resp.StatusCode != 201 {
		t.Errorf("review comment reaction: %v", err)
	}
	if got := s.Reactions(repoName, reviewComment); !slices.Equal(got, []string{"+1"}) {
		t.Errorf("review comment reactions = %v", got)
	}
	if _, resp, err := gh.Reactions.CreateIssueReaction(ctx, "octo-org", "repo-000", 12, "eyes"); err != nil || resp.StatusCode != 201 {
		t.Errorf("issue reaction: %v", err)
	}
	if got := s.IssueReactions(repoName, 12); !slices.Equal(got, []string{"eyes"}) {
		t.Errorf("issue reactions = %v", got)
	}
	if _, _, err := gh.Reactions.CreateIssueCommentReaction(ctx, "octo-org", "repo-000", 1, "eyes"); statusOf(err) != 404 {
		t.Errorf("missing comment: %v, want 404", err)
	}
}

func TestReviewComments(t *testing.T) {
	ctx := context.Background()
	s := newIssueFake(t)
	gh := installationClient(t, s, installationID)
	review := s.AddReview(repoName, 7, githubtest.Review{User: githubtest.Account{Login: "bob"}, State: "CHANGES_REQUESTED", Body: "see comments"})
	other := s.AddReview(repoName, 7, githubtest.Review{User: githubtest.Account{Login: "carol"}, State: "COMMENTED"})
	first := s.AddReviewComment(repoName, 7, review, githubtest.Account{Login: "bob"}, "main.go", 2, "use a flag")
	s.AddReviewComment(repoName, 7, review, githubtest.Account{Login: "bob"}, "main.go", 1, "and a test")
	s.AddReviewComment(repoName, 7, other, githubtest.Account{Login: "carol"}, "main.go", 1, "+1")

	c, _, err := gh.PullRequests.GetComment(ctx, "octo-org", "repo-000", first)
	if err != nil || c.GetBody() != "use a flag" || c.GetPath() != "main.go" || c.GetLine() != 2 || c.GetPullRequestReviewID() != review ||
		c.GetUser().GetLogin() != "bob" || c.GetCommitID() != headSHA || !strings.HasPrefix(c.GetDiffHunk(), "@@") {
		t.Errorf("comment = %+v, %v", c, err)
	}
	listed, _, err := gh.PullRequests.ListReviewComments(ctx, "octo-org", "repo-000", 7, review, nil)
	if err != nil || len(listed) != 2 || listed[1].GetBody() != "and a test" {
		t.Errorf("review comments = %v, %v", listed, err)
	}
	if _, _, err := gh.PullRequests.ListReviewComments(ctx, "octo-org", "repo-000", 7, 1, nil); statusOf(err) != 404 {
		t.Errorf("missing review: %v, want 404", err)
	}
	if _, _, err := gh.PullRequests.GetComment(ctx, "octo-org", "repo-000", 1); statusOf(err) != 404 {
		t.Errorf("missing comment: %v, want 404", err)
	}
	if pr, _, _ := gh.PullRequests.Get(ctx, "octo-org", "repo-000", 7); pr.GetReviewComments() != 3 {
		t.Errorf("review_comments = %d", pr.GetReviewComments())
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s := newIssueFake(t)
	s.SetPermission(repoName, "bob", "write")
	s.AddIssueComment(repoName, 12, githubtest.Account{Login: "carol"}, "hi")
	gh := installationClient(t, s, installationID)

	tests := []struct{ login, typ string }{
		{"agentgate-test[bot]", "Bot"},
		{"alice", "User"}, // issue author
		{"bob", "User"},   // SetPermission
		{"Carol", "User"}, // comment author, any case
		{"octo-org", "Organization"},
		{"nobody", ""},
	}
	ids := map[string]int64{}
	for _, tt := range tests {
		u, _, err := gh.Users.Get(ctx, tt.login)
		if tt.typ == "" {
			if statusOf(err) != 404 {
				t.Errorf("%s: %v, want 404", tt.login, err)
			}
			continue
		}
		if err != nil || u.GetType() != tt.typ || !strings.EqualFold(u.GetLogin(), tt.login) || u.GetID() == 0 {
			t.Errorf("%s: %+v, %v", tt.login, u, err)
		}
		ids[tt.login] = u.GetID()
	}
	// The bot's ID is the one its comments and pull requests carry.
	c, _, err := gh.Issues.CreateComment(ctx, "octo-org", "repo-000", 12, &github.IssueComment{Body: github.Ptr("x")})
	if err != nil || c.GetUser().GetID() != ids["agentgate-test[bot]"] {
		t.Errorf("bot id %d in comment, %d from /users", c.GetUser().GetID(), ids["agentgate-test[bot]"])
	}
}
