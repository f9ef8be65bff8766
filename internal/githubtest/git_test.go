package githubtest_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/githubtest"
)

// The git tests run the real git client against the fake, as agentgate's dispatch does.

var initialFiles = map[string]string{
	"README.md":                    "# repo-000\n",
	"main.go":                      "package main\n\nfunc main() {}\n",
	"old.txt":                      "to be renamed\nline 2\nline 3\n",
	"gone.txt":                     "to be removed\n",
	".github/workflows/agent.yml":  "on:\n  workflow_dispatch:\n    inputs:\n      task:\n        required: true\n      model:\n        default: small\njobs: {}\n",
	".github/workflows/ci.yml":     "on: [push, pull_request]\njobs: {}\n",
	".github/agentgate/config.yml": "dispatch: {}\n",
}

// newGitFake is a fake with two repositories; repo-000 has a git repository.
func newGitFake(t *testing.T, opts ...githubtest.Option) (*githubtest.Server, string) {
	t.Helper()
	s := newFake(t, 2, opts...)
	sha := s.InitGitRepo(repoName, "main", initialFiles)
	return s, sha
}

// git runs git in dir with a fixed identity and no user configuration.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitErr(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func gitErr(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true",
		"GIT_AUTHOR_NAME=agentgate-test[bot]", "GIT_AUTHOR_EMAIL=4242+agentgate-test[bot]@users.noreply.github.com",
		"GIT_COMMITTER_NAME=agentgate-test[bot]", "GIT_COMMITTER_EMAIL=4242+agentgate-test[bot]@users.noreply.github.com",
		"GIT_AUTHOR_DATE=2025-02-01T10:00:00Z", "GIT_COMMITTER_DATE=2025-02-01T10:00:00Z")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tokenURL is the clone URL with an installation token, as agentgate's dispatch builds it.
func tokenURL(t *testing.T, s *githubtest.Server, repo, token string) string {
	t.Helper()
	u, err := url.Parse(s.GitURL(repo))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("x-access-token", token)
	return u.String()
}

// narrowToken mints a token through the API, narrowed to repositories and permissions.
func narrowToken(t *testing.T, s *githubtest.Server, repos []string, perms *github.InstallationPermissions) string {
	t.Helper()
	tok, _, err := appClient(t, s, s.AppPrivateKeyPEM()).Apps.CreateInstallationToken(context.Background(), installationID,
		&github.InstallationTokenOptions{Repositories: repos, Permissions: perms})
	if err != nil {
		t.Fatal(err)
	}
	return tok.GetToken()
}

