package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/store"
	"github.com/agentgate/agentgate/store/storetest"
)

// openUnmigrated opens an empty database of dialect d without migrating it.
func openUnmigrated(t *testing.T, d store.Dialect, dsn string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), string(d), dsn)
	if err != nil {
		t.Fatalf("open %s store: %v", d, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestMigrateIsIdempotentAndPendingTracksIt(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := openUnmigrated(t, d, storetest.DSN(t, d))

			pending, err := st.Pending(ctx)
			if err != nil {
				t.Fatalf("Pending on a fresh database: %v", err)
			}
			if !pending {
				t.Fatal("Pending = false on a fresh database, want true")
			}

			first, err := st.Migrate(ctx, nil)
			if err != nil {
				t.Fatalf("first Migrate: %v", err)
			}
			if want := migrationFiles(t); !reflect.DeepEqual(first.Applied, want) {
				t.Errorf("first Migrate applied %q, want %q", first.Applied, want)
			}
			if len(first.QueueApplied) == 0 {
				t.Error("first Migrate applied no queue migrations")
			}

			second, err := st.Migrate(ctx, nil)
			if err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			if len(second.Applied) != 0 || len(second.QueueApplied) != 0 {
				t.Errorf("second Migrate applied %+v, want nothing", second)
			}

			pending, err = st.Pending(ctx)
			if err != nil {
				t.Fatalf("Pending after Migrate: %v", err)
			}
			if pending {
				t.Error("Pending = true after Migrate, want false")
			}
			if err := st.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
			if st.Dialect() != d {
				t.Errorf("Dialect() = %q, want %q", st.Dialect(), d)
			}
		})
	}
}

func TestConcurrentMigrateOnPostgres(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			if d != store.Postgres {
				t.Skip("the advisory lock is PostgreSQL's; SQLite has one process per file")
			}
			ctx := context.Background()
			dsn := storetest.DSN(t, d)
			const replicas = 4
			stores := make([]*store.Store, replicas)
			for i := range stores {
				stores[i] = openUnmigrated(t, d, dsn)
			}

			var wg sync.WaitGroup
			start := make(chan struct{})
			reports := make([]store.MigrationReport, replicas)
			errs := make([]error, replicas)
			for i, st := range stores {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start // release the replicas together
					reports[i], errs[i] = st.Migrate(ctx, nil)
				}()
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("replica %d Migrate: %v", i, err)
				}
			}
			// Exactly one replica applied the schema; the others found it done.
			var appliers, applied, queueAppliers int
			for _, r := range reports {
				applied += len(r.Applied)
				if len(r.Applied) > 0 {
					appliers++
				}
				if len(r.QueueApplied) > 0 {
					queueAppliers++
				}
			}
			if appliers != 1 || applied != len(migrationFiles(t)) || queueAppliers != 1 {
				t.Errorf("reports %+v: want the schema and the queue migrations applied by exactly one replica", reports)
			}
			for i, st := range stores {
				if pending, err := st.Pending(ctx); err != nil || pending {
					t.Errorf("replica %d Pending = %v, %v; want false, nil", i, pending, err)
				}
			}
		})
	}
}

