package githubtest

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// GitHub's app manifest flow: the user's browser posts a form with a "manifest" field to
// https://github.com/settings/apps/new?state=X (or /organizations/{org}/settings/apps/new),
// GitHub creates the app and redirects to the manifest's redirect_url with ?code=C&state=X,
// and the app's setup page exchanges the code, within an hour and once, through
// POST /app-manifests/{code}/conversions for the new app's ID, key and secrets.
//
// The fake has one app, so a conversion returns the fake's own app (renamed after the
// manifest, with its permissions, events and webhook URL), whose key the fake verifies.

const manifestCodeTTL = time.Hour

type manifestCode struct {
	manifest json.RawMessage
	org      string // set for the organization form
	created  time.Time
	used     bool
}

// ManifestConversion is a successful POST /app-manifests/{code}/conversions.
type ManifestConversion struct {
	Code     string
	Manifest json.RawMessage // as posted to the web form (nil for a code from NewManifestCode(nil))
	Time     time.Time
}

// appManifest is the part of a manifest the fake acts on.
type appManifest struct {
	Name               string            `json:"name"`
	URL                string            `json:"url"`
	Description        string            `json:"description"`
	RedirectURL        string            `json:"redirect_url"`
	DefaultPermissions map[string]string `json:"default_permissions"`
	DefaultEvents      []string          `json:"default_events"`
	HookAttributes     struct {
		URL    string `json:"url"`
		Active *bool  `json:"active"`
	} `json:"hook_attributes"`
}

// NewManifestCode creates a one-time conversion code as if the manifest had been posted to
// GitHub's form; manifest may be nil.
func (s *Server) NewManifestCode(manifest []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newManifestCodeLocked(manifest, "")
}

func (s *Server) newManifestCodeLocked(manifest []byte, org string) string {
	code := randomHex(20)
	s.manifestCodes[code] = &manifestCode{manifest: manifest, org: org, created: s.now()}
	return code
}

// ManifestConversions lists the codes converted so far.
func (s *Server) ManifestConversions() []ManifestConversion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ManifestConversion(nil), s.conversions...)
}

// POST /app-manifests/{code}/conversions
func (s *Server) convertManifest(w http.ResponseWriter, r *http.Request, c *call) {
	code := r.PathValue("code")
	s.mu.Lock()
	defer s.mu.Unlock()
	mc := s.manifestCodes[code]
	if mc == nil || mc.used || s.now().After(mc.created.Add(manifestCodeTTL)) {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	mc.used = true
	if len(mc.manifest) > 0 {
		var m appManifest
		if err := json.Unmarshal(mc.manifest, &m); err == nil {
			s.applyManifestLocked(m, mc.org)
		}
	}
	s.conversions = append(s.conversions, ManifestConversion{Code: code, Manifest: mc.manifest, Time: s.now()})

	out := s.appJSONLocked()
	delete(out, "installations_count")
	out["client_id"] = s.app.clientID
	out["client_secret"] = s.app.clientSecret
	out["webhook_secret"] = s.app.webhookSecret
	out["pem"] = string(s.pemLocked())
	writeJSON(w, http.StatusCreated, out)
}

// pemLocked is AppPrivateKeyPEM for callers holding s.mu (the key has its own once).
func (s *Server) pemLocked() []byte { return s.AppPrivateKeyPEM() }

var slugUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

func (s *Server) applyManifestLocked(m appManifest, org string) {
	if m.Name != "" {
		s.app.name = m.Name
		s.app.slug = strings.Trim(slugUnsafe.ReplaceAllString(strings.ToLower(m.Name), "-"), "-")
	}
	if m.URL != "" {
		s.app.externalURL = m.URL
	}
	if m.Description != "" {
		s.app.description = m.Description
	}
	if m.DefaultPermissions != nil {
		perms := maps.Clone(m.DefaultPermissions)
		perms["metadata"] = "read" // every app gets it
		s.app.permissions = perms
	}
	if m.DefaultEvents != nil {
		s.app.events = append([]string(nil), m.DefaultEvents...)
	}
	if org != "" {
		s.app.owner = org
	}
	if m.HookAttributes.URL != "" && (m.HookAttributes.Active == nil || *m.HookAttributes.Active) {
		s.webhookURL = m.HookAttributes.URL
	}
	s.app.updatedAt = s.now().UTC().Truncate(time.Second)
}

// POST /settings/apps/new and /organizations/{org}/settings/apps/new (github.com web form).
func (s *Server) newAppFromManifest(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	raw := r.PostForm.Get("manifest")
	var m appManifest
	if raw == "" || json.Unmarshal([]byte(raw), &m) != nil {
		http.Error(w, "Invalid GitHub App configuration: the manifest must be JSON", http.StatusUnprocessableEntity)
		return
	}
	target, err := url.Parse(m.RedirectURL)
	if m.RedirectURL == "" || err != nil || !target.IsAbs() {
		http.Error(w, "Invalid GitHub App configuration: redirect_url must be an absolute URL", http.StatusUnprocessableEntity)
		return
	}
	s.mu.Lock()
	code := s.newManifestCodeLocked([]byte(raw), r.PathValue("org"))
	s.mu.Unlock()

	q := target.Query()
	q.Set("code", code)
	if state := r.URL.Query().Get("state"); state != "" {
		q.Set("state", state)
	}
	target.RawQuery = q.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}
