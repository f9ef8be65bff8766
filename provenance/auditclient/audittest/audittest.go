// Package audittest puts real attestations into a real store for tests:
// statements built by provenance/statement about a change, signed by a
// provenance/sign key into Sigstore bundles, appended through
// store.AppendAttestations. Only tests import it.
package audittest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/store"
)

// Change is one merged agent change to attest.
type Change struct {
	Repository  string // owner/name
	Commit      string // 40 hex; "" derives one from Repository and PR
	PullRequest int
	Agent       string // default "claude-code"
	Model       string // default "claude-sonnet-4.5"
	// Checks are the required checks, one test-result statement each.
	Checks []string
	// SignedAt is stored as the rows' signing time (default now).
	SignedAt time.Time
}

// CommitFor is the commit a Change without one gets.
func CommitFor(repo string, pr int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s#%d", repo, pr))
	return fmt.Sprintf("%x", sum[:20])
}

func hex64(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }

// Input is the statement input of a change: a complete, valid one.
func Input(c Change) *statement.Input {
	c = defaults(c)
	t0 := c.SignedAt.Add(-time.Hour).UTC()
	in := &statement.Input{
		Repository: c.Repository, Commit: c.Commit, Tree: CommitFor(c.Repository+"/tree", c.PullRequest),
		Ref: "refs/heads/main", PullRequest: c.PullRequest, Issue: c.PullRequest + 1000,
		Agent: c.Agent, Model: c.Model, TaskID: fmt.Sprintf("task-%d", c.PullRequest), RunID: "run-1",
		Plan:         statement.Plan{ID: "p-1", SHA256: hex64("plan"), ApprovedBy: "bob", ApprovedAt: t0.Add(time.Minute)},
		PromptSHA256: hex64("prompt"), BaseSHA: CommitFor(c.Repository+"/base", c.PullRequest),
		HeadSHA: CommitFor(c.Repository+"/head", c.PullRequest), PolicyDigest: hex64("policy"),
		Gate: statement.Gate{Passed: true}, InstallationID: 42, BuilderID: "https://agentgate.example.com",
		StartedOn: t0, FinishedOn: t0.Add(time.Hour), Requester: "alice",
	}
	for i, name := range c.Checks {
		in.Checks = append(in.Checks, statement.Check{Name: name, App: "github-actions", Conclusion: "success",
			URL: fmt.Sprintf("https://github.com/%s/runs/%d?check=%d&x=<y>", c.Repository, i+1, i)})
	}
	in.Reviews = []statement.Review{{ID: 1, User: "bob", State: "APPROVED", CommitID: in.HeadSHA, SubmittedAt: t0.Add(50 * time.Minute)}}
	return in
}

func defaults(c Change) Change {
	if c.Commit == "" {
		c.Commit = CommitFor(c.Repository, c.PullRequest)
	}
	if c.Agent == "" {
		c.Agent = "claude-code"
	}
	if c.Model == "" {
		c.Model = "claude-sonnet-4.5"
	}
	if c.SignedAt.IsZero() {
		c.SignedAt = time.Now()
	}
	return c
}

// Rows signs every statement about the change with key and returns the
// rows to append (not yet appended).
func Rows(t testing.TB, key sign.Signer, c Change) []store.Attestation {
	t.Helper()
	c = defaults(c)
	sts, err := statement.Build(Input(c))
	if err != nil {
		t.Fatalf("build statements: %v", err)
	}
	var rows []store.Attestation
	for _, st := range sts {
		b, err := sign.Statement(context.Background(), key, st.Payload)
		if err != nil {
			t.Fatalf("sign %s: %v", st.PredicateType, err)
		}
		rows = append(rows, store.Attestation{
			Repository: c.Repository, Commit: c.Commit, PullNumber: c.PullRequest,
			PredicateType: st.PredicateType, Name: st.Name, Agent: c.Agent, Model: c.Model,
			SignerKeyID: b.KeyID, SignedAt: c.SignedAt, Bundle: b.JSON,
		})
	}
	return rows
}

// Attest signs the change's statements and appends them to st, returning
// the rows as stored.
func Attest(t testing.TB, st *store.Store, key sign.Signer, c Change) []store.Attestation {
	t.Helper()
	out, err := st.AppendAttestations(context.Background(), Rows(t, key, c))
	if err != nil {
		t.Fatalf("append attestations: %v", err)
	}
	return out
}

// Key makes a new local signing key in a temporary directory.
func Key(t testing.TB) *sign.LocalKey {
	t.Helper()
	k, err := sign.Generate(t.TempDir() + "/signing.key")
	if err != nil {
		t.Fatal(err)
	}
	return k
}
