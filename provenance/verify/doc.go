// Package verify checks an attestation bundle given only the signer's
// public key (PEM) and a commit: the auditor's side of DESIGN.md §5.
//
// It shares no code with the signing path: it imports neither the sign nor
// the statement package (only its tests do, to make bundles), reads the
// key from PEM itself, and computes key ids itself. It must stay that way,
// so a bug in how agentgate signs cannot hide in how it verifies.
//
// Verifier.Verify accepts a bundle only when all of these hold:
//   - it is a Sigstore bundle (v0.1 to v0.3) holding a DSSE envelope of
//     payload type application/vnd.in-toto+json, verified by a public key
//     (not a certificate) whose hint names one of the trusted keys;
//   - sigstore-go's verifier (verify.WithKey, verify.WithArtifactDigest
//     with "gitCommit" and the commit) accepts the signature and finds the
//     commit among the statement's subjects;
//   - the statement is an in-toto Statement v1 of the expected predicate
//     type;
//   - the DSSE signature verifies a second time, independently: the
//     envelope read from the bundle JSON with encoding/json, the key loaded
//     by in-toto-golang (v0.11.0), and go-securesystemslib's DSSE envelope
//     verifier, which is what in-toto-golang's own envelope verification
//     runs.
//
// Each refusal wraps ErrBundle, ErrUnknownKey, ErrSignature, ErrSubject or
// ErrPredicateType and says what it found. Transparency log entries and
// RFC 3161 timestamps in a bundle are carried, not checked: there is no
// Rekor key or timestamp authority to trust here, and no validity window
// can be held against a signing time nobody vouches for. Verifying takes
// about 0.25 ms per bundle on one core, 0.16 ms with two (a Verifier is
// safe to share; BenchmarkVerify, BenchmarkVerifyParallel), most of it the
// two ECDSA verifications.
//
// # What cosign v3 accepts
//
// An auditor with only the public key and cosign runs
//
//	cosign verify-blob-attestation --key agentgate.pub --bundle b.json \
//	  --insecure-ignore-tlog=true --type https://slsa.dev/provenance/v1 \
//	  --digest <sha> --digestAlg gitCommit
//
// From cosign v3's source (cmd/cosign/cli/verify/verify_blob_attestation.go
// and common.go, pkg/cosign/verify.go, pkg/policy/attestation.go), that
// command:
//  1. loads --key as a PEM public key verifier with SHA-256;
//  2. with --key, --insecure-ignore-tlog and no --use-signed-timestamps,
//     loads no trusted root (no TUF, no network) and trusts that key for
//     every hint: the bundle's hint is not compared with the key;
//  3. reads --bundle with sigstore-go's bundle.LoadJSONFromPath: it must be
//     a valid Sigstore bundle (v0.3 media type; a public key identifier is
//     allowed; no certificate chain);
//  4. hex-decodes --digest and passes --digestAlg through unchanged, so
//     sigstore-go's verify.WithArtifactDigest("gitCommit", sha) matches
//     the statement's subject digest named "gitCommit" (any subject). The
//     --digestAlg completion only offers sha256/sha384/sha512, but any name
//     is accepted when no blob is given;
//  5. verifies with verify.WithKey and verify.WithNoObserverTimestamps:
//     no transparency log entry and no timestamp are needed;
//  6. re-marshals the envelope, decodes its payload into in-toto-golang's
//     Statement and compares predicateType with --type (a URI is used as
//     is; short names like slsaprovenance1 map to their URIs).
//
// So cosign accepts exactly what the sign package makes: a v0.3 bundle
// with a publicKey hint and a DSSE envelope of an in-toto statement whose
// subject has digest {"gitCommit": <sha>}. The package's tests replay
// these six steps with the same libraries (TestCosignV3VerifyBlobAttestationAccepts);
// the cosign binary itself was not run here.
package verify
