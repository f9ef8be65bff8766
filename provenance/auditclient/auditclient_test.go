package auditclient_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
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
	"github.com/agentgate/agentgate/store/storetest"
)

var (
	jan = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	jun = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
)

// world is a real store behind the real API handlers, with a retired key
// (valid January to June) and the active key (from June).
type world struct {
	st          *store.Store
	old, active *sign.LocalKey
	ring        *keyring.Keyring
	url         string
	rows        []store.Attestation
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{st: storetest.Open(t, store.SQLite), old: audittest.Key(t), active: audittest.Key(t)}
	oldPEM, _ := sign.PublicKeyPEM(w.old)
	activePEM, _ := sign.PublicKeyPEM(w.active)
	ring, err := keyring.New(keyring.Key{PEM: activePEM, ValidFrom: jun, Active: true}, keyring.Key{PEM: oldPEM, ValidFrom: jan, ValidUntil: jun})
	if err != nil {
		t.Fatal(err)
	}
	w.ring = ring
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	api, err := server.NewAttestationsAPI(w.st, []config.APIToken{
		{Name: "all", SHA256: sum("all"), Repos: []string{"*"}},
		{Name: "acme", SHA256: sum("acme"), Repos: []string{"acme/*"}},
	}, ring, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

func (w *world) attest(t testing.TB, key *sign.LocalKey, c audittest.Change) {
	t.Helper()
	w.rows = append(w.rows, audittest.Attest(t, w.st, key, c)...)
}

func (w *world) client(t testing.TB, token string) *auditclient.Client {
	t.Helper()
	c, err := auditclient.New(w.url, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (w *world) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := w.st.SQLDB().ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestVerifyGoodLogAcrossKeyRotation(t *testing.T) {
	w := newWorld(t)
	w.attest(t, w.old, audittest.Change{Repository: "acme/web", PullRequest: 1, Checks: []string{"test"}, SignedAt: jan.AddDate(0, 2, 0)})
	w.attest(t, w.active, audittest.Change{Repository: "other/x", PullRequest: 2, SignedAt: jun.AddDate(0, 1, 0)})
	w.attest(t, w.active, audittest.Change{Repository: "acme/web", PullRequest: 3, SignedAt: jun.AddDate(0, 2, 0)})

	ctx := context.Background()
	rep, err := w.client(t, "all").Verify(ctx, auditclient.Options{PageSize: 2, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Rows != int64(len(w.rows)) || !rep.Complete || rep.Head.Count != int64(len(w.rows)) {
		t.Fatalf("report %+v", rep)
	}
	// A scoped token or a filter sees part of the log: still verified, not complete.
	rep, err = w.client(t, "acme").Verify(ctx, auditclient.Options{PageSize: 3})
	if err != nil || !rep.OK() || rep.Complete || rep.Rows != 7 {
		t.Errorf("acme token: %v %+v", err, rep)
	}
	rep, err = w.client(t, "all").Verify(ctx, auditclient.Options{Filter: auditclient.Filter{PredicateType: statement.PredicateVSA}})
	if err != nil || !rep.OK() || rep.Complete || rep.Rows != 3 {
		t.Errorf("VSAs only: %v %+v", err, rep)
	}
}

func TestVerifyKeyWindow(t *testing.T) {
	w := newWorld(t)
	// Signed by the retired key after it was retired, and by the active
	// key before its window opened: both signatures are good, the times
	// are not.
	w.attest(t, w.old, audittest.Change{Repository: "acme/web", PullRequest: 1, SignedAt: jun.Add(time.Hour)})
	w.attest(t, w.active, audittest.Change{Repository: "acme/web", PullRequest: 2, SignedAt: jun.Add(-time.Hour)})
	rep, err := w.client(t, "all").Verify(context.Background(), auditclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failures) != len(w.rows) || len(rep.Chain) != 0 {
		t.Fatalf("%d failures of %d rows, chain %v", len(rep.Failures), len(w.rows), rep.Chain)
	}
	for _, f := range rep.Failures {
		if len(f.Reasons) != 1 || !strings.Contains(f.Reasons[0], "outside key") || !strings.Contains(f.Reasons[0], "window") {
			t.Errorf("%s", f)
		}
	}
	if !strings.Contains(rep.Failures[0].Reasons[0], w.old.KeyID()) || !strings.Contains(rep.Failures[0].Reasons[0], "2026-06-01T00:00:00Z)") {
		t.Errorf("the reason does not name the key and its window: %s", rep.Failures[0])
	}
}

func TestVerifyFindsDeletedAndEditedRows(t *testing.T) {
	w := newWorld(t)
	for pr := 1; pr <= 3; pr++ {
		w.attest(t, w.active, audittest.Change{Repository: "acme/web", PullRequest: pr, SignedAt: jun.AddDate(0, 0, pr)})
	}
	// A DBA deletes rows 5 and 6 (after dropping the triggers).
	w.exec(t, "DROP TRIGGER attestation_bundles_no_delete")
	w.exec(t, "DROP TRIGGER attestations_no_delete")
	w.exec(t, "DELETE FROM attestation_bundles WHERE seq IN (5, 6)")
	w.exec(t, "DELETE FROM attestations WHERE seq IN (5, 6)")
	ctx := context.Background()
	rep, err := w.client(t, "all").Verify(ctx, auditclient.Options{PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || len(rep.Failures) != 0 || len(rep.Chain) != 1 || rep.Chain[0].Kind != "deleted" || !strings.Contains(rep.Chain[0].Detail, "rows 5–6 were deleted") {
		t.Errorf("after deleting rows 5-6: %+v", rep)
	}

	// Edit row 2's signer field: the row's hash shows it, whether or not
	// the view is complete.
	w.exec(t, "DROP TRIGGER attestations_no_update")
	w.exec(t, "UPDATE attestations SET signer_key_id = 'someone-else' WHERE seq = 2")
	for name, opts := range map[string]auditclient.Options{
		"complete": {},
		"filtered": {Filter: auditclient.Filter{PullRequest: 1}},
	} {
		rep, err := w.client(t, "all").Verify(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		edited := false
		for _, c := range rep.Chain {
			edited = edited || (c.Kind == "edited" && c.Seq == 2)
		}
		signer := false
		for _, f := range rep.Failures {
			signer = signer || (f.Seq == 2 && strings.Contains(strings.Join(f.Reasons, ";"), "the row says someone-else"))
		}
		if !edited || !signer {
			t.Errorf("%s view after editing row 2: %+v", name, rep)
		}
	}

	// A row whose bundle is gone is a failure, not an aborted audit.
	w.exec(t, "DELETE FROM attestation_bundles WHERE seq = 3")
	rep, err = w.client(t, "all").Verify(ctx, auditclient.Options{Filter: auditclient.Filter{PullRequest: 1}})
	if err != nil || len(rep.Failures) != 2 || rep.Failures[1].Seq != 3 || !strings.Contains(rep.Failures[1].Reasons[0], "no bundle") {
		t.Errorf("a row without its bundle: %v %+v", err, rep)
	}
}

func TestClientPagesAndErrors(t *testing.T) {
	w := newWorld(t)
	w.attest(t, w.active, audittest.Change{Repository: "acme/web", PullRequest: 1, Checks: []string{"a", "b", "c"}, SignedAt: jun.AddDate(0, 0, 1)})
	c := w.client(t, "all")
	ctx := context.Background()
	var seqs []int64
	if err := c.Each(ctx, auditclient.Filter{}, 2, func(a auditclient.Attestation) error { seqs = append(seqs, a.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seqs) != len(w.rows) || seqs[0] != 1 || seqs[len(seqs)-1] != int64(len(w.rows)) {
		t.Errorf("Each in pages of 2: %v", seqs)
	}
	p, err := c.Page(ctx, auditclient.Filter{}, "", 5)
	if err != nil || len(p.Attestations) != 5 || p.NextCursor == "" {
		t.Errorf("first page of 5: %v %+v", err, p)
	}
	b, err := c.Bundle(ctx, w.rows[0].ID)
	if err != nil || string(b) != string(w.rows[0].Bundle) {
		t.Errorf("Bundle: %v", err)
	}
	head, err := c.LogHead(ctx)
	if err != nil || head.Seq != int64(len(w.rows)) || head.RowHash != w.rows[len(w.rows)-1].RowHash {
		t.Errorf("LogHead: %v %+v", err, head)
	}

	var apiErr *auditclient.APIError
	if _, err := w.client(t, "nope").LogHead(ctx); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Errorf("a wrong token: %v", err)
	}
	if _, err := c.Page(ctx, auditclient.Filter{Repository: "acme"}, "", 0); !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !strings.Contains(apiErr.Message, "owner/name") {
		t.Errorf("a bad filter: %v", err)
	}
	if _, err := c.Bundle(ctx, "att_missing"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Errorf("a missing bundle: %v", err)
	}
	for _, bad := range []string{"", "ftp://x", "gate.example.com"} {
		if _, err := auditclient.New(bad, "t", nil); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if _, err := auditclient.New(w.url, "", nil); err == nil {
		t.Error("New without a token accepted")
	}
}
