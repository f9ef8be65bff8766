package publish

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v89/github"
)

// installationPerms are the fake app's default permissions plus
// attestations, which the create endpoint needs.
func installationPerms(attestations string) map[string]string {
	p := map[string]string{"contents": "write", "metadata": "read", "pull_requests": "write", "issues": "write", "checks": "write"}
	if attestations != "" {
		p["attestations"] = attestations
	}
	return p
}

func (f *fixture) installationClient(t *testing.T) *github.Client {
	t.Helper()
	c, err := f.clients.Installation(testInstallation)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGitHubStoresEachBundle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, installationPerms("write"))
	commit := f.commits[0]
	bundles := f.bundles(t, commit, "provenance", "review", "vsa")

	ids, err := GitHub(ctx, f.installationClient(t), testRepo, bundles)
	if err != nil {
		t.Fatal(err)
	}
	stored := f.s.Attestations(testRepo)
	if len(ids) != 3 || len(stored) != 3 {
		t.Fatalf("ids %v, %d stored; want 3 of each", ids, len(stored))
	}
	for i, a := range stored {
		if a.ID != ids[i] {
			t.Errorf("attestation %d has id %d, GitHub answered %d", i, a.ID, ids[i])
		}
		if string(a.Bundle) != string(bundles[i]) {
			t.Errorf("attestation %d: GitHub got another bundle than the one signed", i)
		}
		if want := "https://agentgate.dev/test/" + []string{"provenance", "review", "vsa"}[i]; a.PredicateType != want {
			t.Errorf("attestation %d: predicate type %q, want %q", i, a.PredicateType, want)
		}
		// Indexed by what the statement names: the commit, not a sha256.
		if !slices.Equal(a.SubjectDigests, []string{"gitCommit:" + commit}) {
			t.Errorf("attestation %d: subject digests %v", i, a.SubjectDigests)
		}
	}
	// One POST per bundle, all through the installation client.
	posts := 0
	for _, r := range f.s.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/attestations") {
			posts++
		}
	}
	if posts != 3 {
		t.Errorf("%d POSTs to the attestations endpoint, want 3", posts)
	}
}

func TestGitHubRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("no attestations permission", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, installationPerms(""))
		bundles := f.bundles(t, f.commits[0], "provenance", "vsa")
		ids, err := GitHub(ctx, f.installationClient(t), testRepo, bundles)
		var ge *github.ErrorResponse
		if !errors.As(err, &ge) || ge.Response.StatusCode != http.StatusForbidden {
			t.Fatalf("err = %v, want GitHub's 403 wrapped", err)
		}
		for _, want := range []string{testRepo, "bundle 1 of 2", "https://agentgate.dev/test/provenance"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if len(ids) != 0 || len(f.s.Attestations(testRepo)) != 0 {
			t.Errorf("ids %v, %d stored after a refusal", ids, len(f.s.Attestations(testRepo)))
		}
	})

	t.Run("stops at the refused bundle", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, installationPerms("write"))
		good := f.bundles(t, f.commits[0], "provenance", "vsa")
		notABundle := []byte(`{"mediaType":"application/json","payload":"x"}`)
		ids, err := GitHub(ctx, f.installationClient(t), testRepo, [][]byte{good[0], notABundle, good[1]})
		var ge *github.ErrorResponse
		if !errors.As(err, &ge) || ge.Response.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("err = %v, want GitHub's 422 wrapped", err)
		}
		if !strings.Contains(err.Error(), "bundle 2 of 3") {
			t.Errorf("error %q does not name the refused bundle", err)
		}
		if stored := f.s.Attestations(testRepo); len(ids) != 1 || len(stored) != 1 || stored[0].ID != ids[0] {
			t.Errorf("ids %v, stored %d; want the first bundle only", ids, len(stored))
		}
	})

	t.Run("checked before asking", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, installationPerms("write"))
		c := f.installationClient(t)
		if _, err := GitHub(ctx, c, "widgets", [][]byte{[]byte(`{}`)}); err == nil || !strings.Contains(err.Error(), "not owner/name") {
			t.Errorf("repository without owner: %v", err)
		}
		if _, err := GitHub(ctx, c, testRepo, [][]byte{[]byte(`[1]`)}); err == nil || !strings.Contains(err.Error(), "bundle 1 of 1 is not a JSON object") {
			t.Errorf("array bundle: %v", err)
		}
		if n := len(f.s.Requests()); n != 0 {
			t.Errorf("%d requests to GitHub for input refused locally", n)
		}
	})
}
