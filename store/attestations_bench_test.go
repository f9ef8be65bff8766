package store

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/agentgate/agentgate/provenance/attestlog"
)

// Run with:
//
//	go test -run '^$' -bench 'Attestations' -benchtime 3s ./store/
//
// The first run of the 1M benchmarks fills a SQLite file of 1,000,000
// attestations under os.TempDir() (about a minute); later runs reuse it
// until the schema or the fill changes.

func openBenchStore(b *testing.B, path string) *Store {
	b.Helper()
	ctx := context.Background()
	st, err := Open(ctx, string(SQLite), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(ctx, nil); err != nil {
		b.Fatal(err)
	}
	return st
}

var benchPredicateTypes = []string{
	"https://slsa.dev/provenance/v1",
	"https://in-toto.io/attestation/test-result/v0.1",
	"https://in-toto.io/attestation/test-result/v0.1",
	"https://agentgate.dev/attestation/review/v1",
	"https://slsa.dev/verification_summary/v1",
}

var benchNames = []string{"", "test", "lint", "", ""}

// BenchmarkAppendAttestations: one merge (five rows with ~3 KB bundles)
// appended to a SQLite file in one call: a transaction with the file's
// write lock, durable (synchronous=FULL) on commit.
func BenchmarkAppendAttestations(b *testing.B) { benchmarkAppend(b, 1) }

// BenchmarkAppendAttestationsBatched10: ten merges (50 rows) per call, as
// a caller that groups concurrent merges into one transaction would: the
// commit's fsync is shared.
func BenchmarkAppendAttestationsBatched10(b *testing.B) { benchmarkAppend(b, 10) }

func benchmarkAppend(b *testing.B, merges int) {
	ctx := context.Background()
	st := openBenchStore(b, filepath.Join(b.TempDir(), "bench.db"))
	bundles := make([][]byte, 5)
	for i := range bundles {
		bundles[i] = make([]byte, 3072)
		_, _ = rand.Read(bundles[i])
	}
	t0 := time.Now()
	n := 0
	for b.Loop() {
		rows := make([]Attestation, 0, 5*merges)
		for range merges {
			n++
			for j := range 5 {
				rows = append(rows, Attestation{
					Repository: "acme/widgets", Commit: fmt.Sprintf("%040x", n), PullNumber: n,
					PredicateType: benchPredicateTypes[j], Name: benchNames[j], Agent: "claude-code", Model: "claude-sonnet-4.5",
					SignerKeyID: "k1", SignedAt: t0.Add(time.Duration(n) * time.Second), Bundle: bundles[j],
				})
			}
		}
		got, err := st.AppendAttestations(ctx, rows)
		if err != nil || len(got) != len(rows) {
			b.Fatalf("append: %d rows, %v", len(got), err)
		}
	}
	b.ReportMetric(float64(b.N*merges)/b.Elapsed().Seconds(), "merges/s")
}

// The 1M log: 200,000 merges of five rows over one year (one every ~158
// s), in 50 repositories of 10 owners (so ~55 rows per repository per
// day), three agents, five models, two signing keys, signed in chain
// order; bundles are ~60 bytes, so the file stays small (the query paths
// do not read them).
const (
	benchRows    = 1_000_000
	benchMerges  = benchRows / 5
	benchRepos   = 50
	benchOwners  = 10
	benchFillVer = "fill-v1" // change when the fill below changes
)

var benchStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func benchMergeTime(k int) time.Time {
	return benchStart.Add(time.Duration(k) * (365 * 24 * time.Hour / benchMerges))
}

func benchRepo(k int) string {
	r := k % benchRepos
	return fmt.Sprintf("owner%d/repo%d", r%benchOwners, r)
}

func benchCommit(k int) string {
	sum := sha1.Sum(fmt.Appendf(nil, "commit %d", k))
	return hex.EncodeToString(sum[:])
}

// benchLogPath is the filled 1M file, made on first use. Its name carries
// a digest of the migrations and the fill, so a schema change makes a new
// one.
func benchLogPath(b *testing.B) string {
	b.Helper()
	h := sha256.New()
	h.Write([]byte(benchFillVer))
	err := fs.WalkDir(migrationFiles, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(migrationFiles, p)
		h.Write([]byte(p))
		h.Write(data)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("agentgate-bench-attestations-1m-%x.db", h.Sum(nil)[:6]))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".filling"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(tmp + suffix)
	}
	b.Logf("filling %s with %d attestations (once)", path, benchRows)
	start := time.Now()
	if err := fillBenchLog(tmp); err != nil {
		b.Fatalf("fill %s: %v", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	_ = os.Remove(tmp + "-wal")
	_ = os.Remove(tmp + "-shm")
	b.Logf("filled in %s", time.Since(start).Round(time.Second))
	return path
}

// fillBenchLog writes the 1M log straight into the tables (a valid
// chain, one transaction per 50,000 rows, without fsync), checkpoints
// the WAL and closes the file. It does not ANALYZE: the store never does,
// so the planner works as it would in production.
func fillBenchLog(path string) error {
	ctx := context.Background()
	st, err := Open(ctx, string(SQLite), path)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx, nil); err != nil {
		return err
	}
	db := st.sqlDB
	for _, p := range []string{"PRAGMA synchronous = OFF", "PRAGMA cache_size = -262144"} {
		if _, err := db.ExecContext(ctx, p); err != nil {
			return err
		}
	}
	agents := []string{"claude-code", "codex", "aider"}
	prev := attestlog.Genesis
	seq := int64(0)
	const perTx = 50_000
	for k := 0; k < benchMerges; {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		insRow, err := tx.PrepareContext(ctx, `INSERT INTO attestations (seq, id, repository, commit_sha, pull_number, predicate_type, name,
			agent, model, signer_key_id, signed_at, max_signed_at, bundle_sha256, prev_hash, row_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		insBundle, err := tx.PrepareContext(ctx, `INSERT INTO attestation_bundles (seq, bundle) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		for end := min(k+perTx/5, benchMerges); k < end; k++ {
			at := benchMergeTime(k)
			for j := range 5 {
				seq++
				bundle := fmt.Appendf(nil, `{"merge":%d,"statement":%d,"mediaType":"bench"}`, k, j)
				a := Attestation{
					Seq: seq, ID: fmt.Sprintf("att_%026d", seq), Repository: benchRepo(k), Commit: benchCommit(k), PullNumber: k/benchRepos + 1,
					PredicateType: benchPredicateTypes[j], Name: benchNames[j], Agent: agents[k%3], Model: fmt.Sprintf("model-%d", k%5),
					SignerKeyID: []string{"key-2025a", "key-2025b"}[k*2/benchMerges], SignedAt: at,
					BundleSHA256: attestlog.BundleSHA256(bundle), PrevHash: prev,
				}
				a.RowHash = a.Entry().Hash()
				prev = a.RowHash
				if _, err := insRow.ExecContext(ctx, a.Seq, a.ID, a.Repository, a.Commit, a.PullNumber, a.PredicateType, a.Name,
					a.Agent, a.Model, a.SignerKeyID, attestlog.Millis(a.SignedAt), attestlog.Millis(a.SignedAt), a.BundleSHA256, a.PrevHash, a.RowHash); err != nil {
					return err
				}
				if _, err := insBundle.ExecContext(ctx, a.Seq, bundle); err != nil {
					return err
				}
			}
		}
		insRow.Close()
		insBundle.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	for _, p := range []string{"PRAGMA wal_checkpoint(TRUNCATE)"} {
		if _, err := db.ExecContext(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkQueryAttestations1M: query latency with 1,000,000 attestations
// in a SQLite file, reported as p50 and p99 in milliseconds.
func BenchmarkQueryAttestations1M(b *testing.B) {
	st := openBenchStore(b, benchLogPath(b))
	ctx := context.Background()
	if h, err := st.AttestationLogHead(ctx); err != nil || h.Seq != benchRows {
		b.Fatalf("bench log head %+v, %v", h, err)
	}
	rng := mrand.New(mrand.NewPCG(5, 7))
	cases := []struct {
		name  string
		query func() AttestationQuery
		check func(AttestationPage) bool
	}{
		{"by_commit", func() AttestationQuery {
			return AttestationQuery{Commit: benchCommit(rng.IntN(benchMerges))}
		}, func(p AttestationPage) bool { return len(p.Items) == 5 }},
		{"by_repo_1day", func() AttestationQuery {
			day := benchStart.AddDate(0, 0, rng.IntN(364))
			return AttestationQuery{Repository: benchRepo(rng.IntN(benchRepos)), Since: day, Until: day.Add(24 * time.Hour), Limit: 100}
		}, func(p AttestationPage) bool { return len(p.Items) > 0 }},
		{"scope_owner_page", func() AttestationQuery {
			return AttestationQuery{Repositories: []string{fmt.Sprintf("owner%d/*", rng.IntN(benchOwners))}, AfterSeq: rng.Int64N(benchRows - 10_000), Limit: 100}
		}, func(p AttestationPage) bool { return len(p.Items) == 100 }},
		{"scope_owner_repo_1day", func() AttestationQuery {
			day := benchStart.AddDate(0, 0, rng.IntN(364))
			r := rng.IntN(benchRepos)
			return AttestationQuery{Repositories: []string{fmt.Sprintf("owner%d/*", r%benchOwners)}, Repository: benchRepo(r),
				Since: day, Until: day.Add(24 * time.Hour), Limit: 100}
		}, func(p AttestationPage) bool { return len(p.Items) > 0 }},
		{"by_repo_30d", func() AttestationQuery {
			day := benchStart.AddDate(0, 0, rng.IntN(330))
			return AttestationQuery{Repository: benchRepo(rng.IntN(benchRepos)), Since: day, Until: day.AddDate(0, 0, 30), Limit: 100}
		}, func(p AttestationPage) bool { return len(p.Items) == 100 }},
		{"since_30d_page", func() AttestationQuery {
			return AttestationQuery{Since: benchStart.AddDate(0, 0, 300+rng.IntN(30)), Limit: 100}
		}, func(p AttestationPage) bool { return len(p.Items) == 100 }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				q := c.query()
				start := time.Now()
				page, err := st.QueryAttestations(ctx, q)
				lat = append(lat, time.Since(start))
				if err != nil || !c.check(page) {
					b.Fatalf("%+v: %d rows, %v", q, len(page.Items), err)
				}
			}
			reportPercentiles(b, lat)
		})
	}
}

// BenchmarkAuditAttestationLog1M: verify-log's chain walk (hash, link,
// bundle digest; no signature check) over the 1M file.
func BenchmarkAuditAttestationLog1M(b *testing.B) {
	st := openBenchStore(b, benchLogPath(b))
	for b.Loop() {
		rep, err := st.AuditAttestationLog(context.Background(), nil)
		if err != nil || !rep.OK() || rep.Rows != benchRows {
			b.Fatalf("audit: %d rows, %d findings, %v", rep.Rows, len(rep.Findings), err)
		}
	}
	b.ReportMetric(float64(b.N)*benchRows/b.Elapsed().Seconds(), "rows/s")
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat)), "samples")
}
