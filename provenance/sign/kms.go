package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"
	"slices"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"

	// The KMS providers compiled in. HashiCorp Vault (and OpenBao) transit
	// keys suit a self-hosted app; others (awskms, gcpkms, azurekms) build
	// here too and are one import away.
	_ "github.com/sigstore/sigstore/pkg/signature/kms/hashivault"
)

// KMS opens a KMS key by its sigstore reference, e.g.
// "hashivault://agentgate" (Vault's transit engine; VAULT_ADDR and
// VAULT_TOKEN, or opts, say where and how). Only the providers compiled in
// are accepted: sigstore would otherwise look for a "sigstore-kms-<scheme>"
// plugin program on PATH and run it, and a configuration value must not be
// able to start a program. The key must be ECDSA P-256, like the local
// key, so every bundle verifies the same way.
func KMS(ctx context.Context, ref string, opts ...signature.RPCOption) (Signer, error) {
	supported := kms.SupportedProviders()
	slices.Sort(supported)
	if !slices.ContainsFunc(supported, func(p string) bool { return strings.HasPrefix(ref, p) }) {
		return nil, fmt.Errorf("kms key %q: unsupported provider (compiled in: %s)", ref, strings.Join(supported, ", "))
	}
	sv, err := kms.Get(ctx, ref, crypto.SHA256, opts...)
	if err != nil {
		return nil, fmt.Errorf("kms key %q: %w", ref, err)
	}
	s, err := FromSignerVerifier(ctx, sv)
	if err != nil {
		return nil, fmt.Errorf("kms key %q: %w", ref, err)
	}
	if pub, ok := s.PublicKey().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("kms key %q: %T is not an ECDSA P-256 key", ref, s.PublicKey())
	}
	return s, nil
}
