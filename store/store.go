// Package store is agentgate's persistence: SQLite (one file, WAL, pure Go)
// by default and PostgreSQL when several replicas share work. Both run the
// same goose migrations and the same queries; dialect.go is the only place
// that knows how they differ. The durable job queue (River) keeps its tables
// in the same database so a webhook delivery and its jobs commit together.
//
// The store knows rows, not GitHub or policy: the only agentgate package it
// imports is provenance/attestlog, the attestation log's hash chain, which
// the auditor's CLI recomputes from the API without the store.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Store is an open database. Its query methods run outside any transaction;
// use InTx to group writes.
type Store struct {
	Queries
	dialect Dialect
	sqlDB   *sql.DB       // SQLite, and PostgreSQL's database/sql view for goose
	pool    *pgxpool.Pool // PostgreSQL only
}

// Queries holds every query; it runs on the pool or on a transaction.
type Queries struct {
	q querier
}

// Tx is an open transaction. SQLTx or PgxTx exposes the driver transaction
// so the job queue can insert jobs atomically with our rows.
type Tx struct {
	Queries
	sqlTx *sql.Tx
	pgxTx pgx.Tx
}

// SQLTx is the SQLite transaction (nil on PostgreSQL).
func (t *Tx) SQLTx() *sql.Tx { return t.sqlTx }

// PgxTx is the PostgreSQL transaction (nil on SQLite).
func (t *Tx) PgxTx() pgx.Tx { return t.pgxTx }

// Open connects to the database named by driver ("sqlite" or "postgres")
// and dsn (a file path or a postgres:// URL). It does not migrate.
func Open(ctx context.Context, driver, dsn string) (*Store, error) {
	switch Dialect(driver) {
	case SQLite:
		return openSQLite(ctx, dsn)
	case Postgres:
		return openPostgres(ctx, dsn)
	default:
		return nil, fmt.Errorf("open store: unknown driver %q", driver)
	}
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open store: create %s: %w", dir, err)
		}
	}
	q := url.Values{}
	// WAL lets readers run beside the writer. FULL sync makes every commit
	// survive an OS crash or power loss, not only a process crash: a 2xx to
	// GitHub promises the delivery is stored, and GitHub will not send it
	// again. The busy timeout rides out a lock held by a migrating replica.
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	// Escape the path: in a URI '?', '#' and '%' would end or alter the
	// file name and the database would silently land somewhere else.
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// SQLite allows one writer. One connection serialises our writes and
	// River's without SQLITE_BUSY errors (River's SQLite driver asks for it).
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Store{Queries: Queries{sqlQuerier{db}}, dialect: SQLite, sqlDB: db}, nil
}

func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: parse postgres URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store: connect to postgres %s: %w", redactURL(dsn), err)
	}
	return &Store{
		Queries: Queries{pgxQuerier{pool}},
		dialect: Postgres,
		sqlDB:   stdlib.OpenDBFromPool(pool),
		pool:    pool,
	}, nil
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// Dialect says which database this is.
func (s *Store) Dialect() Dialect { return s.dialect }

// SQLDB is the database/sql handle (SQLite's only pool; a view of the pgx
// pool on PostgreSQL).
func (s *Store) SQLDB() *sql.DB { return s.sqlDB }

// PgxPool is the PostgreSQL pool (nil on SQLite).
func (s *Store) PgxPool() *pgxpool.Pool { return s.pool }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.q.queryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping %s store: %w", s.dialect, err)
	}
	return nil
}

// Close releases the database.
func (s *Store) Close() error {
	if s.pool != nil {
		_ = s.sqlDB.Close()
		s.pool.Close()
		return nil
	}
	return s.sqlDB.Close()
}

// InTx runs fn in a transaction, committing if it returns nil. fn must use
// only the Tx it is given: on SQLite the store has a single connection, and
// the transaction holds it.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	if s.pool != nil {
		ptx, err := s.pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer func() { _ = ptx.Rollback(context.WithoutCancel(ctx)) }()
		if err := fn(&Tx{Queries: Queries{pgxQuerier{ptx}}, pgxTx: ptx}); err != nil {
			return err
		}
		if err := ptx.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}
	stx, err := s.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = stx.Rollback() }()
	if err := fn(&Tx{Queries: Queries{sqlQuerier{stx}}, sqlTx: stx}); err != nil {
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Lock serialises work on key across replicas until unlock is called:
// a PostgreSQL session advisory lock on a dedicated connection. SQLite is
// one process's file, so callers' in-process locking suffices and Lock
// only returns.
func (s *Store) Lock(ctx context.Context, key string) (unlock func(), err error) {
	if s.pool == nil {
		return func() {}, nil
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended($1, 0))", key); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	return func() {
		_, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
		conn.Release()
	}, nil
}
