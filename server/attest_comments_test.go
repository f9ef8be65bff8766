package server

import (
	"strings"
	"testing"

	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/store"
)

// The pull request comment lists every attestation and gives, for the
// provenance (whatever its position), the commands an auditor pastes: the
// key by its id, the bundle by its id, cosign with the commit.
func TestPullCommentNamesTheProvenance(t *testing.T) {
	commit := strings.Repeat("ab", 20)
	rows := []store.Attestation{
		{ID: "att_review", PredicateType: statement.PredicateReview, SignerKeyID: "k1"},
		{ID: "att_test", PredicateType: statement.PredicateTestResult, Name: "unit | e2e", SignerKeyID: "k1"},
		{ID: "att_prov", PredicateType: statement.PredicateProvenance, SignerKeyID: "k1"},
		{ID: "att_vsa", PredicateType: statement.PredicateVSA, SignerKeyID: "k1"},
	}
	c := attestComments{publicURL: "https://agentgate.example/"}
	body := c.pullComment("acme/web", commit, rows)
	for _, want := range []string{
		attestMarker("attestations", commit),
		"signed 4 attestations for " + commit,
		"| `att_test` | `" + statement.PredicateTestResult + "` | `unit \\| e2e` | `k1` |",
		"https://agentgate.example/api/v1/keys",
		`select(.key_id == "k1")`,
		"https://agentgate.example/api/v1/attestations/att_prov -o att_prov.json",
		"cosign verify-blob-attestation --key agentgate.pub --bundle att_prov.json --insecure-ignore-tlog=true",
		"--type " + statement.PredicateProvenance + " --digest " + commit + " --digestAlg gitCommit",
		"$AGENTGATE_API_TOKEN",
		"agentgate audit verify --server https://agentgate.example --repo acme/web --commit " + commit,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q", want)
		}
	}
}
