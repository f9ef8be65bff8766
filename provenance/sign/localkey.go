package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// LocalKey is the default signer: an ECDSA P-256 key in a file on the data
// directory, PEM "PRIVATE KEY" (PKCS#8, unencrypted), mode 0600.
type LocalKey struct {
	priv *ecdsa.PrivateKey
	id   string
}

// ErrKeyPermissions is returned by Load for a key file that anyone but its
// owner may read or write.
var ErrKeyPermissions = errors.New("key file is accessible to group or others")

// Generate makes a new ECDSA P-256 key and writes it to path with mode
// 0600, creating the directory (0700) if it is missing. It never replaces
// an existing file: that is an error wrapping fs.ErrExist, because a lost
// key cannot be recovered and bundles already signed name it. This is what
// `agentgate keygen` and the first start call.
func Generate(path string) (*LocalKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	if err := writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return newLocalKey(priv)
}

// LoadOrGenerate loads the key at path, or generates it there when there
// is no file yet (the first start).
func LoadOrGenerate(path string) (*LocalKey, error) {
	k, err := Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err = Generate(path)
		if errors.Is(err, fs.ErrExist) { // another replica generated it first
			return Load(path)
		}
	}
	return k, err
}

// Load reads the key Generate wrote. It refuses a file that group or
// others may access (ErrKeyPermissions), anything but a regular file, and
// any key but an unencrypted PKCS#8 ECDSA P-256 key.
func Load(path string) (*LocalKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load signing key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat() // the file we read, not whatever the name points to now
	if err != nil {
		return nil, fmt.Errorf("load signing key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("load signing key %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("load signing key %s: %w: mode %04o, want 0600 (chmod 600 %s)", path, ErrKeyPermissions, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("load signing key: %w", err)
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("load signing key %s: no PEM block", path)
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("load signing key %s: PEM block is %q, want \"PRIVATE KEY\" (PKCS#8)", path, block.Type)
	}
	if len(block.Headers) > 0 {
		return nil, fmt.Errorf("load signing key %s: encrypted or annotated PEM is not supported", path)
	}
	if p, _ := pem.Decode(rest); p != nil {
		return nil, fmt.Errorf("load signing key %s: more than one PEM block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load signing key %s: %w", path, err)
	}
	priv, ok := key.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("load signing key %s: %T is not an ECDSA P-256 key", path, key)
	}
	return newLocalKey(priv)
}

func newLocalKey(priv *ecdsa.PrivateKey) (*LocalKey, error) {
	id, err := KeyID(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &LocalKey{priv: priv, id: id}, nil
}

// KeyID implements Signer.
func (k *LocalKey) KeyID() string { return k.id }

// PublicKey implements Signer.
func (k *LocalKey) PublicKey() crypto.PublicKey { return &k.priv.PublicKey }

// Sign implements Signer: ECDSA P-256 over SHA-256(message), ASN.1 DER.
func (k *LocalKey) Sign(_ context.Context, message []byte) ([]byte, error) {
	sum := sha256.Sum256(message)
	return ecdsa.SignASN1(rand.Reader, k.priv, sum[:])
}

// writeNew writes data to a new file at path, mode 0600, all or nothing:
// it writes a temporary file in the same directory and links it into
// place, which fails if path exists.
func writeNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", path, fs.ErrExist)
	}
	tmp, err := os.CreateTemp(dir, ".agentgate-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, fs.ErrExist)
		}
		return err
	}
	if d, err := os.Open(dir); err == nil { // make the new name durable
		_ = d.Sync()
		d.Close()
	}
	return nil
}
