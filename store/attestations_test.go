package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/provenance/attestlog"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/provenance/verify"
	"github.com/agentgate/agentgate/store"
	"github.com/agentgate/agentgate/store/storetest"
)

const attTestSHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// testSigner signs real statements for the tests, with a verifier that
// trusts only its key.
type testSigner struct {
	key      *sign.LocalKey
	verifier *verify.Verifier
}

func newAttestationSigner(t testing.TB) *testSigner {
	t.Helper()
	k, err := sign.Generate(filepath.Join(t.TempDir(), "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.PublicKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(pub)
	if err != nil {
		t.Fatal(err)
	}
	return &testSigner{key: k, verifier: v}
}

// attCommit is a distinct 40-hex commit per n.
func attCommit(n int) string { return fmt.Sprintf("%040x", 0xc0ffee000000+n) }

// merge signs the five statements of a merged agent PR (provenance, two
// test results, review, VSA) as AppendAttestations takes them.
func (s *testSigner) merge(t testing.TB, repo string, n int, at time.Time) []store.Attestation {
	t.Helper()
	commit := attCommit(n)
	in := &statement.Input{
		Repository: repo, Commit: commit, Tree: attCommit(n + 1<<20), Ref: "refs/heads/main",
		PullRequest: n, Issue: n, Agent: "claude-code", Model: "claude-sonnet-4.5",
		TaskID: fmt.Sprintf("t-%d", n), RunID: fmt.Sprintf("r-%d", n),
		PromptSHA256: attTestSHA256, BaseSHA: attCommit(n + 2<<20), HeadSHA: attCommit(n + 3<<20), PolicyDigest: attTestSHA256,
		Gate: statement.Gate{Passed: true}, InstallationID: 42, BuilderID: "https://agentgate.example.com",
		StartedOn: at.Add(-time.Hour), FinishedOn: at,
		Checks: []statement.Check{
			{Name: "test", Conclusion: "success", URL: "https://github.com/o/r/runs/1"},
			{Name: "lint", Conclusion: "success", URL: "https://github.com/o/r/runs/2"},
		},
		Requester: "alice",
		Reviews:   []statement.Review{{ID: 9, User: "bob", State: "APPROVED", CommitID: attCommit(n + 3<<20)}},
	}
	sts, err := statement.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	var rows []store.Attestation
	for _, st := range sts {
		b, err := sign.Statement(context.Background(), s.key, st.Payload)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, store.Attestation{
			Repository: repo, Commit: commit, PullNumber: n, PredicateType: st.PredicateType, Name: st.Name,
			Agent: in.Agent, Model: in.Model, SignerKeyID: b.KeyID, SignedAt: at, Bundle: b.JSON,
		})
	}
	return rows
}

// check verifies a row's bundle: signed by the test key, about the row's
// commit, of the row's predicate type.
func (s *testSigner) check(r attestlog.Row) error {
	_, err := s.verifier.Verify(r.Bundle, verify.Expect{Commit: r.Commit, PredicateType: r.PredicateType})
	return err
}

func mustAppend(t testing.TB, st *store.Store, rows []store.Attestation) []store.Attestation {
	t.Helper()
	got, err := st.AppendAttestations(context.Background(), rows)
	if err != nil {
		t.Fatalf("AppendAttestations: %v", err)
	}
	return got
}

var attT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func TestAppendAttestations(t *testing.T) {
	s := newAttestationSigner(t)
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)

			head, err := st.AttestationLogHead(ctx)
			if err != nil || head != (store.LogHead{RowHash: attestlog.Genesis}) {
				t.Fatalf("head of an empty log = %+v, %v", head, err)
			}

			merge1 := s.merge(t, "acme/widgets", 1, attT0.Add(123456789*time.Nanosecond))
			got := mustAppend(t, st, merge1)
			if len(got) != 5 {
				t.Fatalf("appended %d rows, want 5", len(got))
			}
			prev := attestlog.Genesis
			ids := map[string]bool{}
			for i, a := range got {
				if a.Seq != int64(i+1) || a.PrevHash != prev || a.RowHash != a.Entry().Hash() {
					t.Errorf("row %d: seq %d, prev %s, hash %s: not chained", i, a.Seq, a.PrevHash, a.RowHash)
				}
				if !strings.HasPrefix(a.ID, "att_") || len(a.ID) != 30 || ids[a.ID] {
					t.Errorf("row %d: id %q", i, a.ID)
				}
				ids[a.ID] = true
				if a.BundleSHA256 != attestlog.BundleSHA256(merge1[i].Bundle) {
					t.Errorf("row %d: bundle sha256 %s", i, a.BundleSHA256)
				}
				if !a.SignedAt.Equal(attT0.Add(123 * time.Millisecond)) {
					t.Errorf("row %d: signed at %v, want it kept to the millisecond", i, a.SignedAt)
				}
				prev = a.RowHash

				stored, err := st.Attestation(ctx, a.ID)
				if err != nil {
					t.Fatalf("Attestation(%s): %v", a.ID, err)
				}
				if !reflect.DeepEqual(stored, a) {
					t.Errorf("Attestation(%s) =\n%+v\nwant what AppendAttestations returned\n%+v", a.ID, stored, a)
				}
			}

			// A redelivered merge adds nothing.
			if again := mustAppend(t, st, s.merge(t, "acme/widgets", 1, attT0.Add(time.Minute))); len(again) != 0 {
				t.Fatalf("a second delivery appended %d rows", len(again))
			}
			// A later merge that repeats one statement (and one twice in
			// the same call) appends only what is new.
			merge2 := s.merge(t, "acme/widgets", 2, attT0.Add(time.Hour))
			batch := append([]store.Attestation{merge1[0], merge2[0]}, merge2...)
			got2 := mustAppend(t, st, batch)
			if len(got2) != 5 || got2[0].Seq != 6 || got2[0].PrevHash != prev || got2[4].Seq != 10 {
				t.Fatalf("second merge appended %d rows starting at seq %d", len(got2), got2[0].Seq)
			}
			if got2[0].Commit != attCommit(2) {
				t.Errorf("first appended row is about %s, want the new merge", got2[0].Commit)
			}

			head, err = st.AttestationLogHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := (store.LogHead{Seq: 10, RowHash: got2[4].RowHash, Count: 10}); head != want {
				t.Errorf("head = %+v, want %+v", head, want)
			}

			if _, err := st.Attestation(ctx, "att_unknown"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("unknown id: %v, want ErrNotFound", err)
			}

			// Bad rows are refused and nothing of the call is appended.
			bad := s.merge(t, "acme/widgets", 3, attT0)
			bad[2].BundleSHA256 = strings.Repeat("0", 64)
			if _, err := st.AppendAttestations(ctx, bad); err == nil || !strings.Contains(err.Error(), "bundle sha256") {
				t.Errorf("a wrong bundle sha256: %v", err)
			}
			bad = s.merge(t, "acme/widgets", 3, attT0)
			bad[4].Bundle = nil
			if _, err := st.AppendAttestations(ctx, bad); err == nil {
				t.Error("a row without a bundle was appended")
			}
			if h, _ := st.AttestationLogHead(ctx); h.Seq != 10 {
				t.Errorf("refused calls appended rows: head %d", h.Seq)
			}

			rep, err := st.AuditAttestationLog(ctx, s.check)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Rows != 10 || rep.Head != head.RowHash {
				t.Errorf("audit: %+v", rep)
			}
		})
	}
}

