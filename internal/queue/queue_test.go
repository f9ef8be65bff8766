package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/agentgate/agentgate/internal/metrics"
	"github.com/agentgate/agentgate/internal/queue"
	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/store"
	"github.com/agentgate/agentgate/store/storetest"
)

const eventKind = "webhook_event"

// call is one invocation of a test handler.
type call struct {
	at time.Time
	ev webhook.Event
}

// testHandler is a webhook.Handler whose behaviour on its n-th call (1-based)
// is fn's; it records every call.
type testHandler struct {
	name string
	fn   func(ctx context.Context, n int, ev webhook.Event) error

	mu    sync.Mutex
	calls []call
}

func newHandler(name string, fn func(ctx context.Context, n int, ev webhook.Event) error) *testHandler {
	return &testHandler{name: name, fn: fn}
}

func (h *testHandler) Name() string            { return h.name }
func (h *testHandler) Subscriptions() []string { return []string{"pull_request"} }

func (h *testHandler) Handle(ctx context.Context, ev webhook.Event) error {
	h.mu.Lock()
	h.calls = append(h.calls, call{at: time.Now(), ev: ev})
	n := len(h.calls)
	h.mu.Unlock()
	if h.fn == nil {
		return nil
	}
	return h.fn(ctx, n, ev)
}

func (h *testHandler) Calls() []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

func (h *testHandler) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.calls)
}

func testOptions() queue.Options {
	return queue.Options{
		Workers:      2,
		MaxAttempts:  4,
		BackoffBase:  20 * time.Millisecond,
		BackoffMax:   200 * time.Millisecond,
		JobTimeout:   2 * time.Second,
		RescueAfter:  3 * time.Second,
		PollInterval: 20 * time.Millisecond,
	}
}

// testLogger discards logs unless AGENTGATE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("AGENTGATE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newQueue builds (but does not start) a queue over st for handlers.
func newQueue(t testing.TB, st *store.Store, opts queue.Options, handlers ...webhook.Handler) (*queue.Queue, *metrics.Metrics) {
	t.Helper()
	router, err := webhook.NewRouter(handlers...)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	q, err := queue.New(st, router, opts, m, testLogger())
	if err != nil {
		t.Fatalf("queue.New: %v", err)
	}
	return q, m
}

// startQueue starts q and stops it when the test ends (before its store is
// closed: cleanups run last-registered first).
func startQueue(t testing.TB, q *queue.Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatalf("start queue: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop queue: %v", err)
		}
	})
}

var testPayload = []byte(`{"action":"opened","number":12,"installation":{"id":42},"repository":{"full_name":"acme/widgets"}}`)

