package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// State returns a named value, and false when it was never set.
func (q Queries) State(ctx context.Context, name string) (string, bool, error) {
	var v string
	err := q.q.queryRow(ctx, `SELECT value FROM state WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read state %s: %w", name, err)
	}
	return v, true, nil
}

// SetState stores a named value.
func (q Queries) SetState(ctx context.Context, name, value string, now time.Time) error {
	_, err := q.q.exec(ctx, `INSERT INTO state (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, millis(now))
	if err != nil {
		return fmt.Errorf("write state %s: %w", name, err)
	}
	return nil
}

// JobCount is how many queue jobs of a kind are in a state.
type JobCount struct {
	Kind  string
	State string
	Count int
}

// JobCounts counts the queue's jobs by kind and state (River's table), for
// the queue-depth and dead-job metrics.
func (q Queries) JobCounts(ctx context.Context) ([]JobCount, error) {
	r, err := q.q.query(ctx, `SELECT kind, state, COUNT(*) FROM river_job GROUP BY kind, state`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer r.Close()
	var out []JobCount
	for r.Next() {
		var c JobCount
		if err := r.Scan(&c.Kind, &c.State, &c.Count); err != nil {
			return nil, fmt.Errorf("count jobs: %w", err)
		}
		out = append(out, c)
	}
	return out, r.Err()
}
