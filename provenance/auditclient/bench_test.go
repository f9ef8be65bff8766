package auditclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentgate/agentgate/provenance/auditclient"
	"github.com/agentgate/agentgate/provenance/auditclient/audittest"
)

// BenchmarkAuditVerify runs what `agentgate audit verify` runs over 2,000
// bundles served by the real API over loopback HTTP from a SQLite store:
// list, fetch every bundle, verify it, check the chain. It reports
// bundles/s (client and server share the machine); run with -cpu 2 for
// the 2-core target.
func BenchmarkAuditVerify(b *testing.B) {
	w := newWorld(b)
	for pr := 1; pr <= 500; pr++ { // 4 statements each
		w.attest(b, w.active, audittest.Change{Repository: "acme/web", PullRequest: pr, SignedAt: jun.Add(time.Duration(pr) * time.Minute)})
	}
	c := w.client(b, "all")
	ctx := context.Background()
	b.ResetTimer()
	var rows int64
	for b.Loop() {
		rep, err := c.Verify(ctx, auditclient.Options{})
		if err != nil || !rep.OK() {
			b.Fatalf("%v %+v", err, rep)
		}
		rows += rep.Rows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "bundles/s")
}
