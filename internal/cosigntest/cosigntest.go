// Package cosigntest replays cosign v3's verify-blob-attestation for tests:
// the command the README and the PR comment give auditors must accept
// agentgate's bundles, and cosign cannot run in CI (it is not packaged for
// Debian and takes minutes to build). Only tests import it.
package cosigntest

import (
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/in-toto/in-toto-golang/in_toto"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// cosignKeyMaterial is cosign's trusted material with --key and no
// trusted root (pkg/cosign/verify.go): every key id (the bundle's hint)
// maps to the --key verifier.
type cosignKeyMaterial struct {
	root.TrustedMaterial
	key root.TrustedMaterial
}

func (m *cosignKeyMaterial) PublicKeyVerifier(hint string) (root.TimeConstrainedVerifier, error) {
	return m.key.PublicKeyVerifier(hint)
}

// VerifyBlobAttestation takes the steps cosign v3 takes for
//
//	cosign verify-blob-attestation --key KEY --bundle BUNDLE --insecure-ignore-tlog=true \
//	  --type TYPE --digest DIGEST --digestAlg ALG
//
// with the same libraries, read from its source
// (cmd/cosign/cli/verify/verify_blob_attestation.go, common.go;
// pkg/cosign/verify.go verificationOptions and VerifyNewBundle;
// pkg/policy AttestationToPayloadJSON). It shares no code with
// provenance/sign or provenance/verify, so it checks them from outside.
func VerifyBlobAttestation(keyPath, bundlePath, predicateType, digestHex, digestAlg string) error {
	// 1. --key: a PEM public key, verified with SHA-256.
	pemBytes, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return fmt.Errorf("loading public key: %w", err)
	}
	sv, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return err
	}
	// 4. --digest is hex-decoded; --digestAlg is passed through as the
	// in-toto digest name.
	digest, err := hex.DecodeString(digestHex)
	if err != nil {
		return fmt.Errorf("unable to decode provided digest: %w", err)
	}
	// 3. --bundle, read by sigstore-go.
	b, err := sgbundle.LoadJSONFromPath(bundlePath)
	if err != nil {
		return err
	}
	// 2 and 5. With --key and --insecure-ignore-tlog, no trusted root: the
	// key is trusted for any hint; no log entry or timestamp is needed.
	tm := &cosignKeyMaterial{key: root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(sv, time.Time{}, time.Time{}), nil
	})}
	v, err := sgverify.NewVerifier(tm, sgverify.WithNoObserverTimestamps())
	if err != nil {
		return err
	}
	if _, err := v.Verify(b, sgverify.NewPolicy(sgverify.WithArtifactDigest(digestAlg, digest), sgverify.WithKey())); err != nil {
		return err
	}
	// 6. --type: the envelope's payload decoded into in-toto-golang's
	// Statement, its predicateType compared (a URI is used as is).
	sc, err := b.SignatureContent()
	if err != nil {
		return err
	}
	env := sc.EnvelopeContent()
	if env == nil {
		return errors.New("bundle does not contain a DSSE envelope")
	}
	raw, err := json.Marshal(env.RawEnvelope())
	if err != nil {
		return err
	}
	var envelope struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		return err
	}
	payload, err := base64.StdEncoding.DecodeString(envelope.Payload)
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
