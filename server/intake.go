package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/metrics"
	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/store"
)

// MaxWebhookBody is GitHub's own cap on webhook payloads: 25 MiB.
const MaxWebhookBody = 25 << 20

// enqueuer is what intake needs of the queue.
type enqueuer interface {
	EnqueueEventsTx(ctx context.Context, tx *store.Tx, deliveryID string, handlers []string) error
}

// Intake receives GitHub webhooks. Its promise: a 2xx means the delivery and
// every job it causes are committed; anything else means nothing was, and
// GitHub (or the reconciler) may deliver it again.
type Intake struct {
	secret  []byte
	store   *store.Store
	queue   enqueuer
	router  *webhook.Router
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time
}

// envelope is the part of every payload intake needs to route it.
type envelope struct {
	Action       string `json:"action"`
	Installation *struct {
		ID int64 `json:"id"`
	} `json:"installation"`
	Repository *struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

type intakeResponse struct {
	Delivery string `json:"delivery,omitempty"`
	Outcome  string `json:"outcome"`
	Jobs     int    `json:"jobs,omitempty"`
	Message  string `json:"message,omitempty"`
}

func (in *Intake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := in.now()
	outcome, status, resp := in.receive(r.Context(), w, r)
	in.metrics.IntakeSeconds.WithLabelValues(outcome).Observe(in.now().Sub(start).Seconds())
	writeJSON(w, status, resp)
}

func (in *Intake) receive(ctx context.Context, w http.ResponseWriter, r *http.Request) (outcome string, status int, resp intakeResponse) {
	deliveryID := github.DeliveryID(r)
	event := github.WebHookType(r)
	log := in.log.With("delivery", deliveryID, "event", event)

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			in.metrics.Deliveries.WithLabelValues(event, "too_large").Inc()
			log.Warn("webhook body over 25 MiB refused")
			return "too_large", http.StatusRequestEntityTooLarge, intakeResponse{Outcome: "too_large", Message: "payload exceeds 25 MiB"}
		}
		return "read_error", http.StatusBadRequest, intakeResponse{Outcome: "read_error", Message: "could not read body"}
	}

	// The signature is checked before anything looks inside the body.
	payload, err := github.ValidatePayloadFromBody(r.Header.Get("Content-Type"), bytes.NewReader(body),
		r.Header.Get(github.SHA256SignatureHeader), in.secret)
	if err != nil || r.Header.Get(github.SHA256SignatureHeader) == "" {
		in.metrics.BadSignatures.Inc()
		log.Warn("webhook signature refused", "remote", r.RemoteAddr)
		return "bad_signature", http.StatusUnauthorized, intakeResponse{Outcome: "bad_signature", Message: "X-Hub-Signature-256 missing or wrong"}
	}
	if deliveryID == "" || event == "" {
		in.metrics.Deliveries.WithLabelValues(event, store.OutcomeRejected).Inc()
		return store.OutcomeRejected, http.StatusBadRequest, intakeResponse{Outcome: store.OutcomeRejected, Message: "X-GitHub-Event and X-GitHub-Delivery are required"}
	}

	d := store.Delivery{ID: deliveryID, Event: event, ReceivedAt: in.now(), PayloadBytes: len(payload)}
	var env envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		d.Outcome, d.Reason = store.OutcomeRejected, "payload is not a JSON object: "+err.Error()
		return in.recordOnly(ctx, log, d, http.StatusBadRequest)
	}
	d.Action = env.Action
	if env.Installation != nil {
		d.InstallationID = env.Installation.ID
	}
	if env.Repository != nil {
		d.Repository = env.Repository.FullName
	}
	log = log.With("action", d.Action, "installation", d.InstallationID, "repository", d.Repository)

	if event == "ping" {
		d.Outcome = store.OutcomePing
		return in.recordOnly(ctx, log, d, http.StatusOK)
	}
	handlers := in.router.Route(event, env.Action)
	if len(handlers) == 0 {
		d.Outcome, d.Reason = store.OutcomeIgnored, "no handler subscribes to this event"
		return in.recordOnly(ctx, log, d, http.StatusAccepted)
	}
	names := make([]string, len(handlers))
	for i, h := range handlers {
		names[i] = h.Name()
	}
	d.Outcome, d.Jobs, d.Payload = store.OutcomeQueued, len(names), payload

	duplicate := false
	err = in.store.InTx(ctx, func(tx *store.Tx) error {
		inserted, err := tx.InsertDelivery(ctx, d)
		if err != nil {
			return err
		}
		if !inserted {
			duplicate = true
			return nil
		}
		return in.queue.EnqueueEventsTx(ctx, tx, d.ID, names)
	})
	if err != nil {
		// 5xx: GitHub records a failed delivery, which the reconciler redelivers.
		log.Error("could not record delivery", "err", err)
		in.metrics.Deliveries.WithLabelValues(event, "error").Inc()
		return "error", http.StatusServiceUnavailable, intakeResponse{Delivery: d.ID, Outcome: "error", Message: "could not store the delivery; retry"}
	}
	if duplicate {
		return in.duplicate(log, d)
	}
	in.metrics.Deliveries.WithLabelValues(event, store.OutcomeQueued).Inc()
	log.Info("delivery queued", "jobs", names)
	return store.OutcomeQueued, http.StatusAccepted, intakeResponse{Delivery: d.ID, Outcome: store.OutcomeQueued, Jobs: len(names)}
}

// recordOnly stores a delivery that causes no jobs (ping, ignored, rejected).
func (in *Intake) recordOnly(ctx context.Context, log *slog.Logger, d store.Delivery, status int) (string, int, intakeResponse) {
	inserted, err := in.store.InsertDelivery(ctx, d)
	if err != nil {
		log.Error("could not record delivery", "err", err)
		in.metrics.Deliveries.WithLabelValues(d.Event, "error").Inc()
		return "error", http.StatusServiceUnavailable, intakeResponse{Delivery: d.ID, Outcome: "error", Message: "could not store the delivery; retry"}
	}
	if !inserted {
		return in.duplicate(log, d)
	}
	in.metrics.Deliveries.WithLabelValues(d.Event, d.Outcome).Inc()
	resp := intakeResponse{Delivery: d.ID, Outcome: d.Outcome, Message: d.Reason}
	switch d.Outcome {
	case store.OutcomeRejected:
		log.Warn("delivery rejected", "reason", d.Reason)
	case store.OutcomePing:
		resp.Message = "pong"
		log.Info("ping")
	default:
		log.Debug("delivery ignored")
	}
	return d.Outcome, status, resp
}

func (in *Intake) duplicate(log *slog.Logger, d store.Delivery) (string, int, intakeResponse) {
	in.metrics.Deliveries.WithLabelValues(d.Event, "duplicate").Inc()
	log.Info("redelivery of a delivery already recorded; nothing to do")
	return "duplicate", http.StatusOK, intakeResponse{Delivery: d.ID, Outcome: "duplicate", Message: fmt.Sprintf("delivery %s was already received", d.ID)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
