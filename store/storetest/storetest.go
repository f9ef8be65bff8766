// Package storetest opens real, migrated stores for tests: a SQLite file in
// t.TempDir(), and a fresh PostgreSQL database per test on the server named
// by AGENTGATE_TEST_POSTGRES_URL (.ci/start-postgres prints one). Without
// that variable PostgreSQL cases are skipped locally and fail in CI.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/agentgate/agentgate/store"
)

// PostgresURLEnv names the admin URL of the test PostgreSQL server.
const PostgresURLEnv = "AGENTGATE_TEST_POSTGRES_URL"

// Dialects lists the databases a test should run against.
func Dialects() []store.Dialect { return []store.Dialect{store.SQLite, store.Postgres} }

// DSN creates an empty database of the dialect for this test and returns
// its driver DSN (a file path or a postgres:// URL). The PostgreSQL database
// is dropped when the test ends.
func DSN(t testing.TB, d store.Dialect) string {
	t.Helper()
	if d == store.SQLite {
		return filepath.Join(t.TempDir(), "agentgate.db")
	}
	admin := os.Getenv(PostgresURLEnv)
	if admin == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL suite (.ci/run starts a server)", PostgresURLEnv)
		}
		t.Skipf("%s not set; skipping PostgreSQL (run .ci/start-postgres and export its URL)", PostgresURLEnv)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to test postgres: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "agentgate_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Open returns a migrated store of the dialect, closed when the test ends.
func Open(t testing.TB, d store.Dialect) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, string(d), DSN(t, d))
	if err != nil {
		t.Fatalf("open %s store: %v", d, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(ctx, nil); err != nil {
		t.Fatalf("migrate %s store: %v", d, err)
	}
	return st
}
