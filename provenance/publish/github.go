package publish

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v89/github"
)

// GitHub stores each bundle with GitHub's artifact attestation API,
// POST /repos/{owner}/{repo}/attestations with {"bundle": <bundle>}, and
// returns the ids GitHub gave them, in order. client is an installation
// client (internal/ghapp), so authentication, rate-limit accounting and
// retries are those of every other call; the installation needs
// attestations: write. repository is "owner/name".
//
// go-github v89 can list attestations (Repositories.ListAttestations) but
// not create them, so the request is made with the client's own
// NewRequest and Do.
//
// It stops at the first bundle GitHub refuses and returns the ids of those
// stored before it with an error naming the repository, the bundle's place
// and its predicate type, and wrapping go-github's error (a
// *github.ErrorResponse, *github.RateLimitError, ...) so that
// ghapp.Classify can tell a retry from a refusal. GitHub keeps no
// uniqueness: posting a bundle again stores it again.
//
// GitHub indexes attestations by the subjects' digests and is asked for
// them by digest (GET .../attestations/{algorithm}:{hex}, what `gh
// attestation verify` does with the sha256 of a file or image). Our
// statements' subject is the landed commit, with gitCommit and gitTree
// digests only, so no sha256 or sha512 lookup will find them; they are
// signed with agentgate's key (no Fulcio certificate, no GitHub OIDC
// identity), which `gh attestation verify` does not accept; and GitHub
// validates SLSA provenance v1 predicates against the shape its own
// Actions builder produces. Expect GitHub to refuse some or all of them
// (422) and treat this publisher as best effort.
func GitHub(ctx context.Context, client *github.Client, repository string, bundles [][]byte) ([]int64, error) {
	owner, name, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("publish attestations to GitHub: repository %q is not owner/name", repository)
	}
	if client == nil {
		return nil, fmt.Errorf("publish attestations to %s on GitHub: no client", repository)
	}
	ids := make([]int64, 0, len(bundles))
	for i, b := range bundles {
		what := fmt.Sprintf("bundle %d of %d", i+1, len(bundles))
		if pt := predicateType(b); pt != "" {
			what += " (" + pt + ")"
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
			return ids, fmt.Errorf("publish attestations to %s on GitHub: %s is not a JSON object", repository, what)
		}
		body := struct {
			Bundle json.RawMessage `json:"bundle"`
		}{buf.Bytes()}
		u := fmt.Sprintf("repos/%s/%s/attestations", owner, name)
		req, err := client.NewRequest(ctx, http.MethodPost, u, body)
		if err != nil {
			return ids, fmt.Errorf("publish attestations to %s on GitHub: %s: %w", repository, what, err)
		}
		var created struct {
			ID int64 `json:"id"`
		}
		resp, err := client.Do(req, &created)
		if err != nil {
			return ids, fmt.Errorf("publish attestations to %s on GitHub: %s: %w", repository, what, err)
		}
		if resp.StatusCode != http.StatusCreated {
			return ids, fmt.Errorf("publish attestations to %s on GitHub: %s: GitHub answered %s, want 201 Created", repository, what, resp.Status)
		}
		ids = append(ids, created.ID)
	}
	return ids, nil
}

// predicateType reads the in-toto predicate type from a bundle's DSSE
// payload, for error messages; "" if it cannot.
func predicateType(bundle []byte) string {
	var b struct {
		DSSEEnvelope struct {
			Payload string `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if json.Unmarshal(bundle, &b) != nil {
		return ""
	}
	payload, err := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Payload)
	if err != nil {
		return ""
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(payload, &st) != nil {
		return ""
	}
	return st.PredicateType
}
