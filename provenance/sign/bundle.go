package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/agentgate/agentgate/provenance/statement"
)

// MediaType is the media type of the bundles this package makes.
const MediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// PayloadType is the DSSE payload type of an in-toto statement.
const PayloadType = "application/vnd.in-toto+json"

// ErrNotConfigured is wrapped by the error of an option whose service has
// no address: a Rekor log or a timestamp authority asked for but not set.
var ErrNotConfigured = errors.New("not configured")

// Bundle is one signed statement: a Sigstore bundle v0.3 holding a DSSE
// envelope, verified by the public key its hint names.
type Bundle struct {
	// JSON is the bundle (MediaType), compact; these are the bytes to store
	// and hash.
	JSON          []byte
	KeyID         string
	PredicateType string
	// PayloadSHA256 is the hex sha256 of the DSSE payload (the statement).
	PayloadSHA256 string
	// Timestamped and Logged say whether an RFC 3161 timestamp and a Rekor
	// entry are in the bundle.
	Timestamped, Logged bool
}

// Option adds an optional service to a signing; none is needed, and the
// default bundle has no transparency log entry and no timestamp (verify it
// with cosign's --insecure-ignore-tlog=true).
type Option func(*config) error

type config struct {
	tsa   []*sgsign.TimestampAuthority
	rekor []sgsign.Transparency
}

// WithRekor uploads the envelope to the Rekor log at url (v1 API, e.g.
// https://rekor.sigstore.dev) and puts the entry in the bundle. An empty
// url is an error wrapping ErrNotConfigured, never a silent skip.
func WithRekor(url string, timeout time.Duration) Option {
	return func(c *config) error {
		if url == "" {
			return fmt.Errorf("rekor: %w (no URL)", ErrNotConfigured)
		}
		c.rekor = append(c.rekor, sgsign.NewRekor(&sgsign.RekorOptions{BaseURL: url, Timeout: timeout, Retries: 1}))
		return nil
	}
}

// WithTimestampAuthority asks the RFC 3161 timestamp authority at url (its
// full timestamp endpoint) to timestamp the signature. An empty url is an
// error wrapping ErrNotConfigured.
func WithTimestampAuthority(url string, timeout time.Duration) Option {
	return func(c *config) error {
		if url == "" {
			return fmt.Errorf("timestamp authority: %w (no URL)", ErrNotConfigured)
		}
		c.tsa = append(c.tsa, sgsign.NewTimestampAuthority(&sgsign.TimestampAuthorityOptions{URL: url, Timeout: timeout, Retries: 1}))
		return nil
	}
}

// Statement signs an in-toto statement (its JSON, as the statement package
// renders it) as a DSSE envelope in a Sigstore bundle v0.3 with the
// signer's public key hint and no certificate. It parses and Validate()s
// the statement first: nothing that is not a valid in-toto Statement v1 is
// ever signed.
func Statement(ctx context.Context, s Signer, payload []byte, opts ...Option) (*Bundle, error) {
	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("sign statement: not an in-toto statement: %w", err)
	}
	return signStatement(ctx, s, &st, payload, opts)
}

// Built signs a statement the statement package built: its payload is
// st's own rendering, so it is not parsed again (a third of the cost of
// signing). st is still Validate()d.
func Built(ctx context.Context, s Signer, st *statement.Statement, opts ...Option) (*Bundle, error) {
	if st == nil || st.Statement == nil {
		return nil, errors.New("sign statement: nil statement")
	}
	return signStatement(ctx, s, st.Statement, st.Payload, opts)
}

func signStatement(ctx context.Context, s Signer, st *intoto.Statement, payload []byte, opts []Option) (*Bundle, error) {
	var cfg config
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("sign statement: %w", err)
		}
	}
	if st.GetType() != intoto.StatementTypeUri {
		return nil, fmt.Errorf("sign statement: _type %q, want %s", st.GetType(), intoto.StatementTypeUri)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("sign statement: %w", err)
	}
	kp, err := newKeypair(s)
	if err != nil {
		return nil, fmt.Errorf("sign statement: %w", err)
	}
	pb, err := sgsign.Bundle(&sgsign.DSSEData{Data: payload, PayloadType: PayloadType}, kp, sgsign.BundleOptions{
		Context:              ctx,
		TimestampAuthorities: cfg.tsa,
		TransparencyLogs:     cfg.rekor,
	})
	if err != nil {
		return nil, fmt.Errorf("sign %s statement: %w", st.GetPredicateType(), err)
	}
	out, err := MarshalBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("sign statement: %w", err)
	}
	sum := sha256.Sum256(payload)
	return &Bundle{
		JSON:          out,
		KeyID:         s.KeyID(),
		PredicateType: st.GetPredicateType(),
		PayloadSHA256: hex.EncodeToString(sum[:]),
		Timestamped:   len(pb.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()) > 0,
		Logged:        len(pb.GetVerificationMaterial().GetTlogEntries()) > 0,
	}, nil
}

// MarshalBundle renders a bundle as compact JSON (protojson's names,
// whitespace removed so the bytes do not vary between builds).
func MarshalBundle(pb *protobundle.Bundle) ([]byte, error) {
	raw, err := protojson.Marshal(pb)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// keypair adapts a Signer to sigstore-go's sign.Keypair.
type keypair struct {
	s   Signer
	alg signature.AlgorithmDetails
}

func newKeypair(s Signer) (*keypair, error) {
	alg, err := signature.GetDefaultAlgorithmDetails(s.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("unsupported key: %w", err)
	}
	return &keypair{s: s, alg: alg}, nil
}

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm { return k.alg.GetProtoHashType() }
func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return k.alg.GetSignatureAlgorithm()
}
func (k *keypair) GetHint() []byte                { return []byte(k.s.KeyID()) }
func (k *keypair) GetPublicKey() crypto.PublicKey { return k.s.PublicKey() }

func (k *keypair) GetKeyAlgorithm() string {
	switch k.alg.GetKeyType() {
	case signature.ECDSA:
		return "ECDSA"
	case signature.RSA:
		return "RSA"
	case signature.ED25519:
		return "ED25519"
	}
	return ""
}

func (k *keypair) GetPublicKeyPem() (string, error) {
	p, err := cryptoutils.MarshalPublicKeyToPEM(k.s.PublicKey())
	return string(p), err
}

// SignData signs data and returns the signature and the digest that was
// signed (sigstore-go puts the digest in message signatures; a DSSE bundle
// ignores it).
func (k *keypair) SignData(ctx context.Context, data []byte) ([]byte, []byte, error) {
	sig, err := k.s.Sign(ctx, data)
	if err != nil {
		return nil, nil, err
	}
	digest := data
	if h := k.alg.GetHashType(); h != crypto.Hash(0) {
		hh := h.New()
		hh.Write(data)
		digest = hh.Sum(nil)
	}
	return sig, digest, nil
}