// exec runs raw SQL as a DBA would, with "?" placeholders on both
// databases.
func dbaExec(t *testing.T, st *store.Store, query string, args ...any) error {
	t.Helper()
	if st.Dialect() == store.Postgres {
		n := 0
		var b strings.Builder
		for _, r := range query {
			if r == '?' {
				n++
				fmt.Fprintf(&b, "$%d", n)
				continue
			}
			b.WriteRune(r)
		}
		query = b.String()
	}
	_, err := st.SQLDB().ExecContext(context.Background(), query, args...)
	return err
}

func mustDBAExec(t *testing.T, st *store.Store, query string, args ...any) {
	t.Helper()
	if err := dbaExec(t, st, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

var appendOnlyTriggers = []struct{ name, table string }{
	{"attestations_no_update", "attestations"},
	{"attestations_no_delete", "attestations"},
	{"attestation_bundles_no_update", "attestation_bundles"},
	{"attestation_bundles_no_delete", "attestation_bundles"},
}

// dropAppendOnly drops the triggers, as a DBA with full rights could, and
// the foreign key from bundles to rows, so rows can be renumbered.
func dropAppendOnly(t *testing.T, st *store.Store) {
	t.Helper()
	for _, tr := range appendOnlyTriggers {
		if st.Dialect() == store.Postgres {
			mustDBAExec(t, st, "DROP TRIGGER "+tr.name+" ON "+tr.table)
		} else {
			mustDBAExec(t, st, "DROP TRIGGER "+tr.name)
		}
	}
	if st.Dialect() == store.Postgres {
		mustDBAExec(t, st, "ALTER TABLE attestation_bundles DROP CONSTRAINT attestation_bundles_seq_fkey")
	} else {
		mustDBAExec(t, st, "PRAGMA foreign_keys = OFF")
	}
}

func TestAttestationsAreAppendOnly(t *testing.T) {
	s := newAttestationSigner(t)
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			st := storetest.Open(t, d)
			mustAppend(t, st, s.merge(t, "acme/widgets", 1, attT0))
			for _, q := range []string{
				"UPDATE attestations SET model = 'other' WHERE seq = 2",
				"UPDATE attestations SET seq = seq + 100",
				"DELETE FROM attestations WHERE seq = 5",
				"DELETE FROM attestations",
				"UPDATE attestation_bundles SET bundle = bundle WHERE seq = 1",
				"DELETE FROM attestation_bundles WHERE seq = 5",
			} {
				err := dbaExec(t, st, q)
				if err == nil || !strings.Contains(err.Error(), "append-only") {
					t.Errorf("%s: %v, want it refused as append-only", q, err)
				}
			}
			if d == store.Postgres {
				for _, q := range []string{"TRUNCATE attestations CASCADE", "TRUNCATE attestation_bundles"} {
					if err := dbaExec(t, st, q); err == nil || !strings.Contains(err.Error(), "append-only") {
						t.Errorf("%s: %v, want it refused as append-only", q, err)
					}
				}
			}
			rep, err := st.AuditAttestationLog(context.Background(), s.check)
			if err != nil || !rep.OK() || rep.Rows != 5 {
				t.Fatalf("after refused changes: %+v, %v", rep, err)
			}
		})
	}
}

