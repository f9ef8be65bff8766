package queue_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/store"
	"github.com/agentgate/agentgate/store/storetest"
)

// The crash test runs its first attempt in a child process (this test
// binary, re-executed into TestCrashVictimProcess) and kills it with SIGKILL
// while the handler runs: the job is left "running" by a process that no
// longer exists, exactly as after an OOM kill or a node loss.
//
// River rescues stuck jobs from its leader only, on leadership gain and then
// every 30 s, and a killed leader's lease lasts 15 s. So that neither wait
// enters the test, the victim must not be the leader and the survivor must
// become leader after the job went stale: a River client that works no
// agentgate queue holds leadership while the victim runs, then resigns
// (a clean shutdown) just before the survivor starts.
const (
	victimDialectEnv = "AGENTGATE_QUEUE_TEST_VICTIM_DIALECT"
	victimDSNEnv     = "AGENTGATE_QUEUE_TEST_VICTIM_DSN"
	victimLine       = "victim: handling "
)

// TestCrashVictimProcess is the child side of TestCrashRecovery; it does
// nothing in a normal run.
func TestCrashVictimProcess(t *testing.T) {
	dialect, dsn := os.Getenv(victimDialectEnv), os.Getenv(victimDSNEnv)
	if dialect == "" {
		t.Skip("helper process for TestCrashRecovery")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, dialect, dsn)
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler("h1", func(ctx context.Context, _ int, ev webhook.Event) error {
		fmt.Printf("%s%s\n", victimLine, ev.DeliveryID)
		<-ctx.Done() // hang until killed
		return ctx.Err()
	})
	opts := testOptions()
	opts.Workers = 1
	opts.JobTimeout, opts.RescueAfter = time.Minute, time.Minute
	q, _ := newQueue(t, st, opts, h)
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute) // the parent kills us long before this
	t.Fatal("victim was not killed")
}

// startVictim runs TestCrashVictimProcess on the database at dsn. It returns
// a kill (SIGKILL, then reap) and a channel that receives each delivery id
// the victim's handler starts on.
func startVictim(t *testing.T, d store.Dialect, dsn string) (kill func(), started <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashVictimProcess$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), victimDialectEnv+"="+string(d), victimDSNEnv+"="+dsn)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	startedCh := make(chan string, 16)
	cmd.Stdout = &lineWriter{line: func(l string) {
		if id, ok := strings.CutPrefix(l, victimLine); ok {
			select {
			case startedCh <- id:
			default:
			}
		}
	}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("victim stderr:\n%s", stderr.String())
		}
	})
	return kill, startedCh
}

// lineWriter calls line for each complete line written to it.
type lineWriter struct {
	buf  []byte
	line func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

// placeholderArgs and placeholderWorker give the leadership placeholder a
// worker; it works its own queue only, so it never takes agentgate's jobs.
type placeholderArgs struct{}

func (placeholderArgs) Kind() string { return "agentgate_test_placeholder" }

type placeholderWorker struct {
	river.WorkerDefaults[placeholderArgs]
}

func (placeholderWorker) Work(context.Context, *river.Job[placeholderArgs]) error { return nil }

// startLeaderPlaceholder starts a River client on st that works only a queue
// of its own and waits until it leads. It returns its Stop.
func startLeaderPlaceholder(t *testing.T, st *store.Store) func(context.Context) error {
	t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, placeholderWorker{})
	cfg := &river.Config{
		Logger:  testLogger(),
		Workers: workers,
		Queues:  map[string]river.QueueConfig{"agentgate_test_placeholder": {MaxWorkers: 1}},
	}
	var start, stop func(context.Context) error
	switch st.Dialect() {
	case store.SQLite:
		cfg.PollOnly = true
		c, err := river.NewClient(riversqlite.New(st.SQLDB()), cfg)
		if err != nil {
			t.Fatal(err)
		}
		start, stop = c.Start, c.Stop
	default:
		c, err := river.NewClient(riverpgxv5.New(st.PgxPool()), cfg)
		if err != nil {
			t.Fatal(err)
		}
		start, stop = c.Start, c.Stop
	}
	if err := start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = stop(ctx)
	})
	waitFor(t, 10*time.Second, "the placeholder to lead", func() bool { return leaders(t, st.SQLDB()) == 1 })
	return stop
}

func leaders(t testing.TB, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM river_leader`).Scan(&n); err != nil {
		t.Fatalf("read river_leader: %v", err)
	}
	return n
}

// A job left running by a process that died is rescued by another replica
// and completed; the handler's effect happens once.
func TestCrashRecovery(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t, d)
			ctx := context.Background()
			st, err := store.Open(ctx, string(d), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			if _, err := st.Migrate(ctx, nil); err != nil {
				t.Fatal(err)
			}

			var mu sync.Mutex
			effects := map[string]int{} // delivery id → completed effects
			survivor := newHandler("h1", func(_ context.Context, _ int, ev webhook.Event) error {
				mu.Lock()
				defer mu.Unlock()
				effects[ev.DeliveryID]++
				return nil
			})
			opts := testOptions()
			opts.JobTimeout, opts.RescueAfter = 500*time.Millisecond, time.Second
			q, _ := newQueue(t, st, opts, survivor)

			stopPlaceholder := startLeaderPlaceholder(t, st)
			killVictim, started := startVictim(t, d, dsn)
			recordDelivery(t, st, q, "delivery-crash", "h1")

			select {
			case id := <-started:
				if id != "delivery-crash" {
					t.Fatalf("victim started on %q", id)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("victim never started the job")
			}
			handlingSince := time.Now()
			killVictim()
			if got := jobStates(t, st, eventKind); got["running"] != 1 {
				t.Fatalf("after the kill, jobs are %v; want the job left running", got)
			}

			// Let the job go stale, then hand leadership to the survivor.
			time.Sleep(time.Until(handlingSince.Add(opts.RescueAfter + 200*time.Millisecond)))
			stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := stopPlaceholder(stopCtx); err != nil {
				t.Fatal(err)
			}
			startQueue(t, q)

			// The rescued job becomes retryable; River's scheduler (every
			// 5 s) makes it available, hence the generous deadline.
			waitStates(t, st, 20*time.Second, map[string]int{"completed": 1})
			mu.Lock()
			defer mu.Unlock()
			if effects["delivery-crash"] != 1 || len(effects) != 1 {
				t.Errorf("effects = %v, want delivery-crash once", effects)
			}
			if n := survivor.Count(); n != 1 {
				t.Errorf("survivor's handler called %d times, want 1", n)
			}
		})
	}
}
