package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/store"
	"github.com/agentgate/agentgate/store/storetest"
)

// TestAttestationWriterGroupsCommits appends many merges at once through
// one writer: each caller gets back exactly its own rows, a merge two
// callers send at once is stored once and handed to one of them, a bad
// merge fails only its caller, and the log audits clean.
func TestAttestationWriterGroupsCommits(t *testing.T) {
	s := newAttestationSigner(t)
	const callers = 24
	merges := make([][]store.Attestation, callers)
	for i := range merges {
		merges[i] = s.merge(t, fmt.Sprintf("acme/r%d", i%3), 500+i, attT0.Add(time.Duration(i)*time.Second))
	}
	bad := s.merge(t, "acme/bad", 999, attT0)
	bad[2].Bundle = nil // AppendAttestations refuses a row without a bundle
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			w := store.NewAttestationWriter(st)
			type result struct {
				caller int
				rows   []store.Attestation
				err    error
			}
			results := make(chan result, callers+4)
			var wg sync.WaitGroup
			start := make(chan struct{})
			send := func(caller int, rows []store.Attestation) {
				defer wg.Done()
				<-start
				got, err := w.AppendCommit(ctx, rows)
				results <- result{caller, got, err}
			}
			for i := range merges {
				wg.Add(1)
				go send(i, merges[i])
			}
			wg.Add(3)
			go send(-1, merges[0]) // the same merge, twice at once
			go send(-2, bad)
			go send(-3, nil)
			close(start)
			wg.Wait()
			close(results)

			got := map[int]result{}
			for r := range results {
				got[r.caller] = r
			}
			if got[-2].err == nil {
				t.Errorf("the merge without a bundle was stored: %+v", got[-2].rows)
			}
			if got[-3].err != nil || len(got[-3].rows) != 0 {
				t.Errorf("an empty append: %v %v", got[-3].rows, got[-3].err)
			}
			if n0, dup := len(got[0].rows), len(got[-1].rows); n0+dup != 5 || n0 != 0 && dup != 0 {
				t.Errorf("one merge sent twice at once: %d and %d rows, want 5 for one of them", n0, dup)
			}
			for i := 1; i < callers; i++ {
				r := got[i]
				if r.err != nil || len(r.rows) != 5 {
					t.Fatalf("caller %d: %d rows, %v", i, len(r.rows), r.err)
				}
				for _, row := range r.rows {
					if row.Commit != merges[i][0].Commit || row.Seq == 0 || row.RowHash == "" {
						t.Errorf("caller %d got someone else's or an unfilled row: %+v", i, row)
					}
				}
			}
			want := int64(callers * 5)
			head, err := st.AttestationLogHead(ctx)
			if err != nil || head.Count != want {
				t.Fatalf("head %+v (%v), want %d rows", head, err, want)
			}
			rep, err := st.AuditAttestationLog(ctx, s.check)
			if err != nil || !rep.OK() || rep.Rows != want {
				t.Fatalf("audit: rows %d, findings %v, err %v", rep.Rows, rep.Findings, err)
			}
		})
	}
}

// TestAppendCommitsKeepsOnePassPerCommit: a second pass over a landed
// commit that read different facts (a check that finished later) adds
// nothing, so the commit's statements stay the set one pass signed and its
// VSA's list of inputs stays true; another commit in the same call lands.
func TestAppendCommitsKeepsOnePassPerCommit(t *testing.T) {
	s := newAttestationSigner(t)
	first := s.merge(t, "acme/web", 700, attT0)
	second := s.merge(t, "acme/web", 700, attT0.Add(time.Minute))
	second[1].Name = "test-rerun" // a statement the first pass did not have
	other := s.merge(t, "acme/web", 701, attT0)
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			got, err := st.AppendCommits(ctx, [][]store.Attestation{first})
			if err != nil || len(got[0]) != 5 {
				t.Fatalf("first pass: %d rows, %v", len(got[0]), err)
			}
			got, err = st.AppendCommits(ctx, [][]store.Attestation{second, other})
			if err != nil {
				t.Fatal(err)
			}
			if len(got[0]) != 0 || len(got[1]) != 5 {
				t.Fatalf("second pass over 700 stored %d rows (want 0); 701 stored %d (want 5)", len(got[0]), len(got[1]))
			}
			if _, err := st.AppendCommits(ctx, [][]store.Attestation{append(first[:1:1], other[0])}); err == nil {
				t.Error("a group mixing two commits was taken")
			}
		})
	}
}