func TestInsertDelivery(t *testing.T) {
	received := time.Date(2024, 5, 6, 7, 8, 9, 123_456_789, time.FixedZone("CEST", 2*60*60))
	wantReceived := time.Date(2024, 5, 6, 5, 8, 9, 123_000_000, time.UTC)

	big := bytes.Repeat([]byte(`{"k":"ünïcødé ✓ 🚀","n":1234567890},`), 1<<20/40)
	unicode := []byte(`{"comment":{"body":"LGTM 👍 — ça marche, 日本語, \u0000 escaped"}}`)

	tests := []struct {
		name string
		in   store.Delivery
	}{
		{"every field", store.Delivery{
			ID: "d-full", Event: "pull_request", Action: "opened", InstallationID: 42,
			Repository: "octo/hello", Outcome: store.OutcomeQueued, Reason: "", Jobs: 3,
			Payload: []byte(`{"action":"opened"}`), PayloadBytes: 19, ReceivedAt: received,
		}},
		{"1 MB payload", store.Delivery{
			ID: "d-big", Event: "push", Outcome: store.OutcomeIgnored, Reason: "no handler",
			Payload: big, PayloadBytes: len(big), ReceivedAt: received,
		}},
		{"unicode payload", store.Delivery{
			ID: "d-unicode", Event: "issue_comment", Action: "created", InstallationID: 1<<53 + 1,
			Repository: "ünï/cødé", Outcome: store.OutcomeQueued, Jobs: 1,
			Payload: unicode, PayloadBytes: len(unicode), ReceivedAt: received,
		}},
		{"nil payload", store.Delivery{
			ID: "d-rejected", Event: "pull_request", Outcome: store.OutcomeRejected,
			Reason: "bad JSON", PayloadBytes: 77, ReceivedAt: received,
		}},
	}

	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					isNew, err := st.InsertDelivery(ctx, tc.in)
					if err != nil {
						t.Fatalf("InsertDelivery: %v", err)
					}
					if !isNew {
						t.Fatal("first InsertDelivery reported false, want true")
					}

					want := tc.in
					want.ReceivedAt = wantReceived
					got, err := st.Delivery(ctx, tc.in.ID)
					if err != nil {
						t.Fatalf("Delivery: %v", err)
					}
					assertDelivery(t, got, want)

					// A redelivery reuses the id: not new, and the row is untouched.
					again := tc.in
					again.Outcome, again.Reason, again.Jobs = store.OutcomeIgnored, "changed", 99
					again.Payload, again.ReceivedAt = []byte(`{"other":true}`), received.Add(time.Hour)
					isNew, err = st.InsertDelivery(ctx, again)
					if err != nil {
						t.Fatalf("second InsertDelivery: %v", err)
					}
					if isNew {
						t.Error("second InsertDelivery with the same id reported true, want false")
					}
					got, err = st.Delivery(ctx, tc.in.ID)
					if err != nil {
						t.Fatalf("Delivery after redelivery: %v", err)
					}
					assertDelivery(t, got, want)
				})
			}

			t.Run("unknown id", func(t *testing.T) {
				_, err := st.Delivery(ctx, "no-such-delivery")
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("Delivery(unknown) error = %v, want one wrapping store.ErrNotFound", err)
				}
				if !strings.Contains(err.Error(), "no-such-delivery") {
					t.Errorf("error %q does not name the delivery", err)
				}
			})
		})
	}
}

func assertDelivery(t *testing.T, got, want store.Delivery) {
	t.Helper()
	if !bytes.Equal(got.Payload, want.Payload) {
		t.Errorf("payload differs: got %d bytes, want %d bytes", len(got.Payload), len(want.Payload))
	}
	if (got.Payload == nil) != (want.Payload == nil) {
		t.Errorf("payload nil = %v, want %v", got.Payload == nil, want.Payload == nil)
	}
	if !got.ReceivedAt.Equal(want.ReceivedAt) || got.ReceivedAt.Location() != time.UTC {
		t.Errorf("ReceivedAt = %v, want %v (UTC, millisecond precision)", got.ReceivedAt, want.ReceivedAt)
	}
	got.Payload, want.Payload = nil, nil
	got.ReceivedAt, want.ReceivedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Delivery =\n %+v\nwant\n %+v", got, want)
	}
}

func TestInTx(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		fnErr     error
		wantStays bool
	}{
		{"commit makes the row visible", nil, true},
		{"error rolls back", errBoom, false},
	}
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					id := "tx-" + strings.ReplaceAll(tc.name, " ", "-")
					err := st.InTx(ctx, func(tx *store.Tx) error {
						if (tx.SQLTx() != nil) != (d == store.SQLite) || (tx.PgxTx() != nil) != (d == store.Postgres) {
							t.Errorf("SQLTx=%v PgxTx=%v on %s", tx.SQLTx() != nil, tx.PgxTx() != nil, d)
						}
						if _, err := tx.InsertDelivery(ctx, store.Delivery{ID: id, Event: "ping", Outcome: store.OutcomePing, ReceivedAt: time.Now()}); err != nil {
							return err
						}
						if err := tx.SetState(ctx, id, "v", time.Now()); err != nil {
							return err
						}
						// Inside the transaction its own writes are visible.
						if _, err := tx.Delivery(ctx, id); err != nil {
							t.Errorf("row not visible inside its transaction: %v", err)
						}
						return tc.fnErr
					})
					if !errors.Is(err, tc.fnErr) || (tc.fnErr == nil && err != nil) {
						t.Fatalf("InTx error = %v, want %v", err, tc.fnErr)
					}
					_, err = st.Delivery(ctx, id)
					if tc.wantStays && err != nil {
						t.Errorf("committed delivery not found: %v", err)
					}
					if !tc.wantStays && !errors.Is(err, store.ErrNotFound) {
						t.Errorf("rolled-back delivery: Delivery error = %v, want ErrNotFound", err)
					}
					if _, ok, err := st.State(ctx, id); err != nil || ok != tc.wantStays {
						t.Errorf("State after InTx: ok=%v err=%v, want ok=%v", ok, err, tc.wantStays)
					}
				})
			}
		})
	}
}

