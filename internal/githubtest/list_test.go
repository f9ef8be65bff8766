package githubtest_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/githubtest"
)

func numbers(prs []*github.PullRequest) []int {
	var out []int
	for _, pr := range prs {
		out = append(out, pr.GetNumber())
	}
	return out
}

// TestListPulls: GET /repos/{owner}/{repo}/pulls filters by state (open by default), head and
// base, sorts like GitHub (created newest first by default; updated, popularity and
// long-running oldest first unless direction says), and pages with Link headers.
func TestListPulls(t *testing.T) {
	ctx := context.Background()
	// The clock only moves while pull requests are added; requests run at the real time.
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	s := newFake(t, 1, githubtest.WithClock(now))
	add := func(n int, age time.Duration, pr githubtest.PullRequest) {
		offset.Store(int64(-age))
		pr.Number = n
		pr.Base.SHA = baseSHA
		if pr.Head.SHA == "" {
			pr.Head.SHA = headSHA
		}
		s.AddPullRequest(repoName, pr)
		offset.Store(0)
	}
	day := 24 * time.Hour
	add(1, 60*day, githubtest.PullRequest{})                                   // oldest, open
	add(2, 50*day, githubtest.PullRequest{State: "closed"})                    // closed
	add(3, 40*day, githubtest.PullRequest{Head: githubtest.PullRef{Ref: "x"}}) // head octo-org:x
	add(4, 3*day, githubtest.PullRequest{Base: githubtest.PullRef{Ref: "release"}})
	add(5, 2*day, githubtest.PullRequest{})
	// #3 changes now (long-running: open over a month, active this month); #1 gets a review.
	s.UpdatePullRequest(repoName, 3, func(pr *githubtest.PullRequest) { pr.Title = "moved on" })
	s.AddReview(repoName, 1, githubtest.Review{User: githubtest.Account{Login: "bob"}, State: "APPROVED"})
	s.AddReview(repoName, 1, githubtest.Review{User: githubtest.Account{Login: "carol"}, State: "COMMENTED"})
	s.AddReview(repoName, 5, githubtest.Review{User: githubtest.Account{Login: "bob"}, State: "COMMENTED"})

	gh := installationClient(t, s, installationID)
	list := func(opts *github.PullRequestListOptions) []int {
		t.Helper()
		prs, _, err := gh.PullRequests.List(ctx, "octo-org", "repo-000", opts)
		if err != nil {
			t.Fatal(err)
		}
		return numbers(prs)
	}
	tests := []struct {
		name string
		opts *github.PullRequestListOptions
		want []int
	}{
		{"default: open, newest first", nil, []int{5, 4, 3, 1}},
		{"closed", &github.PullRequestListOptions{State: "closed"}, []int{2}},
		{"all, oldest first", &github.PullRequestListOptions{State: "all", Direction: "asc"}, []int{1, 2, 3, 4, 5}},
		{"by base", &github.PullRequestListOptions{Base: "release"}, []int{4}},
		{"by head", &github.PullRequestListOptions{Head: "octo-org:x"}, []int{3}},
		{"by head of another owner", &github.PullRequestListOptions{Head: "someone:x"}, nil},
		{"updated, ascending by default", &github.PullRequestListOptions{Sort: "updated"}, []int{4, 3, 1, 5}},
		{"updated desc", &github.PullRequestListOptions{Sort: "updated", Direction: "desc"}, []int{5, 1, 3, 4}},
		{"popularity desc", &github.PullRequestListOptions{Sort: "popularity", Direction: "desc"}, []int{1, 5, 4, 3}},
		{"long-running", &github.PullRequestListOptions{Sort: "long-running"}, []int{1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := list(tt.opts); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("pagination", func(t *testing.T) {
		for n := 10; n < 260; n++ {
			s.AddPullRequest(repoName, githubtest.PullRequest{Number: n, Base: githubtest.PullRef{SHA: baseSHA}, Head: githubtest.PullRef{SHA: headSHA}})
		}
		var all []int
		pages := 0
		opts := &github.PullRequestListOptions{Sort: "updated", Direction: "desc", ListOptions: github.ListOptions{PerPage: 100}}
		for {
			prs, resp, err := gh.PullRequests.List(ctx, "octo-org", "repo-000", opts)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			all = append(all, numbers(prs)...)
			if pages == 1 && (resp.LastPage != 3 || resp.NextPage != 2) {
				t.Errorf("first page links: next %d last %d, want 2 and 3", resp.NextPage, resp.LastPage)
			}
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
		if pages != 3 || len(all) != 254 || all[0] != 259 || all[len(all)-1] != 4 {
			t.Errorf("%d pages, %d pull requests, first %d last %d", pages, len(all), all[0], all[len(all)-1])
		}
		// Default page size is GitHub's 30.
		prs, resp, err := gh.PullRequests.List(ctx, "octo-org", "repo-000", nil)
		if err != nil || len(prs) != 30 || resp.LastPage != 9 {
			t.Errorf("default page: %d pull requests, last page %d, %v", len(prs), resp.LastPage, err)
		}
	})

	t.Run("invalid state is a 422 by the description", func(t *testing.T) {
		s2 := newFake(t, 1, githubtest.AllowViolations())
		gh2 := installationClient(t, s2, installationID)
		_, _, err := gh2.PullRequests.List(ctx, "octo-org", "repo-000", &github.PullRequestListOptions{State: "merged"})
		if err == nil || len(s2.Violations()) == 0 {
			t.Errorf("state=merged: err %v, violations %v", err, s2.Violations())
		}
	})
}

// TestListCheckRunsFilters: GET .../commits/{ref}/check-runs honours app_id, check_name,
// status and filter (latest, the default, keeps each app's newest run of a name; all keeps
// every run), and total_count counts every match across pages.
func TestListCheckRunsFilters(t *testing.T) {
	ctx := context.Background()
	s := newRepoFake(t, nil)
	gh := installationClient(t, s, installationID)

	// Two runs of "test" by GitHub Actions (the second newer), one "test" by another app,
	// a "lint" run, and two runs of our own "agentgate" (a re-run).
	s.AddCheckRun(repoName, githubtest.CheckRun{Name: "test", HeadSHA: headSHA, Conclusion: "failure"})
	s.AddCheckRun(repoName, githubtest.CheckRun{Name: "test", HeadSHA: headSHA, Status: "in_progress"})
	s.AddCheckRun(repoName, githubtest.CheckRun{Name: "test", HeadSHA: headSHA, App: "circleci", Conclusion: "success"})
	s.AddCheckRun(repoName, githubtest.CheckRun{Name: "lint", HeadSHA: headSHA, Conclusion: "success"})
	s.AddCheckRun(repoName, githubtest.CheckRun{Name: "test", HeadSHA: baseSHA, Conclusion: "success"}) // another commit
	var ours []int64
	for range 2 {
		cr, _, err := gh.Checks.CreateCheckRun(ctx, "octo-org", "repo-000", github.CreateCheckRunOptions{
			Name: "agentgate", HeadSHA: headSHA, Conclusion: github.Ptr("success"),
		})
		if err != nil {
			t.Fatal(err)
		}
		ours = append(ours, cr.GetID())
	}

	type run struct {
		name, app, status string
	}
	list := func(opts *github.ListCheckRunsOptions) (int, []run) {
		t.Helper()
		res, _, err := gh.Checks.ListCheckRunsForRef(ctx, "octo-org", "repo-000", headSHA, opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []run
		for _, cr := range res.CheckRuns {
			out = append(out, run{cr.GetName(), cr.GetApp().GetSlug(), cr.GetStatus()})
		}
		return res.GetTotal(), out
	}
	tests := []struct {
		name  string
		opts  *github.ListCheckRunsOptions
		total int
		want  []run
	}{
		{"latest by default, newest first", nil, 4, []run{
			{"agentgate", "agentgate-test", "completed"}, {"lint", "github-actions", "completed"},
			{"test", "circleci", "completed"}, {"test", "github-actions", "in_progress"},
		}},
		{"filter=all", &github.ListCheckRunsOptions{Filter: github.Ptr("all")}, 6, nil},
		{"app_id: ours", &github.ListCheckRunsOptions{AppID: github.Ptr(s.AppID())}, 1, []run{{"agentgate", "agentgate-test", "completed"}}},
		{"app_id: ours, all", &github.ListCheckRunsOptions{AppID: github.Ptr(s.AppID()), Filter: github.Ptr("all")}, 2, nil},
		{"app_id: GitHub Actions", &github.ListCheckRunsOptions{AppID: github.Ptr(int64(15368))}, 2, []run{
			{"lint", "github-actions", "completed"}, {"test", "github-actions", "in_progress"},
		}},
		{"app_id: an app with no runs", &github.ListCheckRunsOptions{AppID: github.Ptr(int64(1))}, 0, nil},
		{"check_name", &github.ListCheckRunsOptions{CheckName: github.Ptr("test")}, 2, []run{
			{"test", "circleci", "completed"}, {"test", "github-actions", "in_progress"},
		}},
		{"check_name, all", &github.ListCheckRunsOptions{CheckName: github.Ptr("test"), Filter: github.Ptr("all")}, 3, nil},
		{"check_name and app_id", &github.ListCheckRunsOptions{CheckName: github.Ptr("test"), AppID: github.Ptr(int64(15368)), Filter: github.Ptr("all")}, 2, []run{
			{"test", "github-actions", "in_progress"}, {"test", "github-actions", "completed"},
		}},
		{"status", &github.ListCheckRunsOptions{Status: github.Ptr("in_progress")}, 1, []run{{"test", "github-actions", "in_progress"}}},
		{"one per page still counts all", &github.ListCheckRunsOptions{ListOptions: github.ListOptions{PerPage: 1}}, 4, []run{
			{"agentgate", "agentgate-test", "completed"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total, got := list(tt.opts)
			if total != tt.total {
				t.Errorf("total_count %d, want %d (%v)", total, tt.total, got)
			}
			if tt.want != nil && !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// The latest of our two runs is the second.
	res, _, err := gh.Checks.ListCheckRunsForRef(ctx, "octo-org", "repo-000", headSHA, &github.ListCheckRunsOptions{CheckName: github.Ptr("agentgate")})
	if err != nil || res.GetTotal() != 1 || res.CheckRuns[0].GetID() != ours[1] {
		t.Errorf("latest agentgate run: %v, %v; want #%d", res, err, ours[1])
	}
}
