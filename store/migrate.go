package store

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID keys the PostgreSQL advisory lock that lets one replica at
// a time migrate; the others wait and then find nothing to do.
const migrationLockID = 0x61676d69 // "agmi"

// MigrationReport says what Migrate applied.
type MigrationReport struct {
	Applied      []string // our migrations, by file name
	QueueApplied []int    // River's migration versions
}

// Migrate brings the schema up to date: our goose migrations, then River's
// own. On PostgreSQL both run under one advisory lock so replicas starting
// together do not race.
func (s *Store) Migrate(ctx context.Context, log *slog.Logger) (MigrationReport, error) {
	var report MigrationReport
	run := func() error {
		provider, err := s.gooseProvider()
		if err != nil {
			return err
		}
		results, err := provider.Up(ctx)
		if err != nil {
			return fmt.Errorf("apply migrations: %w", err)
		}
		for _, r := range results {
			report.Applied = append(report.Applied, r.Source.Path)
		}
		versions, err := s.migrateQueue(ctx)
		if err != nil {
			return err
		}
		report.QueueApplied = versions
		return nil
	}
	if s.pool == nil {
		if err := run(); err != nil {
			return report, err
		}
	} else {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return report, fmt.Errorf("migrate: acquire connection: %w", err)
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
			return report, fmt.Errorf("migrate: take lock: %w", err)
		}
		defer func() {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockID)
		}()
		if err := run(); err != nil {
			return report, err
		}
	}
	if log != nil && (len(report.Applied) > 0 || len(report.QueueApplied) > 0) {
		log.Info("migrated store", "dialect", s.dialect, "applied", report.Applied, "queue_versions", report.QueueApplied)
	}
	return report, nil
}

func (s *Store) gooseProvider() (*goose.Provider, error) {
	dialect := goose.DialectSQLite3
	if s.dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(dialect, s.sqlDB, dialectFS{sub, s.dialect}, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

func (s *Store) migrateQueue(ctx context.Context) ([]int, error) {
	var (
		res *rivermigrate.MigrateResult
		err error
	)
	if s.pool != nil {
		m, merr := rivermigrate.New(riverpgxv5.New(s.pool), nil)
		if merr != nil {
			return nil, fmt.Errorf("queue migrations: %w", merr)
		}
		res, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	} else {
		m, merr := rivermigrate.New(riversqlite.New(s.sqlDB), nil)
		if merr != nil {
			return nil, fmt.Errorf("queue migrations: %w", merr)
		}
		res, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("apply queue migrations: %w", err)
	}
	var versions []int
	for _, v := range res.Versions {
		versions = append(versions, v.Version)
	}
	return versions, nil
}

// Pending reports whether any migration (ours or River's) is not applied;
// /readyz fails until it is false.
func (s *Store) Pending(ctx context.Context) (bool, error) {
	provider, err := s.gooseProvider()
	if err != nil {
		return false, err
	}
	pending, err := provider.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("check migrations: %w", err)
	}
	if pending {
		return true, nil
	}
	var existing []rivermigrate.Migration
	var all int
	if s.pool != nil {
		m, err := rivermigrate.New(riverpgxv5.New(s.pool), nil)
		if err != nil {
			return false, err
		}
		all = len(m.AllVersions())
		existing, err = m.ExistingVersions(ctx)
		if err != nil {
			return false, fmt.Errorf("check queue migrations: %w", err)
		}
	} else {
		m, err := rivermigrate.New(riversqlite.New(s.sqlDB), nil)
		if err != nil {
			return false, err
		}
		all = len(m.AllVersions())
		existing, err = m.ExistingVersions(ctx)
		if err != nil {
			return false, fmt.Errorf("check queue migrations: %w", err)
		}
	}
	return len(existing) < all, nil
}

// dialectFS serves the migrations as one dialect runs them. Most SQL is
// written once for both databases; what cannot be (triggers, a column's
// type) goes in sections: a line "-- +agentgate sqlite" or
// "-- +agentgate postgres" starts lines only that database runs, and
// "-- +agentgate both" ends them. The other database's lines become
// blank, so goose's line numbers stay right.
type dialectFS struct {
	fsys    fs.FS
	dialect Dialect
}

func (d dialectFS) Open(name string) (fs.File, error) {
	if !strings.HasSuffix(name, ".sql") {
		return d.fsys.Open(name)
	}
	data, err := fs.ReadFile(d.fsys, name)
	if err != nil {
		return nil, err
	}
	info, err := fs.Stat(d.fsys, name)
	if err != nil {
		return nil, err
	}
	kept, err := dialectSQL(data, d.dialect)
	if err != nil {
		return nil, fmt.Errorf("migration %s: %w", name, err)
	}
	return &sqlFile{Reader: bytes.NewReader(kept), info: sqlFileInfo{info, int64(len(kept))}}, nil
}

// dialectSQL keeps the lines of a migration that dialect d runs.
func dialectSQL(data []byte, d Dialect) ([]byte, error) {
	lines := strings.SplitAfter(string(data), "\n")
	var b strings.Builder
	b.Grow(len(data))
	keep := true
	for i, line := range lines {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "--" && f[1] == "+agentgate" {
			switch Dialect(f[2]) {
			case SQLite, Postgres:
				keep = Dialect(f[2]) == d
			case "both":
				keep = true
			default:
				return nil, fmt.Errorf("line %d: unknown section %q (want sqlite, postgres or both)", i+1, f[2])
			}
			b.WriteString("\n")
			continue
		}
		if keep {
			b.WriteString(line)
		} else if strings.HasSuffix(line, "\n") {
			b.WriteString("\n")
		}
	}
	return []byte(b.String()), nil
}

type sqlFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (f *sqlFile) Stat() (fs.FileInfo, error) { return f.info, nil }

type sqlFileInfo struct {
	fs.FileInfo
	size int64
}

func (i sqlFileInfo) Size() int64 { return i.size }
func (f *sqlFile) Close() error   { return nil }
