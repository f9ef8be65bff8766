package sign_test

import (
	"context"
	"testing"

	"github.com/agentgate/agentgate/provenance/sign"
)

// BenchmarkStatement signs one statement with the local key: DSSE
// envelope, Sigstore bundle, compact JSON (no Rekor, no timestamp).
func BenchmarkStatement(b *testing.B) {
	k := testKey(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sign.Statement(ctx, k, testStatement); err != nil {
			b.Fatal(err)
		}
	}
}
