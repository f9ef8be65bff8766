package attestlog_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/provenance/attestlog"
)

func sampleEntry() attestlog.Entry {
	return attestlog.Entry{
		Seq:           7,
		ID:            "att_01jd0000000000000000000000",
		Repository:    "acme/widgets",
		Commit:        "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
		PullNumber:    42,
		PredicateType: "https://slsa.dev/provenance/v1",
		Name:          "",
		Agent:         "claude-code",
		Model:         "claude-sonnet-4.5",
		SignerKeyID:   "k1",
		SignedAt:      time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
		BundleSHA256:  strings.Repeat("ab", 32),
		PrevHash:      strings.Repeat("cd", 32),
	}
}

// TestHashIsPinned: the stored chain depends on this encoding; a change
// to it would make every existing log look edited. The value was computed
// by a separate implementation of the documented encoding (a few lines of
// Python's hashlib and struct.pack(">Q"/">q")), not by this package.
func TestHashIsPinned(t *testing.T) {
	const want = "5a9861a11884680a2d0709a9be772eb6a3ed78b81700b824d23ac2096f4dd64e"
	if got := sampleEntry().Hash(); got != want {
		t.Fatalf("Hash() = %s, want %s (the encoding changed: stored logs would no longer verify)", got, want)
	}
}

func TestHashCoversEveryField(t *testing.T) {
	base := sampleEntry()
	h := base.Hash()
	edits := map[string]func(e *attestlog.Entry){
		"Seq":           func(e *attestlog.Entry) { e.Seq++ },
		"ID":            func(e *attestlog.Entry) { e.ID += "x" },
		"Repository":    func(e *attestlog.Entry) { e.Repository = "acme/gadgets" },
		"Commit":        func(e *attestlog.Entry) { e.Commit = strings.Repeat("1", 40) },
		"PullNumber":    func(e *attestlog.Entry) { e.PullNumber = 43 },
		"PredicateType": func(e *attestlog.Entry) { e.PredicateType = "https://slsa.dev/verification_summary/v1" },
		"Name":          func(e *attestlog.Entry) { e.Name = "ci/test" },
		"Agent":         func(e *attestlog.Entry) { e.Agent = "codex" },
		"Model":         func(e *attestlog.Entry) { e.Model = "gpt-5" },
		"SignerKeyID":   func(e *attestlog.Entry) { e.SignerKeyID = "k2" },
		"SignedAt":      func(e *attestlog.Entry) { e.SignedAt = e.SignedAt.Add(time.Millisecond) },
		"BundleSHA256":  func(e *attestlog.Entry) { e.BundleSHA256 = strings.Repeat("ef", 32) },
		"PrevHash":      func(e *attestlog.Entry) { e.PrevHash = attestlog.Genesis },
	}
	if n := reflect.TypeOf(base).NumField(); n != len(edits) {
		t.Fatalf("Entry has %d fields, the test edits %d: cover the new field in Hash and here", n, len(edits))
	}
	for name, edit := range edits {
		e := base
		edit(&e)
		if e.Hash() == h {
			t.Errorf("changing %s does not change the hash", name)
		}
	}

	// Lengths are part of the encoding: moving a byte from one field to
	// the next is a different entry.
	a, b := base, base
	a.Agent, a.Model = "claude-code", "x"
	b.Agent, b.Model = "claude-cod", "ex"
	if a.Hash() == b.Hash() {
		t.Error("fields are not length-prefixed: a byte moved across a boundary hashes the same")
	}

	// Only milliseconds are hashed, in any time zone.
	c := base
	c.SignedAt = base.SignedAt.Truncate(time.Millisecond).In(time.FixedZone("X", 3600))
	if c.Hash() != h {
		t.Error("the hash depends on sub-millisecond time or the time zone")
	}
	var z attestlog.Entry
	if attestlog.Millis(z.SignedAt) != 0 {
		t.Errorf("Millis(zero time) = %d, want 0", attestlog.Millis(z.SignedAt))
	}
}

// --- a log to tamper with ---

var macKey = []byte("the signing key, which a tamperer does not have")

// bundleFor stands in for a signed bundle: the row's id and commit and a
// MAC over them only the key holder can make. (The store's tests use real
// Sigstore bundles; this keeps thousands of fuzzed logs fast.)
func bundleFor(id, commit string) []byte {
	payload := id + "|" + commit
	m := hmac.New(sha256.New, macKey)
	m.Write([]byte(payload))
	return []byte(payload + "|" + hex.EncodeToString(m.Sum(nil)))
}

