package githubtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/githubtest"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// received is one webhook as the app saw it.
type received struct {
	guid, event string
	payload     []byte
}

// receiver is an app's webhook endpoint that checks the signature with go-github, as
// agentgate does, and answers status.
type receiver struct {
	mu     sync.Mutex
	status int
	got    []received
	bad    []string
}

func newReceiver(t *testing.T, secret string, status int) (*receiver, *httptest.Server) {
	rc := &receiver{status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload, err := github.ValidatePayload(r, []byte(secret))
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if err != nil {
			rc.bad = append(rc.bad, err.Error())
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if !strings.HasPrefix(r.Header.Get("User-Agent"), "GitHub-Hookshot/") || r.Header.Get("X-Hub-Signature") == "" ||
			r.Header.Get("X-GitHub-Hook-Installation-Target-Type") != "integration" {
			rc.bad = append(rc.bad, "hookshot headers missing: "+r.Header.Get("User-Agent"))
		}
		rc.got = append(rc.got, received{r.Header.Get("X-GitHub-Delivery"), github.WebHookType(r), payload})
		w.WriteHeader(rc.status)
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return rc, srv
}

func (rc *receiver) snapshot() ([]received, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...), append([]string(nil), rc.bad...)
}

func TestSendWebhook(t *testing.T) {
	ctx := context.Background()
	s := newFake(t, 1)
	rc, app := newReceiver(t, s.WebhookSecret(), http.StatusAccepted)
	s.SetWebhookURL(app.URL + "/api/github/hook")

	payload := githubtest.Payload(t, "issues.labeled", map[string]any{"installation.id": installationID, "label.name": "agent"})
	d, err := s.SendWebhook(ctx, "issues", payload)
	if err != nil || d.StatusCode != http.StatusAccepted || d.GUID == "" || d.ID == 0 {
		t.Fatalf("delivery = %+v, %v", d, err)
	}
	got, bad := rc.snapshot()
	if len(bad) > 0 || len(got) != 1 || got[0].guid != d.GUID || got[0].event != "issues" {
		t.Fatalf("receiver got %+v, problems %v", got, bad)
	}
	ev, err := github.ParseWebHook("issues", got[0].payload)
	if err != nil {
		t.Fatal(err)
	}
	if e := ev.(*github.IssuesEvent); e.GetInstallation().GetID() != installationID || e.GetLabel().GetName() != "agent" || e.GetRepo().GetFullName() != "octo-org/hello-world" {
		t.Errorf("parsed event = %+v", e)
	}

	// A value is sent as JSON.
	if _, err := s.SendWebhook(ctx, "ping", map[string]any{"zen": "Keep it logically awesome.", "hook_id": 1}); err != nil {
		t.Fatal(err)
	}

	// The log shows both, with what GitHub's delivery list shows.
	log := s.Deliveries()
	if len(log) != 2 {
		t.Fatalf("log = %+v", log)
	}
	if l := log[0]; l.GUID != d.GUID || l.Event != "issues" || l.Action != "labeled" || l.InstallationID != installationID ||
		l.RepositoryID != 1296269 || l.StatusCode != 202 || l.Status != "OK" || l.Redelivery {
		t.Errorf("log entry = %+v", l)
	}

	t.Run("failures are logged", func(t *testing.T) {
		s := newFake(t, 1, githubtest.WithWebhookTimeout(200*time.Millisecond))
		_, failing := newReceiver(t, s.WebhookSecret(), http.StatusInternalServerError)
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}))
		defer hang.Close()
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()

		tests := []struct {
			url        string
			wantErr    bool
			statusCode int
			status     string
		}{
			{failing.URL, false, 500, "Invalid HTTP Response: 500"},
			{hang.URL, true, 0, "timed out"},
			{closed.URL, true, 0, "failed to connect to host"},
		}
		for _, tt := range tests {
			s.SetWebhookURL(tt.url)
			d, err := s.SendWebhook(ctx, "ping", githubtest.Payload(t, "ping", nil))
			if (err != nil) != tt.wantErr || d.StatusCode != tt.statusCode {
				t.Errorf("%s: delivery %+v, err %v", tt.status, d, err)
			}
		}
		for i, l := range s.Deliveries() {
			if l.Status != tests[i].status || l.StatusCode != tests[i].statusCode {
				t.Errorf("log[%d] = %q %d, want %q %d", i, l.Status, l.StatusCode, tests[i].status, tests[i].statusCode)
			}
		}
	})
}