// clone clones repo-000 with the token into a new directory.
func clone(t *testing.T, s *githubtest.Server, token string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "work")
	git(t, "", "clone", "--quiet", tokenURL(t, s, repoName, token), dir)
	return dir
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGitCloneAndPush(t *testing.T) {
	t.Parallel() // git is slow to start; the fakes share nothing
	ctx := context.Background()
	s, initial := newGitFake(t)
	if again := newFake(t, 1); again.InitGitRepo(repoName, "main", initialFiles) != initial {
		t.Errorf("the same files gave another SHA")
	}
	if got := git(t, "", "--git-dir="+s.GitDir(repoName), "rev-parse", "main"); got != initial {
		t.Errorf("main = %s, InitGitRepo said %s", got, initial)
	}
	if !strings.HasSuffix(s.GitURL(repoName), "/octo-org/repo-000.git") {
		t.Errorf("GitURL = %s", s.GitURL(repoName))
	}

	// agentgate's push token: one repository, contents and pull requests only.
	token := narrowToken(t, s, []string{"repo-000"}, &github.InstallationPermissions{
		Contents: github.Ptr("write"), PullRequests: github.Ptr("write"),
	})
	dir := clone(t, s, token)
	git(t, dir, "checkout", "--quiet", "-b", "agent/issue-12")
	writeFile(t, dir, "main.go", "package main\n\nfunc main() { println(\"hi\") }\n")
	git(t, dir, "commit", "--quiet", "-am", "Say hi\n\nAgent-Run: r-1")
	git(t, dir, "push", "--quiet", "origin", "agent/issue-12")
	head := git(t, dir, "rev-parse", "HEAD")

	pushes := s.Pushes(repoName)
	if len(pushes) != 1 {
		t.Fatalf("pushes = %+v", pushes)
	}
	p := pushes[0]
	if p.Ref != "refs/heads/agent/issue-12" || p.Old != strings.Repeat("0", 40) || p.New != head || p.InstallationID != installationID {
		t.Errorf("push = %+v", p)
	}
	if !slices.Equal(p.TokenRepositoryIDs, []int64{1000}) || len(p.TokenPermissions) != 2 ||
		p.TokenPermissions["contents"] != "write" || p.TokenPermissions["pull_requests"] != "write" {
		t.Errorf("push token: repositories %v, permissions %v", p.TokenRepositoryIDs, p.TokenPermissions)
	}
	if sha, ok := s.Branch(repoName, "agent/issue-12"); !ok || sha != head {
		t.Errorf("branch = %s %v, want %s", sha, ok, head)
	}
	if log := git(t, "", "--git-dir="+s.GitDir(repoName), "log", "--format=%s", "agent/issue-12"); log != "Say hi\nInitial commit" {
		t.Errorf("log = %q", log)
	}

	// Contents of pushed commits come from git.
	gh := installationClient(t, s, installationID)
	for ref, want := range map[string]string{
		"agent/issue-12": "package main\n\nfunc main() { println(\"hi\") }\n",
		head:             "package main\n\nfunc main() { println(\"hi\") }\n",
		"main":           initialFiles["main.go"],
		initial:          initialFiles["main.go"],
		"":               initialFiles["main.go"],
	} {
		file, _, _, err := gh.Repositories.GetContents(ctx, "octo-org", "repo-000", "main.go", &github.RepositoryContentGetOptions{Ref: ref})
		if err != nil {
			t.Fatalf("contents at %q: %v", ref, err)
		}
		if got, _ := file.GetContent(); got != want {
			t.Errorf("main.go at %q = %q", ref, got)
		}
	}
	_, dirList, _, err := gh.Repositories.GetContents(ctx, "octo-org", "repo-000", ".github/workflows", &github.RepositoryContentGetOptions{Ref: "agent/issue-12"})
	if err != nil || len(dirList) != 2 || dirList[0].GetName() != "agent.yml" || dirList[0].GetSHA() == "" {
		t.Errorf("workflows = %v, %v", dirList, err)
	}
	if _, _, _, err := gh.Repositories.GetContents(ctx, "octo-org", "repo-000", "main.go", &github.RepositoryContentGetOptions{Ref: "nope"}); statusOf(err) != 404 {
		t.Errorf("unknown ref: %v, want 404", err)
	}

	// A fetch and a push are counted apart from API requests.
	var services []string
	for _, r := range s.GitRequests() {
		if r.Status == http.StatusOK {
			services = append(services, r.Method+" "+r.Service)
		}
	}
	// (Protocol v2 fetches with two POSTs: ls-refs, then fetch.)
	want := []string{"GET git-upload-pack", "POST git-upload-pack", "GET git-receive-pack", "POST git-receive-pack"}
	if !slices.Equal(slices.Compact(services), want) {
		t.Errorf("git requests = %v, want %v", services, want)
	}
	for _, r := range s.Requests() {
		if strings.Contains(r.Path, ".git/") {
			t.Errorf("git request among API requests: %+v", r)
		}
	}

	// Deleting the branch by push.
	git(t, dir, "push", "--quiet", "origin", "--delete", "agent/issue-12")
	if _, ok := s.Branch(repoName, "agent/issue-12"); ok {
		t.Errorf("deleted branch is still there")
	}
	if p := s.Pushes(repoName); len(p) != 2 || p[1].New != strings.Repeat("0", 40) {
		t.Errorf("pushes = %+v", p)
	}
}

