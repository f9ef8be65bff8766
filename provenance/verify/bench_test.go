package verify_test

import (
	"testing"

	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/provenance/verify"
)

// BenchmarkVerify verifies one provenance bundle: sigstore-go's verifier,
// the in-toto DSSE verifier, subject and predicate type.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	v := newVerifier(b, f.pubPEM)
	want := verify.Expect{Commit: landed, PredicateType: statement.PredicateProvenance}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(f.bundles[0].JSON, want); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyParallel is the same across GOMAXPROCS goroutines (one
// Verifier shared), the shape of `agentgate audit verify`.
func BenchmarkVerifyParallel(b *testing.B) {
	f := newFixture(b)
	v := newVerifier(b, f.pubPEM)
	want := verify.Expect{Commit: landed, PredicateType: statement.PredicateProvenance}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(f.bundles[0].JSON, want); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
