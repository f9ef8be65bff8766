package attestlog_test

import (
	"bytes"
	"testing"

	"github.com/agentgate/agentgate/provenance/attestlog"
)

// BenchmarkAuditorAdd: one row of an intact log with a 3 KB bundle
// (hash, link and bundle digest; no signature check).
func BenchmarkAuditorAdd(b *testing.B) {
	rows := buildLog(1024)
	for i := range rows {
		rows[i].Bundle = bytes.Repeat([]byte("x"), 3072)
		rows[i].BundleSHA256 = attestlog.BundleSHA256(rows[i].Bundle)
		if i > 0 {
			rows[i].PrevHash = rows[i-1].RowHash
		}
		rows[i].RowHash = rows[i].Entry.Hash()
	}
	b.ReportAllocs()
	a := attestlog.NewAuditor()
	for i := 0; b.Loop(); i++ {
		if i == len(rows) {
			i, a = 0, attestlog.NewAuditor()
		}
		a.Add(rows[i], nil)
	}
	if rep := a.Finish(); !rep.OK() {
		b.Fatalf("findings: %v", rep.Findings)
	}
}
