package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/store"
	"github.com/agentgate/agentgate/store/storetest"
)

// BenchmarkBinaryIntake runs the real binary, its queue working against the
// fake GitHub, and posts b.N signed ~25 KB installation.created deliveries
// from benchSenders concurrent senders straight to it. Results and the
// commands that produce them are in BENCHMARKS.md.
//
//	go test ./cmd/agentgate -run '^$' -bench BenchmarkBinaryIntake -benchtime 5000x -count 3

const (
	benchSenders       = 8
	benchPayloadBytes  = 25 << 10
	benchInstallations = 8
)

func BenchmarkBinaryIntake(b *testing.B) {
	for _, d := range storetest.Dialects() {
		b.Run(string(d), func(b *testing.B) { benchBinaryIntake(b, d) })
	}
}

func benchBinaryIntake(b *testing.B, d store.Dialect) {
	// The fake answers the installation handler's calls; no rate limit in
	// the way, and its own answers are not re-validated (that is the fake's
	// cost, not agentgate's, and it shares the same two cores).
	fake := githubtest.New(b, githubtest.WithRateLimit(1<<30, time.Hour), githubtest.WithoutResponseValidation())
	type delivery struct {
		body []byte
		sig  string
	}
	bodies := make([]delivery, benchInstallations)
	secret := []byte(fake.WebhookSecret())
	for i := range bodies {
		id, login := int64(500+i), fmt.Sprintf("bench-org-%d", i)
		fake.AddInstallation(githubtest.Installation{ID: id, Account: login, Repos: repos(login, 50000+int64(i)*10, 3)})
		body := benchInstallationPayload(b, id, login, benchPayloadBytes)
		bodies[i] = delivery{body, githubtest.SignPayload(secret, body)}
	}

	dataDir := b.TempDir()
	driver, dsn := "sqlite", filepath.Join(dataDir, "agentgate.db")
	dbURL := ""
	if d == store.Postgres {
		dbURL = storetest.DSN(b, d)
		driver, dsn = "postgres", dbURL
	}
	p := start(b, benchEnv(b, fake, dataDir, dbURL))
	st, err := store.Open(context.Background(), driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })

	// Idle: ready, nothing received yet, the queue polling.
	time.Sleep(time.Second)
	idleRSS := procStatusKB(b, p.cmd.Process.Pid, "VmRSS")

	var peakRSS atomic.Int64
	sampleDone := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb := procStatusKB(nil, p.cmd.Process.Pid, "VmRSS"); kb > peakRSS.Load() {
				peakRSS.Store(kb)
			}
			select {
			case <-sampleDone:
				return
			case <-tick.C:
			}
		}
	})

	tr := &http.Transport{MaxIdleConns: 4 * benchSenders, MaxIdleConnsPerHost: 4 * benchSenders, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)

	var (
		next      atomic.Int64
		failed    atomic.Pointer[string]
		mu        sync.Mutex
		latencies []time.Duration
		senders   sync.WaitGroup
	)
	b.SetBytes(int64(len(bodies[0].body)))
	b.ResetTimer()
	start := time.Now()
	for range benchSenders {
		senders.Go(func() {
			var mine []time.Duration
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					break
				}
				dl := bodies[n%benchInstallations]
				t0 := time.Now()
				status, err := benchPost(client, p.url, "installation", fmt.Sprintf("bench-%s-%d", runID, n), dl.body, dl.sig)
				mine = append(mine, time.Since(t0))
				if err != nil || status != http.StatusAccepted {
					msg := fmt.Sprintf("delivery %d: status %d (want 202), err %v", n, status, err)
					failed.CompareAndSwap(nil, &msg)
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	senders.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if msg := failed.Load(); msg != nil {
		b.Fatalf("%s\nagentgate logs:\n%s", *msg, tail(p.logs.String(), 30))
	}

	// Drain: every job the deliveries caused has completed.
	doneAtLoadEnd := benchJobStates(b, st)["completed"]
	drainStart := time.Now()
	deadline := drainStart.Add(5*time.Minute + time.Duration(b.N)*20*time.Millisecond)
	for {
		states := benchJobStates(b, st)
		if states["completed"] >= b.N {
			break
		}
		if states["discarded"]+states["cancelled"] > 0 || time.Now().After(deadline) {
			b.Fatalf("queue did not drain: jobs %v after %s\nagentgate logs:\n%s", states, time.Since(drainStart), tail(p.logs.String(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	drain := time.Since(drainStart)
	close(sampleDone)
	sampler.Wait()
	hwm := procStatusKB(b, p.cmd.Process.Pid, "VmHWM")
	metrics := benchMetrics(b, p.url)

	slices.Sort(latencies)
	pct := func(q float64) float64 {
		i := int(float64(len(latencies))*q+0.999999) - 1
		return float64(latencies[max(0, min(i, len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1])/float64(time.Millisecond), "max-ms")
	b.ReportMetric(drain.Seconds(), "drain-s")
	b.ReportMetric(float64(b.N)/(elapsed+drain).Seconds(), "jobs-done/s")
	b.ReportMetric(float64(b.N-doneAtLoadEnd)/drain.Seconds(), "drain-jobs/s")
	// Server-side means from agentgate's own histograms.
	b.ReportMetric(1000*metrics("agentgate_webhook_intake_seconds_sum")/metrics("agentgate_webhook_intake_seconds_count"), "intake-mean-ms")
	b.ReportMetric(1000*metrics("agentgate_queue_job_run_seconds_sum")/metrics("agentgate_queue_job_run_seconds_count"), "job-run-mean-ms")
	b.ReportMetric(1000*metrics("agentgate_queue_job_wait_seconds_sum")/metrics("agentgate_queue_job_wait_seconds_count"), "job-wait-mean-ms")
	b.ReportMetric(float64(idleRSS)/1024, "idle-RSS-MB")
	b.ReportMetric(float64(peakRSS.Load())/1024, "peak-RSS-MB")
	b.ReportMetric(float64(hwm)/1024, "HWM-MB")
}

// benchEnv is appEnv with production queue timings (the defaults), logs at
// info, and no reconciler, so only webhook jobs run.
func benchEnv(tb testing.TB, fake *githubtest.Server, dataDir, databaseURL string) map[string]string {
	tb.Helper()
	env := appEnv(tb, fake, dataDir, databaseURL)
	for k := range env {
		if strings.HasPrefix(k, "AGENTGATE_QUEUE_") {
			delete(env, k)
		}
	}
	env["AGENTGATE_LOG_LEVEL"] = "info"
	// BENCH_QUEUE_WORKERS overrides queue.workers for one run.
	if w := os.Getenv("BENCH_QUEUE_WORKERS"); w != "" {
		env["AGENTGATE_QUEUE_WORKERS"] = w
	}
	return env
}

func benchPost(c *http.Client, url, event, delivery string, body []byte, signature string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/api/github/hook", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", signature)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// benchInstallationPayload is installation.created for installation id, its
// repositories array padded until the body is about size bytes.
func benchInstallationPayload(tb testing.TB, id int64, login string, size int) []byte {
	tb.Helper()
	vars := func(n int) map[string]any {
		rs := make([]any, n)
		for i := range rs {
			rid := id*100000 + int64(i)
			rs[i] = map[string]any{
				"id": rid, "node_id": fmt.Sprintf("R_kgDO%010d", rid),
				"name": fmt.Sprintf("repository-%05d", i), "full_name": fmt.Sprintf("%s/repository-%05d", login, i),
				"private": i%2 == 0,
			}
		}
		return map[string]any{"installation.id": id, "installation.account.login": login, "repositories": rs}
	}
	one := githubtest.Payload(tb, "installation.created", vars(1))
	two := githubtest.Payload(tb, "installation.created", vars(2))
	per := len(two) - len(one)
	n := 1 + max(0, size-len(one)+per-1)/per
	return githubtest.Payload(tb, "installation.created", vars(n))
}

// procStatusKB reads one "kB" field of /proc/<pid>/status (VmRSS, VmHWM).
// With a nil tb a failure reads as 0.
func procStatusKB(tb testing.TB, pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		if tb != nil {
			tb.Fatal(err)
		}
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	if tb != nil {
		tb.Fatalf("no %s in /proc/%d/status", field, pid)
	}
	return 0
}

// benchMetrics scrapes /metrics once and returns a function summing every
// series of a metric name (all label sets).
func benchMetrics(tb testing.TB, url string) func(name string) float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return func(name string) float64 {
		var sum float64
		for _, line := range strings.Split(string(body), "\n") {
			rest, ok := strings.CutPrefix(line, name)
			if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
				continue
			}
			if v, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64); err == nil {
				sum += v
			}
		}
		return sum
	}
}

func benchJobStates(tb testing.TB, st *store.Store) map[string]int {
	counts, err := st.JobCounts(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range counts {
		if c.Kind == "webhook_event" {
			out[c.State] += c.Count
		}
	}
	return out
}
