package githubtest_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/githubtest"
)

const (
	repoName = "octo-org/repo-000"
	baseSHA  = "1111111111111111111111111111111111111111"
	headSHA  = "2222222222222222222222222222222222222222"
)

// newRepoFake is a fake with one repository holding pull request #7 (files given) and
// content at its base and head.
func newRepoFake(t *testing.T, files []githubtest.PullFile, opts ...githubtest.Option) *githubtest.Server {
	t.Helper()
	s := newFake(t, 1, opts...)
	s.SetFiles(repoName, baseSHA, map[string]string{
		".github/agentgate.yml":                 "size:\n  max_files: 10\n",
		".github/agentgate/policies/extra.rego": "package extra\n",
		".github/agentgate/policies/more.rego":  "package more\n",
		"main.go":                               "package main\n",
	})
	s.SetFiles(repoName, headSHA, map[string]string{
		".github/agentgate.yml": "size:\n  max_files: 100000\n",
		"main.go":               "package main\n\nfunc main() {}\n",
	})
	s.AddPullRequest(repoName, githubtest.PullRequest{
		Number: 7, Title: "Fix the thing", Body: "Agent-Run: r-1",
		User:   githubtest.Account{Login: "agentgate[bot]", Type: "Bot"},
		Base:   githubtest.PullRef{Ref: "main", SHA: baseSHA},
		Head:   githubtest.PullRef{Ref: "agent/issue-12", SHA: headSHA},
		Labels: []string{"agent"},
		Files:  files,
		Commits: []githubtest.Commit{
			{SHA: "3333333333333333333333333333333333333333", Message: "first\n\nAgent-Run: r-1", Author: githubtest.Account{Login: "agentgate[bot]"}},
			{SHA: headSHA, Message: "second", Author: githubtest.Account{Login: "agentgate[bot]"}},
		},
	})
	return s
}