func TestInstallations(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			mustUpsert := func(in store.Installation, now time.Time) {
				t.Helper()
				if err := st.UpsertInstallation(ctx, in, now); err != nil {
					t.Fatalf("UpsertInstallation %d: %v", in.ID, err)
				}
			}
			load := func(id int64) store.Installation {
				t.Helper()
				in, err := st.Installation(ctx, id)
				if err != nil {
					t.Fatalf("Installation %d: %v", id, err)
				}
				return in
			}
			activeIDs := func() []int64 {
				t.Helper()
				list, err := st.ActiveInstallations(ctx)
				if err != nil {
					t.Fatalf("ActiveInstallations: %v", err)
				}
				ids := []int64{}
				for _, in := range list {
					ids = append(ids, in.ID)
				}
				return ids
			}
			repoNames := func(id int64) []string {
				t.Helper()
				repos, err := st.InstallationRepositories(ctx, id)
				if err != nil {
					t.Fatalf("InstallationRepositories %d: %v", id, err)
				}
				names := []string{}
				for _, r := range repos {
					names = append(names, r.FullName)
				}
				return names
			}

			mustUpsert(store.Installation{ID: 3, AccountLogin: "octo", AccountType: "Organization", RepositorySelection: "all"}, at(1))
			mustUpsert(store.Installation{ID: 1, AccountLogin: "alice", AccountType: "User", RepositorySelection: "selected"}, at(1))
			mustUpsert(store.Installation{ID: 2, AccountLogin: "bob", AccountType: "User", RepositorySelection: "all"}, at(1))

			t.Run("upsert updates and keeps created_at", func(t *testing.T) {
				mustUpsert(store.Installation{ID: 3, AccountLogin: "octo-renamed", AccountType: "Organization", RepositorySelection: "selected"}, at(2))
				got := load(3)
				want := store.Installation{ID: 3, AccountLogin: "octo-renamed", AccountType: "Organization", RepositorySelection: "selected", CreatedAt: at(1), UpdatedAt: at(2)}
				if got != want {
					t.Errorf("Installation(3) = %+v, want %+v", got, want)
				}
				if ids := activeIDs(); !reflect.DeepEqual(ids, []int64{1, 2, 3}) {
					t.Errorf("active = %v, want [1 2 3] (ordered by id)", ids)
				}
			})

			t.Run("unknown installation", func(t *testing.T) {
				if _, err := st.Installation(ctx, 999); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Installation(999) error = %v, want ErrNotFound", err)
				}
			})

			t.Run("repositories add remove replace", func(t *testing.T) {
				add := []store.Repository{
					{ID: 30, FullName: "octo/zeta", Private: true},
					{ID: 10, FullName: "octo/alpha"},
					{ID: 20, FullName: "octo/mid"},
				}
				if err := st.AddInstallationRepositories(ctx, 3, add, at(3)); err != nil {
					t.Fatal(err)
				}
				repos, err := st.InstallationRepositories(ctx, 3)
				if err != nil {
					t.Fatal(err)
				}
				want := []store.Repository{{ID: 10, FullName: "octo/alpha"}, {ID: 20, FullName: "octo/mid"}, {ID: 30, FullName: "octo/zeta", Private: true}}
				if !reflect.DeepEqual(repos, want) {
					t.Errorf("repositories = %+v, want %+v", repos, want)
				}
				// Adding an existing repository (renamed) updates it in place.
				if err := st.AddInstallationRepositories(ctx, 3, []store.Repository{{ID: 30, FullName: "octo/beta"}}, at(4)); err != nil {
					t.Fatal(err)
				}
				if got := repoNames(3); !reflect.DeepEqual(got, []string{"octo/alpha", "octo/beta", "octo/mid"}) {
					t.Errorf("after rename: %v", got)
				}
				if err := st.RemoveInstallationRepositories(ctx, 3, []int64{10, 999}); err != nil {
					t.Fatal(err)
				}
				if got := repoNames(3); !reflect.DeepEqual(got, []string{"octo/beta", "octo/mid"}) {
					t.Errorf("after remove: %v", got)
				}
				// Another installation's repositories are separate.
				if err := st.AddInstallationRepositories(ctx, 1, []store.Repository{{ID: 10, FullName: "alice/x"}}, at(4)); err != nil {
					t.Fatal(err)
				}
				if err := st.ReplaceInstallationRepositories(ctx, 3, []store.Repository{{ID: 40, FullName: "octo/new"}, {ID: 20, FullName: "octo/mid"}}, at(5)); err != nil {
					t.Fatal(err)
				}
				if got := repoNames(3); !reflect.DeepEqual(got, []string{"octo/mid", "octo/new"}) {
					t.Errorf("after replace: %v", got)
				}
				if got := repoNames(1); !reflect.DeepEqual(got, []string{"alice/x"}) {
					t.Errorf("installation 1 repositories = %v, want [alice/x]", got)
				}
				if err := st.ReplaceInstallationRepositories(ctx, 1, nil, at(5)); err != nil {
					t.Fatal(err)
				}
				if got := repoNames(1); len(got) != 0 {
					t.Errorf("after replace with nothing: %v", got)
				}
			})

			t.Run("suspended is not active until unsuspended", func(t *testing.T) {
				if err := st.SetInstallationSuspended(ctx, 2, at(6), at(6)); err != nil {
					t.Fatal(err)
				}
				if got := load(2); !got.SuspendedAt.Equal(at(6)) || !got.UpdatedAt.Equal(at(6)) {
					t.Errorf("suspended installation = %+v", got)
				}
				if ids := activeIDs(); !reflect.DeepEqual(ids, []int64{1, 3}) {
					t.Errorf("active = %v, want [1 3]", ids)
				}
				if err := st.SetInstallationSuspended(ctx, 2, time.Time{}, at(7)); err != nil {
					t.Fatal(err)
				}
				if got := load(2); !got.SuspendedAt.IsZero() {
					t.Errorf("unsuspended installation SuspendedAt = %v", got.SuspendedAt)
				}
				if ids := activeIDs(); !reflect.DeepEqual(ids, []int64{1, 2, 3}) {
					t.Errorf("active after unsuspend = %v, want [1 2 3]", ids)
				}
			})

			t.Run("deleted keeps the row, forgets repositories", func(t *testing.T) {
				if err := st.MarkInstallationDeleted(ctx, 3, at(8)); err != nil {
					t.Fatal(err)
				}
				got := load(3)
				if !got.DeletedAt.Equal(at(8)) || got.AccountLogin != "octo-renamed" {
					t.Errorf("deleted installation = %+v, want the row kept with DeletedAt %v", got, at(8))
				}
				if names := repoNames(3); len(names) != 0 {
					t.Errorf("deleted installation still has repositories %v", names)
				}
				if ids := activeIDs(); !reflect.DeepEqual(ids, []int64{1, 2}) {
					t.Errorf("active = %v, want [1 2]", ids)
				}
			})

			t.Run("re-created after deletion is active again", func(t *testing.T) {
				mustUpsert(store.Installation{ID: 3, AccountLogin: "octo", AccountType: "Organization", RepositorySelection: "all"}, at(9))
				got := load(3)
				if !got.DeletedAt.IsZero() || !got.SuspendedAt.IsZero() || !got.UpdatedAt.Equal(at(9)) {
					t.Errorf("re-created installation = %+v", got)
				}
				if ids := activeIDs(); !reflect.DeepEqual(ids, []int64{1, 2, 3}) {
					t.Errorf("active = %v, want [1 2 3]", ids)
				}
			})

			t.Run("upserted as suspended", func(t *testing.T) {
				mustUpsert(store.Installation{ID: 4, AccountLogin: "sus", AccountType: "User", SuspendedAt: at(10)}, at(10))
				if ids := activeIDs(); !reflect.DeepEqual(ids, []int64{1, 2, 3}) {
					t.Errorf("active = %v, want [1 2 3]", ids)
				}
			})
		})
	}
}