// recordDelivery records a delivery and enqueues its jobs in one
// transaction, as the webhook intake does.
func recordDelivery(t testing.TB, st *store.Store, q *queue.Queue, id string, handlers ...string) store.Delivery {
	t.Helper()
	if len(handlers) == 0 {
		handlers = []string{"h1", "h2"}
	}
	d := store.Delivery{
		ID: id, Event: "pull_request", Action: "opened", InstallationID: 42, Repository: "acme/widgets",
		Outcome: store.OutcomeQueued, Jobs: len(handlers), Payload: testPayload, PayloadBytes: len(testPayload),
		ReceivedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
	ctx := context.Background()
	err := st.InTx(ctx, func(tx *store.Tx) error {
		isNew, err := tx.InsertDelivery(ctx, d)
		if err != nil {
			return err
		}
		if !isNew {
			return fmt.Errorf("delivery %s already recorded", id)
		}
		return q.EnqueueEventsTx(ctx, tx, id, handlers)
	})
	if err != nil {
		t.Fatalf("record delivery %s: %v", id, err)
	}
	return d
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jobStates counts the jobs of kind by state.
func jobStates(t testing.TB, st *store.Store, kind string) map[string]int {
	t.Helper()
	counts, err := st.JobCounts(context.Background())
	if err != nil {
		t.Fatalf("job counts: %v", err)
	}
	out := map[string]int{}
	for _, c := range counts {
		if c.Kind == kind {
			out[c.State] += c.Count
		}
	}
	return out
}

// waitStates waits until the webhook jobs are exactly in the given states.
func waitStates(t testing.TB, st *store.Store, timeout time.Duration, want map[string]int) {
	t.Helper()
	var got map[string]int
	deadline := time.Now().Add(timeout)
	for {
		got = jobStates(t, st, eventKind)
		if mapsEqual(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for job states %v; have %v", timeout, want, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// forEachDialect runs fn against a fresh store of each dialect, in parallel.
func forEachDialect(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, storetest.Open(t, d))
		})
	}
}

// counterValue reads a counter. (prometheus/testutil.ToFloat64 would do, but
// it pulls a module go.mod does not list.)
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func dead(m *metrics.Metrics, handler string) float64 {
	return counterValue(m.JobsDead.WithLabelValues(eventKind, handler))
}

func retries(m *metrics.Metrics, handler, reason string) float64 {
	return counterValue(m.JobRetries.WithLabelValues(eventKind, handler, reason))
}

func githubResponse(code int) *http.Response {
	req, err := http.NewRequest(http.MethodGet, "https://api.github.com/repos/acme/widgets/pulls/12", nil)
	if err != nil {
		panic(err)
	}
	return &http.Response{StatusCode: code, Status: http.StatusText(code), Header: http.Header{}, Request: req}
}

// One delivery, two handlers: each runs once and sees the recorded delivery.
func TestFanOut(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		h1, h2 := newHandler("h1", nil), newHandler("h2", nil)
		other := newHandler("other", nil) // registered, but not enqueued for
		q, m := newQueue(t, st, testOptions(), h1, h2, other)
		startQueue(t, q)
		d := recordDelivery(t, st, q, "delivery-fanout", "h1", "h2")

		waitStates(t, st, 10*time.Second, map[string]int{"completed": 2})
		for _, h := range []*testHandler{h1, h2} {
			calls := h.Calls()
			if len(calls) != 1 {
				t.Fatalf("handler %s called %d times, want 1", h.name, len(calls))
			}
			ev := calls[0].ev
			if ev.DeliveryID != d.ID || ev.Type != "pull_request" || ev.Action != "opened" ||
				ev.InstallationID != 42 || ev.Repository != "acme/widgets" || !ev.ReceivedAt.Equal(d.ReceivedAt) {
				t.Errorf("handler %s got event %+v, want the recorded delivery %+v", h.name, ev, d)
			}
			if !bytes.Equal(ev.Payload, testPayload) {
				t.Errorf("handler %s got payload %s, want %s", h.name, ev.Payload, testPayload)
			}
		}
		if n := other.Count(); n != 0 {
			t.Errorf("handler without a job called %d times", n)
		}
		if dead(m, "h1")+dead(m, "h2") != 0 || retries(m, "h1", "error")+retries(m, "h2", "error") != 0 {
			t.Errorf("successful jobs counted as retried or dead")
		}
	})
}

// A failing handler is retried with backoff until it succeeds.
func TestRetriesWithBackoff(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		opts := testOptions()
		h1 := newHandler("h1", func(_ context.Context, n int, _ webhook.Event) error {
			if n <= 2 {
				return fmt.Errorf("flaky failure %d", n)
			}
			return nil
		})
		h2 := newHandler("h2", nil)
		q, m := newQueue(t, st, opts, h1, h2)
		startQueue(t, q)
		recordDelivery(t, st, q, "delivery-retry")

		waitStates(t, st, 10*time.Second, map[string]int{"completed": 2})
		calls := h1.Calls()
		if len(calls) != 3 {
			t.Fatalf("h1 called %d times, want 3", len(calls))
		}
		// Retry n waits at least half of min(Base·2^(n-1), Max).
		for i := 1; i < len(calls); i++ {
			gap := calls[i].at.Sub(calls[i-1].at)
			lower := min(opts.BackoffBase<<(i-1), opts.BackoffMax) / 2
			if gap < lower {
				t.Errorf("retry %d came %s after the previous attempt, want at least %s", i, gap, lower)
			}
		}
		if n := h2.Count(); n != 1 {
			t.Errorf("h2 called %d times, want 1 (a sibling's failure must not rerun it)", n)
		}
		if got := retries(m, "h1", "error"); got != 2 {
			t.Errorf("retries_total{reason=error} = %v, want 2", got)
		}
		if got := dead(m, "h1"); got != 0 {
			t.Errorf("jobs_dead_total = %v, want 0", got)
		}
	})
}

