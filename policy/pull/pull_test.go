package pull_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/ghapp"
	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/internal/metrics"
	"github.com/agentgate/agentgate/policy"
	"github.com/agentgate/agentgate/policy/pull"
)

// The view is tested against the fake GitHub through a real installation client from
// internal/ghapp (go-githubapp, ghinstallation, ETag cache), as the gate uses it.

const (
	installationID = 1
	owner, name    = "octo-org", "hello"
	fullName       = owner + "/" + name
	baseSHA        = "1111111111111111111111111111111111111111"
	headSHA        = "2222222222222222222222222222222222222222"
	firstSHA       = "3333333333333333333333333333333333333333"
)

// setup serves a private repository with pull request #7 changing files, and returns the
// fake and an installation client.
func setup(t *testing.T, files []githubtest.PullFile) (*githubtest.Server, *github.Client) {
	t.Helper()
	s := githubtest.New(t)
	s.AddInstallation(githubtest.Installation{ID: installationID, Account: owner, Repos: []githubtest.Repo{
		{ID: 1296269, FullName: fullName, Private: true},
	}})
	s.SetFiles(fullName, baseSHA, map[string]string{
		".github/agentgate.yml":                   "size:\n  max_files: 10\n",
		".github/agentgate/policies/extra.rego":   "package extra\n",
		".github/agentgate/policies/more.rego":    "package more\n",
		".github/agentgate/policies/lib/x.rego":   "package lib\n",
		".github/workflows/ci.yml":                "on: push\n",
		"server/main.go":                          "package main\n",
		"server/internal/deep/nested/path/a.go":   "package path\n",
		"docs/README.md":                          "# docs\n",
		"vendor/example.com/lib/lib.go":           "package lib\n",
		"a-file-with-a-long-name-for-realism.txt": "x\n",
	})
	s.SetFiles(fullName, headSHA, map[string]string{
		".github/agentgate.yml": "size:\n  max_files: 100000\n", // the PR tries to weaken its own gate
		"server/main.go":        "package main\n\nfunc main() {}\n",
	})
	s.AddPullRequest(fullName, githubtest.PullRequest{
		Number: 7, Title: "Fix the thing", Body: "Closes #12",
		User:   githubtest.Account{Login: "agentgate[bot]", Type: "Bot"},
		Base:   githubtest.PullRef{Ref: "main", SHA: baseSHA},
		Head:   githubtest.PullRef{Ref: "agent/issue-12-ab12", SHA: headSHA},
		Labels: []string{"agent"},
		Files:  files,
		Commits: []githubtest.Commit{
			{SHA: firstSHA, Message: "Start\n\nAgent-Run: r-1", Author: githubtest.Account{Login: "agentgate[bot]"}},
			{SHA: headSHA, Message: "Finish", Author: githubtest.Account{Login: "agentgate[bot]"}},
		},
	})
	clients, err := ghapp.New(ghapp.Config{AppID: s.AppID(), PrivateKeyPEM: s.AppPrivateKeyPEM(), APIURL: s.URL()}, metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	gh, err := clients.Installation(installationID)
	if err != nil {
		t.Fatal(err)
	}
	return s, gh
}

var smallFiles = []githubtest.PullFile{
	{Filename: "server/main.go", Additions: 2, Patch: "@@ -1 +1,3 @@\n package main\n+\n+func main() {}"},
	{Filename: ".github/agentgate.yml", Additions: 1, Deletions: 1, Patch: "@@ -1,2 +1,2 @@\n size:\n-  max_files: 10\n+  max_files: 100000"},
	{Filename: "docs/new.md", Status: "renamed", PreviousFilename: "docs/old.md"},
	{Filename: "old.txt", Status: "removed", Deletions: 3, Patch: "@@ -1,3 +0,0 @@\n-a\n-b\n-c"},
}

// askEverything asks every question of the view and returns the answers, for comparing
// a first and second round.
func askEverything(t *testing.T, v pull.Context) map[string]any {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{}
	must := func(what string, val any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		out[what] = val
	}
	repo, err := v.Repository(ctx)
	must("repository", repo, err)
	pr, err := v.PullRequest(ctx)
	must("pull request", pr, err)
	files, truncated, err := v.Files(ctx)
	must("files", files, err)
	out["truncated"] = truncated
	commits, err := v.Commits(ctx)
	must("commits", commits, err)
	reviews, err := v.Reviews(ctx)
	must("reviews", reviews, err)
	checks, err := v.Checks(ctx)
	must("checks", checks, err)
	config, exists, err := v.FileAt(ctx, baseSHA, ".github/agentgate.yml")
	must("config", string(config), err)
	out["config exists"] = exists
	missing, exists, err := v.FileAt(ctx, baseSHA, ".github/nope.yml")
	must("missing", missing, err)
	out["missing exists"] = exists
	policies, err := v.ListDir(ctx, baseSHA, ".github/agentgate/policies")
	must("policies", policies, err)
	none, err := v.ListDir(ctx, headSHA, ".github/agentgate/policies")
	must("no policies", none, err)
	member, err := v.TeamMember(ctx, owner, "owners", "alice")
	must("alice in owners", member, err)
	notMember, err := v.TeamMember(ctx, owner, "owners", "bob")
	must("bob in owners", notMember, err)
	return out
}

func TestEachFactFetchedOnce(t *testing.T) {
	s, gh := setup(t, smallFiles)
	s.SetPermission(fullName, "bob", "write")
	s.SetPermission(fullName, "carol", "maintain")
	s.AddTeamMember(owner, "owners", "alice")
	s.AddReview(fullName, 7, githubtest.Review{User: githubtest.Account{Login: "bob"}, State: "APPROVED"})
	s.AddReview(fullName, 7, githubtest.Review{User: githubtest.Account{Login: "bob"}, State: "COMMENTED"})
	s.AddReview(fullName, 7, githubtest.Review{User: githubtest.Account{Login: "carol"}, State: "APPROVED", CommitID: firstSHA})
	s.AddReview(fullName, 7, githubtest.Review{User: githubtest.Account{Login: "carol"}, State: "CHANGES_REQUESTED"})
	s.AddReview(fullName, 7, githubtest.Review{User: githubtest.Account{Login: "dave"}, State: "APPROVED"})
	test := s.AddCheckRun(fullName, githubtest.CheckRun{Name: "test", HeadSHA: headSHA, Status: "in_progress"})
	s.CompleteCheckRun(fullName, test, "success")
	s.AddCheckRun(fullName, githubtest.CheckRun{Name: "agentgate", App: "agentgate-test", HeadSHA: headSHA, Status: "in_progress"})
	s.SetStatus(fullName, headSHA, "ci/legacy", "pending")
	s.SetStatus(fullName, headSHA, "ci/legacy", "error")

	v := pull.New(gh, owner, name, 7, pull.WithCheckName("agentgate"))
	first := askEverything(t, v)
	// repo, pull, 1 files page, commits, reviews + 3 permissions, check runs, statuses,
	// 2 contents, 2 directories, 2 team memberships.
	const want = 1 + 1 + 1 + 1 + 1 + 3 + 1 + 1 + 2 + 2 + 2
	if got := v.Requests(); got != want {
		t.Errorf("first round: %d requests, want %d", got, want)
	}
	second := askEverything(t, v)
	if got := v.Requests(); got != want {
		t.Errorf("second round asked GitHub again: %d requests, want %d", got, want)
	}
	for k, a := range first {
		if b := second[k]; !equalJSONish(a, b) {
			t.Errorf("%s: first %v, second %v", k, a, b)
		}
	}

	if repo := first["repository"].(policy.Repository); repo != (policy.Repository{FullName: fullName, DefaultBranch: "main", Private: true}) {
		t.Errorf("repository = %+v", repo)
	}
	pr := first["pull request"].(policy.PullRequest)
	if pr.Number != 7 || pr.Author != (policy.Person{Login: "agentgate[bot]", Type: "Bot"}) || pr.Base.SHA != baseSHA ||
		pr.Head != (policy.Ref{Ref: "agent/issue-12-ab12", SHA: headSHA}) || !slices.Equal(pr.Labels, []string{"agent"}) ||
		pr.Additions != 3 || pr.Deletions != 4 || pr.ChangedFiles != 4 || pr.Body != "Closes #12" {
		t.Errorf("pull request = %+v", pr)
	}
	files := first["files"].([]policy.File)
	wantFiles := []policy.File{
		{Path: "server/main.go", Status: "modified", Additions: 2, FirstLine: 2},
		{Path: ".github/agentgate.yml", Status: "modified", Additions: 1, Deletions: 1, FirstLine: 2},
		{Path: "docs/new.md", PreviousPath: "docs/old.md", Status: "renamed"},
		{Path: "old.txt", Status: "removed", Deletions: 3, FirstLine: 1},
	}
	if !slices.Equal(files, wantFiles) || first["truncated"] != false {
		t.Errorf("files = %+v (truncated %v)\nwant %+v", files, first["truncated"], wantFiles)
	}
	commits := first["commits"].([]policy.Commit)
	if len(commits) != 2 || commits[0].SHA != firstSHA || commits[0].Message != "Start\n\nAgent-Run: r-1" || commits[0].Author != "agentgate[bot]" || commits[0].Trailers != nil || commits[1].SHA != headSHA {
		t.Errorf("commits = %+v", commits)
	}
	reviews := first["reviews"].([]policy.Review)
	var got []string
	for _, r := range reviews {
		got = append(got, r.User+":"+r.State+":"+r.Permission+":"+r.CommitID[:4])
	}
	// bob's comment does not withdraw his approval; carol's latest review counts; dave has
	// no access to the private repository.
	if want := []string{"bob:APPROVED:write:2222", "carol:CHANGES_REQUESTED:maintain:2222", "dave:APPROVED:none:2222"}; !slices.Equal(got, want) {
		t.Errorf("reviews = %v, want %v", got, want)
	}
	checks := first["checks"].([]policy.Check)
	wantChecks := []policy.Check{
		{Name: "test", Status: "completed", Conclusion: "success", App: "github-actions", Kind: "check_run"},
		{Name: "ci/legacy", Status: "completed", Conclusion: "failure", App: "status", Kind: "status"},
	}
	if !slices.Equal(checks, wantChecks) {
		t.Errorf("checks = %+v, want %+v", checks, wantChecks)
	}
	if first["config"] != "size:\n  max_files: 10\n" || first["config exists"] != true {
		t.Errorf("config at base = %q (exists %v); the base version must win over the head's", first["config"], first["config exists"])
	}
	if first["missing exists"] != false || len(first["missing"].([]byte)) != 0 {
		t.Errorf("missing file: exists %v", first["missing exists"])
	}
	if p := first["policies"].([]string); !slices.Equal(p, []string{"extra.rego", "more.rego"}) {
		t.Errorf("policies = %v (subdirectories are not files)", p)
	}
	if p := first["no policies"].([]string); len(p) != 0 {
		t.Errorf("missing directory = %v", p)
	}
	if first["alice in owners"] != true || first["bob in owners"] != false {
		t.Errorf("team membership: alice %v, bob %v", first["alice in owners"], first["bob in owners"])
	}
}

func equalJSONish(a, b any) bool {
	switch a := a.(type) {
	case []policy.File:
		return slices.Equal(a, b.([]policy.File))
	case []policy.Commit:
		return len(a) == len(b.([]policy.Commit))
	case []policy.Review:
		return len(a) == len(b.([]policy.Review))
	case []policy.Check:
		return slices.Equal(a, b.([]policy.Check))
	case []string:
		return slices.Equal(a, b.([]string))
	case []byte:
		return string(a) == string(b.([]byte))
	case policy.PullRequest:
		bb := b.(policy.PullRequest)
		return a.Number == bb.Number && a.Head == bb.Head && slices.Equal(a.Labels, bb.Labels)
	}
	return a == b
}

func TestFilesPaginate(t *testing.T) {
	ctx := context.Background()
	_, gh := setup(t, githubtest.GenerateFiles(250))
	v := pull.New(gh, owner, name, 7)
	if _, err := v.PullRequest(ctx); err != nil {
		t.Fatal(err)
	}
	before := v.Requests()
	files, truncated, err := v.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := v.Requests() - before; n != 3 {
		t.Errorf("250 files took %d requests, want 3", n)
	}
	if len(files) != 250 || truncated || files[0].FirstLine != 2 {
		t.Errorf("%d files, truncated %v, first line %d", len(files), truncated, files[0].FirstLine)
	}
}

func TestFilesTruncatedPastGitHubsLimit(t *testing.T) {
	_, gh := setup(t, githubtest.GenerateFiles(3001))
	v := pull.New(gh, owner, name, 7)
	files, truncated, err := v.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !truncated || len(files) != 3000 {
		t.Errorf("%d files, truncated %v: want 3000 listed and truncated", len(files), truncated)
	}
	if got := v.Requests(); got != 1+30 {
		t.Errorf("%d requests, want 31 (the pull request and 30 pages)", got)
	}
}

func TestSecondViewRevalidatesWithETags(t *testing.T) {
	ctx := context.Background()
	s, gh := setup(t, githubtest.GenerateFiles(250))
	read := func() pull.Context {
		v := pull.New(gh, owner, name, 7)
		if _, err := v.PullRequest(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := v.Files(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := v.FileAt(ctx, baseSHA, ".github/agentgate.yml"); err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := read()
	if first.Requests() != 5 || first.NotModified() != 0 {
		t.Errorf("first view: %d requests, %d not modified; want 5 and 0", first.Requests(), first.NotModified())
	}
	_, before, _ := s.RateLimit(installationID)
	second := read()
	_, after, _ := s.RateLimit(installationID)
	if second.Requests() != 5 || second.NotModified() != 5 {
		t.Errorf("second view: %d requests, %d not modified; want 5 and 5", second.Requests(), second.NotModified())
	}
	if after != before {
		t.Errorf("rate limit remaining %d → %d: 304s must be free", before, after)
	}
	t.Logf("250-file PR: first view %d requests (%d charged), second view %d requests (%d charged)",
		first.Requests(), first.Requests()-first.NotModified(), second.Requests(), before-after)

	// A push changes the answers: the third view is charged for what changed.
	s.UpdatePullRequest(fullName, 7, func(pr *githubtest.PullRequest) { pr.Files = pr.Files[:200] })
	third := read()
	if third.Requests() != 4 || third.NotModified() != 1 {
		t.Errorf("after a push: %d requests, %d not modified; want 4 and 1 (only the base config unchanged)", third.Requests(), third.NotModified())
	}
}

func TestMergeGroupHeadAndErrors(t *testing.T) {
	ctx := context.Background()
	s, gh := setup(t, smallFiles)
	const groupSHA = "4444444444444444444444444444444444444444"
	s.SetFiles(fullName, groupSHA, map[string]string{})
	s.AddCheckRun(fullName, githubtest.CheckRun{Name: "test", HeadSHA: groupSHA, Conclusion: "failure"})
	s.AddCheckRun(fullName, githubtest.CheckRun{Name: "test", HeadSHA: headSHA, Conclusion: "success"})

	v := pull.New(gh, owner, name, 7, pull.WithHeadSHA(groupSHA))
	checks, err := v.Checks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 1 || checks[0].Conclusion != "failure" {
		t.Errorf("merge group checks = %+v, want the group head's failure", checks)
	}
	if v.Requests() != 2 {
		t.Errorf("%d requests: the head override needs no pull request", v.Requests())
	}

	missing := pull.New(gh, owner, name, 99)
	if _, err := missing.PullRequest(ctx); err == nil {
		t.Fatal("missing pull request: no error")
	}
	if _, _, err := missing.Files(ctx); err == nil {
		t.Error("files of a missing pull request: no error")
	}
	if missing.Requests() != 1 {
		t.Errorf("%d requests: the failed fetch is memoised too", missing.Requests())
	}
}

func TestFirstLine(t *testing.T) {
	tests := []struct {
		name, patch string
		want        int
	}{
		{"no patch", "", 0},
		{"added at top", "@@ -0,0 +1,2 @@\n+a\n+b", 1},
		{"after context", "@@ -10,4 +10,5 @@ func f() {\n ctx\n ctx\n-old\n+new\n ctx", 12},
		{"second hunk", "@@ -1,2 +1,2 @@\n a\n b\n@@ -40,3 +40,4 @@\n x\n+y\n z", 41},
		{"only deletions", "@@ -5,3 +5,1 @@\n keep\n-gone\n-gone", 6},
		{"single-line form", "@@ -1 +1 @@\n-a\n+b", 1},
		{"no newline marker", "@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b", 1},
		{"deleted file", "@@ -1,3 +0,0 @@\n-a\n-b\n-c", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pull.FirstLine(tt.patch); got != tt.want {
				t.Errorf("FirstLine = %d, want %d", got, tt.want)
			}
		})
	}
}
