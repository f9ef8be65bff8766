package statement_test

import (
	"testing"

	"github.com/agentgate/agentgate/provenance/statement"
)

// BenchmarkBuild builds every statement for one merge (provenance, two
// test results, review, VSA).
func BenchmarkBuild(b *testing.B) {
	in := input()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := statement.Build(in); err != nil {
			b.Fatal(err)
		}
	}
}
