package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/provenance/auditclient/audittest"
	"github.com/agentgate/agentgate/store"
	"github.com/agentgate/agentgate/store/storetest"
)

// BenchmarkAttestSignAndStore measures what one merge costs agentgate once
// the facts are gathered: build the statements (provenance, one test
// result, review, VSA), sign each into a Sigstore bundle with the local
// P-256 key, and append them to the hash-chained log in one transaction.
// "serial" is one merge at a time; "parallel" is 4×GOMAXPROCS merges at
// once, as the queue's workers run a burst of merges: their appends share
// commits (store.AttestationWriter).
// GitHub round trips are not included: they depend on GitHub, not on us.
//
//	go test ./server -run '^$' -bench BenchmarkAttestSignAndStore -benchtime 3s
func BenchmarkAttestSignAndStore(b *testing.B) {
	for _, d := range storetest.Dialects() {
		b.Run(string(d), func(b *testing.B) {
			for _, mode := range []string{"serial", "parallel"} {
				// parallel: 4 merges in flight per core, as the queue's
				// workers run a burst of merges.
				b.Run(mode, func(b *testing.B) {
					st := storetest.Open(b, d)
					a := &Attester{store: st, log: store.NewAttestationWriter(st), signer: audittest.Key(b), now: time.Now}
					ctx := context.Background()
					var next atomic.Int64
					merge := func() {
						n := int(next.Add(1))
						in := audittest.Input(audittest.Change{Repository: "bench/repo", PullRequest: n, Checks: []string{"test"}})
						rows, err := a.signAndStore(ctx, in)
						if err != nil {
							b.Error(err)
							return
						}
						if len(rows) != 4 {
							b.Errorf("merge %d stored %d rows, want 4", n, len(rows))
						}
					}
					b.ResetTimer()
					if mode == "serial" {
						for b.Loop() {
							merge()
						}
					} else {
						b.SetParallelism(4)
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								merge()
							}
						})
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "merges/s")
				})
			}
		})
	}
}