// checkMAC is the signature check: the bundle's MAC is good and the
// bundle is about this row.
func checkMAC(r attestlog.Row) error {
	parts := strings.Split(string(r.Bundle), "|")
	if len(parts) != 3 {
		return errors.New("malformed bundle")
	}
	m := hmac.New(sha256.New, macKey)
	m.Write([]byte(parts[0] + "|" + parts[1]))
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(parts[2])) {
		return errors.New("signature does not verify")
	}
	if parts[0] != r.ID || parts[1] != r.Commit {
		return fmt.Errorf("the bundle is about %s, not this row", parts[0])
	}
	return nil
}

func id(i int) string { return fmt.Sprintf("att_%04d", i) }

// buildLog makes an intact log of n rows.
func buildLog(n int) []attestlog.Row {
	rows := make([]attestlog.Row, 0, n)
	prev := attestlog.Genesis
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		commit := fmt.Sprintf("%040x", i)
		b := bundleFor(id(i), commit)
		r := attestlog.Row{Entry: attestlog.Entry{
			Seq: int64(i), ID: id(i), Repository: "acme/widgets", Commit: commit, PullNumber: i,
			PredicateType: "https://slsa.dev/provenance/v1", Agent: "claude-code", Model: "m1",
			SignerKeyID: "k1", SignedAt: t0.Add(time.Duration(i) * time.Minute),
			BundleSHA256: attestlog.BundleSHA256(b), PrevHash: prev,
		}, Bundle: b}
		r.RowHash = r.Entry.Hash()
		prev = r.RowHash
		rows = append(rows, r)
	}
	return rows
}

func audit(rows []attestlog.Row, check func(attestlog.Row) error) attestlog.Report {
	a := attestlog.NewAuditor()
	for _, r := range rows {
		a.Add(r, check)
	}
	return a.Finish()
}

// forged is a row a tamperer makes: plausible fields, a correct hash, but
// a bundle it could not sign (a copy of another row's).
func forged(seq int64, prev string, copyOf attestlog.Row) attestlog.Row {
	r := attestlog.Row{Entry: copyOf.Entry, Bundle: copyOf.Bundle}
	r.Seq, r.ID, r.PrevHash, r.Model = seq, "att_evil", prev, "m2"
	r.RowHash = r.Entry.Hash()
	return r
}

func clone(rows []attestlog.Row) []attestlog.Row { return append([]attestlog.Row(nil), rows...) }

// insertRenumbered splices x in at index i and renumbers the rows after,
// as a tamperer must when seq is unique.
func insertRenumbered(rows []attestlog.Row, i int) []attestlog.Row {
	prev := attestlog.Genesis
	if i > 0 {
		prev = rows[i-1].RowHash
	}
	x := forged(int64(i+1), prev, rows[i])
	out := append(clone(rows[:i]), x)
	for _, r := range rows[i:] {
		r.Seq++
		out = append(out, r)
	}
	return out
}

func deleteRows(rows []attestlog.Row, i, j int, renumber bool) []attestlog.Row {
	out := clone(rows[:i])
	for _, r := range rows[j+1:] {
		if renumber {
			r.Seq -= int64(j - i + 1)
		}
		out = append(out, r)
	}
	return out
}

