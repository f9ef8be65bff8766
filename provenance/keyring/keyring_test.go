package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/provenance/keyring"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/verify"
)

const commit = "6dcb09b5b57875f334f61aebed695e2e4193db5e"

var statement = []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"uri":"https://github.com/o/r/commit/` + commit +
	`","digest":{"gitCommit":"` + commit + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"x":1}}`)

func newKey(t *testing.T) (*sign.LocalKey, []byte) {
	t.Helper()
	k, err := sign.Generate(filepath.Join(t.TempDir(), "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := sign.PublicKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, p
}

var (
	jan = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	jun = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
)

func TestKeyringWindows(t *testing.T) {
	old, oldPEM := newKey(t)
	cur, curPEM := newKey(t)
	ring, err := keyring.New(
		keyring.Key{PEM: oldPEM, ValidFrom: jan, ValidUntil: jun},
		keyring.Key{PEM: curPEM, ValidFrom: jun, Active: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	keys := ring.Keys()
	if len(keys) != 2 || !keys[0].Active || keys[0].KeyID != cur.KeyID() || keys[1].KeyID != old.KeyID() {
		t.Fatalf("Keys() = %+v, want the active key first, ids from the PEM", keys)
	}
	if !bytes.Equal(keys[1].PEM, oldPEM) {
		t.Errorf("old key PEM changed:\n%s", keys[1].PEM)
	}
	cases := []struct {
		key  string
		at   time.Time
		want error
	}{
		{old.KeyID(), jan, nil},
		{old.KeyID(), jun.Add(-time.Millisecond), nil},
		{old.KeyID(), jun, keyring.ErrOutsideWindow},                   // the end is exclusive
		{old.KeyID(), jan.Add(-time.Second), keyring.ErrOutsideWindow}, // before it existed
		{cur.KeyID(), jun, nil},
		{cur.KeyID(), jun.AddDate(10, 0, 0), nil}, // open end
		{cur.KeyID(), jan, keyring.ErrOutsideWindow},
		{"bm90IGEga2V5", jun, keyring.ErrUnknownKey},
	}
	for _, c := range cases {
		err := ring.CheckWindow(c.key, c.at)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("CheckWindow(%s, %s) = %v, want %v", c.key, c.at.Format(time.RFC3339Nano), err, c.want)
		}
		if errors.Is(err, keyring.ErrOutsideWindow) && !strings.Contains(err.Error(), c.key) {
			t.Errorf("error %q does not name the key", err)
		}
	}

	// The verifier trusts both keys.
	v, err := ring.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*sign.LocalKey{old, cur} {
		b, err := sign.Statement(context.Background(), k, statement)
		if err != nil {
			t.Fatal(err)
		}
		res, err := v.Verify(b.JSON, verify.Expect{Commit: commit})
		if err != nil || res.KeyID != k.KeyID() {
			t.Errorf("bundle by %s: %v %+v", k.KeyID(), err, res)
		}
	}
	other, _ := newKey(t)
	b, _ := sign.Statement(context.Background(), other, statement)
	if _, err := v.Verify(b.JSON, verify.Expect{Commit: commit}); !errors.Is(err, verify.ErrUnknownKey) {
		t.Errorf("a bundle by a key outside the ring: %v", err)
	}
}

func TestKeyringRefuses(t *testing.T) {
	_, a := newKey(t)
	_, b := newKey(t)
	cases := map[string][]keyring.Key{
		"nothing":          nil,
		"not PEM":          {{PEM: []byte("hello")}},
		"private key PEM":  {{PEM: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}},
		"two blocks":       {{PEM: append(append([]byte{}, a...), b...)}},
		"listed twice":     {{PEM: a}, {PEM: a}},
		"two active":       {{PEM: a, Active: true}, {PEM: b, Active: true}},
		"window backwards": {{PEM: a, ValidFrom: jun, ValidUntil: jan}},
		"wrong key id":     {{PEM: a, KeyID: "c29tZXRoaW5nIGVsc2U="}},
	}
	for name, keys := range cases {
		if _, err := keyring.New(keys...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestKeyringFromConfig(t *testing.T) {
	dir := t.TempDir()
	cur, _ := newKey(t)
	old, oldPEM := newKey(t)
	oldFile := filepath.Join(dir, "old.pub")
	if err := os.WriteFile(oldFile, oldPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "data_dir: " + dir + "\nsigning:\n  valid_from: 2026-06-01T00:00:00Z\n  previous_keys:\n" +
		"    - public_key_file: " + oldFile + "\n      valid_from: 2026-01-01T00:00:00Z\n      valid_until: 2026-06-01T00:00:00Z\n"
	cfgFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.FromConfig(context.Background(), cfg, cur)
	if err != nil {
		t.Fatal(err)
	}
	keys := ring.Keys()
	if len(keys) != 2 || keys[0].KeyID != cur.KeyID() || !keys[0].ValidFrom.Equal(jun) || !keys[0].ValidUntil.IsZero() ||
		keys[1].KeyID != old.KeyID() || !keys[1].ValidFrom.Equal(jan) || !keys[1].ValidUntil.Equal(jun) || keys[1].Active {
		t.Errorf("keys from config: %+v", keys)
	}

	// Listing the active key as retired is a mistake worth refusing.
	curPEM, _ := sign.PublicKeyPEM(cur)
	if err := os.WriteFile(oldFile, curPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.FromConfig(context.Background(), cfg, cur); err == nil || !strings.Contains(err.Error(), "previous_keys") {
		t.Errorf("active key listed as previous: %v", err)
	}
}

func TestSplitPEM(t *testing.T) {
	_, a := newKey(t)
	_, b := newKey(t)
	got, err := keyring.SplitPEM(append(append([]byte("keys exported by agentgate\n"), a...), b...))
	if err != nil || len(got) != 2 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) {
		t.Fatalf("SplitPEM: %v, %d keys", err, len(got))
	}
	if _, err := keyring.SplitPEM([]byte("nothing")); err == nil {
		t.Error("SplitPEM of no key succeeded")
	}
}
