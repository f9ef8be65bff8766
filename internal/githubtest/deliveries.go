package githubtest

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The app's delivery log is what agentgate's reconciler reads to find deliveries it missed
// (GET /app/hook/deliveries, newest first, cursor-paginated) and to ask for them again
// (POST /app/hook/deliveries/{delivery_id}/attempts). A redelivery carries the original body
// and the same X-GitHub-Delivery GUID, which is how the app recognises it as a duplicate.

// firstDeliveryID makes delivery IDs look like GitHub's (large, increasing).
const firstDeliveryID = 12_000_000_001

// HookDelivery is one entry of the app's delivery log.
type HookDelivery struct {
	ID              int64
	GUID            string
	DeliveredAt     time.Time
	Redelivery      bool
	Duration        time.Duration
	Status          string // "OK", "Invalid HTTP Response: 500", "failed to connect to host", "timed out"
	StatusCode      int    // 0 when the app did not answer
	Event           string
	Action          string // "" if the payload has none
	InstallationID  int64  // 0 if the payload has none
	RepositoryID    int64  // 0 if the payload has none
	URL             string
	RequestHeaders  http.Header
	RequestBody     []byte
	ResponseHeaders http.Header
	ResponseBody    []byte
}

// Success is GitHub's status=success filter: the app answered 2xx.
func (d *HookDelivery) Success() bool { return d.StatusCode >= 200 && d.StatusCode <= 299 }

func (s *Server) recordDelivery(d *HookDelivery) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nextDeliveryID == 0 {
		s.nextDeliveryID = firstDeliveryID
	}
	d.ID = s.nextDeliveryID
	s.nextDeliveryID++
	s.deliveries = append(s.deliveries, d)
	return d.ID
}

// Deliveries returns the delivery log, oldest first.
func (s *Server) Deliveries() []HookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HookDelivery, len(s.deliveries))
	for i, d := range s.deliveries {
		out[i] = *d
	}
	return out
}

// WaitDeliveries waits until the delivery log has at least n entries (redeliveries are sent
// in the background, as GitHub does), or ctx ends.
func (s *Server) WaitDeliveries(ctx context.Context, n int) ([]HookDelivery, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if d := s.Deliveries(); len(d) >= n {
			return d, nil
		}
		select {
		case <-ctx.Done():
			return s.Deliveries(), ctx.Err()
		case <-tick.C:
		}
	}
}

func (d *HookDelivery) itemJSON() map[string]any {
	return map[string]any{
		"id":              d.ID,
		"guid":            d.GUID,
		"delivered_at":    d.DeliveredAt.UTC().Format(time.RFC3339),
		"redelivery":      d.Redelivery,
		"duration":        d.Duration.Seconds(),
		"status":          d.Status,
		"status_code":     d.StatusCode,
		"event":           d.Event,
		"action":          nullIfZero(d.Action),
		"installation_id": nullIfZero(d.InstallationID),
		"repository_id":   nullIfZero(d.RepositoryID),
		"throttled_at":    nil,
	}
}

func nullIfZero[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// cursorPrefix is the form of GitHub's delivery cursors ("v1_12077215967").
const cursorPrefix = "v1_"

// GET /app/hook/deliveries
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, c *call) {
	size := perPage(r)
	status := r.URL.Query().Get("status")
	start := int64(-1) // newest
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		id, err := strconv.ParseInt(strings.TrimPrefix(cur, cursorPrefix), 10, 64)
		if err != nil || !strings.HasPrefix(cur, cursorPrefix) {
			writeError(w, http.StatusBadRequest, "Invalid cursor")
			return
		}
		start = id
	}

	s.mu.Lock()
	var matched []*HookDelivery
	for _, d := range slices.Backward(s.deliveries) {
		if start >= 0 && d.ID > start {
			continue
		}
		if (status == "success" && !d.Success()) || (status == "failure" && d.Success()) {
			continue
		}
		matched = append(matched, d)
		if len(matched) > size {
			break
		}
	}
	items := make([]any, 0, size)
	for _, d := range matched[:min(size, len(matched))] {
		items = append(items, d.itemJSON())
	}
	s.mu.Unlock()

	if len(matched) > size {
		next := pageURL(r, "cursor", cursorPrefix+itoa(matched[size].ID))
		w.Header().Set("Link", "<"+next+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, items)
}

func (s *Server) deliveryLocked(id int64) *HookDelivery {
	for _, d := range s.deliveries {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// GET /app/hook/deliveries/{delivery_id}
func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	d := s.deliveryLocked(pathInt(r, "delivery_id"))
	s.mu.Unlock()
	if d == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	out := d.itemJSON()
	out["url"] = d.URL
	var payload any
	if json.Unmarshal(d.RequestBody, &payload) != nil {
		payload = nil
	}
	out["request"] = map[string]any{"headers": flatHeaders(d.RequestHeaders), "payload": payload}
	var respHeaders, respBody any
	if d.ResponseHeaders != nil {
		respHeaders, respBody = flatHeaders(d.ResponseHeaders), string(d.ResponseBody)
	}
	out["response"] = map[string]any{"headers": respHeaders, "payload": respBody}
	writeJSON(w, http.StatusOK, out)
}

// flatHeaders is how GitHub shows a delivery's headers: one string per name.
func flatHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	return out
}

// POST /app/hook/deliveries/{delivery_id}/attempts
func (s *Server) redeliver(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	d := s.deliveryLocked(pathInt(r, "delivery_id"))
	closed := s.closed
	if d != nil && !closed {
		s.inflight.Add(1)
	}
	s.mu.Unlock()
	if d == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	if closed {
		writeError(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	header := d.RequestHeaders.Clone()
	body := d.RequestBody
	go func() {
		defer s.inflight.Done()
		// Signed again in case the secret changed; GUID and body stay the same.
		event, guid := header.Get("X-GitHub-Event"), header.Get("X-GitHub-Delivery")
		s.deliver(context.Background(), s.webhookHeader(guid, event, body), body, true)
	}()
	writeJSON(w, http.StatusAccepted, map[string]any{})
}