func TestState(t *testing.T) {
	now := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	tests := []struct {
		name   string
		writes []string // values written in order; nil means never set
		want   string
		wantOK bool
	}{
		{"never set", nil, "", false},
		{"set once", []string{"cursor-1"}, "cursor-1", true},
		{"overwritten", []string{"cursor-1", "cursor-2"}, "cursor-2", true},
		{"empty value is set", []string{""}, "", true},
		{"unicode", []string{"ünï ✓ 🚀"}, "ünï ✓ 🚀", true},
	}
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					name := "state/" + tc.name
					for _, v := range tc.writes {
						if err := st.SetState(ctx, name, v, now); err != nil {
							t.Fatalf("SetState: %v", err)
						}
					}
					got, ok, err := st.State(ctx, name)
					if err != nil {
						t.Fatalf("State: %v", err)
					}
					if got != tc.want || ok != tc.wantOK {
						t.Errorf("State(%q) = %q, %v; want %q, %v", name, got, ok, tc.want, tc.wantOK)
					}
				})
			}
		})
	}
}

func TestPruneDeliveryPayloadsAndCounts(t *testing.T) {
	cutoff := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	deliveries := []struct {
		d         store.Delivery
		wantKept  bool // payload still there after pruning
		noPayload bool
	}{
		{store.Delivery{ID: "old-1", Outcome: store.OutcomeQueued, ReceivedAt: cutoff.Add(-48 * time.Hour)}, false, false},
		{store.Delivery{ID: "old-2", Outcome: store.OutcomeIgnored, ReceivedAt: cutoff.Add(-time.Millisecond)}, false, false},
		{store.Delivery{ID: "at-cutoff", Outcome: store.OutcomeQueued, ReceivedAt: cutoff}, true, false},
		{store.Delivery{ID: "new", Outcome: store.OutcomeQueued, ReceivedAt: cutoff.Add(time.Hour)}, true, false},
		{store.Delivery{ID: "old-rejected", Outcome: store.OutcomeRejected, ReceivedAt: cutoff.Add(-time.Hour)}, false, true},
		{store.Delivery{ID: "ping", Outcome: store.OutcomePing, ReceivedAt: cutoff.Add(time.Hour)}, true, false},
	}
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)

			counts, err := st.DeliveryCounts(ctx)
			if err != nil {
				t.Fatalf("DeliveryCounts on empty store: %v", err)
			}
			if len(counts) != 0 {
				t.Errorf("DeliveryCounts on empty store = %v, want empty", counts)
			}

			for _, tc := range deliveries {
				in := tc.d
				in.Event = "x"
				if !tc.noPayload {
					in.Payload = []byte(`{"id":"` + in.ID + `"}`)
				}
				if _, err := st.InsertDelivery(ctx, in); err != nil {
					t.Fatal(err)
				}
			}
			n, err := st.PruneDeliveryPayloads(ctx, cutoff)
			if err != nil {
				t.Fatalf("PruneDeliveryPayloads: %v", err)
			}
			if n != 2 {
				t.Errorf("PruneDeliveryPayloads pruned %d, want 2 (old-1, old-2)", n)
			}
			for _, tc := range deliveries {
				got, err := st.Delivery(ctx, tc.d.ID)
				if err != nil {
					t.Fatalf("delivery %s gone after pruning: %v", tc.d.ID, err)
				}
				if kept := got.Payload != nil; kept != (tc.wantKept && !tc.noPayload) {
					t.Errorf("delivery %s payload kept = %v, want %v", tc.d.ID, kept, tc.wantKept)
				}
			}
			// Pruning again finds nothing left to prune.
			if n, err := st.PruneDeliveryPayloads(ctx, cutoff); err != nil || n != 0 {
				t.Errorf("second prune = %d, %v; want 0, nil", n, err)
			}
			// Redeliveries are still recognised after pruning.
			if isNew, err := st.InsertDelivery(ctx, store.Delivery{ID: "old-1", Event: "x", Outcome: store.OutcomeQueued, ReceivedAt: cutoff}); err != nil || isNew {
				t.Errorf("redelivery of pruned delivery: new=%v err=%v; want false, nil", isNew, err)
			}

			counts, err = st.DeliveryCounts(ctx)
			if err != nil {
				t.Fatalf("DeliveryCounts: %v", err)
			}
			want := map[string]int{store.OutcomeQueued: 3, store.OutcomeIgnored: 1, store.OutcomeRejected: 1, store.OutcomePing: 1}
			if !reflect.DeepEqual(counts, want) {
				t.Errorf("DeliveryCounts = %v, want %v", counts, want)
			}
		})
	}
}

