package verify

import (
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Errors Verify wraps, one per reason a bundle is refused.
var (
	// ErrBundle: not a Sigstore bundle holding a DSSE envelope of an
	// in-toto Statement v1 signed by a public key.
	ErrBundle = errors.New("malformed attestation bundle")
	// ErrUnknownKey: the bundle's key hint names none of the keys given.
	ErrUnknownKey = errors.New("bundle names a key that is not trusted")
	// ErrSignature: the DSSE signature does not verify with the key (the
	// payload was changed, or another key signed it).
	ErrSignature = errors.New("signature does not verify")
	// ErrSubject: the signature is good but the commit is not a subject
	// (gitCommit digest) of the statement.
	ErrSubject = errors.New("commit is not the statement's subject")
	// ErrPredicateType: the statement is of another predicate type.
	ErrPredicateType = errors.New("unexpected predicate type")
)

const (
	inTotoPayloadType = "application/vnd.in-toto+json"
	statementV1       = "https://in-toto.io/Statement/v1"
)

var commitSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Verifier checks bundles against a fixed set of public keys. Build it once
// and use it from many goroutines.
type Verifier struct {
	keys     map[string]*trustedKey // by key id (the bundle's hint)
	verifier *sgverify.Verifier
}

type trustedKey struct {
	id   string
	pub  crypto.PublicKey
	dsse *dsse.EnvelopeVerifier // the second, in-toto check
}

// New trusts the given public keys (PEM "PUBLIC KEY" blocks, as `agentgate
// keygen` and GET /api/v1/keys give them). A bundle is checked with the key
// its hint names; with several keys (rotation) each bundle still needs one.
func New(publicKeysPEM ...[]byte) (*Verifier, error) {
	if len(publicKeysPEM) == 0 {
		return nil, errors.New("verify: no public key given")
	}
	v := &Verifier{keys: make(map[string]*trustedKey, len(publicKeysPEM))}
	material := make(map[string]*root.ExpiringKey, len(publicKeysPEM))
	for i, p := range publicKeysPEM {
		pub, err := cryptoutils.UnmarshalPEMToPublicKey(p)
		if err != nil {
			return nil, fmt.Errorf("verify: public key %d: %w", i+1, err)
		}
		sv, err := signature.LoadDefaultVerifier(pub)
		if err != nil {
			return nil, fmt.Errorf("verify: public key %d: %w", i+1, err)
		}
		id, err := KeyID(pub)
		if err != nil {
			return nil, fmt.Errorf("verify: public key %d: %w", i+1, err)
		}
		ev, err := newDSSEVerifier(p)
		if err != nil {
			return nil, fmt.Errorf("verify: public key %d: %w", i+1, err)
		}
		v.keys[id] = &trustedKey{id: id, pub: pub, dsse: ev}
		// No validity window: bundles carry no trusted time by default, so
		// there is no signing time to hold a window against.
		material[id] = root.NewExpiringKey(sv, time.Time{}, time.Time{})
	}
	sv, err := sgverify.NewVerifier(root.NewTrustedPublicKeyMaterialFromMapping(material), sgverify.WithNoObserverTimestamps())
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	v.verifier = sv
	return v, nil
}

// Expect is what a bundle must attest.
type Expect struct {
	// Commit is the landed commit (40 hex digits): it must be a subject of
	// the statement, by its gitCommit digest.
	Commit string
	// PredicateType is the statement's predicate type; "" accepts any
	// (Result.PredicateType says which it was).
	PredicateType string
}

// Result is a verified statement.
type Result struct {
	KeyID         string
	PredicateType string
	Subjects      []Subject
	// Statement is the verified DSSE payload: the statement's JSON.
	Statement []byte
}

// Subject is one subject of the statement.
type Subject struct {
	URI    string
	Digest map[string]string
}

// Verify checks one bundle (its JSON): that it is a Sigstore bundle whose
// DSSE envelope holds an in-toto Statement v1, signed by one of the
// trusted keys (verified by sigstore-go's verifier and again by the
// in-toto DSSE verifier), with want.Commit among its subjects' gitCommit
// digests, and of want.PredicateType. Every refusal wraps one of the Err*
// values and says what was found.
func (v *Verifier) Verify(bundleJSON []byte, want Expect) (*Result, error) {
	if !commitSHA.MatchString(want.Commit) {
		return nil, fmt.Errorf("verify: commit %q is not 40 lower-case hex digits", want.Commit)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundle, err)
	}
	sig, err := b.SignatureContent()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundle, err)
	}
	env := sig.EnvelopeContent()
	if env == nil {
		return nil, fmt.Errorf("%w: no DSSE envelope (a message signature?)", ErrBundle)
	}
	if pt := env.RawEnvelope().PayloadType; pt != inTotoPayloadType {
		return nil, fmt.Errorf("%w: DSSE payload type %q, want %s", ErrBundle, pt, inTotoPayloadType)
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundle, err)
	}
	if vc.PublicKey() == nil {
		return nil, fmt.Errorf("%w: verified by a certificate, not a public key", ErrBundle)
	}
	key, ok := v.keys[vc.PublicKey().Hint()]
	if !ok {
		return nil, fmt.Errorf("%w: the bundle's key is %q; trusted: %s", ErrUnknownKey, vc.PublicKey().Hint(), strings.Join(v.keyIDs(), ", "))
	}

	digest, _ := hex.DecodeString(want.Commit)
	res, err := v.verifier.Verify(&b, sgverify.NewPolicy(sgverify.WithArtifactDigest("gitCommit", digest), sgverify.WithKey()))
	if err != nil {
		// Say why: does the signature alone verify? Only failures pay for
		// the second pass.
		if _, serr := v.verifier.Verify(&b, sgverify.NewPolicy(sgverify.WithoutArtifactUnsafe(), sgverify.WithKey())); serr != nil {
			return nil, fmt.Errorf("%w with key %s: %w", ErrSignature, key.id, serr)
		}
		return nil, fmt.Errorf("%w: %s is not a gitCommit subject (subjects: %s): %w", ErrSubject, want.Commit, subjectList(env), err)
	}
	st := res.Statement
	if st == nil {
		return nil, fmt.Errorf("%w: no statement in the envelope", ErrBundle)
	}
	if st.GetType() != statementV1 {
		return nil, fmt.Errorf("%w: statement _type %q, want %s", ErrBundle, st.GetType(), statementV1)
	}
	if want.PredicateType != "" && st.GetPredicateType() != want.PredicateType {
		return nil, fmt.Errorf("%w: %q, want %q", ErrPredicateType, st.GetPredicateType(), want.PredicateType)
	}
	// The second, independent check of the signature: in-toto's DSSE
	// verifier over the envelope as the bundle's JSON has it.
	payload, err := verifyDSSE(context.Background(), bundleJSON, key.dsse)
	if err != nil {
		return nil, fmt.Errorf("%w (in-toto DSSE verifier) with key %s: %w", ErrSignature, key.id, err)
	}

	out := &Result{KeyID: key.id, PredicateType: st.GetPredicateType(), Statement: payload}
	for _, s := range st.GetSubject() {
		out.Subjects = append(out.Subjects, Subject{URI: s.GetUri(), Digest: s.GetDigest()})
	}
	return out, nil
}

func (v *Verifier) keyIDs() []string {
	ids := make([]string, 0, len(v.keys))
	for id := range v.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// subjectList names the statement's gitCommit subjects for an error
// message; the payload is unverified at that point, so it is only words.
func subjectList(env sgverify.EnvelopeContent) string {
	st, err := env.Statement()
	if err != nil {
		return "unreadable"
	}
	var out []string
	for _, s := range st.GetSubject() {
		if c := s.GetDigest()["gitCommit"]; c != "" {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
