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
	"strings"
	"time"

	"github.com/google/go-github/v89/github"
	"github.com/tidwall/gjson"

	"github.com/agentgate/agentgate/internal/metrics"
	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/store"
)

// MaxWebhookBody is GitHub's own cap on webhook payloads: 25 MiB.
const MaxWebhookBody = 25 << 20

// preallocLimit bounds the buffer allocated from Content-Length before any
// byte is read; larger bodies grow as they arrive.
const preallocLimit = 1 << 20

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

	body, err := readBody(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			// The event header is unauthenticated here: not a label value.
			in.metrics.Deliveries.WithLabelValues("unverified", "too_large").Inc()
			log.Warn("webhook body over 25 MiB refused")
			return "too_large", http.StatusRequestEntityTooLarge, intakeResponse{Outcome: "too_large", Message: "payload exceeds 25 MiB"}
		}
		return "read_error", http.StatusBadRequest, intakeResponse{Outcome: "read_error", Message: "could not read body"}
	}

	// The signature is checked before anything looks inside the body.
	payload, err := verify(r, body, in.secret)
	if err != nil {
		in.metrics.BadSignatures.Inc()
		log.Warn("webhook signature refused", "remote", r.RemoteAddr)
		return "bad_signature", http.StatusUnauthorized, intakeResponse{Outcome: "bad_signature", Message: "X-Hub-Signature-256 missing or wrong"}
	}
	if deliveryID == "" || event == "" {
		in.metrics.Deliveries.WithLabelValues(event, store.OutcomeRejected).Inc()
		return store.OutcomeRejected, http.StatusBadRequest, intakeResponse{Outcome: store.OutcomeRejected, Message: "X-GitHub-Event and X-GitHub-Delivery are required"}
	}

	d := store.Delivery{ID: deliveryID, Event: event, ReceivedAt: in.now(), PayloadBytes: len(payload)}
	var ok bool
	if d.Action, d.InstallationID, d.Repository, ok = routingFields(payload); !ok {
		d.Outcome, d.Reason = store.OutcomeRejected, "payload is not a JSON object"
		return in.recordOnly(ctx, log, d, http.StatusBadRequest)
	}
	log = log.With("action", d.Action, "installation", d.InstallationID, "repository", d.Repository)

	if event == "ping" {
		d.Outcome = store.OutcomePing
		return in.recordOnly(ctx, log, d, http.StatusOK)
	}
	handlers := in.router.Route(event, d.Action)
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

// routingFields validates the payload and picks what intake routes and
// records by, without decoding the whole document: a full decode was a
// fifth of intake's CPU (BENCHMARKS.md). Handlers decode what they need.
func routingFields(payload []byte) (action string, installationID int64, repository string, ok bool) {
	if start := bytes.TrimLeft(payload, " \t\r\n"); len(start) == 0 || start[0] != '{' || !gjson.ValidBytes(payload) {
		return "", 0, "", false
	}
	f := gjson.GetManyBytes(payload, "action", "installation.id", "repository.full_name")
	return f[0].String(), f[1].Int(), f[2].String(), true
}

// readBody reads at most MaxWebhookBody bytes into a buffer sized from
// Content-Length, so a 25 KB delivery is not copied through doubling buffers.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limited := http.MaxBytesReader(w, r.Body, MaxWebhookBody)
	// Content-Length is the sender's claim, read before the signature is
	// checked: trust it for ordinary sizes only, so unauthenticated requests
	// cannot make us allocate 25 MiB each by announcing it.
	if n := r.ContentLength; n > 0 && n <= preallocLimit {
		body := make([]byte, n)
		if _, err := io.ReadFull(limited, body); err != nil {
			return nil, err
		}
		// Anything past the declared length is a malformed request.
		var extra [1]byte
		if m, _ := limited.Read(extra[:]); m > 0 {
			return nil, errors.New("body longer than Content-Length")
		}
		return body, nil
	}
	return io.ReadAll(limited)
}

// verify checks X-Hub-Signature-256 over the raw body (go-github's
// constant-time check) and returns the JSON payload, unwrapping GitHub's
// form-encoded delivery format when the app is configured for it.
func verify(r *http.Request, body, secret []byte) ([]byte, error) {
	sig := r.Header.Get(github.SHA256SignatureHeader)
	if sig == "" {
		return nil, errors.New("missing " + github.SHA256SignatureHeader)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return github.ValidatePayloadFromBody(ct, bytes.NewReader(body), sig, secret)
	}
	if err := github.ValidateSignature(sig, body, secret); err != nil {
		return nil, err
	}
	return body, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
