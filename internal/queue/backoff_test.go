package queue_test

import (
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/agentgate/agentgate/internal/queue"
)

func TestBackoffDelay(t *testing.T) {
	cases := []queue.Backoff{
		{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		{Base: 5 * time.Second, Max: 10 * time.Minute},
		{Base: time.Second, Max: time.Second},
		{Base: 3 * time.Millisecond, Max: 1000 * time.Millisecond}, // Max not a power-of-two multiple of Base
	}
	for _, b := range cases {
		t.Run(b.Base.String()+"-"+b.Max.String(), func(t *testing.T) {
			for n := 1; n <= 20; n++ {
				d := min(b.Base<<(n-1), b.Max)
				if n > 40 {
					d = b.Max
				}
				seen := map[time.Duration]bool{}
				for range 200 {
					got := b.Delay(n)
					if got < d/2 || got > d {
						t.Fatalf("Delay(%d) = %s, want within [%s, %s]", n, got, d/2, d)
					}
					if got > b.Max {
						t.Fatalf("Delay(%d) = %s exceeds Max %s", n, got, b.Max)
					}
					seen[got] = true
				}
				if len(seen) < 2 {
					t.Errorf("Delay(%d) returned the same %d value(s) 200 times: no jitter", n, len(seen))
				}
			}
		})
	}
}

func TestBackoffNextRetry(t *testing.T) {
	b := &queue.Backoff{Base: time.Second, Max: time.Minute}
	// Two errors recorded: this is retry 3, d = 4 s.
	job := &rivertype.JobRow{Errors: []rivertype.AttemptError{{Error: errors.New("a").Error()}, {Error: "b"}}}
	before := time.Now()
	at := b.NextRetry(job)
	after := time.Now()
	if at.Before(before.Add(2*time.Second)) || at.After(after.Add(4*time.Second)) {
		t.Errorf("NextRetry after 2 errors = now+%s, want now+[2s, 4s]", at.Sub(before))
	}
}
