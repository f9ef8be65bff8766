package queue_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/queue"
	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/store"
	"github.com/agentgate/agentgate/store/storetest"
)

// Two replicas on one PostgreSQL database: the periodic job runs once per
// interval (only the leader schedules it), and both replicas work webhook
// jobs, each job exactly once.
func TestReplicasShareQueueAndElectOneLeader(t *testing.T) {
	const (
		interval = 300 * time.Millisecond
		window   = 3 * time.Second
		jobs     = 40
	)
	dsn := storetest.DSN(t, store.Postgres)
	ctx := context.Background()
	var stores [2]*store.Store
	for i := range stores {
		st, err := store.Open(ctx, string(store.Postgres), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		stores[i] = st
	}
	if _, err := stores[0].Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}

	var periodicRuns atomic.Int64 // read without the lock to poll
	var runTimes []time.Time
	var mu sync.Mutex
	handled := map[string]int{} // delivery id → calls, across replicas
	var handlers [2]*testHandler
	var queues [2]*queue.Queue
	for i := range queues {
		handlers[i] = newHandler("h1", func(_ context.Context, _ int, ev webhook.Event) error {
			mu.Lock()
			handled[ev.DeliveryID]++
			mu.Unlock()
			time.Sleep(20 * time.Millisecond) // long enough that one replica cannot drain the queue alone
			return nil
		})
		opts := testOptions()
		opts.Periodic = []queue.Periodic{{Name: "reconcile", Interval: interval, Run: func(context.Context) error {
			periodicRuns.Add(1)
			mu.Lock()
			runTimes = append(runTimes, time.Now())
			mu.Unlock()
			return nil
		}}}
		queues[i], _ = newQueue(t, stores[i], opts, handlers[i])
	}

	for _, q := range queues {
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	stopped := false
	stopAll := func() {
		if stopped {
			return
		}
		stopped = true
		var wg sync.WaitGroup
		for _, q := range queues {
			wg.Go(func() {
				stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				if err := q.Stop(stopCtx); err != nil {
					t.Errorf("stop: %v", err)
				}
			})
		}
		wg.Wait()
	}
	t.Cleanup(stopAll)

	// The first periodic run means a leader was elected and its periodic
	// scheduler is up (River staggers maintenance services by a second or
	// two after election). The observation window starts there.
	waitFor(t, 10*time.Second, "the first periodic run", func() bool { return periodicRuns.Load() >= 1 })
	mu.Lock()
	began := runTimes[0]
	mu.Unlock()
	err := stores[0].InTx(ctx, func(tx *store.Tx) error {
		for i := range jobs {
			id := fmt.Sprintf("delivery-%02d", i)
			if _, err := tx.InsertDelivery(ctx, store.Delivery{
				ID: id, Event: "pull_request", Action: "synchronize", InstallationID: 42,
				Outcome: store.OutcomeQueued, Jobs: 1, Payload: testPayload, PayloadBytes: len(testPayload), ReceivedAt: time.Now(),
			}); err != nil {
				return err
			}
			if err := queues[i%2].EnqueueEventsTx(ctx, tx, id, []string{"h1"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitStates(t, stores[0], 10*time.Second, map[string]int{"completed": jobs})

	time.Sleep(time.Until(began.Add(window)))
	stopAll()
	elapsed := time.Since(began)

	// The first run plus one per elapsed interval; a scheduler on each
	// replica would make about twice that.
	intervals := int((elapsed + interval - 1) / interval)
	mu.Lock()
	var offsets []time.Duration
	for _, r := range runTimes {
		offsets = append(offsets, r.Sub(began).Round(time.Millisecond))
	}
	mu.Unlock()
	if n := len(offsets); n < 2 || n > intervals+2 {
		t.Errorf("periodic job ran %d times in %s (%d intervals of %s); want 2..%d; runs at %v",
			n, elapsed.Round(time.Millisecond), intervals, interval, intervals+2, offsets)
	} else {
		t.Logf("periodic job ran %d times in %s, at %v", n, elapsed.Round(time.Millisecond), offsets)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(handled) != jobs {
		t.Errorf("%d deliveries handled, want %d", len(handled), jobs)
	}
	for id, n := range handled {
		if n != 1 {
			t.Errorf("delivery %s handled %d times, want once", id, n)
		}
	}
	a, b := handlers[0].Count(), handlers[1].Count()
	if a+b != jobs {
		t.Errorf("replicas handled %d + %d jobs, want %d in total", a, b, jobs)
	}
	if a == 0 || b == 0 {
		t.Errorf("replicas handled %d and %d jobs; want both to work", a, b)
	}
	t.Logf("replica A handled %d jobs, replica B %d", a, b)
}
