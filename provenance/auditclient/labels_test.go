package auditclient_test

import (
	"strings"
	"testing"

	"github.com/agentgate/agentgate/provenance/auditclient"
	"github.com/agentgate/agentgate/provenance/auditclient/audittest"
	"github.com/agentgate/agentgate/provenance/keyring"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
)

// A row's labels (what ?agent=, ?model=, ?pr= filter on) must be what its
// signed statement says: a row relabelled, even with its chain hashes
// recomputed, fails the signature check.
func TestCheckSignatureComparesLabels(t *testing.T) {
	key := audittest.Key(t)
	pub, _ := sign.PublicKeyPEM(key)
	ring, err := keyring.New(keyring.Key{PEM: pub, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ring.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	rows := audittest.Rows(t, key, audittest.Change{Repository: "acme/web", PullRequest: 7, Model: "gpt-5", Checks: []string{"test"}})
	checked := 0
	for _, r := range rows {
		a := auditclient.Attestation{ID: "att_x", Seq: 1, Repository: r.Repository, Commit: r.Commit, PullRequest: r.PullNumber,
			PredicateType: r.PredicateType, Name: r.Name, Agent: r.Agent, Model: r.Model, SignerKeyID: r.SignerKeyID, SignedAt: r.SignedAt}
		if reasons := auditclient.CheckSignature(v, ring, a, r.Bundle); len(reasons) != 0 {
			t.Fatalf("%s as stored: %v", r.PredicateType, reasons)
		}
		var want string
		switch r.PredicateType {
		case statement.PredicateProvenance:
			a.Model, want = "gpt-4", `model "gpt-4"`
		case statement.PredicateTestResult:
			a.Name, want = "lint", `check "lint"`
		case statement.PredicateReview:
			a.PullRequest, want = 8, `pull request "8"`
		default:
			continue
		}
		checked++
		reasons := auditclient.CheckSignature(v, ring, a, r.Bundle)
		if len(reasons) != 1 || !strings.Contains(reasons[0], want) {
			t.Errorf("%s relabelled: %v, want one reason naming %s", r.PredicateType, reasons, want)
		}
	}
	if checked != 3 {
		t.Fatalf("checked %d relabellings, want 3", checked)
	}
}
