package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/agentgate/agentgate/policy"
	"github.com/agentgate/agentgate/store"
)

// DetailsLinks makes and checks the check run's details_url. The page shows
// the decision and the input it was made on, which holds a private
// repository's file names and PR text, so the URL is a capability: it
// carries an HMAC only agentgate can make, and it is handed out only inside
// the check run, which only people who can read the repository see.
type DetailsLinks struct {
	publicURL string
	key       []byte
}

// NewDetailsLinks derives the link key from the webhook secret (so no new
// secret has to be configured; rotating the secret revokes old links).
func NewDetailsLinks(publicURL string, webhookSecret []byte) DetailsLinks {
	mac := hmac.New(sha256.New, webhookSecret)
	mac.Write([]byte("agentgate details-url v1"))
	return DetailsLinks{publicURL: strings.TrimSuffix(publicURL, "/"), key: mac.Sum(nil)}
}

func (l DetailsLinks) sign(repository, sha string) string {
	mac := hmac.New(sha256.New, l.key)
	mac.Write([]byte(repository + "@" + sha))
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

// URL is the details page of the latest evaluation of a head SHA.
func (l DetailsLinks) URL(repository, sha string) string {
	return l.publicURL + "/gate/" + escapePathRepo(repository) + "/" + url.PathEscape(sha) + "?sig=" + l.sign(repository, sha)
}

func (l DetailsLinks) valid(repository, sha, sig string) bool {
	return hmac.Equal([]byte(sig), []byte(l.sign(repository, sha)))
}

var detailsPage = template.Must(template.New("details").Funcs(template.FuncMap{
	"verdictClass": func(v policy.Verdict) string { return string(v) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentgate: {{.Repository}}#{{.Number}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
.pass{color:#176f2c}.fail,.error{color:#a40e26}.pending{color:#7a5b00}.action_required{color:#953800}.skipped{color:#666}
pre{background:#f6f8fa;padding:1rem;overflow:auto;font-size:.85rem}code{background:#f6f8fa}</style></head>
<body><h1>{{.Repository}}#{{.Number}} at <code>{{.ShortSHA}}</code></h1>
<p>Conclusion: <strong>{{if .Conclusion}}{{.Conclusion}}{{else}}in progress{{end}}</strong>{{if .MergeGroup}} (merge group head){{end}} ·
evaluated {{.StartedAt}} · trigger <code>{{.Trigger}}</code> · {{.APIRequests}} GitHub API requests ·
policy set <code>{{.PolicyDigest}}</code></p>
{{if .LoadErrors}}<h2>Policy and configuration errors</h2><ul>{{range .LoadErrors}}<li><code>{{.File}}{{if .Line}}:{{.Line}}{{end}}</code>: {{.Message}}</li>{{end}}</ul>{{end}}
<h2>Policies</h2><table><tr><th>Policy</th><th>Verdict</th><th>Why</th></tr>
{{range .Policies}}<tr><td>{{.Title}} <small><code>{{.Name}}</code></small></td><td class="{{verdictClass .Verdict}}">{{.Verdict}}</td>
<td>{{.Summary}}{{if .Violations}}<ul>{{range .Violations}}<li>{{if .File}}<code>{{.File}}{{if .Line}}:{{.Line}}{{end}}</code>: {{end}}{{.Message}}</li>{{end}}</ul>{{end}}</td></tr>{{end}}
</table>
<h2>Input</h2><p>The document the policies saw (<code>input</code> in Rego). <code>agentgate policy eval --input</code> replays it.</p>
<pre>{{.Input}}</pre></body></html>`))

// details serves GET /gate/{owner}/{repo}/{sha}.
func (a *App) details(w http.ResponseWriter, r *http.Request) {
	repository := r.PathValue("owner") + "/" + r.PathValue("repo")
	sha := r.PathValue("sha")
	if !a.links.valid(repository, sha, r.URL.Query().Get("sig")) {
		http.Error(w, "this link is not valid: open it from the check run on GitHub", http.StatusForbidden)
		return
	}
	ev, err := a.store.LatestEvaluation(r.Context(), repository, sha)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "no evaluation of "+repository+"@"+sha+" yet", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, "could not load the evaluation", http.StatusInternalServerError)
		a.log.Error("load evaluation for details page", "repository", repository, "sha", sha, "err", err)
		return
	}
	var d policy.Decision
	_ = json.Unmarshal(ev.Decision, &d)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, ev.Input, "", "  "); err != nil {
		pretty.Write(ev.Input)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the URL is a capability
	_ = detailsPage.Execute(w, map[string]any{
		"Repository": repository, "Number": ev.PullNumber, "ShortSHA": sha[:min(len(sha), 12)],
		"Conclusion": ev.Conclusion, "MergeGroup": ev.MergeGroup, "StartedAt": ev.StartedAt.Format("2006-01-02 15:04:05 MST"),
		"Trigger": ev.Trigger, "APIRequests": ev.APIRequests, "PolicyDigest": shortDigest(ev.PolicyDigest),
		"LoadErrors": d.LoadErrors, "Policies": d.Policies, "Input": pretty.String(),
	})
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// escapePathRepo keeps owner/repo safe inside a URL path.
func escapePathRepo(repository string) string {
	owner, repo, _ := strings.Cut(repository, "/")
	return url.PathEscape(owner) + "/" + url.PathEscape(repo)
}
