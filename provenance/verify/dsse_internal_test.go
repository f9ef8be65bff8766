package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/agentgate/agentgate/provenance/sign"
)

const dsseTestStatement = `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"gitCommit":"6dcb09b5b57875f334f61aebed695e2e4193db5e"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`

func signedForDSSETest(t *testing.T) (bundleJSON []byte, ev *dsse.EnvelopeVerifier) {
	t.Helper()
	k, err := sign.Generate(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.Statement(context.Background(), k, []byte(dsseTestStatement))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.PublicKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	ev, err = newDSSEVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b.JSON, ev
}

// The second check stands on its own: it accepts a good envelope and
// refuses a changed payload, another key and an extra signature, without
// sigstore-go.
func TestVerifyDSSEIndependently(t *testing.T) {
	b, pub := signedForDSSETest(t)
	payload, err := verifyDSSE(context.Background(), b, pub)
	if err != nil {
		t.Fatalf("good envelope: %v", err)
	}
	if string(payload) != dsseTestStatement {
		t.Errorf("payload %s", payload)
	}

	edit := func(f func(env map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(b, &m)
		f(m["dsseEnvelope"].(map[string]any))
		out, _ := json.Marshal(m)
		return out
	}
	tampered := edit(func(env map[string]any) {
		p, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
		p[len(p)-3] ^= 1
		env["payload"] = base64.StdEncoding.EncodeToString(p)
	})
	if _, err := verifyDSSE(context.Background(), tampered, pub); err == nil {
		t.Error("tampered payload verified")
	}
	retyped := edit(func(env map[string]any) { env["payloadType"] = "application/json" })
	if _, err := verifyDSSE(context.Background(), retyped, pub); err == nil {
		t.Error("changed payload type verified (the PAE covers it)")
	}
	twice := edit(func(env map[string]any) {
		sigs := env["signatures"].([]any)
		env["signatures"] = append(sigs, sigs[0])
	})
	if _, err := verifyDSSE(context.Background(), twice, pub); err == nil || !strings.Contains(err.Error(), "2 signatures") {
		t.Errorf("two signatures: %v", err)
	}
	_, otherPub := signedForDSSETest(t)
	if _, err := verifyDSSE(context.Background(), b, otherPub); err == nil {
		t.Error("verified with another key")
	}
	if _, err := verifyDSSE(context.Background(), []byte(`{"messageSignature":{}}`), pub); err == nil {
		t.Error("a bundle without an envelope verified")
	}
}
