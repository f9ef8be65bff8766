package verify_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentgate/agentgate/internal/cosigntest"
	"github.com/agentgate/agentgate/provenance/statement"
)

// Our bundles pass cosign v3's verify-blob-attestation path, and the same
// path refuses a wrong commit, a wrong type and a wrong key.
func TestCosignV3VerifyBlobAttestationAccepts(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "agentgate.pub")
	if err := os.WriteFile(keyPath, f.pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	types := []string{statement.PredicateProvenance, statement.PredicateTestResult, statement.PredicateReview, statement.PredicateVSA}
	for i, b := range f.bundles {
		path := filepath.Join(dir, fmt.Sprintf("b%d.json", i))
		if err := os.WriteFile(path, b.JSON, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := cosigntest.VerifyBlobAttestation(keyPath, path, types[i], landed, "gitCommit"); err != nil {
			t.Errorf("%s: cosign's path refuses our bundle: %v", types[i], err)
		}
	}
	prov := filepath.Join(dir, "b0.json")
	if err := cosigntest.VerifyBlobAttestation(keyPath, prov, statement.PredicateProvenance, other, "gitCommit"); err == nil {
		t.Error("cosign's path accepts another commit")
	}
	if err := cosigntest.VerifyBlobAttestation(keyPath, prov, statement.PredicateProvenance, landed, "sha1"); err == nil {
		t.Error("cosign's path accepts the commit as a sha1 digest")
	}
	if err := cosigntest.VerifyBlobAttestation(keyPath, prov, statement.PredicateVSA, landed, "gitCommit"); err == nil {
		t.Error("cosign's path accepts another predicate type")
	}
	g := newFixture(t)
	otherKey := filepath.Join(dir, "other.pub")
	if err := os.WriteFile(otherKey, g.pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cosigntest.VerifyBlobAttestation(otherKey, prov, statement.PredicateProvenance, landed, "gitCommit"); err == nil {
		t.Error("cosign's path accepts another key")
	}
}