// TestAppendAttestationsConcurrently: two stores on one database (two
// processes on one SQLite file, two replicas on one PostgreSQL), each
// appending from several goroutines, never fork the chain.
func TestAppendAttestationsConcurrently(t *testing.T) {
	s := newAttestationSigner(t)
	const stores, workers, merges = 2, 3, 6
	// Sign up front: the test is about the store.
	batches := make([][]store.Attestation, stores*workers*merges)
	for i := range batches {
		batches[i] = s.merge(t, fmt.Sprintf("acme/r%d", i%4), i+1, attT0.Add(time.Duration(i)*time.Second))
	}
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			dsn := storetest.DSN(t, d)
			var sts []*store.Store
			for range stores {
				sts = append(sts, openUnmigrated(t, d, dsn))
			}
			if _, err := sts[0].Migrate(ctx, nil); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, len(batches)*2)
			start := make(chan struct{})
			for si, st := range sts {
				for w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						for m := range merges {
							i := (si*workers+w)*merges + m
							// Each batch is appended twice, from both stores:
							// the second must add nothing.
							for _, other := range []*store.Store{st, sts[(si+1)%stores]} {
								if _, err := other.AppendAttestations(ctx, batches[i]); err != nil {
									errs <- err
									return
								}
							}
						}
					}()
				}
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			want := int64(len(batches) * 5)
			head, err := sts[1].AttestationLogHead(ctx)
			if err != nil || head.Seq != want || head.Count != want {
				t.Fatalf("head %+v (%v), want %d rows", head, err, want)
			}
			rep, err := sts[1].AuditAttestationLog(ctx, s.check)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Rows != want || rep.Head != head.RowHash {
				t.Fatalf("audit after concurrent appends: rows %d, findings %v", rep.Rows, rep.Findings)
			}
		})
	}
}