func TestJobCountsOnEmptyQueue(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			st := storetest.Open(t, d)
			counts, err := st.JobCounts(context.Background())
			if err != nil {
				t.Fatalf("JobCounts: %v", err)
			}
			if len(counts) != 0 {
				t.Errorf("JobCounts on an empty queue = %+v, want none", counts)
			}
		})
	}
}

func TestSQLiteFileAndWAL(t *testing.T) {
	tests := []struct {
		name string
		rel  string
	}{
		{"missing parent dirs", filepath.Join("a", "b", "c", "agentgate.db")},
		{"space in path", filepath.Join("my data", "agentgate.db")},
		{"URI characters in path", filepath.Join("ag#1", "what?", "100%20", "agentgate.db")},
	}
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			if d != store.SQLite {
				t.Skip("SQLite only: the file and its journal mode")
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					path := filepath.Join(t.TempDir(), tc.rel)
					st := openUnmigrated(t, d, path)
					if _, err := st.Migrate(ctx, nil); err != nil {
						t.Fatalf("Migrate: %v", err)
					}
					ents, err := os.ReadDir(filepath.Dir(path))
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range ents {
						if !strings.HasPrefix(e.Name(), "agentgate.db") {
							t.Errorf("unexpected file %s beside the database", e.Name())
						}
					}
					fi, err := os.Stat(path)
					if err != nil {
						t.Fatalf("database file not created at %s: %v", path, err)
					}
					if fi.Size() == 0 {
						t.Errorf("database file %s is empty after Migrate", path)
					}
					var mode string
					if err := st.SQLDB().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
						t.Fatalf("PRAGMA journal_mode: %v", err)
					}
					if mode != "wal" {
						t.Errorf("journal_mode = %q, want wal", mode)
					}
					var fk int
					if err := st.SQLDB().QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
						t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
					}
					if st.PgxPool() != nil {
						t.Error("PgxPool() is not nil on SQLite")
					}
					// The data survives a reopen.
					if _, err := st.InsertDelivery(ctx, store.Delivery{ID: "persist", Event: "ping", Outcome: store.OutcomePing, ReceivedAt: time.Now()}); err != nil {
						t.Fatal(err)
					}
					if err := st.Close(); err != nil {
						t.Fatal(err)
					}
					again := openUnmigrated(t, d, path)
					if _, err := again.Delivery(ctx, "persist"); err != nil {
						t.Errorf("delivery lost across reopen: %v", err)
					}
				})
			}
		})
	}
}

func TestOpenUnknownDriver(t *testing.T) {
	if _, err := store.Open(context.Background(), "mysql", "x"); err == nil || !strings.Contains(err.Error(), "mysql") {
		t.Errorf("Open(mysql) error = %v, want one naming the driver", err)
	}
}

// migrationFiles lists the migrations shipped in store/migrations, in order.
func migrationFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestLockSerialisesAcrossReplicas: two stores on one PostgreSQL database
// (two replicas) cannot hold the same key at once; other keys are free.
func TestLockSerialisesAcrossReplicas(t *testing.T) {
	dsn := storetest.DSN(t, store.Postgres)
	ctx := context.Background()
	a, err := store.Open(ctx, "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(ctx, "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	unlock, err := a.Lock(ctx, "o/r#1@abc")
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.Lock(ctx, "o/r#2@def")
	if err != nil {
		t.Fatalf("a different key must not wait: %v", err)
	}
	other()
	waitCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(waitCtx, "o/r#1@abc"); err == nil {
		t.Fatal("second replica took a held lock")
	}
	unlock()
	got, err := b.Lock(ctx, "o/r#1@abc")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	got()
}