func TestGitAuth(t *testing.T) {
	t.Parallel() // git is slow to start; the fakes share nothing
	s, _ := newGitFake(t)
	s.AddRepo(installationID, githubtest.Repo{ID: 2000, FullName: "octo-org/no-git"})
	full := s.InstallationToken(installationID)
	other := narrowToken(t, s, []string{"repo-001"}, nil)
	readOnly := narrowToken(t, s, []string{"repo-000"}, &github.InstallationPermissions{Contents: github.Ptr("read")})
	noContents := narrowToken(t, s, []string{"repo-000"}, &github.InstallationPermissions{Issues: github.Ptr("write")})

	tests := []struct {
		name, user, token, repo, service string
		status                           int
	}{
		{"no token", "", "", repoName, "git-upload-pack", 401},
		{"unknown token", "x-access-token", "ghs_nope", repoName, "git-upload-pack", 401},
		{"wrong user name", "octocat", full, repoName, "git-upload-pack", 401},
		{"fetch", "x-access-token", full, repoName, "git-upload-pack", 200},
		{"repository in another URL case", "x-access-token", full, "Octo-Org/Repo-000", "git-upload-pack", 200},
		{"token for another repository", "x-access-token", other, repoName, "git-upload-pack", 404},
		{"repository not installed", "x-access-token", full, "octo-org/elsewhere", "git-upload-pack", 404},
		{"repository without git", "x-access-token", full, "octo-org/no-git", "git-upload-pack", 404},
		{"fetch without contents permission", "x-access-token", noContents, repoName, "git-upload-pack", 403},
		{"read-only token fetches", "x-access-token", readOnly, repoName, "git-upload-pack", 200},
		{"read-only token pushes", "x-access-token", readOnly, repoName, "git-receive-pack", 403},
		{"push", "x-access-token", full, repoName, "git-receive-pack", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.GitURL(tt.repo)+"/info/refs?service="+tt.service, nil)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.token)
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="GitHub"` {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
			if ct := resp.Header.Get("Content-Type"); tt.status == 200 && ct != "application/x-"+tt.service+"-advertisement" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}

	t.Run("expired token", func(t *testing.T) {
		var later atomic.Bool
		s := newFake(t, 1, githubtest.WithClock(func() time.Time {
			if later.Load() {
				return time.Now().Add(2 * time.Hour)
			}
			return time.Now()
		}))
		s.InitGitRepo(repoName, "", map[string]string{"a": "a"})
		tok := s.InstallationToken(installationID)
		later.Store(true)
		req, _ := http.NewRequest(http.MethodGet, s.GitURL(repoName)+"/info/refs?service=git-upload-pack", nil)
		req.SetBasicAuth("x-access-token", tok)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("status = %d, want 401", resp.StatusCode)
		}
	})
	t.Run("git push with a read-only token", func(t *testing.T) {
		dir := clone(t, s, readOnly)
		git(t, dir, "commit", "--quiet", "--allow-empty", "-m", "nothing")
		out, err := gitErr(dir, "push", "origin", "HEAD:refs/heads/x")
		if err == nil || !strings.Contains(out, "403") {
			t.Errorf("push: %v\n%s", err, out)
		}
		if len(s.Pushes(repoName)) != 0 {
			t.Errorf("pushes = %v", s.Pushes(repoName))
		}
	})
	t.Run("git clone without a token", func(t *testing.T) {
		out, err := gitErr("", "clone", s.GitURL(repoName), filepath.Join(t.TempDir(), "x"))
		if err == nil {
			t.Errorf("clone without a token worked:\n%s", out)
		}
	})
	t.Run("workflow files need the workflows permission", func(t *testing.T) {
		dir := clone(t, s, full)
		writeFile(t, dir, ".github/workflows/ci.yml", "on: [push]\njobs: {}\n")
		git(t, dir, "commit", "--quiet", "-am", "change CI")
		out, err := gitErr(dir, "push", "origin", "HEAD:refs/heads/ci")
		if err == nil || !strings.Contains(out, "refusing to allow a GitHub App to create or update workflow `.github/workflows/ci.yml` without `workflows` permission") {
			t.Errorf("push: %v\n%s", err, out)
		}
		if _, ok := s.Branch(repoName, "ci"); ok || len(s.Pushes(repoName)) != 0 {
			t.Errorf("a refused push changed the fake: %v", s.Pushes(repoName))
		}

		s.AddInstallation(githubtest.Installation{ID: 2, Account: "octo-org", Repos: []githubtest.Repo{{ID: 1000, FullName: repoName}},
			Permissions: map[string]string{"contents": "write", "workflows": "write"}})
		git(t, dir, "push", "--quiet", tokenURL(t, s, repoName, s.InstallationToken(2)), "HEAD:refs/heads/ci")
		if _, ok := s.Branch(repoName, "ci"); !ok {
			t.Errorf("push with workflows:write did not land")
		}
	})
	var unauthorized int
	for _, r := range s.GitRequests() {
		if r.Status == 401 {
			unauthorized++
		}
	}
	if unauthorized < 3 {
		t.Errorf("%d 401s recorded", unauthorized)
	}
}