func TestAuditAttestationLog(t *testing.T) {
	s := newAttestationSigner(t)
	intruder := newAttestationSigner(t)
	const merges = 4 // 20 rows
	var batches [][]store.Attestation
	for i := range merges {
		batches = append(batches, s.merge(t, "acme/widgets", i+1, attT0.Add(time.Duration(i)*time.Hour)))
	}
	forgedBundle := intruder.merge(t, "acme/widgets", 99, attT0)[0].Bundle

	type want struct {
		kind      string
		seq       int64
		id        string // "" = the id of the row now at seq; "-" = none
		detail    string // a substring; %s is the id of the row now at detailSeq
		detailSeq int64
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, st *store.Store, rows []store.Attestation)
		want   []want
	}{
		{name: "intact"},
		{name: "edited", tamper: func(t *testing.T, st *store.Store, rows []store.Attestation) {
			mustDBAExec(t, st, "UPDATE attestations SET model = 'gpt-evil' WHERE seq = 7")
		}, want: []want{{attestlog.KindEdited, 7, "", "was edited: its hash does not match its contents", 0}}},
		{name: "edited and rehashed", tamper: func(t *testing.T, st *store.Store, rows []store.Attestation) {
			r := rows[6]
			r.Agent = "someone-else"
			mustDBAExec(t, st, "UPDATE attestations SET agent = ?, row_hash = ? WHERE seq = 7", r.Agent, r.Entry().Hash())
		}, want: []want{{attestlog.KindEdited, 7, "", "its hash was recomputed, but row 8", 0}}},
		{name: "deleted", tamper: func(t *testing.T, st *store.Store, rows []store.Attestation) {
			mustDBAExec(t, st, "DELETE FROM attestation_bundles WHERE seq IN (9, 10)")
			mustDBAExec(t, st, "DELETE FROM attestations WHERE seq IN (9, 10)")
		}, want: []want{{attestlog.KindDeleted, 9, "-", "rows 9–10 were deleted: row 11 (%s) follows row 8", 11}}},
		{name: "inserted in the middle", tamper: func(t *testing.T, st *store.Store, rows []store.Attestation) {
			// Make room at 13: renumber the rows after 12 up by one.
			for _, table := range []string{"attestation_bundles", "attestations"} {
				mustDBAExec(t, st, "UPDATE "+table+" SET seq = -seq - 1 WHERE seq > 12")
				mustDBAExec(t, st, "UPDATE "+table+" SET seq = -seq WHERE seq < 0")
			}
			x := rows[12]
			x.Seq, x.ID, x.PrevHash, x.Model, x.Name = 13, "att_evil", rows[11].RowHash, "gpt-evil", "extra"
			x.Bundle = rows[2].Bundle // a real signature, about another commit
			x.BundleSHA256 = attestlog.BundleSHA256(x.Bundle)
			x.RowHash = x.Entry().Hash()
			insertRaw(t, st, x)
		}, want: []want{{attestlog.KindInserted, 13, "att_evil", "row 13 (att_evil) was inserted: row 14 (%s) chains to row 12", 14}}},
		{name: "inserted at the end", tamper: func(t *testing.T, st *store.Store, rows []store.Attestation) {
			last := rows[len(rows)-1]
			x := last
			x.Seq, x.ID, x.PrevHash, x.PredicateType, x.Name = last.Seq+1, "att_evil", last.RowHash, "https://slsa.dev/provenance/v1", "again"
			x.Bundle = forgedBundle // signed, but not by a trusted key
			x.BundleSHA256 = attestlog.BundleSHA256(x.Bundle)
			x.RowHash = x.Entry().Hash()
			insertRaw(t, st, x)
		}, want: []want{{attestlog.KindSignature, 21, "att_evil", "fails the bundle check", 0}}},
		{name: "bundle changed", tamper: func(t *testing.T, st *store.Store, rows []store.Attestation) {
			mustDBAExec(t, st, "UPDATE attestation_bundles SET bundle = ? WHERE seq = 4", append(bytes.Clone(rows[3].Bundle), ' '))
		}, want: []want{{attestlog.KindBundle, 4, "", "has a changed bundle", 0}}},
		{name: "max_signed_at lowered", tamper: func(t *testing.T, st *store.Store, rows []store.Attestation) {
			mustDBAExec(t, st, "UPDATE attestations SET max_signed_at = ? WHERE seq = 12", attT0.UnixMilli())
		}, want: []want{{attestlog.KindEdited, 12, "", "so queries by time could miss rows", 0}}},
		{name: "bundle deleted", tamper: func(t *testing.T, st *store.Store, rows []store.Attestation) {
			mustDBAExec(t, st, "DELETE FROM attestation_bundles WHERE seq = 5")
		}, want: []want{{attestlog.KindBundle, 5, "", "has a changed bundle", 0}}},
	}
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					st := storetest.Open(t, d)
					var rows []store.Attestation
					for _, b := range batches {
						rows = append(rows, mustAppend(t, st, b)...)
					}
					if tc.tamper != nil {
						dropAppendOnly(t, st)
						tc.tamper(t, st, rows)
					}
					rep, err := st.AuditAttestationLog(ctx, s.check)
					if err != nil {
						t.Fatal(err)
					}
					if len(rep.Findings) != len(tc.want) || rep.OK() != (len(tc.want) == 0) {
						t.Fatalf("findings: %+v, want %d", rep.Findings, len(tc.want))
					}
					for i, w := range tc.want {
						f := rep.Findings[i]
						id := w.id
						switch id {
						case "":
							id = idAt(t, st, w.seq)
						case "-":
							id = ""
						}
						detail := w.detail
						if w.detailSeq > 0 {
							detail = fmt.Sprintf(detail, idAt(t, st, w.detailSeq))
						}
						if f.Kind != w.kind || f.Seq != w.seq || f.ID != id || !strings.Contains(f.Detail, detail) {
							t.Errorf("finding %+v, want %s at %d (%q) saying %q", f, w.kind, w.seq, id, detail)
						}
					}
				})
			}
		})
	}
}

