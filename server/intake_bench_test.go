package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/store"
	"github.com/agentgate/agentgate/store/storetest"
)

// The intake benchmarks measure the in-process webhook path alone: verify
// the HMAC, record the delivery and enqueue its jobs in one transaction,
// answer. The queue is not started, so no job runs and GitHub is never
// called. Results and the commands that produce them are in BENCHMARKS.md.
//
//	go test ./server -run '^$' -bench BenchmarkIntake -benchtime 5000x -count 3

// benchSenders is how many concurrent senders post webhooks.
const benchSenders = 8

// benchPayloadBytes is the size a benchmark webhook body is padded to.
const benchPayloadBytes = 25 << 10

// benchInstallationPayload is installation.created for installation id,
// its repositories array padded until the body is about size bytes.
func benchInstallationPayload(tb testing.TB, id int64, login string, size int) []byte {
	tb.Helper()
	repo := func(i int) map[string]any {
		rid := id*100000 + int64(i)
		return map[string]any{
			"id": rid, "node_id": fmt.Sprintf("R_kgDO%010d", rid),
			"name": fmt.Sprintf("repository-%05d", i), "full_name": fmt.Sprintf("%s/repository-%05d", login, i),
			"private": i%2 == 0,
		}
	}
	vars := func(n int) map[string]any {
		repos := make([]any, n)
		for i := range repos {
			repos[i] = repo(i)
		}
		return map[string]any{"installation.id": id, "installation.account.login": login, "repositories": repos}
	}
	// Size one repository entry from two small payloads, then build the real one once
	// (Payload checks it against GitHub's schema, which is not free).
	one := githubtest.Payload(tb, "installation.created", vars(1))
	two := githubtest.Payload(tb, "installation.created", vars(2))
	per := len(two) - len(one)
	n := 1 + max(0, size-len(one)+per-1)/per
	return githubtest.Payload(tb, "installation.created", vars(n))
}

// benchKeyPEM is a fresh RSA key in PKCS#1 PEM, for a config that needs one.
func benchKeyPEM(tb testing.TB) string {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

// benchApp is an App over a fresh, migrated store of dialect d, its queue not
// started, served by an httptest server.
//
// dsnSuffix is appended to the PostgreSQL URL (e.g. "&pool_max_conns=16",
// which pgxpool reads); it must be empty for SQLite.
func benchApp(b *testing.B, d store.Dialect, dsnSuffix, keyPEM, secret string) *httptest.Server {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, string(d), storetest.DSN(b, d)+dsnSuffix)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(ctx, nil); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load("", []string{
		"AGENTGATE_DATA_DIR=" + b.TempDir(),
		"AGENTGATE_GITHUB_APP_ID=4242",
		"AGENTGATE_GITHUB_PRIVATE_KEY=" + keyPEM,
		"AGENTGATE_WEBHOOK_SECRET=" + secret,
		"AGENTGATE_GITHUB_API_URL=http://127.0.0.1:1/", // never called: the queue is not started
		"AGENTGATE_RECONCILE_INTERVAL=0s",
	})
	if err != nil {
		b.Fatal(err)
	}
	// Production logs JSON at info; discard it so the figure has no I/O in it.
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	app, err := New(context.Background(), cfg, st, "bench", log)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	b.Cleanup(srv.Close)
	return srv
}