// A handler that always fails is tried MaxAttempts times and then dead.
func TestDeadLetterAfterMaxAttempts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		opts := testOptions()
		h1 := newHandler("h1", func(context.Context, int, webhook.Event) error { return errors.New("always broken") })
		h2 := newHandler("h2", nil)
		q, m := newQueue(t, st, opts, h1, h2)
		startQueue(t, q)
		recordDelivery(t, st, q, "delivery-dead")

		waitStates(t, st, 10*time.Second, map[string]int{"completed": 1, "discarded": 1})
		if n := h1.Count(); n != opts.MaxAttempts {
			t.Errorf("h1 called %d times, want MaxAttempts = %d", n, opts.MaxAttempts)
		}
		if got := dead(m, "h1"); got != 1 {
			t.Errorf("jobs_dead_total = %v, want 1", got)
		}
		if got := retries(m, "h1", "error"); got != float64(opts.MaxAttempts-1) {
			t.Errorf("retries_total{reason=error} = %v, want %d", got, opts.MaxAttempts-1)
		}
		// Discarded is final: a few more polls must not run it again.
		time.Sleep(10 * opts.PollInterval)
		if n := h1.Count(); n != opts.MaxAttempts {
			t.Errorf("h1 called %d times after the job was discarded, want %d", n, opts.MaxAttempts)
		}
	})
}

// A permanent error ends the job at once, without spending its attempts.
func TestPermanentFailure(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{
		{"ErrPermanent", fmt.Errorf("pull request payload unusable: %w", webhook.ErrPermanent)},
		{"GitHub404", fmt.Errorf("get pull request: %w", &github.ErrorResponse{Response: githubResponse(http.StatusNotFound), Message: "Not Found"})},
		{"GitHub422", &github.ErrorResponse{Response: githubResponse(http.StatusUnprocessableEntity), Message: "Validation Failed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, st *store.Store) {
				h1 := newHandler("h1", func(context.Context, int, webhook.Event) error { return tc.err })
				h2 := newHandler("h2", nil)
				q, m := newQueue(t, st, testOptions(), h1, h2)
				startQueue(t, q)
				recordDelivery(t, st, q, "delivery-permanent")

				waitStates(t, st, 10*time.Second, map[string]int{"completed": 1, "cancelled": 1})
				if n := h1.Count(); n != 1 {
					t.Errorf("h1 called %d times, want 1", n)
				}
				if got := dead(m, "h1"); got != 1 {
					t.Errorf("jobs_dead_total = %v, want 1", got)
				}
				if got := retries(m, "h1", "error"); got != 0 {
					t.Errorf("retries_total{reason=error} = %v, want 0", got)
				}
			})
		})
	}
}

// A rate-limited job waits as long as GitHub asked, and the wait is not an
// attempt: with MaxAttempts 1 the job still gets its one real attempt.
func TestRateLimitWaitsWithoutSpendingAttempts(t *testing.T) {
	cases := []struct {
		name    string
		err     func() error
		minWait time.Duration
	}{
		{"AbuseRateLimitError", func() error {
			d := time.Second
			return fmt.Errorf("create check run: %w", &github.AbuseRateLimitError{
				Response: githubResponse(http.StatusForbidden), Message: "secondary rate limit", RetryAfter: &d,
			})
		}, time.Second},
		{"RateLimitError", func() error {
			return &github.RateLimitError{
				Rate:     github.Rate{Limit: 5000, Remaining: 0, Reset: github.Timestamp{Time: time.Now().Add(time.Second)}},
				Response: githubResponse(http.StatusForbidden), Message: "API rate limit exceeded",
			}
		}, time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, st *store.Store) {
				opts := testOptions()
				opts.MaxAttempts = 1
				h1 := newHandler("h1", func(_ context.Context, n int, _ webhook.Event) error {
					if n == 1 {
						return tc.err()
					}
					return nil
				})
				h2 := newHandler("h2", nil)
				q, m := newQueue(t, st, opts, h1, h2)
				startQueue(t, q)
				recordDelivery(t, st, q, "delivery-ratelimit")

				waitStates(t, st, 15*time.Second, map[string]int{"completed": 2})
				calls := h1.Calls()
				if len(calls) != 2 {
					t.Fatalf("h1 called %d times, want 2", len(calls))
				}
				if gap := calls[1].at.Sub(calls[0].at); gap < tc.minWait {
					t.Errorf("second call came %s after the rate limit, want at least %s", gap, tc.minWait)
				}
				if got := retries(m, "h1", "rate_limited"); got != 1 {
					t.Errorf("retries_total{reason=rate_limited} = %v, want 1", got)
				}
				if got := retries(m, "h1", "error"); got != 0 {
					t.Errorf("retries_total{reason=error} = %v, want 0", got)
				}
				if got := dead(m, "h1"); got != 0 {
					t.Errorf("jobs_dead_total = %v, want 0", got)
				}
			})
		})
	}
}