func TestHookDeliveriesAndRedelivery(t *testing.T) {
	ctx := context.Background()
	s := newFake(t, 1)
	rc, app := newReceiver(t, s.WebhookSecret(), http.StatusOK)
	s.SetWebhookURL(app.URL)

	var sent []githubtest.Delivery
	for _, name := range []string{"issues.labeled", "issue_comment.created", "pull_request.opened"} {
		event, _, _ := strings.Cut(name, ".")
		d, err := s.SendWebhook(ctx, event, githubtest.Payload(t, name, nil))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, d)
	}

	c := appClient(t, s, s.AppPrivateKeyPEM())
	// Cursor pagination, newest first.
	var ids []int64
	opts := &github.ListCursorOptions{PerPage: 2}
	for {
		items, resp, err := c.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			ids = append(ids, it.GetID())
		}
		if resp.Cursor == "" {
			break
		}
		opts.Cursor = resp.Cursor
	}
	if len(ids) != 3 || ids[0] != sent[2].ID || ids[2] != sent[0].ID {
		t.Fatalf("listed %v, sent %d %d %d (want newest first)", ids, sent[0].ID, sent[1].ID, sent[2].ID)
	}

	one, _, err := c.Apps.GetHookDelivery(ctx, sent[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if one.GetGUID() != sent[1].GUID || one.GetEvent() != "issue_comment" || one.GetAction() != "created" || one.Request == nil {
		t.Errorf("delivery = %+v", one)
	}

	// Redelivery: same GUID and body, logged as a redelivery, sent in the background.
	_, _, err = c.Apps.RedeliverHookDelivery(ctx, sent[1].ID)
	var accepted *github.AcceptedError
	if err != nil && !errors.As(err, &accepted) {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	log, err := s.WaitDeliveries(waitCtx, 4)
	if err != nil {
		t.Fatal(err)
	}
	re := log[3]
	if re.GUID != sent[1].GUID || !re.Redelivery || re.StatusCode != 200 {
		t.Errorf("redelivery = %+v", re)
	}
	got, bad := rc.snapshot()
	if len(bad) > 0 || len(got) != 4 || got[3].guid != sent[1].GUID || string(got[3].payload) != string(got[1].payload) {
		t.Errorf("receiver: %d deliveries, problems %v", len(got), bad)
	}

	_, _, err = c.Apps.RedeliverHookDelivery(ctx, 1)
	if statusOf(err) != http.StatusNotFound {
		t.Errorf("redelivering an unknown delivery: %v, want 404", err)
	}
}

func TestManifestFlow(t *testing.T) {
	ctx := context.Background()
	s := githubtest.New(t)

	// The app's setup page: where GitHub redirects with the code.
	var redirected url.Values
	setup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { redirected = r.URL.Query() }))
	defer setup.Close()
	manifest := `{"name":"agentgate acme","url":"https://agentgate.acme.example","redirect_url":"` + setup.URL + `/setup/callback",
		"hook_attributes":{"url":"https://agentgate.acme.example/api/github/hook"},
		"default_permissions":{"issues":"write","checks":"write"},"default_events":["issues","issue_comment"]}`

	// The browser posts the form; the fake redirects to redirect_url with code and state.
	resp, err := s.Client().PostForm(s.WebURL()+"organizations/acme/settings/apps/new?state=st4te", url.Values{"manifest": {manifest}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code := redirected.Get("code")
	if code == "" || redirected.Get("state") != "st4te" {
		t.Fatalf("redirected with %v", redirected)
	}

	c := clientWith(t, s, http.DefaultTransport)
	cfg, _, err := c.Apps.CompleteAppManifest(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GetID() != s.AppID() || cfg.GetSlug() != "agentgate-acme" || cfg.GetOwner().GetLogin() != "acme" ||
		cfg.GetWebhookSecret() != s.WebhookSecret() || cfg.GetClientSecret() == "" || !strings.Contains(cfg.GetPEM(), "RSA PRIVATE KEY") {
		t.Errorf("app config = %+v", cfg)
	}
	if s.WebhookURL() != "https://agentgate.acme.example/api/github/hook" {
		t.Errorf("webhook URL = %q", s.WebhookURL())
	}
	conv := s.ManifestConversions()
	if len(conv) != 1 || conv[0].Code != code || !strings.Contains(string(conv[0].Manifest), "agentgate acme") {
		t.Errorf("conversions = %+v", conv)
	}

	// The returned key works.
	app, _, err := appClient(t, s, []byte(cfg.GetPEM())).Apps.Get(ctx, "")
	if err != nil || app.GetName() != "agentgate acme" || app.GetPermissions().GetIssues() != "write" {
		t.Errorf("GET /app with the new key: %+v, %v", app, err)
	}

	// A code converts once; an unknown code never; a code from NewManifestCode does.
	tests := []struct {
		code   string
		status int
	}{{code, http.StatusNotFound}, {"unknown", http.StatusNotFound}, {s.NewManifestCode(nil), 0}}
	for _, tt := range tests {
		if _, _, err := c.Apps.CompleteAppManifest(ctx, tt.code); statusOf(err) != tt.status {
			t.Errorf("convert %q: %v, want status %d", tt.code, err, tt.status)
		}
	}
}