func TestPullRequestEndpoints(t *testing.T) {
	ctx := context.Background()
	files := []githubtest.PullFile{
		{Filename: "main.go", Additions: 2, Deletions: 0, Patch: "@@ -1 +1,3 @@\n package main\n+\n+func main() {}"},
		{Filename: "docs/new.md", Status: "renamed", PreviousFilename: "docs/old.md"},
		{Filename: "gone.txt", Status: "removed", Deletions: 4},
	}
	s := newRepoFake(t, files)
	gh := installationClient(t, s, installationID)

	pr, _, err := gh.PullRequests.Get(ctx, "octo-org", "repo-000", 7)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetTitle() != "Fix the thing" || pr.GetUser().GetType() != "Bot" || pr.GetBase().GetSHA() != baseSHA ||
		pr.GetHead().GetRef() != "agent/issue-12" || pr.GetAdditions() != 2 || pr.GetDeletions() != 4 ||
		pr.GetChangedFiles() != 3 || pr.GetCommits() != 2 || len(pr.Labels) != 1 || pr.GetState() != "open" {
		t.Errorf("pull request = %+v", pr)
	}
	if _, _, err := gh.PullRequests.Get(ctx, "octo-org", "repo-000", 8); statusOf(err) != 404 {
		t.Errorf("missing pull request: %v, want 404", err)
	}

	got, _, err := gh.PullRequests.ListFiles(ctx, "octo-org", "repo-000", 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].GetPatch() == "" || got[1].GetPreviousFilename() != "docs/old.md" || got[2].GetStatus() != "removed" || got[0].GetChanges() != 2 {
		t.Errorf("files = %v", got)
	}

	commits, _, err := gh.PullRequests.ListCommits(ctx, "octo-org", "repo-000", 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(commits) != 2 || commits[0].GetCommit().GetMessage() != "first\n\nAgent-Run: r-1" || commits[1].GetSHA() != headSHA ||
		commits[0].GetAuthor().GetLogin() != "agentgate[bot]" || commits[1].Parents[0].GetSHA() != commits[0].GetSHA() {
		t.Errorf("commits = %v", commits)
	}

	s.AddReview(repoName, 7, githubtest.Review{User: githubtest.Account{Login: "bob"}, State: "CHANGES_REQUESTED", CommitID: baseSHA})
	id := s.AddReview(repoName, 7, githubtest.Review{User: githubtest.Account{Login: "bob"}, State: "APPROVED"})
	reviews, _, err := gh.PullRequests.ListReviews(ctx, "octo-org", "repo-000", 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(reviews) != 2 || reviews[1].GetID() != id || reviews[1].GetState() != "APPROVED" || reviews[1].GetCommitID() != headSHA || reviews[1].GetUser().GetLogin() != "bob" {
		t.Errorf("reviews = %v", reviews)
	}

	for _, sha := range []string{headSHA, "3333333333333333333333333333333333333333"} {
		prs, _, err := gh.PullRequests.ListPullRequestsWithCommit(ctx, "octo-org", "repo-000", sha, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(prs) != 1 || prs[0].GetNumber() != 7 {
			t.Errorf("pull requests with %s = %v", sha[:7], prs)
		}
	}
	prs, _, err := gh.PullRequests.ListPullRequestsWithCommit(ctx, "octo-org", "repo-000", "4444444444444444444444444444444444444444", nil)
	if err != nil || len(prs) != 0 {
		t.Errorf("pull requests with an unknown commit = %v, %v", prs, err)
	}
}

func TestPullFilesPagination(t *testing.T) {
	ctx := context.Background()
	t.Run("250 files in 3 pages", func(t *testing.T) {
		s := newRepoFake(t, githubtest.GenerateFiles(250))
		gh := installationClient(t, s, installationID)
		var all []*github.CommitFile
		pages := 0
		opts := &github.ListOptions{PerPage: 100}
		for {
			files, resp, err := gh.PullRequests.ListFiles(ctx, "octo-org", "repo-000", 7, opts)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			all = append(all, files...)
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
		if pages != 3 || len(all) != 250 || all[249].GetFilename() != "gen/file-0250.go" {
			t.Errorf("%d pages, %d files", pages, len(all))
		}
	})
	t.Run("GitHub lists at most 3,000 files", func(t *testing.T) {
		s := newRepoFake(t, githubtest.GenerateFiles(3001))
		gh := installationClient(t, s, installationID)
		pr, _, err := gh.PullRequests.Get(ctx, "octo-org", "repo-000", 7)
		if err != nil || pr.GetChangedFiles() != 3001 {
			t.Fatalf("changed_files = %d, %v; want the true 3001", pr.GetChangedFiles(), err)
		}
		listed := 0
		opts := &github.ListOptions{PerPage: 100}
		var last *github.Response
		for {
			files, resp, err := gh.PullRequests.ListFiles(ctx, "octo-org", "repo-000", 7, opts)
			if err != nil {
				t.Fatal(err)
			}
			listed += len(files)
			last = resp
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
		if listed != 3000 || opts.Page != 30 || last.LastPage != 0 {
			t.Errorf("listed %d files up to page %d, want 3000 on 30 pages", listed, opts.Page)
		}
		beyond, _, err := gh.PullRequests.ListFiles(ctx, "octo-org", "repo-000", 7, &github.ListOptions{PerPage: 100, Page: 31})
		if err != nil || len(beyond) != 0 {
			t.Errorf("page 31 = %d files, %v; want none", len(beyond), err)
		}
	})
	t.Run("at most 250 commits", func(t *testing.T) {
		s := newRepoFake(t, nil)
		for i := range 300 {
			s.AddCommit(repoName, 7, githubtest.Commit{SHA: strings.Repeat("a", 36) + leftPad(i), Message: "c"})
		}
		gh := installationClient(t, s, installationID)
		n := 0
		opts := &github.ListOptions{PerPage: 100}
		for {
			commits, resp, err := gh.PullRequests.ListCommits(ctx, "octo-org", "repo-000", 7, opts)
			if err != nil {
				t.Fatal(err)
			}
			n += len(commits)
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
		if n != 250 {
			t.Errorf("listed %d commits, want 250", n)
		}
	})
}

func leftPad(i int) string { return fmt.Sprintf("%04d", i) }

func itoa(i int) string { return strconv.Itoa(i) }

func TestPullFilesETag(t *testing.T) {
	s := newRepoFake(t, githubtest.GenerateFiles(5))
	tok := "token " + s.InstallationToken(installationID)
	path := "/repos/octo-org/repo-000/pulls/7/files"
	first := get(t, s, path, tok)
	etag := first.Header.Get("ETag")
	if first.StatusCode != 200 || etag == "" {
		t.Fatalf("status %d, ETag %q", first.StatusCode, etag)
	}
	_, before, _ := s.RateLimit(installationID)
	again := get(t, s, path, tok, "If-None-Match", etag)
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("status = %d, want 304", again.StatusCode)
	}
	if _, after, _ := s.RateLimit(installationID); after != before {
		t.Errorf("a 304 cost rate limit: %d → %d", before, after)
	}
	s.UpdatePullRequest(repoName, 7, func(pr *githubtest.PullRequest) { pr.Files = githubtest.GenerateFiles(6) })
	if changed := get(t, s, path, tok, "If-None-Match", etag); changed.StatusCode != 200 {
		t.Errorf("after a push: status = %d, want 200", changed.StatusCode)
	}
}

func TestContents(t *testing.T) {
	ctx := context.Background()
	s := newRepoFake(t, nil)
	gh := installationClient(t, s, installationID)

	tests := []struct {
		name, path, ref string
		want            string // file content; "" for a 404
	}{
		{"nested file at base", ".github/agentgate.yml", baseSHA, "size:\n  max_files: 10\n"},
		{"nested file at head", ".github/agentgate.yml", headSHA, "size:\n  max_files: 100000\n"},
		{"deeper path", ".github/agentgate/policies/extra.rego", baseSHA, "package extra\n"},
		{"by branch", "main.go", "agent/issue-12", "package main\n\nfunc main() {}\n"},
		{"missing file", ".github/agentgate/policies/extra.rego", headSHA, ""},
		{"missing ref", "main.go", "no-such-branch", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file, dir, _, err := gh.Repositories.GetContents(ctx, "octo-org", "repo-000", tt.path, &github.RepositoryContentGetOptions{Ref: tt.ref})
			if tt.want == "" {
				if statusOf(err) != 404 {
					t.Fatalf("err = %v, want 404", err)
				}
				return
			}
			if err != nil || dir != nil {
				t.Fatalf("file %v, dir %v, err %v", file, dir, err)
			}
			content, err := file.GetContent()
			if err != nil || content != tt.want || file.GetType() != "file" || file.GetPath() != tt.path || file.GetSHA() == "" {
				t.Errorf("content = %q (%v), file = %+v", content, err, file)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		_, dir, _, err := gh.Repositories.GetContents(ctx, "octo-org", "repo-000", ".github", &github.RepositoryContentGetOptions{Ref: baseSHA})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range dir {
			names = append(names, e.GetName()+":"+e.GetType())
		}
		if !slices.Equal(names, []string{"agentgate:dir", "agentgate.yml:file"}) {
			t.Errorf("entries = %v", names)
		}
		_, dir, _, err = gh.Repositories.GetContents(ctx, "octo-org", "repo-000", ".github/agentgate/policies", &github.RepositoryContentGetOptions{Ref: baseSHA})
		if err != nil || len(dir) != 2 || dir[0].GetPath() != ".github/agentgate/policies/extra.rego" {
			t.Errorf("policies = %v, %v", dir, err)
		}
	})
}

func TestCheckRuns(t *testing.T) {
	ctx := context.Background()
	s := newRepoFake(t, nil)
	gh := installationClient(t, s, installationID)

	actions := s.AddCheckRun(repoName, githubtest.CheckRun{Name: "test", HeadSHA: headSHA, Status: "in_progress"})
	s.SetStatus(repoName, headSHA, "ci/legacy", "pending")
	s.SetStatus(repoName, headSHA, "ci/legacy", "success")

	cr, _, err := gh.Checks.CreateCheckRun(ctx, "octo-org", "repo-000", github.CreateCheckRunOptions{
		Name: "agentgate", HeadSHA: headSHA, Status: github.Ptr("in_progress"),
		Output: &github.CheckRunOutput{Title: github.Ptr("Evaluating"), Summary: github.Ptr("…")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cr.GetStatus() != "in_progress" || cr.GetApp().GetSlug() != "agentgate-test" || cr.Conclusion != nil {
		t.Errorf("created = %+v", cr)
	}
	var annotations []*github.CheckRunAnnotation
	for i := range 50 {
		annotations = append(annotations, &github.CheckRunAnnotation{Path: github.Ptr("main.go"), StartLine: github.Ptr(i + 1), EndLine: github.Ptr(i + 1), AnnotationLevel: github.Ptr("failure"), Message: github.Ptr("no")})
	}
	for _, conclusion := range []string{"failure", "failure"} {
		_, _, err = gh.Checks.UpdateCheckRun(ctx, "octo-org", "repo-000", cr.GetID(), github.UpdateCheckRunOptions{
			Name: "agentgate", Conclusion: github.Ptr(conclusion),
			Output:  &github.CheckRunOutput{Title: github.Ptr("2 policies failed"), Summary: github.Ptr("| policy | verdict |"), Annotations: annotations},
			Actions: []*github.CheckRunAction{{Label: "Re-evaluate", Description: "Run the gate again", Identifier: "rerun"}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := gh.Checks.GetCheckRun(ctx, "octo-org", "repo-000", cr.GetID())
	if err != nil || got.GetConclusion() != "failure" || got.GetOutput().GetAnnotationsCount() != 100 || got.CompletedAt == nil {
		t.Errorf("check run = %+v, %v", got, err)
	}
	listed, _, err := gh.Checks.ListCheckRunAnnotations(ctx, "octo-org", "repo-000", cr.GetID(), &github.ListOptions{PerPage: 100})
	if err != nil || len(listed) != 100 || listed[99].GetStartLine() != 50 {
		t.Errorf("annotations = %d, %v", len(listed), err)
	}

	s.CompleteCheckRun(repoName, actions, "success")
	runs, _, err := gh.Checks.ListCheckRunsForRef(ctx, "octo-org", "repo-000", headSHA, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range runs.CheckRuns {
		names = append(names, r.GetName()+"/"+r.GetApp().GetSlug()+"/"+r.GetConclusion())
	}
	if runs.GetTotal() != 2 || !slices.Equal(names, []string{"agentgate/agentgate-test/failure", "test/github-actions/success"}) {
		t.Errorf("check runs = %d %v", runs.GetTotal(), names)
	}

	var history []string
	for _, r := range s.CheckRuns(repoName) {
		if r.Name == "agentgate" {
			for _, h := range r.History {
				history = append(history, h.Status+":"+h.Conclusion+":"+itoa(h.Annotations))
			}
		}
	}
	if !slices.Equal(history, []string{"in_progress::0", "completed:failure:50", "completed:failure:50"}) {
		t.Errorf("history = %v", history)
	}

	if _, _, err := gh.Checks.UpdateCheckRun(ctx, "octo-org", "repo-000", actions, github.UpdateCheckRunOptions{Name: "test"}); statusOf(err) != 403 {
		t.Errorf("updating another app's run: %v, want 403", err)
	}

	combined, _, err := gh.Repositories.GetCombinedStatus(ctx, "octo-org", "repo-000", headSHA, nil)
	if err != nil || combined.GetState() != "success" || combined.GetTotalCount() != 1 || combined.Statuses[0].GetContext() != "ci/legacy" {
		t.Errorf("combined status = %+v, %v", combined, err)
	}
	statuses, _, err := gh.Repositories.ListStatuses(ctx, "octo-org", "repo-000", headSHA, nil)
	if err != nil || len(statuses) != 2 || statuses[0].GetState() != "success" {
		t.Errorf("statuses = %v, %v", statuses, err)
	}
}

func TestCheckRunLimits(t *testing.T) {
	ctx := context.Background()
	s := newRepoFake(t, nil, githubtest.AllowViolations())
	gh := installationClient(t, s, installationID)
	long := strings.Repeat("x", 65536)
	many := make([]*github.CheckRunAnnotation, 51)
	for i := range many {
		many[i] = &github.CheckRunAnnotation{Path: github.Ptr("a"), StartLine: github.Ptr(1), EndLine: github.Ptr(1), AnnotationLevel: github.Ptr("notice"), Message: github.Ptr("m")}
	}
	action := func(label, desc, id string) *github.CheckRunAction {
		return &github.CheckRunAction{Label: label, Description: desc, Identifier: id}
	}
	out := func(summary, text string, a []*github.CheckRunAnnotation) *github.CheckRunOutput {
		return &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr(summary), Text: github.Ptr(text), Annotations: a}
	}
	tests := []struct {
		name string
		opts github.CreateCheckRunOptions
		want int
	}{
		{"at the limits", github.CreateCheckRunOptions{Output: out(long[1:], long[1:], many[1:]), Actions: []*github.CheckRunAction{
			action(strings.Repeat("l", 20), strings.Repeat("d", 40), strings.Repeat("i", 20)), action("b", "b", "b"), action("c", "c", "c")}}, 201},
		{"summary too long", github.CreateCheckRunOptions{Output: out(long, "", nil)}, 422},
		{"text too long", github.CreateCheckRunOptions{Output: out("s", long, nil)}, 422},
		{"51 annotations", github.CreateCheckRunOptions{Output: out("s", "", many)}, 422},
		{"4 actions", github.CreateCheckRunOptions{Actions: []*github.CheckRunAction{action("a", "a", "a"), action("b", "b", "b"), action("c", "c", "c"), action("d", "d", "d")}}, 422},
		{"label too long", github.CreateCheckRunOptions{Actions: []*github.CheckRunAction{action(strings.Repeat("l", 21), "d", "i")}}, 422},
		{"description too long", github.CreateCheckRunOptions{Actions: []*github.CheckRunAction{action("l", strings.Repeat("d", 41), "i")}}, 422},
		{"identifier too long", github.CreateCheckRunOptions{Actions: []*github.CheckRunAction{action("l", "d", strings.Repeat("i", 21))}}, 422},
		{"completed without conclusion", github.CreateCheckRunOptions{Status: github.Ptr("completed")}, 422},
		{"unknown commit", github.CreateCheckRunOptions{HeadSHA: strings.Repeat("9", 40)}, 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Name = "agentgate"
			if tt.opts.HeadSHA == "" {
				tt.opts.HeadSHA = headSHA
			}
			_, resp, err := gh.Checks.CreateCheckRun(ctx, "octo-org", "repo-000", tt.opts)
			if got := resp.StatusCode; got != tt.want {
				t.Errorf("status = %d (%v), want %d", got, err, tt.want)
			}
		})
	}
	t.Run("update refuses the same", func(t *testing.T) {
		cr, _, err := gh.Checks.CreateCheckRun(ctx, "octo-org", "repo-000", github.CreateCheckRunOptions{Name: "agentgate", HeadSHA: headSHA})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = gh.Checks.UpdateCheckRun(ctx, "octo-org", "repo-000", cr.GetID(), github.UpdateCheckRunOptions{Name: "agentgate", Output: out("s", "", many)})
		if statusOf(err) != 422 {
			t.Errorf("51 annotations on update: %v, want 422", err)
		}
		_, _, err = gh.Checks.UpdateCheckRun(ctx, "octo-org", "repo-000", cr.GetID(), github.UpdateCheckRunOptions{Name: "agentgate", Status: github.Ptr("completed")})
		if statusOf(err) != 422 {
			t.Errorf("completed without conclusion on update: %v, want 422", err)
		}
	})
}

func TestPermissionsAndTeams(t *testing.T) {
	ctx := context.Background()
	s := newRepoFake(t, nil)
	gh := installationClient(t, s, installationID)
	s.SetPermission(repoName, "alice", "maintain")
	s.SetPermission(repoName, "bob", "write")
	s.AddTeamMember("octo-org", "owners", "alice")

	for login, want := range map[string][2]string{"alice": {"write", "maintain"}, "bob": {"write", "write"}, "mallory": {"read", "read"}} {
		p, _, err := gh.Repositories.GetPermissionLevel(ctx, "octo-org", "repo-000", login)
		if err != nil || p.GetPermission() != want[0] || p.GetRoleName() != want[1] || p.GetUser().GetLogin() != login {
			t.Errorf("%s: permission %q role %q, %v; want %v", login, p.GetPermission(), p.GetRoleName(), err, want)
		}
	}
	if m, _, err := gh.Teams.GetTeamMembershipBySlug(ctx, "octo-org", "owners", "alice"); err != nil || m.GetState() != "active" {
		t.Errorf("alice in owners: %+v, %v", m, err)
	}
	if _, _, err := gh.Teams.GetTeamMembershipBySlug(ctx, "octo-org", "owners", "bob"); statusOf(err) != 404 {
		t.Errorf("bob in owners: %v, want 404", err)
	}
	if _, _, err := gh.Teams.GetTeamMembershipBySlug(ctx, "other-org", "owners", "alice"); statusOf(err) != 404 {
		t.Errorf("another organization: %v, want 404", err)
	}

	t.Run("tokens narrowed by permission and repository", func(t *testing.T) {
		s.AddRepo(installationID, githubtest.Repo{ID: 2000, FullName: "octo-org/other"})
		app := appClient(t, s, s.AppPrivateKeyPEM())
		tok, _, err := app.Apps.CreateInstallationToken(ctx, installationID, &github.InstallationTokenOptions{
			Repositories: []string{"other"}, Permissions: &github.InstallationPermissions{Contents: github.Ptr("read")},
		})
		if err != nil {
			t.Fatal(err)
		}
		narrow := tokenClient(t, s, tok.GetToken())
		if _, _, err := narrow.PullRequests.Get(ctx, "octo-org", "repo-000", 7); statusOf(err) != 404 {
			t.Errorf("repository outside the token: %v, want 404", err)
		}
		if _, _, err := narrow.PullRequests.Get(ctx, "octo-org", "other", 1); statusOf(err) != 403 {
			t.Errorf("without pull_requests permission: %v, want 403", err)
		}
		if _, _, err := narrow.Checks.CreateCheckRun(ctx, "octo-org", "other", github.CreateCheckRunOptions{Name: "x", HeadSHA: headSHA}); statusOf(err) != 403 {
			t.Errorf("without checks permission: %v, want 403", err)
		}
	})
}