// benchClient keeps one connection per sender alive, as hookshot would.
func benchClient(b *testing.B) *http.Client {
	tr := &http.Transport{MaxIdleConns: 4 * benchSenders, MaxIdleConnsPerHost: 4 * benchSenders, IdleConnTimeout: time.Minute}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// postHook posts one delivery and returns its status.
func postHook(c *http.Client, url, event, delivery string, body []byte, signature string) (int, error) {
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

// latencies gathers per-request durations from parallel senders.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

// report adds deliveries/s and the p50/p99 latency in ms to b's results.
func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	if len(l.all) == 0 {
		return
	}
	slices.Sort(l.all)
	pct := func(p float64) float64 {
		i := int(float64(len(l.all))*p+0.999999) - 1
		return float64(l.all[max(0, min(i, len(l.all)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(len(l.all))/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(l.all[len(l.all)-1])/float64(time.Millisecond), "max-ms")
}

// runSenders posts b.N deliveries from benchSenders concurrent senders
// (b.RunParallel), each built by next, and fails unless every answer is want.
func runSenders(b *testing.B, c *http.Client, url string, body []byte, signature string, want int, id func() string) {
	b.SetParallelism(max(1, (benchSenders+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
	var (
		lat    latencies
		failed atomic.Pointer[string]
	)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			status, err := postHook(c, url, "installation", id(), body, signature)
			mine = append(mine, time.Since(t0))
			if err != nil || status != want {
				msg := fmt.Sprintf("status %d (want %d), err %v", status, want, err)
				failed.CompareAndSwap(nil, &msg)
			}
		}
		lat.add(mine)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if msg := failed.Load(); msg != nil {
		b.Fatal(*msg)
	}
	lat.report(b, elapsed)
}

func BenchmarkIntake(b *testing.B) {
	keyPEM := benchKeyPEM(b)
	secret := "bench-webhook-secret"
	body := benchInstallationPayload(b, 1, "octo-org", benchPayloadBytes)
	signature := githubtest.SignPayload([]byte(secret), body)
	runID := make([]byte, 4)
	_, _ = rand.Read(runID)
	var seq atomic.Int64
	newID := func() string { return fmt.Sprintf("bench-%x-%d", runID, seq.Add(1)) }

	for _, d := range storetest.Dialects() {
		b.Run(string(d), func(b *testing.B) {
			srv := benchApp(b, d, "", keyPEM, secret)
			c := benchClient(b)
			runSenders(b, c, srv.URL, body, signature, http.StatusAccepted, newID)
		})
		// A redelivery of a recorded delivery: the same transaction, but the
		// insert conflicts and nothing is enqueued.
		b.Run(string(d)+"/duplicate", func(b *testing.B) {
			srv := benchApp(b, d, "", keyPEM, secret)
			c := benchClient(b)
			id := newID()
			if status, err := postHook(c, srv.URL, "installation", id, body, signature); err != nil || status != http.StatusAccepted {
				b.Fatalf("first delivery: status %d, err %v", status, err)
			}
			runSenders(b, c, srv.URL, body, signature, http.StatusOK, func() string { return id })
		})
	}
	// pgxpool's default pool is max(4, cores) connections, fewer than the
	// senders; pool_max_conns in the URL raises it without code changes.
	b.Run("postgres/pool_max_conns=16", func(b *testing.B) {
		srv := benchApp(b, store.Postgres, "&pool_max_conns=16", keyPEM, secret)
		runSenders(b, benchClient(b), srv.URL, body, signature, http.StatusAccepted, newID)
	})
	// A forged signature is refused before the store is touched, so one
	// dialect is enough.
	b.Run("bad_signature", func(b *testing.B) {
		srv := benchApp(b, store.SQLite, "", keyPEM, secret)
		c := benchClient(b)
		forged := "sha256=" + hex.EncodeToString(make([]byte, 32))
		runSenders(b, c, srv.URL, body, forged, http.StatusUnauthorized, newID)
	})
}

// BenchmarkIntakeParts times the CPU-only steps of intake on one ~25 KB
// payload, to show where a delivery's CPU goes outside the database.
func BenchmarkIntakeParts(b *testing.B) {
	secret := []byte("bench-webhook-secret")
	body := benchInstallationPayload(b, 1, "octo-org", benchPayloadBytes)
	signature := githubtest.SignPayload(secret, body)
	req := httptest.NewRequest(http.MethodPost, "/api/github/hook", nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(github.SHA256SignatureHeader, signature)
	b.Run("read_body", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodPost, "/api/github/hook", bytes.NewReader(body))
			if _, err := readBody(httptest.NewRecorder(), r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify_signature", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := verify(req, body, secret); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("routing_fields", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, _, ok := routingFields(body); !ok {
				b.Fatal("payload rejected")
			}
		}
	})
}
