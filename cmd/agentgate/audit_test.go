package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/provenance/auditclient"
	"github.com/agentgate/agentgate/provenance/auditclient/audittest"
	"github.com/agentgate/agentgate/provenance/keyring"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/server"
	"github.com/agentgate/agentgate/store"
)

// auditFixture is what an auditor faces: a server's API over a real SQLite
// store of signed attestations, and a token file.
type auditFixture struct {
	dir, dbPath, keyFile string
	store                *store.Store
	key                  *sign.LocalKey
	rows                 []store.Attestation
	url                  string
	tokenFile            string // may read every repository
	acmeTokenFile        string // acme/* only
}

func newAuditFixture(t *testing.T) *auditFixture {
	t.Helper()
	f := &auditFixture{dir: t.TempDir()}
	f.dbPath = filepath.Join(f.dir, "agentgate.db")
	f.keyFile = filepath.Join(f.dir, "signing.key")
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	f.store = st
	if f.key, err = sign.Generate(f.keyFile); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i, c := range []audittest.Change{
		{Repository: "acme/web", PullRequest: 1, Checks: []string{"test"}},
		{Repository: "other/x", PullRequest: 2, Agent: "codex", Model: "gpt-5"},
		{Repository: "acme/api", PullRequest: 3, Checks: []string{"test", "lint"}},
	} {
		c.SignedAt = t0.Add(time.Duration(i) * time.Minute)
		f.rows = append(f.rows, audittest.Attest(t, st, f.key, c)...)
	}
	pub, _ := sign.PublicKeyPEM(f.key)
	ring, err := keyring.New(keyring.Key{PEM: pub, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	var tokens []config.APIToken
	for name, repos := range map[string][]string{"all": {"*"}, "acme": {"acme/*"}} {
		tok := "agt_cli_" + name
		sum := sha256.Sum256([]byte(tok))
		tokens = append(tokens, config.APIToken{Name: name, SHA256: hex.EncodeToString(sum[:]), Repos: repos})
		file := writeTemp(t, name+".token", []byte(tok+"\n"))
		if name == "all" {
			f.tokenFile = file
		} else {
			f.acmeTokenFile = file
		}
	}
	api, err := server.NewAttestationsAPI(st, tokens, ring, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// audit runs agentgate audit SUB against the fixture's server.
func (f *auditFixture) audit(t *testing.T, tokenFile string, args ...string) agentgateRun {
	t.Helper()
	return runAgentgate(t, nil, append([]string{"audit", args[0], "--server", f.url, "--token-file", tokenFile}, args[1:]...)...)
}

// exec runs SQL on the store as a DBA with full rights would.
func (f *auditFixture) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := f.store.SQLDB().ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestAuditQuery(t *testing.T) {
	f := newAuditFixture(t)
	r := f.audit(t, f.tokenFile, "query")
	if r.code != 0 {
		t.Fatalf("audit query: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != len(f.rows)+1 || !strings.HasPrefix(lines[0], "SEQ") || !strings.Contains(lines[0], "REPOSITORY") {
		t.Fatalf("table of %d rows:\n%s", len(f.rows), r.stdout)
	}
	first := strings.Fields(lines[1])
	if first[0] != "1" || first[1] != f.rows[0].ID || first[2] != "acme/web" || first[3] != f.rows[0].Commit[:12] || first[5] != "provenance" {
		t.Errorf("first row %q", lines[1])
	}
	if !strings.Contains(r.stderr, "attestation(s)") {
		t.Errorf("no count on stderr: %s", r.stderr)
	}

	// --json is the API's rows, every one of them.
	r = f.audit(t, f.tokenFile, "query", "--json")
	var rows []auditclient.Attestation
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || r.code != 0 {
		t.Fatalf("--json: %v\n%s", err, r)
	}
	if len(rows) != len(f.rows) {
		t.Fatalf("--json: %d rows, want %d", len(rows), len(f.rows))
	}
	for i, a := range rows {
		want := f.rows[i]
		if a.ID != want.ID || a.Seq != want.Seq || a.Commit != want.Commit || a.RowHash != want.RowHash || !a.SignedAt.Equal(want.SignedAt) ||
			a.PredicateType != want.PredicateType || a.Name != want.Name || a.BundleURL == "" {
			t.Errorf("--json row %d: %+v\nwant %+v", i, a, want)
		}
		if a.Entry().Hash() != a.RowHash {
			t.Errorf("row %d: the hash of what --json prints is not its row_hash", a.Seq)
		}
	}

	// Filters.
	r = f.audit(t, f.tokenFile, "query", "--json", "--repo", "acme/api", "--type", statement.PredicateTestResult)
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 2 || rows[0].Name != "test" || rows[1].Name != "lint" {
		t.Errorf("--repo acme/api --type test-result: %v %s", err, r)
	}
	r = f.audit(t, f.tokenFile, "query", "--json", "--commit", f.rows[0].Commit, "--pr", "1", "--agent", "claude-code", "--since", "2h", "--until", time.Now().Add(time.Hour).Format(time.RFC3339))
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 4 {
		t.Errorf("--commit --pr --agent --since --until: %v %s", err, r)
	}
	r = f.audit(t, f.tokenFile, "query", "--json", "--model", "gpt-5")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 3 || rows[0].Repository != "other/x" {
		t.Errorf("--model gpt-5: %v %s", err, r)
	}
	r = f.audit(t, f.tokenFile, "query", "--limit", "2")
	if n := len(strings.Split(strings.TrimSpace(r.stdout), "\n")); r.code != 0 || n != 3 {
		t.Errorf("--limit 2: %d lines\n%s", n, r)
	}
	r = f.audit(t, f.tokenFile, "query", "--json", "--agent", "nobody")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("no match: %s", r)
	}

	// The token's scope.
	r = f.audit(t, f.acmeTokenFile, "query", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != len(f.rows)-3 {
		t.Errorf("acme token: %v, %d rows", err, len(rows))
	}
	for _, a := range rows {
		if !strings.HasPrefix(a.Repository, "acme/") {
			t.Errorf("acme token sees %s", a.Repository)
		}
	}
	r = f.audit(t, f.acmeTokenFile, "query", "--repo", "other/x")
	if r.code == 0 || !strings.Contains(r.stderr, "outside this token's scope") {
		t.Errorf("acme token asks for other/x: %s", r)
	}

	// Mistakes are told, not guessed around.
	bad := writeTemp(t, "bad.token", []byte("agt_wrong"))
	for _, c := range []struct {
		run  agentgateRun
		want string
	}{
		{f.audit(t, bad, "query"), "401"},
		{f.audit(t, f.tokenFile, "query", "--commit", "abc"), "40 hex digits"},
		{f.audit(t, f.tokenFile, "query", "--since", "last week"), "--since"},
		{f.audit(t, f.tokenFile, "query", "--repo", "acme"), "owner/name"},
		{runAgentgate(t, nil, "audit", "query", "--server", f.url), "AGENTGATE_API_TOKEN"},
		{runAgentgate(t, nil, "audit", "query", "--token-file", f.tokenFile), "--server"},
	} {
		if c.run.code == 0 || !strings.Contains(c.run.stderr, c.want) {
			t.Errorf("want a failure naming %q: %s", c.want, c.run)
		}
	}
	// The environment works as well as the flags.
	r = runAgentgate(t, map[string]string{"AGENTGATE_SERVER": f.url, "AGENTGATE_API_TOKEN": "agt_cli_all"}, "audit", "query", "--limit", "1")
	if r.code != 0 || !strings.Contains(r.stdout, f.rows[0].ID) {
		t.Errorf("from the environment: %s", r)
	}
}

func TestAuditVerify(t *testing.T) {
	f := newAuditFixture(t)
	r := f.audit(t, f.tokenFile, "verify")
	if r.code != 0 || !strings.Contains(r.stdout, "OK") || !strings.Contains(r.stdout, "verified 12 attestation(s)") || !strings.Contains(r.stdout, "the whole log") {
		t.Fatalf("audit verify of a good log: %s", r)
	}
	// A scoped token verifies what it sees, and says the chain check was partial.
	r = f.audit(t, f.acmeTokenFile, "verify", "--type", statement.PredicateProvenance)
	if r.code != 0 || !strings.Contains(r.stdout, "verified 2 attestation(s)") || !strings.Contains(r.stdout, "consecutive rows only") {
		t.Errorf("acme token, provenance only: %s", r)
	}
	// Pinned keys: the right one passes, another fails every bundle.
	pub := publicKeyFile(t, f.key)
	if r := f.audit(t, f.tokenFile, "verify", "--key", pub); r.code != 0 {
		t.Errorf("--key with the signing key: %s", r)
	}
	r = f.audit(t, f.tokenFile, "verify", "--repo", "other/x", "--key", publicKeyFile(t, audittest.Key(t)))
	if r.code == 0 || strings.Count(r.stdout, "FAIL") != 3 || !strings.Contains(r.stdout, "not trusted") {
		t.Errorf("--key with another key: %s", r)
	}

	// A DBA swaps the bundle of row 1 for one whose statement says another
	// model (the signature is the original's).
	target := f.rows[0]
	tampered := editStatement(t, target.Bundle, `"claude-sonnet-4.5"`, `"claude-haiku"`)
	f.exec(t, "DROP TRIGGER attestation_bundles_no_update")
	f.exec(t, "UPDATE attestation_bundles SET bundle = ? WHERE seq = ?", tampered, target.Seq)
	r = f.audit(t, f.tokenFile, "verify")
	if r.code != 1 || strings.Count(r.stdout, "FAIL") != 1 || !strings.Contains(r.stdout, "FAIL row 1 ("+target.ID+")") ||
		!strings.Contains(r.stdout, "sha256") || !strings.Contains(r.stdout, "signature does not verify") ||
		!strings.Contains(r.stderr, "1 of 12 attestation(s) failed") {
		t.Errorf("after tampering with a bundle: %s", r)
	}

	// Then edits a row's model: the chain shows it.
	f.exec(t, "DROP TRIGGER attestations_no_update")
	f.exec(t, "UPDATE attestations SET model = 'gpt-4' WHERE seq = 6")
	r = f.audit(t, f.tokenFile, "verify")
	if r.code != 1 || !strings.Contains(r.stdout, "CHAIN edited") || !strings.Contains(r.stdout, "row 6") {
		t.Errorf("after editing row 6: %s", r)
	}
}

func TestAuditExportVerifiesOffline(t *testing.T) {
	f := newAuditFixture(t)
	out := filepath.Join(t.TempDir(), "export")
	r := f.audit(t, f.tokenFile, "export", "--out", out)
	if r.code != 0 || !strings.Contains(r.stdout, "exported 12 attestation(s)") {
		t.Fatalf("export: %s", r)
	}
	raw, err := os.ReadFile(filepath.Join(out, "attestations.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != len(f.rows) {
		t.Fatalf("%d lines, want %d", len(lines), len(f.rows))
	}
	for i, line := range lines {
		var rec auditclient.ExportRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.ID != f.rows[i].ID || string(rec.Bundle) != string(f.rows[i].Bundle) {
			t.Errorf("line %d: %s is not row %d with its bundle as stored", i+1, rec.ID, f.rows[i].Seq)
		}
		single, err := os.ReadFile(filepath.Join(out, "bundles", rec.ID+".json"))
		if err != nil || string(single) != string(f.rows[i].Bundle) {
			t.Errorf("bundles/%s.json: %v", rec.ID, err)
		}
	}
	var keys struct {
		Keys []auditclient.PublishedKey `json:"keys"`
	}
	if raw, err := os.ReadFile(filepath.Join(out, "keys.json")); err != nil || json.Unmarshal(raw, &keys) != nil || len(keys.Keys) != 1 || keys.Keys[0].KeyID != f.key.KeyID() {
		t.Errorf("keys.json: %v %s", err, raw)
	}

	// Offline: the export and its keys, nothing else.
	keysPEM := filepath.Join(out, "keys.pem")
	acmeAPI := f.rows[len(f.rows)-1].Commit
	r = runAgentgate(t, nil, "attest", "verify", "--bundle", filepath.Join(out, "attestations.jsonl"), "--key", keysPEM, "--commit", acmeAPI)
	if r.code != 0 || okLines(r.stdout) != 5 {
		t.Errorf("attest verify of the export, commit of acme/api (5 statements): %s", r)
	}
	r = runAgentgate(t, nil, "attest", "verify", "--bundle", filepath.Join(out, "attestations.jsonl"), "--key", keysPEM, "--commit", acmeAPI, "--type", statement.PredicateVSA)
	if r.code != 0 || okLines(r.stdout) != 1 {
		t.Errorf("the VSA alone: %s", r)
	}
	r = runAgentgate(t, nil, "attest", "verify", "--bundle", filepath.Join(out, "bundles", f.rows[0].ID+".json"), "--key", keysPEM, "--commit", f.rows[0].Commit, "--type", statement.PredicateProvenance)
	if r.code != 0 {
		t.Errorf("one exported bundle: %s", r)
	}
	r = runAgentgate(t, nil, "attest", "verify", "--bundle", filepath.Join(out, "attestations.jsonl"), "--key", keysPEM, "--commit", strings.Repeat("0", 40))
	if r.code == 0 || !strings.Contains(r.stderr, "none of its 12 attestations is about commit") {
		t.Errorf("a commit the export does not hold: %s", r)
	}

	// A line whose bundle was swapped for another commit's fails, by name.
	var rec auditclient.ExportRecord
	_ = json.Unmarshal([]byte(lines[0]), &rec)
	rec.Bundle = f.rows[4].Bundle // other/x's provenance
	swapped, _ := json.Marshal(rec)
	lines[0] = string(swapped)
	file := writeTemp(t, "swapped.jsonl", []byte(strings.Join(lines, "\n")))
	r = runAgentgate(t, nil, "attest", "verify", "--bundle", file, "--key", keysPEM, "--commit", f.rows[0].Commit)
	if r.code == 0 || !strings.Contains(r.stdout, "FAIL line 1 (row 1, "+f.rows[0].ID) || !strings.Contains(r.stdout, "not the statement's subject") {
		t.Errorf("swapped bundle: %s", r)
	}

	if r := f.audit(t, f.tokenFile, "export", "--out", out); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("export over an export: %s", r)
	}
	if r := f.audit(t, f.tokenFile, "export"); r.code == 0 || !strings.Contains(r.stderr, "--out") {
		t.Errorf("export without --out: %s", r)
	}
}

func TestAuditVerifyLog(t *testing.T) {
	f := newAuditFixture(t)
	cfg := writeTemp(t, "config.yaml", []byte("data_dir: "+f.dir+"\ndatabase_url: sqlite://"+f.dbPath+"\nsigning:\n  key_file: "+f.keyFile+"\n"))
	r := runAgentgate(t, nil, "audit", "verify-log", "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "sqlite store: 12 row(s)") || !strings.Contains(r.stdout, "signatures checked with 1 key(s)") || !strings.HasSuffix(strings.TrimSpace(r.stdout), "OK") {
		t.Fatalf("verify-log of a good log: %s", r)
	}
	// Signatures are really checked: with another key every row fails.
	r = runAgentgate(t, nil, "audit", "verify-log", "--config", cfg, "--key", publicKeyFile(t, audittest.Key(t)))
	if r.code == 0 || strings.Count(r.stdout, "SIGNATURE") != len(f.rows) {
		t.Errorf("verify-log with a wrong key: %s", r)
	}

	// A DBA edits row 5 (after dropping the trigger that refuses it).
	f.exec(t, "DROP TRIGGER attestations_no_update")
	f.exec(t, "UPDATE attestations SET agent = 'human' WHERE seq = 5")
	r = runAgentgate(t, nil, "audit", "verify-log", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stdout, "EDITED") || !strings.Contains(r.stdout, f.rows[4].ID) || !strings.Contains(r.stderr, "problem(s) in the attestation log") {
		t.Errorf("verify-log after an edit: %s", r)
	}
	if r := runAgentgate(t, nil, "audit", "verify-log", "--config", cfg, "--no-signatures"); r.code != 1 || !strings.Contains(r.stdout, "signatures not checked") {
		t.Errorf("--no-signatures still finds the edit: %s", r)
	}

	// Without the signing key there is nothing to check signatures with.
	noKey := writeTemp(t, "config.yaml", []byte("data_dir: "+t.TempDir()+"\ndatabase_url: "+f.dbPath+"\n"))
	if r := runAgentgate(t, nil, "audit", "verify-log", "--config", noKey); r.code == 0 || !strings.Contains(r.stderr, "--key FILE") {
		t.Errorf("no signing key: %s", r)
	}
}

// TestAuditRecordedHead: rows cut from the end of the log leave a chain
// consistent in itself, which verify and verify-log pass; checked against
// a head recorded earlier (--head SEQ:HASH) both fail and say why.
func TestAuditRecordedHead(t *testing.T) {
	f := newAuditFixture(t)
	cfg := writeTemp(t, "config.yaml", []byte("data_dir: "+f.dir+"\ndatabase_url: sqlite://"+f.dbPath+"\nsigning:\n  key_file: "+f.keyFile+"\n"))
	last := f.rows[len(f.rows)-1]
	head := fmt.Sprintf("%d:%s", last.Seq, last.RowHash)
	if r := f.audit(t, f.tokenFile, "verify", "--head", head); r.code != 0 || !strings.Contains(r.stdout, "still has the recorded hash") {
		t.Fatalf("verify --head of an intact log: %s", r)
	}
	if r := runAgentgate(t, nil, "audit", "verify-log", "--config", cfg, "--head", head); r.code != 0 || !strings.Contains(r.stdout, "still has the recorded hash") {
		t.Fatalf("verify-log --head of an intact log: %s", r)
	}
	if r := f.audit(t, f.tokenFile, "verify", "--head", "12:nothex"); r.code != 2 || !strings.Contains(r.stderr, "SEQ:HASH") {
		t.Errorf("a malformed --head: %s", r)
	}

	// A DBA cuts the last merge (its rows at the end of the log).
	f.exec(t, "DROP TRIGGER attestations_no_delete")
	f.exec(t, "DROP TRIGGER attestation_bundles_no_delete")
	f.exec(t, "DELETE FROM attestation_bundles WHERE seq > ?", f.rows[7].Seq)
	f.exec(t, "DELETE FROM attestations WHERE seq > ?", f.rows[7].Seq)
	if r := f.audit(t, f.tokenFile, "verify"); r.code != 0 {
		t.Fatalf("without a recorded head the cut is invisible, as documented: %s", r)
	}
	r := f.audit(t, f.tokenFile, "verify", "--head", head)
	if r.code != 1 || !strings.Contains(r.stderr, fmt.Sprintf("row %d", last.Seq)) || !strings.Contains(r.stderr, "is gone") {
		t.Errorf("verify --head after the cut: %s", r)
	}
	r = runAgentgate(t, nil, "audit", "verify-log", "--config", cfg, "--head", head)
	if r.code != 1 || !strings.Contains(r.stderr, "cut from the end") {
		t.Errorf("verify-log --head after the cut: %s", r)
	}
}
