package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/provenance/sign"
)

func TestKeygenWritesKeyAndRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "keys", "agentgate.key")
	r := runAgentgate(t, nil, "keygen", "--out", out)
	if r.code != 0 {
		t.Fatalf("keygen: %s", r)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %04o, want 0600", fi.Mode().Perm())
	}
	key, err := sign.Load(out) // refuses anything but a 0600 PKCS#8 P-256 key
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join(dir, "keys", "agentgate.pub"))
	if err != nil {
		t.Fatalf("no public key next to the private one: %v", err)
	}
	want, _ := sign.PublicKeyPEM(key)
	if string(pub) != string(want) {
		t.Errorf("public key file:\n%s\nwant\n%s", pub, want)
	}
	if !strings.Contains(r.stdout, key.KeyID()) || !strings.Contains(r.stdout, "cosign verify-blob-attestation --key "+filepath.Join(dir, "keys", "agentgate.pub")) {
		t.Errorf("keygen output does not give the key id and the cosign command:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, "PRIVATE KEY") {
		t.Error("keygen printed the private key")
	}

	// A second run must not replace either file.
	before, _ := os.ReadFile(out)
	r = runAgentgate(t, nil, "keygen", "--out", out)
	if r.code == 0 || !strings.Contains(r.stderr, "already exists") || !strings.Contains(r.stderr, out) {
		t.Errorf("keygen over an existing key: %s", r)
	}
	if after, _ := os.ReadFile(out); string(after) != string(before) {
		t.Error("the existing key was changed")
	}
	// Nor write a private key when only the public file is in the way.
	other := filepath.Join(dir, "other.key")
	if err := os.WriteFile(filepath.Join(dir, "other.pub"), []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runAgentgate(t, nil, "keygen", "--out", other)
	if r.code == 0 || !strings.Contains(r.stderr, "other.pub") {
		t.Errorf("keygen with the .pub in the way: %s", r)
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("a private key was written although its public key could not be")
	}
}

func TestKeygenDefaultsToTheConfiguredKeyFile(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	r := runAgentgate(t, map[string]string{"AGENTGATE_DATA_DIR": dataDir}, "keygen")
	if r.code != 0 {
		t.Fatalf("keygen: %s", r)
	}
	if _, err := sign.Load(filepath.Join(dataDir, "signing.key")); err != nil {
		t.Errorf("no key at <data_dir>/signing.key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "signing.pub")); err != nil {
		t.Errorf("no signing.pub: %v", err)
	}
	r = runAgentgate(t, map[string]string{"AGENTGATE_SIGNING_KMS": "hashivault://agentgate"}, "keygen")
	if r.code == 0 || !strings.Contains(r.stderr, "signing.kms") {
		t.Errorf("keygen with a KMS key configured: %s", r)
	}
}

func TestKeygenAPIToken(t *testing.T) {
	r := runAgentgate(t, nil, "api-token", "--name", "audit-team", "--repos", "acme/*,other/x")
	if r.code != 0 {
		t.Fatalf("api-token: %s", r)
	}
	token := strings.TrimSpace(r.stdout)
	if !regexp.MustCompile(`^agt_[A-Za-z0-9_-]{43}$`).MatchString(token) {
		t.Fatalf("stdout is not just a token: %q", r.stdout)
	}
	sum := sha256.Sum256([]byte(token))
	digest := hex.EncodeToString(sum[:])
	if strings.Contains(r.stderr, token) {
		t.Error("the token is printed twice")
	}
	line := "AGENTGATE_API_TOKENS=audit-team:" + digest + ":acme/*,other/x"
	if !strings.Contains(r.stderr, "sha256: "+digest) || !strings.Contains(r.stderr, line) {
		t.Fatalf("stderr lacks the config entry:\n%s", r.stderr)
	}
	// What it prints is what the server accepts.
	cfg, err := config.Load("", []string{line})
	if err != nil {
		t.Fatal(err)
	}
	if tok := cfg.API.Tokens[0]; tok.Name != "audit-team" || tok.SHA256 != digest || !tok.Allows("acme/web") || tok.Allows("other/y") {
		t.Errorf("loaded %+v", tok)
	}
	yaml := r.stderr[strings.Index(r.stderr, "api:"):strings.Index(r.stderr, "or to the environment")]
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err := config.Load(file, nil); err != nil || cfg.API.Tokens[0].SHA256 != digest {
		t.Errorf("the printed YAML does not load: %v\n%s", err, yaml)
	}

	if r2 := runAgentgate(t, nil, "api-token"); r2.code != 0 || strings.TrimSpace(r2.stdout) == token {
		t.Errorf("a second token is not new: %s", r2)
	}
	for _, args := range [][]string{{"--repos", "acme"}, {"--name", "has space"}, {"--repos", ""}} {
		if r := runAgentgate(t, nil, append([]string{"api-token"}, args...)...); r.code == 0 || r.stdout != "" {
			t.Errorf("api-token %v: %s", args, r)
		}
	}
}
