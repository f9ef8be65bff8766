package sign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
)

const commit = "6dcb09b5b57875f334f61aebed695e2e4193db5e"

// testStatement is a small valid in-toto Statement v1 about commit.
var testStatement = []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"uri":"https://github.com/o/r/commit/` + commit +
	`","digest":{"gitCommit":"` + commit + `","gitTree":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"},"annotations":{"sourceRefs":["refs/heads/main"]}}],` +
	`"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://agentgate.dev/attestation/agent-change/v1"}}}`)

func testKey(t testing.TB) *sign.LocalKey {
	t.Helper()
	k, err := sign.Generate(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// bundleJSON is the shape of the bundle, read with encoding/json so the
// test does not trust sigstore-go's reading of what sigstore-go wrote.
type bundleJSON struct {
	MediaType            string `json:"mediaType"`
	VerificationMaterial struct {
		PublicKey *struct {
			Hint string `json:"hint"`
		} `json:"publicKey"`
		Certificate               json.RawMessage `json:"certificate"`
		X509CertificateChain      json.RawMessage `json:"x509CertificateChain"`
		TlogEntries               json.RawMessage `json:"tlogEntries"`
		TimestampVerificationData json.RawMessage `json:"timestampVerificationData"`
	} `json:"verificationMaterial"`
	MessageSignature json.RawMessage `json:"messageSignature"`
	DSSEEnvelope     struct {
		Payload     []byte `json:"payload"`
		PayloadType string `json:"payloadType"`
		Signatures  []struct {
			Sig []byte `json:"sig"`
		} `json:"signatures"`
	} `json:"dsseEnvelope"`
}

func TestStatementBundleShape(t *testing.T) {
	k := testKey(t)
	b, err := sign.Statement(context.Background(), k, testStatement)
	if err != nil {
		t.Fatal(err)
	}
	var got bundleJSON
	if err := json.Unmarshal(b.JSON, &got); err != nil {
		t.Fatalf("bundle is not JSON: %v\n%s", err, b.JSON)
	}
	if got.MediaType != "application/vnd.dev.sigstore.bundle.v0.3+json" {
		t.Errorf("mediaType %q", got.MediaType)
	}
	vm := got.VerificationMaterial
	if vm.PublicKey == nil || vm.PublicKey.Hint != k.KeyID() || b.KeyID != k.KeyID() {
		t.Errorf("public key hint %+v, bundle key %s, want %s", vm.PublicKey, b.KeyID, k.KeyID())
	}
	if vm.Certificate != nil || vm.X509CertificateChain != nil || vm.TlogEntries != nil || vm.TimestampVerificationData != nil || b.Logged || b.Timestamped {
		t.Errorf("bundle has a certificate, log entry or timestamp nobody asked for:\n%s", b.JSON)
	}
	if got.MessageSignature != nil {
		t.Error("bundle has a message signature besides the envelope")
	}
	env := got.DSSEEnvelope
	if env.PayloadType != "application/vnd.in-toto+json" || string(env.Payload) != string(testStatement) || len(env.Signatures) != 1 {
		t.Fatalf("envelope: type %q, %d signatures, payload\n%s", env.PayloadType, len(env.Signatures), env.Payload)
	}
	// DSSE's pre-authentication encoding, written out by hand.
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(env.PayloadType), env.PayloadType, len(env.Payload), env.Payload)
	sum := sha256.Sum256([]byte(pae))
	if !ecdsa.VerifyASN1(k.PublicKey().(*ecdsa.PublicKey), sum[:], env.Signatures[0].Sig) {
		t.Error("the envelope's signature does not verify over the PAE")
	}
	payloadSum := sha256.Sum256(testStatement)
	if b.PayloadSHA256 != fmt.Sprintf("%x", payloadSum) || b.PredicateType != "https://slsa.dev/provenance/v1" {
		t.Errorf("bundle says payload %s, type %s", b.PayloadSHA256, b.PredicateType)
	}
	if strings.ContainsAny(string(b.JSON), "\n\t") {
		t.Error("bundle JSON is not compact")
	}
}

func TestStatementSignsOnlyValidStatements(t *testing.T) {
	k := testKey(t)
	cases := map[string]string{
		"not JSON":           `{"_type":`,
		"no subject":         `{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}`,
		"subject no digest":  `{"_type":"https://in-toto.io/Statement/v1","subject":[{"uri":"u"}],"predicateType":"x","predicate":{}}`,
		"bad digest":         `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"gitCommit":"abc"}}],"predicateType":"x","predicate":{}}`,
		"no predicate type":  `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"gitCommit":"` + commit + `"}}],"predicate":{}}`,
		"no predicate":       `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"gitCommit":"` + commit + `"}}],"predicateType":"x"}`,
		"legacy v0.1 type":   `{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"digest":{"gitCommit":"` + commit + `"}}],"predicateType":"x","predicate":{}}`,
		"unknown top field":  `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"gitCommit":"` + commit + `"}}],"predicateType":"x","predicate":{},"extra":1}`,
		"a link, not a stmt": `{"_type":"link","name":"x"}`,
	}
	for name, payload := range cases {
		if b, err := sign.Statement(context.Background(), k, []byte(payload)); err == nil {
			t.Errorf("%s: signed:\n%s", name, b.JSON)
		}
	}
}

func TestUnsetServicesAreNotConfigured(t *testing.T) {
	k := testKey(t)
	for name, opt := range map[string]sign.Option{
		"rekor":               sign.WithRekor("", time.Second),
		"timestamp authority": sign.WithTimestampAuthority("", time.Second),
	} {
		b, err := sign.Statement(context.Background(), k, testStatement, opt)
		if !errors.Is(err, sign.ErrNotConfigured) {
			t.Errorf("%s without a URL: bundle %v, error %v; want ErrNotConfigured", name, b != nil, err)
			continue
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %q does not name the service", name, err)
		}
	}
}

func TestSignerErrorIsReturned(t *testing.T) {
	_, err := sign.Statement(context.Background(), failingSigner{testKey(t)}, testStatement)
	if err == nil || !strings.Contains(err.Error(), "hsm unplugged") {
		t.Errorf("error %v, want the signer's", err)
	}
}

type failingSigner struct{ *sign.LocalKey }

func (failingSigner) Sign(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("hsm unplugged")
}

func TestBundlesDifferOnlyInSignature(t *testing.T) {
	k := testKey(t)
	a, err := sign.Statement(context.Background(), k, testStatement)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.Statement(context.Background(), k, testStatement)
	if err != nil {
		t.Fatal(err)
	}
	var ja, jb bundleJSON
	json.Unmarshal(a.JSON, &ja)
	json.Unmarshal(b.JSON, &jb)
	sa := base64.StdEncoding.EncodeToString(ja.DSSEEnvelope.Signatures[0].Sig)
	sb := base64.StdEncoding.EncodeToString(jb.DSSEEnvelope.Signatures[0].Sig)
	if strings.ReplaceAll(string(a.JSON), sa, "SIG") != strings.ReplaceAll(string(b.JSON), sb, "SIG") {
		t.Errorf("two signings of one statement differ beyond the (randomised) ECDSA signature:\n%s\n%s", a.JSON, b.JSON)
	}
}

// Built signs what the statement package built without parsing it again:
// the same payload as Statement signs, and an invalid statement is still
// refused.
func TestBuiltSignsTheBuiltPayload(t *testing.T) {
	k := testKey(t)
	ctx := context.Background()
	var st intoto.Statement
	if err := protojson.Unmarshal(testStatement, &st); err != nil {
		t.Fatal(err)
	}
	built := &statement.Statement{PredicateType: st.GetPredicateType(), Payload: testStatement, Statement: &st}
	b, err := sign.Built(ctx, k, built)
	if err != nil {
		t.Fatal(err)
	}
	var got bundleJSON
	if err := json.Unmarshal(b.JSON, &got); err != nil {
		t.Fatal(err)
	}
	if string(got.DSSEEnvelope.Payload) != string(testStatement) || b.PredicateType != st.GetPredicateType() {
		t.Errorf("Built signed %q (%s), want the built payload", got.DSSEEnvelope.Payload, b.PredicateType)
	}
	st.Subject = nil
	if _, err := sign.Built(ctx, k, built); err == nil {
		t.Error("Built signed a statement without subjects")
	}
	if _, err := sign.Built(ctx, k, nil); err == nil {
		t.Error("Built signed nothing")
	}
}