// After a rate-limit wait the job still has every attempt: a handler that is
// rate limited once and then always fails is called 1 + MaxAttempts times.
func TestRateLimitThenFailuresUseAllAttempts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		opts := testOptions()
		opts.MaxAttempts = 2
		h1 := newHandler("h1", func(_ context.Context, n int, _ webhook.Event) error {
			if n == 1 {
				d := 50 * time.Millisecond
				return &github.AbuseRateLimitError{Response: githubResponse(http.StatusForbidden), Message: "slow down", RetryAfter: &d}
			}
			return &github.ErrorResponse{Response: githubResponse(http.StatusBadGateway), Message: "Bad Gateway"}
		})
		q, m := newQueue(t, st, opts, h1)
		startQueue(t, q)
		recordDelivery(t, st, q, "delivery-ratelimit-then-fail", "h1")

		waitStates(t, st, 10*time.Second, map[string]int{"discarded": 1})
		if n := h1.Count(); n != 1+opts.MaxAttempts {
			t.Errorf("h1 called %d times, want 1 rate-limited call + %d attempts", n, opts.MaxAttempts)
		}
		if got := retries(m, "h1", "rate_limited"); got != 1 {
			t.Errorf("retries_total{reason=rate_limited} = %v, want 1", got)
		}
		if got := dead(m, "h1"); got != 1 {
			t.Errorf("jobs_dead_total = %v, want 1", got)
		}
	})
}

// A job whose handler is unknown (a handler removed in a release while its
// jobs were queued) and a job whose payload was pruned are dead at once.
func TestUnrunnableJobsAreCancelled(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		h1 := newHandler("h1", nil)
		q, m := newQueue(t, st, testOptions(), h1)
		recordDelivery(t, st, q, "delivery-unknown-handler", "gone")
		recordDelivery(t, st, q, "delivery-pruned", "h1")
		if _, err := st.PruneDeliveryPayloads(context.Background(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		startQueue(t, q)

		waitStates(t, st, 10*time.Second, map[string]int{"cancelled": 2})
		if n := h1.Count(); n != 0 {
			t.Errorf("h1 called %d times for a pruned payload, want 0", n)
		}
		if got := dead(m, "gone") + dead(m, "h1"); got != 2 {
			t.Errorf("jobs_dead_total = %v, want 2", got)
		}
	})
}

func TestNewRejectsRescueShorterThanTimeout(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	router, err := webhook.NewRouter()
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions()
	opts.RescueAfter = opts.JobTimeout / 2
	if _, err := queue.New(st, router, opts, metrics.New(), testLogger()); err == nil {
		t.Fatal("queue.New accepted rescue_after < job_timeout: a slow job would be rescued while still running")
	}
}

// A panicking handler is a failing handler: retried, then dead and counted.
func TestPanickingHandlerIsRetriedAndCountedDead(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *store.Store) {
		opts := testOptions()
		opts.MaxAttempts = 2
		h1 := newHandler("h1", func(context.Context, int, webhook.Event) error { panic("nil map somewhere") })
		q, m := newQueue(t, st, opts, h1)
		startQueue(t, q)
		recordDelivery(t, st, q, "delivery-panic", "h1")

		waitStates(t, st, 10*time.Second, map[string]int{"discarded": 1})
		if n := h1.Count(); n != opts.MaxAttempts {
			t.Errorf("h1 called %d times, want %d", n, opts.MaxAttempts)
		}
		if got := retries(m, "h1", "error"); got != float64(opts.MaxAttempts-1) {
			t.Errorf("retries_total{reason=error} = %v, want %d", got, opts.MaxAttempts-1)
		}
		if got := dead(m, "h1"); got != 1 {
			t.Errorf("jobs_dead_total = %v, want 1: a handler that panics on every attempt is dead too", got)
		}
	})
}
