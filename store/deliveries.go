package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Delivery outcomes, as recorded and as counted in metrics.
const (
	OutcomeQueued   = "queued"   // jobs were enqueued for it
	OutcomeIgnored  = "ignored"  // no handler wants this event
	OutcomeRejected = "rejected" // signed correctly but unusable (bad JSON, missing fields)
	OutcomePing     = "ping"
)

// Delivery is one webhook delivery as GitHub sent it.
type Delivery struct {
	ID             string // X-GitHub-Delivery
	Event          string
	Action         string
	InstallationID int64
	Repository     string // owner/name, when the event has one
	Outcome        string
	Reason         string
	Jobs           int
	Payload        []byte // nil for rejected deliveries
	PayloadBytes   int
	ReceivedAt     time.Time
}

// InsertDelivery records d unless a delivery with the same id exists. It
// reports whether d was new: false means a redelivery, which must not be
// processed twice.
func (q Queries) InsertDelivery(ctx context.Context, d Delivery) (bool, error) {
	var payload any
	if d.Payload != nil {
		payload = string(d.Payload)
	}
	n, err := q.q.exec(ctx, `INSERT INTO deliveries
		(id, event, action, installation_id, repository, outcome, reason, jobs, payload, payload_bytes, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		d.ID, d.Event, d.Action, d.InstallationID, d.Repository, d.Outcome, d.Reason, d.Jobs,
		payload, d.PayloadBytes, millis(d.ReceivedAt))
	if err != nil {
		return false, fmt.Errorf("record delivery %s: %w", d.ID, err)
	}
	return n == 1, nil
}

// Delivery loads one delivery, payload included.
func (q Queries) Delivery(ctx context.Context, id string) (Delivery, error) {
	var (
		d        Delivery
		payload  sql.NullString
		received int64
	)
	err := q.q.queryRow(ctx, `SELECT id, event, action, installation_id, repository, outcome, reason, jobs, payload, payload_bytes, received_at
		FROM deliveries WHERE id = ?`, id).
		Scan(&d.ID, &d.Event, &d.Action, &d.InstallationID, &d.Repository, &d.Outcome, &d.Reason, &d.Jobs, &payload, &d.PayloadBytes, &received)
	if err != nil {
		return Delivery{}, fmt.Errorf("load delivery %s: %w", id, err)
	}
	if payload.Valid {
		d.Payload = []byte(payload.String)
	}
	d.ReceivedAt = fromMillis(received)
	return d, nil
}

// DeliveryCounts counts recorded deliveries by outcome.
func (q Queries) DeliveryCounts(ctx context.Context) (map[string]int, error) {
	r, err := q.q.query(ctx, `SELECT outcome, COUNT(*) FROM deliveries GROUP BY outcome`)
	if err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	defer r.Close()
	out := map[string]int{}
	for r.Next() {
		var outcome string
		var n int
		if err := r.Scan(&outcome, &n); err != nil {
			return nil, fmt.Errorf("count deliveries: %w", err)
		}
		out[outcome] = n
	}
	return out, r.Err()
}

// PruneDeliveryPayloads drops payloads of deliveries received before cutoff;
// the delivery rows stay so redeliveries are still recognised.
func (q Queries) PruneDeliveryPayloads(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := q.q.exec(ctx, `UPDATE deliveries SET payload = NULL WHERE received_at < ? AND payload IS NOT NULL`, millis(cutoff))
	if err != nil {
		return 0, fmt.Errorf("prune delivery payloads: %w", err)
	}
	return n, nil
}
