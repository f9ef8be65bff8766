package sign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sgsign "github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/agentgate/agentgate/provenance/sign"
)

func TestGenerateWritesPKCS8FileOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "signing-key.pem")
	k, err := sign.Generate(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %04o, want 0600", perm)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm != 0o700 {
		t.Errorf("created directory mode %04o, want 0700", perm)
	}
	data, _ := os.ReadFile(path)
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("key file is not one PEM PRIVATE KEY block:\n%s", data)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("not PKCS#8: %v", err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", key)
	}
	if !ec.PublicKey.Equal(k.PublicKey()) {
		t.Error("the file holds another key than the one returned")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key (no temporary file left)", len(entries))
	}

	loaded, err := sign.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.KeyID() != k.KeyID() || !ec.PublicKey.Equal(loaded.PublicKey()) {
		t.Errorf("loaded key %s, generated %s", loaded.KeyID(), k.KeyID())
	}
}

func TestGenerateNeverReplacesAKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	if _, err := sign.Generate(path); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if _, err := sign.Generate(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Generate: %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("second Generate changed the key file")
	}
}

func TestLoadOrGenerate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	first, err := sign.LoadOrGenerate(path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := sign.LoadOrGenerate(path)
	if err != nil {
		t.Fatal(err)
	}
	if first.KeyID() != second.KeyID() {
		t.Errorf("second start got key %s, first %s", second.KeyID(), first.KeyID())
	}
}

func TestLoadRefusesAKeyOthersCanAccess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	if _, err := sign.Generate(path); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o660, 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := sign.Load(path)
		if !errors.Is(err, sign.ErrKeyPermissions) {
			t.Errorf("mode %04o: %v, want ErrKeyPermissions", mode, err)
			continue
		}
		if !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), path) {
			t.Errorf("mode %04o: error %q does not say which file or how to fix it", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := sign.Load(path); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
}

func TestLoadRefusesOtherKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256DER, _ := x509.MarshalPKCS8PrivateKey(p256)
	sec1, _ := x509.MarshalECPrivateKey(p256)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	pubDER, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	block := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }

	cases := map[string]string{
		"P-384":          write("p384.pem", block("PRIVATE KEY", p384DER)),
		"SEC1 EC key":    write("sec1.pem", block("EC PRIVATE KEY", sec1)),
		"Ed25519":        write("ed.pem", block("PRIVATE KEY", edDER)),
		"public key":     write("pub.pem", block("PUBLIC KEY", pubDER)),
		"encrypted PEM":  write("enc.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: p256DER})),
		"garbage in PEM": write("junk.pem", block("PRIVATE KEY", []byte("junk"))),
		"not PEM at all": write("text", []byte("hello")),
		"two PEM blocks": write("two.pem", append(block("PRIVATE KEY", p256DER), block("PRIVATE KEY", p256DER)...)),
		"a directory":    dir,
		"a missing file": filepath.Join(dir, "missing.pem"),
	}
	if _, err := sign.Load(write("good.pem", block("PRIVATE KEY", p256DER))); err != nil {
		t.Fatalf("the control key does not load: %v", err)
	}
	for name, path := range cases {
		if _, err := sign.Load(path); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := sign.Load(filepath.Join(dir, "missing.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

// The key id is the hint sigstore-go and cosign write in a bundle:
// base64(sha256(DER public key)).
func TestKeyIDIsSigstoreHint(t *testing.T) {
	kp, err := sgsign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := sign.KeyID(kp.GetPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if id != string(kp.GetHint()) {
		t.Errorf("KeyID = %s, sigstore-go's hint = %s", id, kp.GetHint())
	}
}

func TestLocalKeySignsSHA256(t *testing.T) {
	k, err := sign.Generate(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("DSSEv1 28 application/vnd.in-toto+json 2 {}")
	sig, err := k.Sign(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(k.PublicKey().(*ecdsa.PublicKey), sum[:], sig) {
		t.Error("signature does not verify over SHA-256 of the message")
	}
	pemBytes, err := sign.PublicKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("public key PEM:\n%s", pemBytes)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil || !k.PublicKey().(*ecdsa.PublicKey).Equal(pub) {
		t.Errorf("public key PEM does not hold the key: %v", err)
	}
}
