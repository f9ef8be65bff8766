// Package webhook defines what flows from intake to handlers: the Event (one
// verified, recorded delivery), the Handler interface every capability (gate,
// dispatch, attest, installation sync) implements, and the Router that fans
// one event out to every handler that subscribed to it.
//
// It sits below server (which registers handlers and enqueues jobs) and
// above the capability packages, so none of them imports server.
package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event is one verified webhook delivery, as a handler sees it.
type Event struct {
	DeliveryID     string
	Type           string // X-GitHub-Event, e.g. "pull_request"
	Action         string // payload "action", may be empty
	InstallationID int64
	Repository     string // owner/name, may be empty
	Payload        json.RawMessage
	ReceivedAt     time.Time
}

// Decode unmarshals the payload into v (usually a go-github event type).
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("decode %s delivery %s: %w", e.Type, e.DeliveryID, err)
	}
	return nil
}

// Handler reacts to webhook events. Handle runs in a queue worker and may be
// retried, so it must be idempotent: running it twice for one delivery must
// have the effect of running it once.
type Handler interface {
	// Name is stable across releases: queued jobs refer to handlers by it.
	Name() string
	// Subscriptions lists "event" or "event.action" strings this handler
	// wants. An event nobody subscribed to is acknowledged and dropped.
	Subscriptions() []string
	Handle(ctx context.Context, ev Event) error
}

// Router knows which handlers want which events. It is built once at start
// and read-only afterwards.
type Router struct {
	byName map[string]Handler
	order  []Handler
}

// NewRouter registers handlers; names must be unique.
func NewRouter(handlers ...Handler) (*Router, error) {
	r := &Router{byName: map[string]Handler{}}
	for _, h := range handlers {
		if _, dup := r.byName[h.Name()]; dup {
			return nil, fmt.Errorf("two handlers named %q", h.Name())
		}
		for _, s := range h.Subscriptions() {
			if s == "" || strings.Count(s, ".") > 1 {
				return nil, fmt.Errorf("handler %s: bad subscription %q", h.Name(), s)
			}
		}
		r.byName[h.Name()] = h
		r.order = append(r.order, h)
	}
	return r, nil
}

// Route returns the handlers subscribed to an event and action, in
// registration order.
func (r *Router) Route(event, action string) []Handler {
	var out []Handler
	for _, h := range r.order {
		subs := h.Subscriptions()
		if slices.Contains(subs, event) || (action != "" && slices.Contains(subs, event+"."+action)) {
			out = append(out, h)
		}
	}
	return out
}

// Handler looks a handler up by name (for a queued job).
func (r *Router) Handler(name string) (Handler, bool) {
	h, ok := r.byName[name]
	return h, ok
}
