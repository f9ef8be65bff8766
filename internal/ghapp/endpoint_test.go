package ghapp_test

import (
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/ghapp"
)

func TestEndpointClass(t *testing.T) {
	sha := strings.Repeat("0123456789abcdef", 3)[:40]
	tests := []struct{ path, want string }{
		{"/repos/o/r/pulls/12/files", "/repos/{owner}/{repo}/pulls/{n}/files"},
		{"/repos/acme/widgets/pulls/12", "/repos/{owner}/{repo}/pulls/{n}"},
		{"/repos/acme/widgets/issues/7/comments", "/repos/{owner}/{repo}/issues/{n}/comments"},
		{"/repos/acme/widgets/issues/comments/123456", "/repos/{owner}/{repo}/issues/comments/{n}"},
		{"/app/hook/deliveries/123/attempts", "/app/hook/deliveries/{n}/attempts"},
		{"/app/hook/deliveries", "/app/hook/deliveries"},
		{"/app/hook/deliveries/123", "/app/hook/deliveries/{n}"},
		{"/app", "/app"},
		{"/app/installations/9/access_tokens", "/app/installations/{n}/access_tokens"},
		{"/app-manifests/abc/conversions", "/app-manifests/{code}/conversions"},
		{"/api/v3/repos/o/r", "/repos/{owner}/{repo}"},
		{"/api/v3/app/installations/9/access_tokens", "/app/installations/{n}/access_tokens"},
		{"/repos/o/r/commits/" + sha + "/check-runs", "/repos/{owner}/{repo}/commits/{sha}/check-runs"},
		{"/repos/o/r/check-runs/99", "/repos/{owner}/{repo}/check-runs/{n}"},
		{"/repos/o/r/contents/a/b/c.go", "/repos/{owner}/{repo}/contents/{name}"},
		{"/repos/o/r/contents/README.md", "/repos/{owner}/{repo}/contents/{name}"},
		// "git" swallows the rest: refs, commits, trees, ref/{ref} all
		// collapse to one bounded class.
		{"/repos/o/r/git/refs/heads/main", "/repos/{owner}/{repo}/git/{name}"},
		{"/repos/o/r/git/ref/heads/feature/x", "/repos/{owner}/{repo}/git/{name}"},
		{"/repos/o/r/branches/release/v1/protection", "/repos/{owner}/{repo}/branches/{name}"},
		{"/repos/o/r/labels/needs review", "/repos/{owner}/{repo}/labels/{name}"},
		{"/orgs/acme/teams", "/orgs/{org}/teams"},
		{"/users/octocat/installation", "/users/{user}/installation"},
		{"/installation/repositories", "/installation/repositories"},
		{"/repos/o/r/", "/repos/{owner}/{repo}"},
		{"/", "/"},
		{"", "/"},
		{"/api/v3", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := ghapp.EndpointClass(tt.path); got != tt.want {
				t.Errorf("EndpointClass(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}