// idAt is the id of the row now at seq.
func idAt(t *testing.T, st *store.Store, seq int64) string {
	t.Helper()
	page, err := st.QueryAttestations(context.Background(), store.AttestationQuery{AfterSeq: seq - 1, Limit: 1})
	if err != nil || len(page.Items) == 0 || page.Items[0].Seq != seq {
		t.Fatalf("no row at %d: %v", seq, err)
	}
	return page.Items[0].ID
}

// insertRaw inserts a row as a tamperer would, around AppendAttestations.
func insertRaw(t *testing.T, st *store.Store, a store.Attestation) {
	t.Helper()
	mustDBAExec(t, st, `INSERT INTO attestations (seq, id, repository, commit_sha, pull_number, predicate_type, name,
		agent, model, signer_key_id, signed_at, max_signed_at, bundle_sha256, prev_hash, row_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Seq, a.ID, a.Repository, a.Commit, a.PullNumber, a.PredicateType, a.Name,
		a.Agent, a.Model, a.SignerKeyID, a.SignedAt.UnixMilli(), a.SignedAt.UnixMilli(), a.BundleSHA256, a.PrevHash, a.RowHash)
	mustDBAExec(t, st, "INSERT INTO attestation_bundles (seq, bundle) VALUES (?, ?)", a.Seq, a.Bundle)
}

// seedSignedAt is row i's signing time: an hour apart, but every 17th row
// was signed 30½ hours before it was appended (a retried job), so signing
// time is not in chain order.
func seedSignedAt(i int) time.Time {
	if i%17 == 16 {
		return attT0.Add(time.Duration(i-30)*time.Hour - 30*time.Minute)
	}
	return attT0.Add(time.Duration(i) * time.Hour)
}

// seedQueryRows appends n rows spread over repositories, commits, pull
// requests, agents, models, predicate types and an hour apart. The
// bundles are opaque bytes: the queries do not read them.
func seedQueryRows(t *testing.T, st *store.Store, n int) []store.Attestation {
	t.Helper()
	repos := []string{"acme/widgets", "acme/gadgets", "acme-corp/x", "acmex/y", "other/z"}
	types := []string{"https://slsa.dev/provenance/v1", "https://slsa.dev/verification_summary/v1"}
	var rows []store.Attestation
	for i := range n {
		rows = append(rows, store.Attestation{
			Repository: repos[i%len(repos)], Commit: attCommit(i / 2), PullNumber: i/2 + 1,
			PredicateType: types[i%2], Agent: []string{"claude-code", "codex"}[i/2%2], Model: fmt.Sprintf("m%d", i%3),
			SignerKeyID: "k1", SignedAt: seedSignedAt(i), Bundle: []byte(fmt.Sprintf(`{"n":%d}`, i)),
		})
	}
	got := mustAppend(t, st, rows)
	if len(got) != n {
		t.Fatalf("seeded %d rows, want %d", len(got), n)
	}
	return got
}

func seqsOf(as []store.Attestation) []int64 {
	out := []int64{}
	for _, a := range as {
		out = append(out, a.Seq)
	}
	return out
}

func TestQueryAttestations(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			all := seedQueryRows(t, st, 130)
			inScope := func(repos ...string) func(a store.Attestation) bool {
				return func(a store.Attestation) bool {
					for _, r := range repos {
						if a.Repository == r {
							return true
						}
					}
					return false
				}
			}
			cases := []struct {
				name  string
				query store.AttestationQuery
				match func(a store.Attestation) bool
			}{
				{"everything", store.AttestationQuery{Limit: 1000}, func(store.Attestation) bool { return true }},
				{"repository", store.AttestationQuery{Repository: "acme/gadgets"}, inScope("acme/gadgets")},
				{"commit", store.AttestationQuery{Commit: attCommit(7)}, func(a store.Attestation) bool { return a.Commit == attCommit(7) }},
				{"commit in another repository", store.AttestationQuery{Commit: attCommit(7), Repository: "acme/gadgets"}, func(store.Attestation) bool { return false }},
				{"pull request", store.AttestationQuery{PullNumber: 9}, func(a store.Attestation) bool { return a.PullNumber == 9 }},
				{"pull request and repository", store.AttestationQuery{PullNumber: 9, Repository: "acme-corp/x"}, func(a store.Attestation) bool {
					return a.PullNumber == 9 && a.Repository == "acme-corp/x"
				}},
				{"agent", store.AttestationQuery{Agent: "codex"}, func(a store.Attestation) bool { return a.Agent == "codex" }},
				{"model", store.AttestationQuery{Model: "m2"}, func(a store.Attestation) bool { return a.Model == "m2" }},
				{"predicate type", store.AttestationQuery{PredicateType: "https://slsa.dev/verification_summary/v1"}, func(a store.Attestation) bool {
					return a.PredicateType == "https://slsa.dev/verification_summary/v1"
				}},
				{"since", store.AttestationQuery{Since: attT0.Add(100 * time.Hour)}, func(a store.Attestation) bool { return !a.SignedAt.Before(attT0.Add(100 * time.Hour)) }},
				{"since, after the cursor", store.AttestationQuery{Since: attT0.Add(30 * time.Hour), AfterSeq: 60, Limit: 10}, func(a store.Attestation) bool {
					return !a.SignedAt.Before(attT0.Add(30*time.Hour)) && a.Seq > 60
				}},
				{"since a late row's signing", store.AttestationQuery{Since: seedSignedAt(50)}, func(a store.Attestation) bool { return !a.SignedAt.Before(seedSignedAt(50)) }},
				{"since the last row", store.AttestationQuery{Since: attT0.Add(129 * time.Hour)}, func(a store.Attestation) bool { return !a.SignedAt.Before(attT0.Add(129 * time.Hour)) }},
				{"since after every row", store.AttestationQuery{Since: attT0.Add(1000 * time.Hour)}, func(store.Attestation) bool { return false }},
				{"until", store.AttestationQuery{Until: attT0.Add(10 * time.Hour)}, func(a store.Attestation) bool { return a.SignedAt.Before(attT0.Add(10 * time.Hour)) }},
				{"until, late rows", store.AttestationQuery{Until: attT0.Add(40 * time.Hour)}, func(a store.Attestation) bool { return a.SignedAt.Before(attT0.Add(40 * time.Hour)) }},
				{"a range", store.AttestationQuery{Since: attT0.Add(20 * time.Hour), Until: attT0.Add(90 * time.Hour), Limit: 30}, func(a store.Attestation) bool {
					return !a.SignedAt.Before(attT0.Add(20*time.Hour)) && a.SignedAt.Before(attT0.Add(90*time.Hour))
				}},
				{"one day of a repository", store.AttestationQuery{Repository: "acme/widgets", Since: attT0.Add(24 * time.Hour), Until: attT0.Add(48 * time.Hour)},
					func(a store.Attestation) bool {
						return a.Repository == "acme/widgets" && !a.SignedAt.Before(attT0.Add(24*time.Hour)) && a.SignedAt.Before(attT0.Add(48*time.Hour))
					}},
				{"everything together", store.AttestationQuery{Repository: "acme/widgets", Agent: "claude-code", Model: "m0",
					PredicateType: "https://slsa.dev/provenance/v1", Since: attT0, Until: attT0.Add(100 * time.Hour)},
					func(a store.Attestation) bool {
						return a.Repository == "acme/widgets" && a.Agent == "claude-code" && a.Model == "m0" &&
							a.PredicateType == "https://slsa.dev/provenance/v1" && a.SignedAt.Before(attT0.Add(100*time.Hour))
					}},
				{"nothing matches", store.AttestationQuery{Agent: "nobody"}, func(store.Attestation) bool { return false }},
				{"scope: one repository", store.AttestationQuery{Repositories: []string{"acme/widgets"}}, inScope("acme/widgets")},
				{"scope: an owner", store.AttestationQuery{Repositories: []string{"acme/*"}}, inScope("acme/widgets", "acme/gadgets")},
				{"scope: an owner and a repository", store.AttestationQuery{Repositories: []string{"acme/*", "other/z"}}, inScope("acme/widgets", "acme/gadgets", "other/z")},
				{"scope: an owner whose name prefixes others", store.AttestationQuery{Repositories: []string{"acmex/*"}}, inScope("acmex/y")},
				{"scope: everything", store.AttestationQuery{Repositories: []string{"*"}}, func(store.Attestation) bool { return true }},
				{"scope: empty", store.AttestationQuery{Repositories: []string{}}, func(store.Attestation) bool { return false }},
				{"scope limits a repository filter", store.AttestationQuery{Repositories: []string{"acme/*"}, Repository: "other/z"}, func(store.Attestation) bool { return false }},
				{"scope and a filter", store.AttestationQuery{Repositories: []string{"acme/*"}, Model: "m1"}, func(a store.Attestation) bool {
					return strings.HasPrefix(a.Repository, "acme/") && a.Model == "m1"
				}},
			}
			for _, tc := range cases {
				for _, plan := range []struct {
					name    string
					maxRows int64
				}{{"time index", 1 << 40}, {"chain order", 0}} {
					t.Run(tc.name+"/"+plan.name, func(t *testing.T) {
						old := store.SetTimeIndexMaxRows(plan.maxRows)
						defer store.SetTimeIndexMaxRows(old)
						attestationQueryCase(t, st, all, tc.query, tc.match)
					})
				}
			}

			t.Run("cursor", func(t *testing.T) {
				for _, limit := range []int{1, 7, 13, 65, 130} {
					var got []int64
					q := store.AttestationQuery{Repositories: []string{"acme/*", "other/z"}, Limit: limit}
					pages := 0
					for {
						page, err := st.QueryAttestations(ctx, q)
						if err != nil {
							t.Fatal(err)
						}
						pages++
						got = append(got, seqsOf(page.Items)...)
						if page.NextAfterSeq == 0 {
							break
						}
						if page.NextAfterSeq != page.Items[len(page.Items)-1].Seq || len(page.Items) != limit {
							t.Fatalf("limit %d: page of %d ends at %d, cursor %d", limit, len(page.Items), page.Items[len(page.Items)-1].Seq, page.NextAfterSeq)
						}
						q.AfterSeq = page.NextAfterSeq
					}
					var want []int64
					for _, a := range all {
						if a.Repository != "acme-corp/x" && a.Repository != "acmex/y" {
							want = append(want, a.Seq)
						}
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("limit %d: paged through %v, want %v", limit, got, want)
					}
					if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
						t.Errorf("limit %d: %d pages, want %d (no empty last page)", limit, pages, wantPages)
					}
				}
				page, err := st.QueryAttestations(ctx, store.AttestationQuery{AfterSeq: 130})
				if err != nil || len(page.Items) != 0 || page.NextAfterSeq != 0 {
					t.Errorf("after the last row: %+v, %v", page, err)
				}
			})

			t.Run("limits", func(t *testing.T) {
				page, err := st.QueryAttestations(ctx, store.AttestationQuery{})
				if err != nil || len(page.Items) != store.DefaultAttestationLimit || page.NextAfterSeq != 100 {
					t.Errorf("default limit: %d rows, next %d, %v", len(page.Items), page.NextAfterSeq, err)
				}
				page, err = st.QueryAttestations(ctx, store.AttestationQuery{Limit: store.MaxAttestationLimit})
				if err != nil || len(page.Items) != 130 || page.NextAfterSeq != 0 {
					t.Errorf("limit 1000: %d rows, next %d, %v", len(page.Items), page.NextAfterSeq, err)
				}
				for _, q := range []store.AttestationQuery{
					{Limit: store.MaxAttestationLimit + 1},
					{Limit: -1},
					{AfterSeq: -1},
					{PullNumber: -3},
					{Repositories: []string{"acme"}},
					{Repositories: []string{"*/x"}},
					{Repositories: []string{"acme/wid*"}},
					{Repositories: []string{"acme/x/y"}},
					{Repositories: []string{"/x"}},
				} {
					if _, err := st.QueryAttestations(ctx, q); !errors.Is(err, store.ErrInvalidQuery) {
						t.Errorf("%+v: %v, want ErrInvalidQuery", q, err)
					}
				}
			})

			t.Run("bundles", func(t *testing.T) {
				page, err := st.QueryAttestations(ctx, store.AttestationQuery{Commit: attCommit(3), WithBundles: true})
				if err != nil || len(page.Items) != 2 {
					t.Fatalf("%+v, %v", page, err)
				}
				for _, a := range page.Items {
					if want := fmt.Sprintf(`{"n":%d}`, a.Seq-1); string(a.Bundle) != want {
						t.Errorf("row %d bundle %q, want %q", a.Seq, a.Bundle, want)
					}
				}
			})
		})
	}
}

func attestationQueryCase(t *testing.T, st *store.Store, all []store.Attestation, query store.AttestationQuery, match func(store.Attestation) bool) {
	t.Helper()
	page, err := st.QueryAttestations(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	var want []store.Attestation
	for _, a := range all {
		if match(a) {
			want = append(want, a)
		}
	}
	limit := query.Limit
	if limit == 0 {
		limit = store.DefaultAttestationLimit
	}
	wantNext := int64(0)
	if len(want) > limit {
		want = want[:limit]
		wantNext = want[limit-1].Seq
	}
	if !reflect.DeepEqual(seqsOf(page.Items), seqsOf(want)) || page.NextAfterSeq != wantNext {
		t.Fatalf("got rows %v next %d, want %v next %d", seqsOf(page.Items), page.NextAfterSeq, seqsOf(want), wantNext)
	}
	for i, a := range page.Items {
		if a.Bundle != nil {
			t.Fatal("bundles returned without WithBundles")
		}
		w := want[i]
		w.Bundle = nil
		if !reflect.DeepEqual(a, w) {
			t.Fatalf("row %d = %+v, want %+v", a.Seq, a, w)
		}
	}
}
