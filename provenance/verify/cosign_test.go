package verify_test

import (
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/in-toto/in-toto-golang/in_toto"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/agentgate/agentgate/provenance/statement"
)

// cosignKeyMaterial is cosign's verifyTrustedMaterial with --key and no
// trusted root (pkg/cosign/verify.go): the embedded TrustedMaterial is nil
// and every key id (the bundle's hint) maps to the --key verifier.
type cosignKeyMaterial struct {
	root.TrustedMaterial
	key root.TrustedMaterial
}

func (m *cosignKeyMaterial) PublicKeyVerifier(hint string) (root.TimeConstrainedVerifier, error) {
	return m.key.PublicKeyVerifier(hint)
}

// cosignVerifyBlobAttestation replays what cosign v3 runs for
//
//	cosign verify-blob-attestation --key agentgate.pub --bundle b.json \
//	  --insecure-ignore-tlog=true --type <type> --digest <sha> --digestAlg gitCommit
//
// step by step from its source (cmd/cosign/cli/verify/verify_blob_attestation.go,
// common.go; pkg/cosign/verify.go verificationOptions and VerifyNewBundle;
// pkg/policy AttestationToPayloadJSON), with the same libraries.
func cosignVerifyBlobAttestation(keyPath, bundlePath, predicateType, digestHex, digestAlg string) error {
	// LoadVerifierFromKey: the PEM public key, SHA-256 (the default hash).
	pemBytes, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return fmt.Errorf("loading public key: %w", err)
	}
	sigVerifier, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return err
	}
	// --digest/--digestAlg instead of a blob: hex-decoded, the algorithm
	// passed through as the in-toto digest name.
	digest, err := hex.DecodeString(digestHex)
	if err != nil {
		return fmt.Errorf("unable to decode provided digest: %w", err)
	}
	// With --key and --insecure-ignore-tlog and no signed timestamps no
	// trusted root is loaded (verifyOfflineWithKey).
	b, err := sgbundle.LoadJSONFromPath(bundlePath)
	if err != nil {
		return err
	}
	tm := &cosignKeyMaterial{key: root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(sigVerifier, time.Time{}, time.Time{}), nil
	})}
	v, err := sgverify.NewVerifier(tm, sgverify.WithNoObserverTimestamps())
	if err != nil {
		return err
	}
	if _, err := v.Verify(b, sgverify.NewPolicy(sgverify.WithArtifactDigest(digestAlg, digest), sgverify.WithKey())); err != nil {
		return err
	}
	// The predicate type: the raw envelope re-marshalled, its payload
	// decoded into in-toto-golang's Statement, compared with --type (a URI
	// is used as is).
	sc, err := b.SignatureContent()
	if err != nil {
		return err
	}
	env := sc.EnvelopeContent()
	if env == nil {
		return fmt.Errorf("bundle does not contain a DSSE envelope")
	}
	raw, err := json.Marshal(env.RawEnvelope())
	if err != nil {
		return err
	}
	var envelope map[string]any
	if err := json.Unmarshal(raw, &envelope); err != nil {
		return err
	}
	payload, err := base64.StdEncoding.DecodeString(envelope["payload"].(string))
	if err != nil {
		return fmt.Errorf("decoding payload: %w", err)
	}
	var st in_toto.Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return fmt.Errorf("unmarshal in-toto statement: %w", err)
	}
	if st.PredicateType != predicateType {
		return fmt.Errorf("invalid predicate type, expected %s got %s", predicateType, st.PredicateType)
	}
	return nil
}

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
		if err := cosignVerifyBlobAttestation(keyPath, path, types[i], landed, "gitCommit"); err != nil {
			t.Errorf("%s: cosign's path refuses our bundle: %v", types[i], err)
		}
	}
	prov := filepath.Join(dir, "b0.json")
	if err := cosignVerifyBlobAttestation(keyPath, prov, statement.PredicateProvenance, other, "gitCommit"); err == nil {
		t.Error("cosign's path accepts another commit")
	}
	if err := cosignVerifyBlobAttestation(keyPath, prov, statement.PredicateProvenance, landed, "sha1"); err == nil {
		t.Error("cosign's path accepts the commit as a sha1 digest")
	}
	if err := cosignVerifyBlobAttestation(keyPath, prov, statement.PredicateVSA, landed, "gitCommit"); err == nil {
		t.Error("cosign's path accepts another predicate type")
	}
	g := newFixture(t)
	otherKey := filepath.Join(dir, "other.pub")
	if err := os.WriteFile(otherKey, g.pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cosignVerifyBlobAttestation(otherKey, prov, statement.PredicateProvenance, landed, "gitCommit"); err == nil {
		t.Error("cosign's path accepts another key")
	}
}
