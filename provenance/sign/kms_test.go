package sign_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/agentgate/agentgate/provenance/sign"
)

// fakeVault is the part of Vault's transit engine sigstore's hashivault
// provider uses: read a key's public half, sign a SHA-256 digest.
type fakeVault struct {
	key   *ecdsa.PrivateKey
	signs atomic.Int32
}

func (v *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Vault-Token") != "test-token" {
		http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/transit/keys/agentgate":
		pub, _ := cryptoutils.MarshalPublicKeyToPEM(&v.key.PublicKey)
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{
			"latest_version": 1,
			"keys":           map[string]any{"1": map[string]any{"name": "P-256", "public_key": string(pub)}},
		}})
	case (r.Method == http.MethodPost || r.Method == http.MethodPut) && r.URL.Path == "/v1/transit/sign/agentgate/sha2-256":
		var req struct {
			Input     string `json:"input"`
			Prehashed bool   `json:"prehashed"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !req.Prehashed {
			http.Error(w, `{"errors":["bad request"]}`, http.StatusBadRequest)
			return
		}
		digest, err := base64.StdEncoding.DecodeString(req.Input)
		if err != nil || len(digest) != sha256.Size {
			http.Error(w, `{"errors":["bad input"]}`, http.StatusBadRequest)
			return
		}
		sig, _ := ecdsa.SignASN1(rand.Reader, v.key, digest)
		v.signs.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"signature": "vault:v1:" + base64.StdEncoding.EncodeToString(sig)}})
	default:
		http.Error(w, `{"errors":["no handler for `+r.Method+" "+r.URL.Path+`"]}`, http.StatusNotFound)
	}
}

// A KMS key signs through the same interface as the local key, and the
// signature is the KMS's.
func TestKMSHashiVaultSignsThroughTheSignerInterface(t *testing.T) {
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("VAULT_TOKEN", "")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	vault := &fakeVault{key: key}
	srv := httptest.NewServer(vault)
	t.Cleanup(srv.Close)

	s, err := sign.KMS(context.Background(), "hashivault://agentgate",
		options.WithRPCAuthOpts(options.RPCAuth{Address: srv.URL, Token: "test-token"}))
	if err != nil {
		t.Fatal(err)
	}
	wantID, _ := sign.KeyID(&key.PublicKey)
	if s.KeyID() != wantID {
		t.Errorf("KMS key id %s, want %s", s.KeyID(), wantID)
	}
	b, err := sign.Statement(context.Background(), s, testStatement)
	if err != nil {
		t.Fatal(err)
	}
	if vault.signs.Load() != 1 {
		t.Errorf("vault signed %d times, want 1", vault.signs.Load())
	}
	var got bundleJSON
	if err := json.Unmarshal(b.JSON, &got); err != nil {
		t.Fatal(err)
	}
	env := got.DSSEEnvelope
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(env.PayloadType), env.PayloadType, len(env.Payload), env.Payload)
	sum := sha256.Sum256([]byte(pae))
	if !ecdsa.VerifyASN1(&key.PublicKey, sum[:], env.Signatures[0].Sig) {
		t.Error("the bundle's signature is not the vault key's")
	}
	if got.VerificationMaterial.PublicKey == nil || got.VerificationMaterial.PublicKey.Hint != wantID {
		t.Errorf("hint %+v, want %s", got.VerificationMaterial.PublicKey, wantID)
	}
}

func TestKMSRefusesUnknownProviders(t *testing.T) {
	for _, ref := range []string{"awskms:///alias/x", "gcpkms://projects/p", "plugin://x", "agentgate", ""} {
		_, err := sign.KMS(context.Background(), ref)
		if err == nil || !strings.Contains(err.Error(), "unsupported provider") || !strings.Contains(err.Error(), "hashivault://") {
			t.Errorf("%q: %v, want an unsupported-provider error naming hashivault://", ref, err)
		}
	}
}

func TestKMSWithoutVaultAddress(t *testing.T) {
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("BAO_ADDR", "")
	_, err := sign.KMS(context.Background(), "hashivault://agentgate")
	if err == nil || !strings.Contains(err.Error(), "VAULT_ADDR") {
		t.Errorf("error %v, want one naming VAULT_ADDR", err)
	}
}

// Any sigstore signer works as a Signer (here a local one, as a test key).
func TestFromSignerVerifier(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sv, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.FromSignerVerifier(context.Background(), sv)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("message")
	sig, err := s.Sign(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(&key.PublicKey, sum[:], sig) {
		t.Error("signature does not verify")
	}
	if _, err := sign.FromSignerVerifier(context.Background(), nil); err == nil {
		t.Error("nil signer accepted")
	}
}

func TestKMSRefusesKeysThatAreNotP256(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	srv := httptest.NewServer(&fakeVault{key: key})
	t.Cleanup(srv.Close)
	_, err := sign.KMS(context.Background(), "hashivault://agentgate",
		options.WithRPCAuthOpts(options.RPCAuth{Address: srv.URL, Token: "test-token"}))
	if err == nil || !strings.Contains(err.Error(), "P-256") {
		t.Errorf("P-384 vault key: %v, want a refusal naming P-256", err)
	}
}
