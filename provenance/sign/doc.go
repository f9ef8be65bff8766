// Package sign is the one place agentgate signs: it turns an in-toto
// statement into a DSSE envelope inside a Sigstore bundle v0.3, using
// sigstore-go, with a key behind the small Signer interface.
//
// It must not log, return or write anywhere but its own key file the
// private key, and it must not verify (the verify package does, on a path
// that shares no code with this one).
//
// # Keys
//
// Signer is what signs: KeyID, PublicKey, Sign(message). Three kinds:
//   - LocalKey, the default: an ECDSA P-256 key in one file, PEM
//     "PRIVATE KEY" (PKCS#8, unencrypted), mode 0600. Generate writes a new
//     one (never over an existing file: a lost key cannot be replaced
//     without invalidating what it signed); `agentgate keygen` and the first
//     start call it, or LoadOrGenerate. Load refuses a file that group or
//     others can access (ErrKeyPermissions, with the chmod to run), a
//     non-regular file, and any other kind of key.
//   - KMS(ctx, "hashivault://<key>"): a HashiCorp Vault (or OpenBao)
//     transit key through sigstore's KMS providers
//     (github.com/sigstore/sigstore/pkg/signature/kms); VAULT_ADDR and
//     VAULT_TOKEN, or RPC options, say where and how. Only compiled-in
//     providers are accepted, because for any other scheme sigstore runs a
//     "sigstore-kms-<scheme>" program from PATH. The key must be ECDSA
//     P-256, like the local one. The AWS and GCP providers (kms/aws,
//     kms/gcp at v1.10.8) also build with this module proxy, each one blank
//     import in kms.go away, but bring their cloud SDKs; v1.11 of every
//     provider needs Go 1.27 and is not usable here.
//   - FromSignerVerifier: any sigstore signature.Signer, the seam for other
//     KMSs and test keys.
//
// The key id is base64 (standard, padded) of the SHA-256 of the DER (PKIX)
// public key: what sigstore-go and cosign write as the bundle's
// verificationMaterial.publicKey.hint. PublicKeyPEM gives the "PUBLIC KEY"
// PEM that cosign's --key and verify.New read.
//
// # Bundles
//
// Statement parses and Validate()s the statement (an in-toto Statement v1;
// nothing else is signed), signs the DSSE pre-authentication encoding of
// the payload (payloadType application/vnd.in-toto+json) and returns the
// bundle as compact JSON:
//
//	{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
//	 "verificationMaterial": {"publicKey": {"hint": "<key id>"}},
//	 "dsseEnvelope": {"payload": "<base64 statement>",
//	   "payloadType": "application/vnd.in-toto+json",
//	   "signatures": [{"sig": "<base64 ASN.1 ECDSA>"}]}}
//
// No certificate, no transparency log entry and no timestamp by default.
// WithRekor and WithTimestampAuthority add a Rekor (v1 API) entry and an
// RFC 3161 timestamp when an address is configured; given an empty
// address they fail with ErrNotConfigured rather than sign without what
// was asked for, and a service that does not answer fails the signing.
// Signing one statement with the local key takes about 70 µs on the
// development machine (BenchmarkStatement).
package sign
