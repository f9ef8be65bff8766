package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"
)

// newDSSEVerifier loads a public key (PEM) with in-toto-golang's key
// loader and makes the go-securesystemslib DSSE envelope verifier of it:
// the two steps in-toto-golang's Envelope.VerifySignature takes. (Its
// Envelope cannot wrap an existing envelope whose payload is a Statement
// rather than a link or layout, so the steps are taken here.)
func newDSSEVerifier(publicKeyPEM []byte) (*dsse.EnvelopeVerifier, error) {
	var key in_toto.Key
	if err := key.LoadKeyReaderDefaults(bytes.NewReader(publicKeyPEM)); err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	sslib := signerverifier.SSLibKey{
		KeyType:             key.KeyType,
		KeyIDHashAlgorithms: key.KeyIDHashAlgorithms,
		KeyID:               key.KeyID,
		Scheme:              key.Scheme,
		KeyVal:              signerverifier.KeyVal{Public: key.KeyVal.Public},
	}
	var sv dsse.Verifier
	var err error
	switch key.KeyType {
	case signerverifier.ECDSAKeyType:
		sv, err = signerverifier.NewECDSASignerVerifierFromSSLibKey(&sslib)
	case signerverifier.ED25519KeyType:
		sv, err = signerverifier.NewED25519SignerVerifierFromSSLibKey(&sslib)
	default:
		err = fmt.Errorf("key type %q is not supported here", key.KeyType)
	}
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	return dsse.NewEnvelopeVerifier(sv)
}

// verifyDSSE is the second check of a bundle's signature, sharing nothing
// with sigstore-go's: it reads the envelope out of the bundle JSON with
// encoding/json and verifies it with the in-toto DSSE verifier ev. It
// returns the payload.
func verifyDSSE(ctx context.Context, bundleJSON []byte, ev *dsse.EnvelopeVerifier) ([]byte, error) {
	var b struct {
		DSSEEnvelope *struct {
			Payload     string `json:"payload"`
			PayloadType string `json:"payloadType"`
			Signatures  []struct {
				Sig   string `json:"sig"`
				KeyID string `json:"keyid"`
			} `json:"signatures"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(bundleJSON, &b); err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	if b.DSSEEnvelope == nil {
		return nil, errors.New("bundle has no dsseEnvelope")
	}
	if len(b.DSSEEnvelope.Signatures) != 1 {
		return nil, fmt.Errorf("envelope has %d signatures, want 1", len(b.DSSEEnvelope.Signatures))
	}
	env := &dsse.Envelope{PayloadType: b.DSSEEnvelope.PayloadType, Payload: b.DSSEEnvelope.Payload}
	for _, s := range b.DSSEEnvelope.Signatures {
		env.Signatures = append(env.Signatures, dsse.Signature{Sig: s.Sig, KeyID: s.KeyID})
	}
	_, payload, err := ev.VerifyAndDecode(ctx, env)
	if err != nil {
		return nil, err
	}
	return payload, nil
}

// KeyID is a public key's id as bundles carry it in their hint: base64 of
// the SHA-256 of the DER (PKIX) public key, as sigstore-go and cosign
// compute it.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}
