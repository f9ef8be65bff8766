package store

import (
	"context"
	"sync"
)

// AttestationWriter appends landed commits' attestations for many callers
// at once (group commit): appends that arrive while a transaction is
// committing wait and go together into the next one (Store.AppendCommits), so a burst of merges pays for one
// durable commit (an fsync on SQLite, a WAL flush on PostgreSQL) instead
// of one each. A lone append goes straight through. The zero value is not
// usable; use NewAttestationWriter. Safe for concurrent use.
type AttestationWriter struct {
	store *Store

	mu      sync.Mutex
	pending []*appendRequest
	writing bool // a caller is committing batches; the rest wait for it
}

type appendRequest struct {
	rows []Attestation
	done chan appendResult // buffered: the writer never blocks on it
}

type appendResult struct {
	inserted []Attestation
	err      error
}

// NewAttestationWriter makes a writer that appends to s.
func NewAttestationWriter(s *Store) *AttestationWriter {
	return &AttestationWriter{store: s}
}

// AppendCommit appends one landed commit's statements, or nothing if the
// log has any row of that commit already (see Store.AppendCommits). It
// returns the rows of this call that were inserted, whatever else shared
// the transaction.
func (w *AttestationWriter) AppendCommit(ctx context.Context, rows []Attestation) ([]Attestation, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	req := &appendRequest{rows: rows, done: make(chan appendResult, 1)}
	w.mu.Lock()
	w.pending = append(w.pending, req)
	lead := !w.writing
	w.writing = true
	w.mu.Unlock()
	if lead {
		// This caller commits batches until nobody waits. The batches
		// belong to other callers too, so a cancelled ctx must not cut
		// them short: each commit is short and bounded by the store.
		w.drain(context.WithoutCancel(ctx))
	}
	select {
	case r := <-req.done:
		return r.inserted, r.err
	case <-ctx.Done():
		// The rows may still land: the writer holds them. A retry finds
		// them in the log and adds nothing.
		return nil, ctx.Err()
	}
}

func (w *AttestationWriter) drain(ctx context.Context) {
	for {
		w.mu.Lock()
		batch := w.pending
		w.pending = nil
		if len(batch) == 0 {
			w.writing = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		w.commit(ctx, batch)
	}
}

// commit appends a batch in one transaction and hands each request its
// own inserted rows. If the batch fails, each request is tried alone, so
// one bad request fails only its caller.
func (w *AttestationWriter) commit(ctx context.Context, batch []*appendRequest) {
	groups := make([][]Attestation, len(batch))
	for i, r := range batch {
		groups[i] = r.rows
	}
	inserted, err := w.store.AppendCommits(ctx, groups)
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			ins, err := w.store.AppendCommits(ctx, [][]Attestation{r.rows})
			if err != nil {
				r.done <- appendResult{err: err}
				continue
			}
			r.done <- appendResult{inserted: ins[0]}
		}
		return
	}
	for i, r := range batch {
		if err != nil {
			r.done <- appendResult{err: err}
			continue
		}
		r.done <- appendResult{inserted: inserted[i]}
	}
}
