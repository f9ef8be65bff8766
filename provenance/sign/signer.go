package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// Signer is a signing key: the local key file (LocalKey), a KMS key (KMS),
// or any sigstore signature.Signer (FromSignerVerifier), e.g. a test key.
// Callers take a Signer and never see the private key.
type Signer interface {
	// KeyID names the key: base64 (standard, padded) of the SHA-256 of
	// its DER (PKIX) public key, which is what sigstore-go and cosign
	// write as a bundle's verificationMaterial.publicKey.hint.
	KeyID() string
	// PublicKey is the key that verifies the signatures.
	PublicKey() crypto.PublicKey
	// Sign signs message (for a DSSE envelope: its pre-authentication
	// encoding) with the key's default hash, SHA-256 for ECDSA P-256, and
	// returns the signature (ASN.1 DER for ECDSA).
	Sign(ctx context.Context, message []byte) ([]byte, error)
}

// KeyID computes a public key's id (see Signer.KeyID).
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// PublicKeyPEM renders a signer's public key as a PEM "PUBLIC KEY" block
// (PKIX), the file cosign's --key and the verify package read.
func PublicKeyPEM(s Signer) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(s.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("public key PEM: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// FromSignerVerifier makes a Signer of a sigstore signer: what
// kms.Get returns for a KMS key reference, or a signature.LoadSigner key
// in tests. It asks for the public key once (for a KMS key, one request).
func FromSignerVerifier(ctx context.Context, s signature.Signer) (Signer, error) {
	if s == nil {
		return nil, errors.New("sign: nil signer")
	}
	pub, err := s.PublicKey(options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("sign: public key: %w", err)
	}
	if _, err := signature.GetDefaultAlgorithmDetails(pub); err != nil {
		return nil, fmt.Errorf("sign: unsupported key: %w", err)
	}
	id, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	return &sigstoreSigner{s: s, pub: pub, id: id}, nil
}

type sigstoreSigner struct {
	s   signature.Signer
	pub crypto.PublicKey
	id  string
}

func (s *sigstoreSigner) KeyID() string               { return s.id }
func (s *sigstoreSigner) PublicKey() crypto.PublicKey { return s.pub }

func (s *sigstoreSigner) Sign(ctx context.Context, message []byte) ([]byte, error) {
	return s.s.SignMessage(bytes.NewReader(message), options.WithContext(ctx))
}