func TestAuditor(t *testing.T) {
	base := buildLog(12)
	type want struct {
		kind   string
		seq    int64
		id     string
		detail string // exact when set
	}
	cases := []struct {
		name   string
		rows   func() []attestlog.Row
		check  func(attestlog.Row) error
		want   []want
		noHead bool
	}{
		{name: "intact", rows: func() []attestlog.Row { return base }, check: checkMAC},
		{name: "edited field", rows: func() []attestlog.Row {
			r := clone(base)
			r[6].Model = "m-other"
			return r
		}, check: checkMAC, want: []want{{attestlog.KindEdited, 7, id(7), "row 7 (att_0007) was edited: its hash does not match its contents"}}},
		{name: "edited and rehashed", rows: func() []attestlog.Row {
			r := clone(base)
			r[6].Model = "m-other"
			r[6].RowHash = r[6].Entry.Hash()
			return r
		}, check: checkMAC, want: []want{{attestlog.KindEdited, 7, id(7), "row 7 (att_0007) was edited: its hash was recomputed, but row 8 (att_0008) chains to a different hash"}}},
		{name: "row hash replaced", rows: func() []attestlog.Row {
			r := clone(base)
			r[3].RowHash = strings.Repeat("1", 64)
			return r
		}, check: checkMAC, want: []want{{kind: attestlog.KindEdited, seq: 4, id: id(4)}}},
		{name: "prev hash replaced", rows: func() []attestlog.Row {
			r := clone(base)
			r[3].PrevHash = strings.Repeat("1", 64)
			return r
		}, check: checkMAC, want: []want{{kind: attestlog.KindEdited, seq: 4, id: id(4)}}},
		{name: "first row edited", rows: func() []attestlog.Row {
			r := clone(base)
			r[0].Agent = "codex"
			return r
		}, check: checkMAC, want: []want{{kind: attestlog.KindEdited, seq: 1, id: id(1)}}},
		{name: "one deleted", rows: func() []attestlog.Row { return deleteRows(base, 4, 4, false) }, check: checkMAC,
			want: []want{{attestlog.KindDeleted, 5, "", "row 5 was deleted: row 6 (att_0006) follows row 4"}}},
		{name: "two deleted", rows: func() []attestlog.Row { return deleteRows(base, 4, 5, false) }, check: checkMAC,
			want: []want{{attestlog.KindDeleted, 5, "", "rows 5–6 were deleted: row 7 (att_0007) follows row 4"}}},
		{name: "first rows deleted", rows: func() []attestlog.Row { return deleteRows(base, 0, 2, false) }, check: checkMAC,
			want: []want{{attestlog.KindDeleted, 1, "", "rows 1–3 were deleted: row 4 (att_0004) is the first row"}}},
		{name: "deleted and renumbered", rows: func() []attestlog.Row { return deleteRows(base, 4, 6, true) }, check: checkMAC,
			want: []want{{attestlog.KindDeleted, 5, "", "rows 5–7 were deleted: row 5 (att_0008) follows row 4, and the rows after were renumbered (row 5 was row 8 when signed)"}}},
		{name: "inserted in the middle", rows: func() []attestlog.Row { return insertRenumbered(base, 8) }, check: checkMAC,
			want: []want{{attestlog.KindInserted, 9, "att_evil", "row 9 (att_evil) was inserted: row 10 (att_0009) chains to row 8 (it was row 9 when signed)"}}},
		{name: "inserted first", rows: func() []attestlog.Row { return insertRenumbered(base, 0) }, check: checkMAC,
			want: []want{{attestlog.KindInserted, 1, "att_evil", "row 1 (att_evil) was inserted: row 2 (att_0001) chains to the genesis hash (it was row 1 when signed)"}}},
		{name: "inserted before the last", rows: func() []attestlog.Row { return insertRenumbered(base, 11) }, check: checkMAC,
			want: []want{{kind: attestlog.KindInserted, seq: 12, id: "att_evil"}}},
		{name: "two inserted", rows: func() []attestlog.Row { return insertRenumbered(insertRenumbered(base, 5), 5) }, check: checkMAC,
			want: []want{{kind: attestlog.KindInserted, seq: 6, id: "att_evil"}, {kind: attestlog.KindInserted, seq: 7, id: "att_evil"}}},
		{name: "inserted with a duplicate seq, before the genuine row", rows: func() []attestlog.Row {
			r := clone(base)
			x := forged(6, r[4].RowHash, r[5])
			return append(append(r[:5:5], x), base[5:]...)
		}, check: checkMAC, want: []want{{kind: attestlog.KindInserted, seq: 6, id: "att_evil"}}},
		{name: "inserted with a duplicate seq, after the genuine row", rows: func() []attestlog.Row {
			r := clone(base)
			x := forged(6, r[4].RowHash, r[5])
			return append(append(r[:6:6], x), base[6:]...)
		}, check: checkMAC, want: []want{{attestlog.KindInserted, 6, "att_evil", "row 6 (att_evil) was inserted: it chains to row 5 (att_0005), which row 6 (att_0006) already follows"}}},
		{name: "appended chaining to an old row", rows: func() []attestlog.Row {
			return append(clone(base), forged(13, base[4].RowHash, base[3]))
		}, check: checkMAC, want: []want{{kind: attestlog.KindInserted, seq: 13, id: "att_evil"}}},
		{name: "appended with a good chain", rows: func() []attestlog.Row {
			return append(clone(base), forged(13, base[11].RowHash, base[3]))
		}, check: checkMAC, want: []want{{attestlog.KindSignature, 13, "att_evil", "row 13 (att_evil) fails the bundle check: the bundle is about att_0004, not this row"}}},
		{name: "bundle changed", rows: func() []attestlog.Row {
			r := clone(base)
			r[2].Bundle = append([]byte(nil), r[2].Bundle...)
			r[2].Bundle[0] ^= 1
			return r
		}, check: checkMAC, want: []want{{kind: attestlog.KindBundle, seq: 3, id: id(3)}}},
		{name: "bundle and its digest changed", rows: func() []attestlog.Row {
			r := clone(base)
			r[2].Bundle = bundleFor("att_other", r[2].Commit)
			r[2].BundleSHA256 = attestlog.BundleSHA256(r[2].Bundle)
			return r
		}, check: checkMAC, want: []want{{kind: attestlog.KindEdited, seq: 3, id: id(3)}}},
		{name: "bundle swapped and row rehashed", rows: func() []attestlog.Row {
			r := clone(base)
			r[2].Bundle = bundleFor("att_other", r[2].Commit)
			r[2].BundleSHA256 = attestlog.BundleSHA256(r[2].Bundle)
			r[2].RowHash = r[2].Entry.Hash()
			return r
		}, check: checkMAC, want: []want{{kind: attestlog.KindEdited, seq: 3, id: id(3)}}},
		{name: "bundle not read", rows: func() []attestlog.Row {
			r := clone(base)
			for i := range r {
				r[i].Bundle = nil
			}
			return r
		}},
		{name: "renumbered", rows: func() []attestlog.Row {
			r := clone(base)
			for i := 7; i < len(r); i++ {
				r[i].Seq += 10
			}
			return r
		}, check: checkMAC, want: []want{{attestlog.KindEdited, 18, id(8), "row 18 (att_0008) was renumbered: it was row 8 when signed"}}},
		{name: "cut at the end", rows: func() []attestlog.Row { return base[:9] }, check: checkMAC, noHead: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows := tc.rows()
			rep := audit(rows, tc.check)
			if rep.Rows != int64(len(rows)) {
				t.Errorf("Rows = %d, want %d", rep.Rows, len(rows))
			}
			if rep.Head != rows[len(rows)-1].RowHash {
				t.Errorf("Head = %s, want the last row's hash", rep.Head)
			}
			if tc.noHead && rep.Head == base[len(base)-1].RowHash {
				t.Error("a cut log has the full log's head")
			}
			if len(rep.Findings) != len(tc.want) || rep.OK() != (len(tc.want) == 0) {
				t.Fatalf("findings:\n%s\nwant %d: %+v", formatFindings(rep.Findings), len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				f := rep.Findings[i]
				if f.Kind != w.kind || f.Seq != w.seq || f.ID != w.id || (w.detail != "" && f.Detail != w.detail) {
					t.Errorf("finding %d = %+v, want %+v", i, f, w)
				}
			}
		})
	}
}

func TestEmptyLog(t *testing.T) {
	rep := attestlog.NewAuditor().Finish()
	if !rep.OK() || rep.Rows != 0 || rep.Head != attestlog.Genesis {
		t.Fatalf("empty log report = %+v", rep)
	}
}

// TestFindingsAreBounded: an auditor fed a log whose every row was edited
// lists MaxFindings and counts the rest.
func TestFindingsAreBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 12,000 rows")
	}
	rows := buildLog(attestlog.MaxFindings + 2000)
	a := attestlog.NewAuditor()
	for _, r := range rows {
		r.Model = "edited"
		a.Add(r, nil)
	}
	rep := a.Finish()
	if len(rep.Findings) != attestlog.MaxFindings || rep.Omitted != 2000 || rep.OK() {
		t.Fatalf("listed %d, omitted %d", len(rep.Findings), rep.Omitted)
	}
}

func formatFindings(fs []attestlog.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s seq=%d id=%s: %s\n", f.Kind, f.Seq, f.ID, f.Detail)
	}
	return b.String()
}
