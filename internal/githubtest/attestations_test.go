package githubtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/provenance/sign"
)

const attestRepo = "acme/widgets"

// newAttestFake has installation 1 (the app's default permissions, which do not include
// attestations) and installation 2 on acme, which may write attestations.
func newAttestFake(t *testing.T) *githubtest.Server {
	t.Helper()
	s := newFake(t, 1)
	s.AddInstallation(githubtest.Installation{
		ID: 2, Account: "acme", Repos: []githubtest.Repo{{ID: 2000, FullName: attestRepo}},
		Permissions: map[string]string{"contents": "write", "pull_requests": "write", "metadata": "read", "attestations": "write"},
	})
	return s
}

// signedBundle signs an in-toto statement about commit with a real key, as agentgate does.
func signedBundle(t *testing.T, key sign.Signer, commit, predicateType string) []byte {
	t.Helper()
	statement, err := json.Marshal(map[string]any{
		"_type": "https://in-toto.io/Statement/v1",
		"subject": []any{map[string]any{
			"uri":    "git+https://github.com/" + attestRepo + "@refs/heads/main",
			"digest": map[string]string{"gitCommit": commit, "gitTree": strings.Repeat("e", 40)},
		}},
		"predicateType": predicateType,
		"predicate":     map[string]any{"commit": commit},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.Statement(context.Background(), key, statement)
	if err != nil {
		t.Fatal(err)
	}
	return b.JSON
}

// postAttestation sends POST .../attestations with go-github's client (which has no method
// for it) and returns the status and the ID.
func postAttestation(t *testing.T, gh *github.Client, repo string, bundle []byte) (int, int64) {
	t.Helper()
	body := map[string]json.RawMessage{"bundle": bundle}
	req, err := gh.NewRequest(context.Background(), "POST", "repos/"+repo+"/attestations", body)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		ID int64 `json:"id"`
	}
	resp, err := gh.Do(req, &out)
	if resp == nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out.ID
}

func TestAttestations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newAttestFake(t)
	key, err := sign.Generate(filepath.Join(t.TempDir(), "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	gh := installationClient(t, s, 2)
	commit, other := strings.Repeat("a1", 20), strings.Repeat("b2", 20)

	var ids []int64
	types := []string{
		"https://slsa.dev/provenance/v1", "https://agentgate.dev/test-result/v1", "https://agentgate.dev/review/v1",
		"https://slsa.dev/verification_summary/v1", "https://agentgate.dev/test-result/v1",
	}
	var bundles [][]byte
	for _, pt := range types {
		b := signedBundle(t, key, commit, pt)
		status, id := postAttestation(t, gh, attestRepo, b)
		if status != 201 || id == 0 {
			t.Fatalf("create: %d, id %d", status, id)
		}
		ids, bundles = append(ids, id), append(bundles, b)
	}
	if status, _ := postAttestation(t, gh, attestRepo, signedBundle(t, key, other, types[0])); status != 201 {
		t.Fatalf("create for another commit: %d", status)
	}

	stored := s.Attestations(attestRepo)
	if len(stored) != 6 || stored[0].ID != ids[0] || !bytes.Equal(stored[0].Bundle, bundles[0]) || stored[0].RepositoryID != 2000 ||
		stored[0].InstallationID != 2 || stored[0].PredicateType != types[0] || !slices.Contains(stored[0].SubjectDigests, "gitCommit:"+commit) {
		t.Errorf("stored = %+v", stored[0])
	}

	// Every page, newest first, following the Link header's cursors (go-github's
	// ListAttestations takes only page numbers, which GitHub does not use here).
	var listed []int64
	var pages int
	index := func(bundle json.RawMessage) int64 {
		i := slices.IndexFunc(bundles, func(b []byte) bool { return jsonEqual(b, bundle) })
		if i < 0 {
			t.Fatalf("listed a bundle that was not posted: %s", bundle)
		}
		return ids[i]
	}
	var firstNext string
	for url := s.URL() + "repos/acme/widgets/attestations/gitCommit:" + commit + "?per_page=2"; url != ""; pages++ {
		page, next, prev := attestationPage(t, s, url)
		if pages == 0 {
			firstNext = next
			if prev != "" {
				t.Errorf("the first page links back to %s", prev)
			}
		}
		for _, a := range page {
			listed = append(listed, index(a.Bundle))
			if a.RepositoryID != 2000 {
				t.Errorf("repository_id = %d", a.RepositoryID)
			}
		}
		url = next
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	if !slices.Equal(listed, want) || pages != 3 {
		t.Errorf("listed %v in %d pages, want %v in 3", listed, pages, want)
	}
	// The second page's prev link goes back to the first.
	second, _, prev := attestationPage(t, s, firstNext)
	if len(second) != 2 || index(second[0].Bundle) != ids[2] || prev == "" {
		t.Fatalf("second page: %d attestations, prev %q", len(second), prev)
	}
	if first, _, _ := attestationPage(t, s, prev); len(first) != 2 || index(first[0].Bundle) != ids[4] || index(first[1].Bundle) != ids[3] {
		t.Errorf("back to the first page: %d attestations", len(first))
	}
	// go-github reads the list.
	res, _, err := gh.Repositories.ListAttestations(ctx, "acme", "widgets", "gitCommit:"+commit, nil)
	if err != nil || len(res.Attestations) != 5 || index(res.Attestations[0].Bundle) != ids[4] {
		t.Errorf("go-github's list: %v", err)
	}

	// predicate_type filters, by GitHub's alias or by the type itself.
	for filter, n := range map[string]int{"provenance": 1, "https://agentgate.dev/test-result/v1": 2, "sbom": 0} {
		var got struct {
			Attestations []json.RawMessage `json:"attestations"`
		}
		resp := getJSON(t, s, "repos/acme/widgets/attestations/gitCommit:"+commit+"?predicate_type="+filter, 2, &got)
		if resp != 200 || len(got.Attestations) != n {
			t.Errorf("predicate_type=%s: %d, %d attestations, want %d", filter, resp, len(got.Attestations), n)
		}
	}
	// Another digest, another list; an unknown one, an empty list.
	if res, _, err := gh.Repositories.ListAttestations(ctx, "acme", "widgets", "gitCommit:"+other, nil); err != nil || len(res.Attestations) != 1 {
		t.Errorf("other commit: %v", err)
	}
	if res, _, err := gh.Repositories.ListAttestations(ctx, "acme", "widgets", "sha256:"+strings.Repeat("0", 64), nil); err != nil || len(res.Attestations) != 0 {
		t.Errorf("unknown digest: %v, %+v", err, res)
	}

	// bundle_url serves the bundle.
	var raw struct {
		Attestations []struct {
			BundleURL string `json:"bundle_url"`
		} `json:"attestations"`
	}
	getJSON(t, s, "repos/acme/widgets/attestations/gitCommit:"+other, 2, &raw)
	r, err := s.Client().Get(raw.Attestations[0].BundleURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !jsonEqual(body, stored[5].Bundle) {
		t.Errorf("bundle_url: %d %s", r.StatusCode, body)
	}
}

func TestAttestationsRefused(t *testing.T) {
	t.Parallel()
	s := newAttestFake(t)
	key, err := sign.Generate(filepath.Join(t.TempDir(), "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	good := signedBundle(t, key, strings.Repeat("c3", 20), "https://slsa.dev/provenance/v1")

	// Installation 1 has no attestations permission: 403 to write and to read.
	if status, _ := postAttestation(t, installationClient(t, s, installationID), repoName, good); status != 403 {
		t.Errorf("create without attestations:write: %d, want 403", status)
	}
	if status := getJSON(t, s, "repos/octo-org/repo-000/attestations/sha256:"+strings.Repeat("0", 64), installationID, nil); status != 403 {
		t.Errorf("list without attestations:read: %d, want 403", status)
	}
	// Another installation's repository is not found.
	gh := installationClient(t, s, 2)
	if status, _ := postAttestation(t, gh, repoName, good); status != 404 {
		t.Errorf("create in another installation's repository: %d, want 404", status)
	}
	// A token narrowed to read can list but not create.
	tok, _, err := appClient(t, s, s.AppPrivateKeyPEM()).Apps.CreateInstallationToken(context.Background(), 2,
		&github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Attestations: github.Ptr("read")}})
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := postAttestation(t, tokenClient(t, s, tok.GetToken()), attestRepo, good); status != 403 {
		t.Errorf("create with attestations:read: %d, want 403", status)
	}

	edit := func(change func(b map[string]any)) []byte {
		var b map[string]any
		if err := json.Unmarshal(good, &b); err != nil {
			t.Fatal(err)
		}
		change(b)
		out, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	dsse := func(b map[string]any) map[string]any { return b["dsseEnvelope"].(map[string]any) }
	for name, bundle := range map[string][]byte{
		"no media type":     edit(func(b map[string]any) { delete(b, "mediaType") }),
		"no envelope":       edit(func(b map[string]any) { delete(b, "dsseEnvelope") }),
		"no signatures":     edit(func(b map[string]any) { dsse(b)["signatures"] = []any{} }),
		"not base64":        edit(func(b map[string]any) { dsse(b)["payload"] = "%%%" }),
		"not a statement":   edit(func(b map[string]any) { dsse(b)["payload"] = "eyJhIjoxfQ==" }), // {"a":1}
		"other payloadType": edit(func(b map[string]any) { dsse(b)["payloadType"] = "text/plain" }),
	} {
		if status, _ := postAttestation(t, gh, attestRepo, bundle); status != 422 {
			t.Errorf("%s: %d, want 422", name, status)
		}
	}
	if n := len(s.Attestations(attestRepo)); n != 0 {
		t.Errorf("refused bundles were stored: %d", n)
	}
}

// attestationPage gets one page of GET .../attestations/{subject_digest} with installation
// 2's token and returns it with the URLs of its next and prev links.
func attestationPage(t *testing.T, s *githubtest.Server, url string) (page []*github.Attestation, next, prev string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+s.InstallationToken(2))
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out github.AttestationsResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	for _, link := range strings.Split(resp.Header.Get("Link"), ",") {
		target, rel, ok := strings.Cut(strings.TrimSpace(link), ">; ")
		target = strings.TrimPrefix(target, "<")
		switch {
		case !ok:
		case rel == `rel="next"`:
			next = target
		case rel == `rel="prev"`:
			prev = target
		}
	}
	return out.Attestations, next, prev
}

// getJSON sends a GET with installation id's token and decodes the answer into v (if not
// nil); it returns the status.
func getJSON(t *testing.T, s *githubtest.Server, path string, id int64, v any) int {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+s.InstallationToken(id))
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(fmt.Errorf("%s: %w", path, err))
		}
	}
	return resp.StatusCode
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}
