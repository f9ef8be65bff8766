package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/queue"
	"github.com/agentgate/agentgate/store"
)

// TestDebouncedTasksCollapseBursts: a burst of enqueues for one key within a
// window runs the task once, after the window, with the first payload; a
// different key and a later window each run again.
func TestDebouncedTasksCollapseBursts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		var mu sync.Mutex
		var runs []string
		var ranAt []time.Time
		opts := testOptions()
		opts.Tasks = []queue.Task{{Name: "evaluate", Run: func(_ context.Context, payload json.RawMessage) error {
			var p struct{ Key string }
			if err := json.Unmarshal(payload, &p); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			runs = append(runs, p.Key)
			ranAt = append(ranAt, time.Now())
			return nil
		}}}
		q, _ := newQueue(t, st, opts)
		startQueue(t, q)
		ctx := context.Background()
		const window = 700 * time.Millisecond
		// Start just after a window boundary so the burst stays in one window.
		time.Sleep(time.Until(time.Now().Truncate(window).Add(window + 20*time.Millisecond)))
		burstStart := time.Now()
		collapsed := 0
		for i := 0; i < 20; i++ {
			c, err := q.EnqueueDebounced(ctx, "evaluate", "o/r#1@abc", map[string]string{"Key": "pr1"}, window)
			if err != nil {
				t.Fatal(err)
			}
			if c {
				collapsed++
			}
		}
		if _, err := q.EnqueueDebounced(ctx, "evaluate", "o/r#2@def", map[string]string{"Key": "pr2"}, window); err != nil {
			t.Fatal(err)
		}
		if collapsed != 19 {
			t.Errorf("%d of 20 enqueues collapsed, want 19", collapsed)
		}
		count := func() int { mu.Lock(); defer mu.Unlock(); return len(runs) }
		waitFor(t, 10*time.Second, "two task runs", func() bool { return count() == 2 })
		mu.Lock()
		for _, at := range ranAt {
			if at.Before(burstStart.Truncate(window).Add(window)) {
				t.Errorf("task ran at %s, before its debounce window closed", at.Sub(burstStart))
			}
		}
		mu.Unlock()
		// The next window is a new evaluation.
		time.Sleep(time.Until(time.Now().Truncate(window).Add(window + 20*time.Millisecond)))
		if _, err := q.EnqueueDebounced(ctx, "evaluate", "o/r#1@abc", map[string]string{"Key": "pr1-again"}, window); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "third run", func() bool { return count() == 3 })
		time.Sleep(300 * time.Millisecond)
		if got := count(); got != 3 {
			t.Errorf("%d runs, want 3", got)
		}
	})
}

// TestTaskFailuresAreJudgedLikeEvents: a failing task is retried, then dead.
func TestTaskFailuresAreJudgedLikeEvents(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		var mu sync.Mutex
		calls := 0
		opts := testOptions()
		opts.Tasks = []queue.Task{{Name: "flaky", Run: func(context.Context, json.RawMessage) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return errors.New("boom")
		}}}
		q, m := newQueue(t, st, opts)
		startQueue(t, q)
		if _, err := q.EnqueueDebounced(context.Background(), "flaky", "k", nil, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 15*time.Second, "task discarded", func() bool { return jobStates(t, st, "task")["discarded"] == 1 })
		mu.Lock()
		defer mu.Unlock()
		if calls != opts.MaxAttempts {
			t.Errorf("task ran %d times, want %d", calls, opts.MaxAttempts)
		}
		if got := counterValue(m.JobsDead.WithLabelValues("task", "flaky")); got != 1 {
			t.Errorf("dead counter = %v, want 1", got)
		}
	})
}
