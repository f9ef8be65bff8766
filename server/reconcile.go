package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/metrics"
	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/store"
)

// Repair is one thing the reconciler puts right on every run, e.g. "open PRs
// whose head has no agentgate check run" (the gate) or "tasks stuck past
// their deadline" (dispatch). Each capability registers its own.
type Repair interface {
	Name() string
	Repair(ctx context.Context) error
}

// appClients is what the reconciler needs from ghapp.
type appClients interface {
	App() (*github.Client, error)
}

// Reconciler repairs what webhooks missed. It runs as a periodic queue job,
// which only the elected leader schedules, so one replica runs it at a time.
type Reconciler struct {
	store   *store.Store
	clients appClients
	metrics *metrics.Metrics
	repairs []Repair
	// lookback bounds the first run's look at past deliveries.
	lookback time.Duration
	// maxRedeliveries per delivery GUID within the window: a delivery that
	// keeps failing is not retried forever.
	maxRedeliveries int
	now             func() time.Time
}

// deliveriesCheckedState is the store key of the time up to which failed
// deliveries have been looked at.
const deliveriesCheckedState = "reconcile.deliveries.checked_until"

// overlap re-examines a margin before the last check: a delivery GitHub was
// still sending at the last run shows up as failed only afterwards.
const overlap = 2 * time.Minute

// Run is one reconciler pass: redeliver failed webhooks, then every repair.
// Every step runs even when an earlier one fails; the errors are joined.
func (rc *Reconciler) Run(ctx context.Context) error {
	var errs []error
	if err := rc.redeliverFailed(ctx); err != nil {
		errs = append(errs, fmt.Errorf("redeliver failed webhooks: %w", err))
	}
	for _, r := range rc.repairs {
		if err := r.Repair(ctx); err != nil {
			errs = append(errs, fmt.Errorf("repair %s: %w", r.Name(), err))
		}
	}
	err := errors.Join(errs...)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	rc.metrics.ReconcileRuns.WithLabelValues(outcome).Inc()
	return err
}

// redeliverFailed lists the app's webhook deliveries since the last run
// (GitHub lists newest first) and asks GitHub to redeliver every GUID none of
// whose attempts succeeded and that we never recorded.
func (rc *Reconciler) redeliverFailed(ctx context.Context) error {
	log := webhook.Logger(ctx)
	runStart := rc.now()
	since := runStart.Add(-rc.lookback)
	if v, ok, err := rc.store.State(ctx, deliveriesCheckedState); err != nil {
		return err
	} else if ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.Add(-overlap).After(since) {
			since = t.Add(-overlap)
		}
	}
	client, err := rc.clients.App()
	if err != nil {
		return err
	}

	type guidState struct {
		succeeded    bool
		redeliveries int
		latest       *github.HookDelivery // newest attempt
	}
	byGUID := map[string]*guidState{}
	var order []string
	opts := &github.ListCursorOptions{PerPage: 100}
pages:
	for {
		page, resp, err := client.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			return fmt.Errorf("list hook deliveries: %w", err)
		}
		for _, d := range page {
			if d.DeliveredAt != nil && d.DeliveredAt.Before(since) {
				break pages
			}
			st, ok := byGUID[d.GetGUID()]
			if !ok {
				st = &guidState{latest: d}
				byGUID[d.GetGUID()] = st
				order = append(order, d.GetGUID())
			}
			if code := d.GetStatusCode(); code >= 200 && code < 300 {
				st.succeeded = true
			}
			if d.GetRedelivery() {
				st.redeliveries++
			}
		}
		if resp.Cursor == "" {
			break
		}
		opts.Cursor = resp.Cursor
	}

	var errs []error
	for _, guid := range order {
		st := byGUID[guid]
		if st.succeeded || st.redeliveries >= rc.maxRedeliveries {
			continue
		}
		// A delivery we recorded but whose answer GitHub never saw (a
		// timeout after commit) needs no redelivery.
		if _, err := rc.store.Delivery(ctx, guid); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		_, _, err := client.Apps.RedeliverHookDelivery(ctx, st.latest.GetID())
		var accepted *github.AcceptedError
		if err != nil && !errors.As(err, &accepted) {
			rc.metrics.ReconcileRedelivered.WithLabelValues("error").Inc()
			errs = append(errs, fmt.Errorf("redeliver %s (%s): %w", guid, st.latest.GetEvent(), err))
			continue
		}
		rc.metrics.ReconcileRedelivered.WithLabelValues("requested").Inc()
		log.Info("asked GitHub to redeliver a failed webhook", "guid", guid, "event", st.latest.GetEvent(), "status_code", st.latest.GetStatusCode())
	}
	// The cursor moves on even when a redelivery failed: the overlap lets
	// the next run see recent failures again, and a delivery GitHub refuses
	// to redeliver must not make every run re-list the whole window.
	if err := rc.store.SetState(ctx, deliveriesCheckedState, runStart.UTC().Format(time.RFC3339Nano), rc.now()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
