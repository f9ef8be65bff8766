// Package keyring is the set of public keys agentgate publishes for its
// attestations: the active signing key and retired ones, each with the
// window in which it signed. The server serves it at GET /api/v1/keys, and
// auditors (agentgate audit, verify-log) verify bundles against it and hold
// each row's signing time against its key's window.
//
// It holds public keys only, never a private key, and does not import the
// sign package: the auditor's path through it shares no code with signing.
package keyring

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/provenance/verify"
)

// ErrOutsideWindow is wrapped by CheckWindow's refusals.
var ErrOutsideWindow = errors.New("signed outside the key's validity window")

// ErrUnknownKey is wrapped when a key id is not in the keyring.
var ErrUnknownKey = errors.New("key is not in the keyring")

// Key is one published public key.
type Key struct {
	// KeyID is base64 of the SHA-256 of the DER public key, the bundle's
	// verificationMaterial.publicKey.hint. New computes it; a non-empty
	// KeyID given to New must match.
	KeyID string
	// PEM is the "PUBLIC KEY" block.
	PEM []byte
	// ValidFrom and ValidUntil bound when the key signed, [ValidFrom,
	// ValidUntil); a zero time leaves that side open.
	ValidFrom, ValidUntil time.Time
	// Active is the key signing now.
	Active bool
}

// Keyring is a fixed set of keys. It is safe for concurrent use.
type Keyring struct {
	keys     []Key
	byID     map[string]int
	verifier *verify.Verifier
}

// New checks the keys (one PEM public key each, no key twice, at most one
// active, windows that end after they start) and builds their verifier.
func New(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("keyring: no keys")
	}
	k := &Keyring{byID: make(map[string]int, len(keys))}
	pems := make([][]byte, 0, len(keys))
	active := ""
	for i, key := range keys {
		id, canonical, err := parsePublicKey(key.PEM)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %d: %w", i+1, err)
		}
		if key.KeyID != "" && key.KeyID != id {
			return nil, fmt.Errorf("keyring: key %d says its id is %s but its public key's id is %s", i+1, key.KeyID, id)
		}
		if _, dup := k.byID[id]; dup {
			return nil, fmt.Errorf("keyring: key %s is listed twice", id)
		}
		if !key.ValidFrom.IsZero() && !key.ValidUntil.IsZero() && !key.ValidUntil.After(key.ValidFrom) {
			return nil, fmt.Errorf("keyring: key %s: valid until %s is not after valid from %s", id, stamp(key.ValidUntil), stamp(key.ValidFrom))
		}
		if key.Active {
			if active != "" {
				return nil, fmt.Errorf("keyring: keys %s and %s are both active", active, id)
			}
			active = id
		}
		key.KeyID, key.PEM = id, canonical
		key.ValidFrom, key.ValidUntil = key.ValidFrom.UTC(), key.ValidUntil.UTC()
		k.byID[id] = len(k.keys)
		k.keys = append(k.keys, key)
		pems = append(pems, canonical)
	}
	v, err := verify.New(pems...)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	k.verifier = v
	return k, nil
}

// Keys returns the keys, the active one first, then the others in the order
// given.
func (k *Keyring) Keys() []Key {
	out := make([]Key, len(k.keys))
	copy(out, k.keys)
	slices.SortStableFunc(out, func(a, b Key) int {
		switch {
		case a.Active == b.Active:
			return 0
		case a.Active:
			return -1
		}
		return 1
	})
	for i := range out {
		out[i].PEM = slices.Clone(out[i].PEM)
	}
	return out
}

// Key returns the key with the id.
func (k *Keyring) Key(keyID string) (Key, bool) {
	i, ok := k.byID[keyID]
	if !ok {
		return Key{}, false
	}
	key := k.keys[i]
	key.PEM = slices.Clone(key.PEM)
	return key, true
}

// Verifier verifies bundles signed by any key of the keyring. It is built
// once and may be shared.
func (k *Keyring) Verifier() (*verify.Verifier, error) { return k.verifier, nil }

// CheckWindow says whether a bundle signed at signedAt by keyID falls in
// that key's window. Errors wrap ErrUnknownKey or ErrOutsideWindow.
func (k *Keyring) CheckWindow(keyID string, signedAt time.Time) error {
	key, ok := k.Key(keyID)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownKey, keyID)
	}
	if (!key.ValidFrom.IsZero() && signedAt.Before(key.ValidFrom)) || (!key.ValidUntil.IsZero() && !signedAt.Before(key.ValidUntil)) {
		return fmt.Errorf("%w: signed at %s, outside key %s's window %s", ErrOutsideWindow, stamp(signedAt), keyID, Window(key))
	}
	return nil
}

// Window renders a key's window, "[2026-01-01T00:00:00Z, 2026-06-01T00:00:00Z)",
// with "…" for an open side.
func Window(key Key) string {
	from, until := "…", "…"
	if !key.ValidFrom.IsZero() {
		from = stamp(key.ValidFrom)
	}
	if !key.ValidUntil.IsZero() {
		until = stamp(key.ValidUntil)
	}
	return "[" + from + ", " + until + ")"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// parsePublicKey reads exactly one PEM "PUBLIC KEY" block and returns its id
// and the block re-encoded (no headers, no surrounding text).
func parsePublicKey(p []byte) (string, []byte, error) {
	block, rest := pem.Decode(p)
	if block == nil {
		return "", nil, errors.New("no PEM block")
	}
	if block.Type != "PUBLIC KEY" {
		return "", nil, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return "", nil, errors.New("more than one PEM block (give each key on its own)")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return "", nil, err
	}
	id, err := verify.KeyID(pub)
	if err != nil {
		return "", nil, err
	}
	return id, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: block.Bytes}), nil
}

// SplitPEM splits a file of concatenated PEM "PUBLIC KEY" blocks (what
// `agentgate audit export` writes as keys.pem) into one PEM per key.
func SplitPEM(data []byte) ([][]byte, error) {
	var out [][]byte
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %d is %q, want \"PUBLIC KEY\"", len(out)+1, block.Type)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: block.Bytes}))
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM public key")
	}
	return out, nil
}

// PublicKeyer is what the keyring needs of the active signer (sign.Signer
// has it): its public key.
type PublicKeyer interface {
	PublicKey() crypto.PublicKey
}

// FromConfig builds the server's keyring: the active signer's key, valid
// from signing.valid_from, and every signing.previous_keys entry with its
// window. A previous key that is the active key is an error (rotate to a
// new key), as is an unreadable file.
func FromConfig(_ context.Context, cfg *config.Config, active PublicKeyer) (*Keyring, error) {
	der, err := x509.MarshalPKIXPublicKey(active.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("keyring: active key: %w", err)
	}
	keys := []Key{{
		PEM:       pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		ValidFrom: cfg.Signing.ValidFromTime(),
		Active:    true,
	}}
	for i, pk := range cfg.Signing.PreviousKeys {
		raw, err := os.ReadFile(pk.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("keyring: signing.previous_keys[%d]: %w", i, err)
		}
		keys = append(keys, Key{PEM: raw, ValidFrom: pk.ValidFromTime(), ValidUntil: pk.ValidUntilTime()})
	}
	k, err := New(keys...)
	if err != nil {
		return nil, fmt.Errorf("%w (signing.previous_keys must list retired keys, each once, not the active key)", err)
	}
	return k, nil
}
