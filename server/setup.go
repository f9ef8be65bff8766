package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v89/github"
	"gopkg.in/yaml.v3"

	"github.com/agentgate/agentgate"
	"github.com/agentgate/agentgate/internal/config"
)

// Setup serves first-run registration: with no app credentials configured,
// a person opens the server in a browser, names the app, and is sent to
// GitHub with the manifest from app.yml; GitHub sends them back with a code
// that Setup converts (POST /app-manifests/{code}/conversions) into the app's
// id, private key and webhook secret, saved 0600 in the data directory.
type Setup struct {
	cfg    *config.Config
	log    *slog.Logger
	client *github.Client // unauthenticated: the conversion needs only the code
	done   chan struct{}

	// token gates the setup pages: whoever reaches an unconfigured server
	// first must not register their own app on it. It is printed in the
	// log at start, which only the operator sees.
	token string

	mu     sync.Mutex
	states map[string]time.Time // CSRF state → expiry
	saved  bool
}

// NewSetup returns the setup handler. Done is closed once credentials are saved.
func NewSetup(cfg *config.Config, log *slog.Logger) (*Setup, error) {
	client, err := github.NewClient(github.WithURLs(&cfg.GitHub.APIURL, nil), github.WithUserAgent("agentgate-setup"))
	if err != nil {
		return nil, fmt.Errorf("setup client: %w", err)
	}
	return &Setup{cfg: cfg, log: log, client: client, done: make(chan struct{}), states: map[string]time.Time{}, token: randomHex(16)}, nil
}

// Path is the setup page's path with its one-time token, for the log.
func (s *Setup) Path() string { return "/setup?token=" + s.token }

func (s *Setup) authorised(r *http.Request) bool {
	return hmac.Equal([]byte(r.FormValue("token")), []byte(s.token))
}

// Done is closed when the app has been registered and saved.
func (s *Setup) Done() <-chan struct{} { return s.done }

// Handler routes the setup pages; everything else answers 503.
func (s *Setup) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /setup", s.page)
	mux.HandleFunc("POST /setup/start", s.start)
	mux.HandleFunc("GET /setup/callback", s.callback)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "mode": "setup"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "agentgate is not set up yet: open / in a browser to register the GitHub App"})
	})
	return mux
}

var setupPage = template.Must(template.New("setup").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentgate setup</title>
<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
label{display:block;margin-top:1rem;font-weight:600}input{font:inherit;padding:.3rem;width:100%}
button{margin-top:1.5rem;font:inherit;padding:.5rem 1rem}code{background:#eee;padding:0 .2rem}.err{color:#a00}</style></head>
<body><h1>Register agentgate as a GitHub App</h1>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<p>No GitHub App credentials are configured. This page registers one from <code>app.yml</code>
with GitHub's manifest flow and saves its id, private key and webhook secret in
<code>{{.DataDir}}</code> (mode 0600). Webhooks will go to <code>{{.WebhookURL}}</code>.</p>
<form method="post" action="/setup/start"><input type="hidden" name="token" value="{{.Token}}">
<label for="name">App name (unique on GitHub)</label><input id="name" name="name" value="{{.Name}}" required maxlength="34">
<label for="org">Organisation (empty: your personal account)</label><input id="org" name="org" value="{{.Org}}">
<button type="submit">Continue to GitHub</button></form></body></html>`))

var redirectPage = template.Must(template.New("redirect").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentgate setup</title></head>
<body><p>Sending you to GitHub to create the app…</p>
<form id="f" method="post" action="{{.Action}}"><input type="hidden" name="manifest" value="{{.Manifest}}">
<button type="submit">Create the GitHub App</button></form>
<script>document.getElementById("f").submit()</script></body></html>`))

