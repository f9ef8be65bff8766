package githubtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Webhooks are sent the way GitHub's hookshot sends them to an app: a JSON POST signed with
// the webhook secret (X-Hub-Signature-256, and the legacy SHA-1 X-Hub-Signature), a fresh
// X-GitHub-Delivery GUID per event, at most 10 s of waiting, and no automatic retries. Each
// attempt lands in the app's delivery log.

// hookID is the ID of the app's webhook, sent as X-GitHub-Hook-ID.
const hookID = 470_000_001

// hookshot does not follow redirects: a 3xx is the app's answer.
var hookshot = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Delivery is the outcome of one webhook send.
type Delivery struct {
	ID         int64  // the delivery's ID in the app's delivery log
	GUID       string // X-GitHub-Delivery
	StatusCode int    // the app's answer; 0 if there was none
	Header     http.Header
	Body       []byte
	Duration   time.Duration
	Err        error // the connection failed or timed out
}

// WebhookSecret is the secret webhooks are signed with.
func (s *Server) WebhookSecret() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.app.webhookSecret
}

// SetWebhookURL sets where webhooks (and redeliveries) are sent.
func (s *Server) SetWebhookURL(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = url
}

// WebhookURL is where webhooks are sent.
func (s *Server) WebhookURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookURL
}

// SendWebhook sends an event to the webhook URL and waits for the answer. payload is a
// []byte sent as is, or a value encoded as JSON. The returned error is Delivery.Err (the app
// could not be reached or did not answer in time) or a problem with the arguments; an answer
// with any status is not an error.
func (s *Server) SendWebhook(ctx context.Context, event string, payload any) (Delivery, error) {
	return s.sendWebhook(ctx, newGUID(), event, payload, false)
}

// SendWebhookWithGUID sends an event with a given X-GitHub-Delivery, as GitHub does when a
// delivery is redelivered; the log marks it as a redelivery.
func (s *Server) SendWebhookWithGUID(ctx context.Context, guid, event string, payload any) (Delivery, error) {
	return s.sendWebhook(ctx, guid, event, payload, true)
}

func (s *Server) sendWebhook(ctx context.Context, guid, event string, payload any, redelivery bool) (Delivery, error) {
	var body []byte
	switch p := payload.(type) {
	case []byte:
		body = p
	case json.RawMessage:
		body = p
	default:
		var err error
		if body, err = json.Marshal(payload); err != nil {
			return Delivery{}, fmt.Errorf("githubtest: encode %s payload: %w", event, err)
		}
	}
	if event == "" {
		return Delivery{}, errors.New("githubtest: webhook event name is empty")
	}
	header := s.webhookHeader(guid, event, body)
	d := s.deliver(ctx, header, body, redelivery)
	return d, d.Err
}

// webhookHeader builds hookshot's request headers for a delivery.
func (s *Server) webhookHeader(guid, event string, body []byte) http.Header {
	secret := []byte(s.WebhookSecret())
	h := http.Header{}
	h.Set("Accept", "*/*")
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/"+randomHex(4)[:7])
	h.Set("X-GitHub-Delivery", guid)
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Hook-ID", itoa(int64(hookID)))
	h.Set("X-GitHub-Hook-Installation-Target-ID", itoa(s.AppID()))
	h.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	h.Set("X-Hub-Signature", "sha1="+hmacHex(sha1.New, secret, body))
	h.Set("X-Hub-Signature-256", SignPayload(secret, body))
	return h
}

// SignPayload is X-Hub-Signature-256 for body: "sha256=" and the hex HMAC-SHA256.
func SignPayload(secret, body []byte) string {
	return "sha256=" + hmacHex(sha256.New, secret, body)
}

func hmacHex(h func() hash.Hash, key, body []byte) string {
	m := hmac.New(h, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// deliver posts one attempt and records it in the delivery log.
func (s *Server) deliver(ctx context.Context, header http.Header, body []byte, redelivery bool) Delivery {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.webhookTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.done: // the test is over: stop waiting for the app
			cancel()
		case <-ctx.Done():
		}
	}()

	url := s.WebhookURL()
	start := s.now()
	d := Delivery{GUID: header.Get("X-GitHub-Delivery")}
	rec := &HookDelivery{
		GUID:           d.GUID,
		DeliveredAt:    start.UTC().Truncate(time.Second),
		Redelivery:     redelivery,
		Event:          header.Get("X-GitHub-Event"),
		URL:            url,
		RequestHeaders: header.Clone(),
		RequestBody:    body,
	}
	rec.Action, rec.InstallationID, rec.RepositoryID = payloadFacts(body)

	began := time.Now()
	if url == "" {
		d.Err = errors.New("githubtest: no webhook URL (SetWebhookURL)")
		rec.Status = "Invalid HTTP Response: no URL"
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			d.Err = fmt.Errorf("githubtest: webhook request: %w", err)
			rec.Status = "failed to connect to host"
		} else {
			req.Header = header.Clone()
			resp, err := hookshot.Do(req)
			if err != nil {
				d.Err = fmt.Errorf("githubtest: deliver %s %s: %w", rec.Event, d.GUID, err)
				rec.Status = "failed to connect to host"
				var netErr net.Error
				if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
					rec.Status = "timed out"
				}
			} else {
				respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				d.StatusCode, d.Header, d.Body = resp.StatusCode, resp.Header, respBody
				rec.StatusCode, rec.ResponseHeaders, rec.ResponseBody = resp.StatusCode, resp.Header, respBody
				rec.Status = "OK"
				if resp.StatusCode < 200 || resp.StatusCode > 299 {
					rec.Status = "Invalid HTTP Response: " + itoa(resp.StatusCode)
				}
			}
		}
	}
	d.Duration = time.Since(began)
	rec.Duration = d.Duration
	d.ID = s.recordDelivery(rec)
	return d
}

// payloadFacts reads what the delivery log shows about a payload.
func payloadFacts(body []byte) (action string, installationID, repositoryID int64) {
	var p struct {
		Action       string `json:"action"`
		Installation struct {
			ID int64 `json:"id"`
		} `json:"installation"`
		Repository struct {
			ID int64 `json:"id"`
		} `json:"repository"`
	}
	_ = json.Unmarshal(body, &p) // a payload that is not JSON has no facts to show
	return p.Action, p.Installation.ID, p.Repository.ID
}

// newGUID is a random version 4 UUID, the form of X-GitHub-Delivery.
func newGUID() string {
	b := []byte(randomHex(16))
	raw, _ := hex.DecodeString(string(b))
	raw[6] = raw[6]&0x0f | 0x40
	raw[8] = raw[8]&0x3f | 0x80
	x := hex.EncodeToString(raw)
	return strings.Join([]string{x[0:8], x[8:12], x[12:16], x[16:20], x[20:32]}, "-")
}
