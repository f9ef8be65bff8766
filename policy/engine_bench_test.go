package policy

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkEvaluate is one warm-cache evaluation (input conversion
// included) of the default policies with DefaultConfig's globs, an agent
// pull request that passes them all, and a plan: every policy judges every
// file.
func BenchmarkEvaluate(b *testing.B) {
	e, err := NewEngine()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, n := range []int{1, 100, 1000, 3000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			in := agentInput(n)
			d, err := e.Evaluate(ctx, in, nil)
			if err != nil {
				b.Fatal(err)
			}
			if d.Conclusion != "success" {
				b.Fatalf("conclusion %q: %s", d.Conclusion, dump(d))
			}
			misses := e.CacheStats().Misses
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := e.Evaluate(ctx, in, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
			if e.CacheStats().Misses != misses {
				b.Fatal("re-evaluation compiled")
			}
		})
	}
}