var donePage = template.Must(template.New("done").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentgate setup</title></head>
<body><h1>agentgate is registered</h1><p>App <a href="{{.HTMLURL}}">{{.Slug}}</a> (id {{.AppID}}) is saved in
<code>{{.DataDir}}</code>. agentgate is now starting normally.</p>
<p><a href="{{.HTMLURL}}/installations/new">Install the app on your repositories</a>.</p></body></html>`))

func (s *Setup) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Setup) page(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintln(w, "agentgate is not set up yet. Open the setup link printed in agentgate's log (it carries a one-time token).")
		return
	}
	s.renderForm(w, r, "", http.StatusOK)
}

func (s *Setup) renderForm(w http.ResponseWriter, r *http.Request, problem string, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = setupPage.Execute(w, map[string]string{
		"Error": problem, "DataDir": s.cfg.DataDir, "WebhookURL": s.publicURL(r) + "/api/github/hook",
		"Name": "agentgate-" + randomHex(3), "Org": s.cfg.GitHub.Org, "Token": s.token,
	})
}

// Manifest renders app.yml as the JSON manifest GitHub expects, with this
// server's URLs filled in.
func Manifest(name, publicURL string) ([]byte, error) {
	var m map[string]any
	if err := yaml.Unmarshal(agentgate.AppManifest, &m); err != nil {
		return nil, fmt.Errorf("parse app.yml: %w", err)
	}
	if name != "" {
		m["name"] = name
	}
	m["url"] = publicURL
	m["hook_attributes"] = map[string]any{"url": publicURL + "/api/github/hook", "active": true}
	m["redirect_url"] = publicURL + "/setup/callback"
	return json.Marshal(m)
}

func (s *Setup) start(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderForm(w, r, "Could not read the form.", http.StatusBadRequest)
		return
	}
	if !s.authorised(r) {
		http.Error(w, "missing or wrong setup token: open the link printed in agentgate's log", http.StatusForbidden)
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	org := strings.TrimSpace(r.PostForm.Get("org"))
	if name == "" || len(name) > 34 {
		s.renderForm(w, r, "The app name must be 1 to 34 characters.", http.StatusBadRequest)
		return
	}
	if org != "" && strings.ContainsAny(org, "/?#& ") {
		s.renderForm(w, r, "The organisation must be a login like my-org.", http.StatusBadRequest)
		return
	}
	manifest, err := Manifest(name, s.publicURL(r))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	state := randomHex(16)
	s.mu.Lock()
	now := time.Now()
	for k, exp := range s.states {
		if now.After(exp) {
			delete(s.states, k)
		}
	}
	s.states[state] = now.Add(time.Hour)
	s.mu.Unlock()

	action := strings.TrimSuffix(s.cfg.GitHub.WebURL, "/") + "/settings/apps/new"
	if org != "" {
		action = strings.TrimSuffix(s.cfg.GitHub.WebURL, "/") + "/organizations/" + url.PathEscape(org) + "/settings/apps/new"
	}
	action += "?state=" + url.QueryEscape(state)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = redirectPage.Execute(w, map[string]string{"Action": action, "Manifest": string(manifest)})
}

func (s *Setup) callback(w http.ResponseWriter, r *http.Request) {
	code, state := r.URL.Query().Get("code"), r.URL.Query().Get("state")
	s.mu.Lock()
	exp, known := s.states[state]
	if known {
		delete(s.states, state) // one use
	}
	saved := s.saved
	s.mu.Unlock()
	if saved {
		http.Error(w, "agentgate is already registered", http.StatusConflict)
		return
	}
	if !known || time.Now().After(exp) {
		// A forged or replayed callback must not plant someone else's app.
		s.renderForm(w, r, "That registration link is unknown or expired; start again.", http.StatusBadRequest)
		return
	}
	if code == "" {
		s.renderForm(w, r, "GitHub sent no code back; start again.", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	app, _, err := s.client.Apps.CompleteAppManifest(ctx, code)
	if err != nil {
		s.log.Error("manifest conversion failed", "err", err)
		s.renderForm(w, r, "GitHub refused the registration code: "+err.Error(), http.StatusBadGateway)
		return
	}
	saved2 := config.SavedApp{
		AppID: app.GetID(), Slug: app.GetSlug(), HTMLURL: app.GetHTMLURL(),
		ClientID: app.GetClientID(), ClientSecret: app.GetClientSecret(), WebhookSecret: app.GetWebhookSecret(),
	}
	if err := config.SaveAppCredentials(s.cfg.DataDir, saved2, []byte(app.GetPEM())); err != nil {
		s.log.Error("saving app credentials failed", "err", err)
		http.Error(w, "could not save the app credentials: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.log.Info("GitHub App registered", "app_id", saved2.AppID, "slug", saved2.Slug, "data_dir", s.cfg.DataDir)
	s.mu.Lock()
	s.saved = true
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = donePage.Execute(w, map[string]any{"HTMLURL": saved2.HTMLURL, "Slug": saved2.Slug, "AppID": saved2.AppID, "DataDir": s.cfg.DataDir})
	close(s.done)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
