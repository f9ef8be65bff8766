package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/provenance/auditclient/audittest"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
)

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func publicKeyFile(t *testing.T, k sign.Signer) string {
	t.Helper()
	p, err := sign.PublicKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "key.pub", p)
}

// editStatement changes the signed statement inside a bundle and keeps the
// signature.
func editStatement(t *testing.T, bundle []byte, from, to string) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(bundle, &b); err != nil {
		t.Fatal(err)
	}
	env := b["dsseEnvelope"].(map[string]any)
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(payload), from, to, 1)
	if changed == string(payload) {
		t.Fatalf("%q is not in the statement", from)
	}
	env["payload"] = base64.StdEncoding.EncodeToString([]byte(changed))
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAttestVerify(t *testing.T) {
	key := audittest.Key(t)
	change := audittest.Change{Repository: "acme/web", PullRequest: 7, Checks: []string{"test"}}
	rows := audittest.Rows(t, key, change)
	commit := rows[0].Commit
	prov := rows[0]
	if prov.PredicateType != statement.PredicateProvenance {
		t.Fatalf("first row is %s", prov.PredicateType)
	}
	bundle := writeTemp(t, "b.json", prov.Bundle)
	pub := publicKeyFile(t, key)

	r := runAgentgate(t, nil, "attest", "verify", "--bundle", bundle, "--key", pub, "--commit", commit, "--type", statement.PredicateProvenance)
	if r.code != 0 || !strings.Contains(r.stdout, "OK") || !strings.Contains(r.stdout, key.KeyID()) {
		t.Fatalf("a good bundle: %s", r)
	}
	// Without --type any predicate type is accepted; upper-case commits too.
	if r := runAgentgate(t, nil, "attest", "verify", "--bundle", writeTemp(t, "t.json", rows[1].Bundle), "--key", pub, "--commit", strings.ToUpper(commit)); r.code != 0 {
		t.Errorf("test-result bundle: %s", r)
	}

	other := audittest.Key(t)
	otherCommit := audittest.CommitFor("acme/web", 8)
	fails := []struct {
		name string
		args []string
		want string
	}{
		{"changed commit", []string{"--bundle", bundle, "--key", pub, "--commit", otherCommit}, "not the statement's subject"},
		{"tampered payload", []string{"--bundle", writeTemp(t, "x.json", editStatement(t, prov.Bundle, `"model":"claude-sonnet-4.5"`, `"model":"gpt-2"`)), "--key", pub, "--commit", commit}, "signature does not verify"},
		{"wrong key", []string{"--bundle", bundle, "--key", publicKeyFile(t, other), "--commit", commit}, "not trusted"},
		{"wrong type", []string{"--bundle", bundle, "--key", pub, "--commit", commit, "--type", statement.PredicateVSA}, "unexpected predicate type"},
		{"not a bundle", []string{"--bundle", writeTemp(t, "n.json", []byte(`{"hello":1}`)), "--key", pub, "--commit", commit}, "malformed attestation bundle"},
	}
	for _, f := range fails {
		r := runAgentgate(t, nil, append([]string{"attest", "verify"}, f.args...)...)
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, f.want) || !strings.Contains(r.stdout, "FAIL") {
			t.Errorf("%s: exit %d, want non-zero with %q:\n%s", f.name, r.code, f.want, r)
		}
	}
	usage := [][]string{
		{"--key", pub, "--commit", commit},
		{"--bundle", bundle, "--commit", commit},
		{"--bundle", bundle, "--key", pub},
		{"--bundle", bundle, "--key", pub, "--commit", "abc"},
		{"--bundle", bundle, "--key", bundle, "--commit", commit},
	}
	for _, args := range usage {
		if r := runAgentgate(t, nil, append([]string{"attest", "verify"}, args...)...); r.code == 0 || r.stderr == "" {
			t.Errorf("attest verify %v: %s", args, r)
		}
	}
}

func TestAttestVerifyJSONLOfBundles(t *testing.T) {
	key := audittest.Key(t)
	rows := audittest.Rows(t, key, audittest.Change{Repository: "acme/web", PullRequest: 7, Checks: []string{"test", "lint"}})
	var lines []string
	for _, r := range rows {
		lines = append(lines, string(r.Bundle))
	}
	pub := publicKeyFile(t, key)
	file := writeTemp(t, "notes.jsonl", []byte(strings.Join(lines, "\n")+"\n"))
	r := runAgentgate(t, nil, "attest", "verify", "--bundle", file, "--key", pub, "--commit", rows[0].Commit)
	if r.code != 0 || okLines(r.stdout) != len(rows) {
		t.Fatalf("JSONL of %d bundles: %s", len(rows), r)
	}
	lines[2] = string(editStatement(t, rows[2].Bundle, `"lint"`, `"lunt"`))
	file = writeTemp(t, "notes.jsonl", []byte(strings.Join(lines, "\n")+"\n"))
	r = runAgentgate(t, nil, "attest", "verify", "--bundle", file, "--key", pub, "--commit", rows[0].Commit)
	if r.code == 0 || !strings.Contains(r.stdout, "FAIL line 3") || !strings.Contains(r.stderr, "1 of 5 bundles") {
		t.Errorf("one tampered line: %s", r)
	}
}

// okLines counts the lines attest verify starts with OK (a key id in
// base64 may hold "OK" too).
func okLines(stdout string) int {
	n := 0
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "OK ") {
			n++
		}
	}
	return n
}
