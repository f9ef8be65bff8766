package githubtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/routers"
)

// docsURL is the documentation_url GitHub puts in generic errors.
const docsURL = "https://docs.github.com/rest"

// maxBodyBytes is GitHub's cap on request (and webhook) bodies.
const maxBodyBytes = 25 << 20

// Server is a running fake GitHub. All methods are safe for concurrent use.
type Server struct {
	t      testing.TB
	cfg    config
	srv    *httptest.Server
	api    map[string]http.HandlerFunc // REST API handlers by operation, see routes
	web    *http.ServeMux              // github.com web pages (manifest flow)
	router routers.Router              // OpenAPI operations, shared and read-only

	// done is closed when the test ends, so hung (FaultTimeout) requests and webhook sends
	// return instead of holding httptest.Server.Close.
	done     chan struct{}
	inflight sync.WaitGroup // redeliveries sent in the background

	keyOnce sync.Once
	key     *rsa.PrivateKey // generated lazily: RSA 2048 costs tens of milliseconds

	mu             sync.Mutex
	closed         bool // the test has ended; no new background work
	rand           *mathrand.Rand
	app            app
	installations  map[int64]*installation
	instOrder      []int64 // installation IDs in the order added
	tokens         map[string]*installationToken
	buckets        map[string]*bucket
	faults         []*faultRule
	requests       []Request
	violations     []Violation
	deliveries     []*HookDelivery // oldest first
	nextDeliveryID int64
	webhookURL     string
	manifestCodes  map[string]*manifestCode
	conversions    []ManifestConversion
	repos          map[string]*repoData       // by lower-case full name, see repos.go
	teams          map[string]map[string]bool // lower-case "org/team" → lower-case logins
	lastID         int64                      // for check runs, reviews and statuses
	users          map[string]Account         // people the tests named, by lower-case login
	gitRoot        string                     // where InitGitRepo puts bare repositories
	gitRequests    []GitRequest
}

// Option configures a Server.
type Option func(*config)

type config struct {
	appID             int64
	appSlug           string
	appName           string
	appOwner          string
	webhookSecret     string
	rateLimit         int
	rateWindow        time.Duration
	unauthRateLimit   int
	seed              uint64
	allowViolations   bool
	now               func() time.Time
	webhookTimeout    time.Duration
	validateResponses bool
}

// WithAppID sets the app's ID (default 4242).
func WithAppID(id int64) Option { return func(c *config) { c.appID = id } }

// WithAppSlug sets the app's slug and name (default "agentgate-test").
func WithAppSlug(slug string) Option {
	return func(c *config) { c.appSlug, c.appName = slug, slug }
}

// WithWebhookSecret sets the webhook secret (default: random).
func WithWebhookSecret(secret string) Option { return func(c *config) { c.webhookSecret = secret } }

// WithRateLimit sets the primary rate limit of each installation and of the app JWT
// (default 5000 requests per hour, like GitHub for an app on a small installation).
func WithRateLimit(limit int, window time.Duration) Option {
	return func(c *config) { c.rateLimit, c.rateWindow = limit, window }
}

// WithSeed seeds the random source that decides probabilistic faults (default 1), so a
// failing test fails the same way again.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// AllowViolations keeps the fake from failing the test for requests that GitHub's API
// description forbids; for tests that send bad requests on purpose. Violations are still
// answered like GitHub and listed by [Server.Violations].
func AllowViolations() Option { return func(c *config) { c.allowViolations = true } }

// WithClock replaces time.Now, e.g. to expire tokens or rate limit windows.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithWebhookTimeout sets how long a webhook send waits for the app (default 10 s, GitHub's).
func WithWebhookTimeout(d time.Duration) Option { return func(c *config) { c.webhookTimeout = d } }

// WithoutResponseValidation turns off checking the fake's own responses against the
// description (they are checked by default; a mismatch is a bug in the fake and is reported
// as a violation).
func WithoutResponseValidation() Option { return func(c *config) { c.validateResponses = false } }

// New starts a fake GitHub, stops it when the test ends, and then fails the test (t.Errorf) if
// any request violated GitHub's API description.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config{
		appID:             4242,
		appSlug:           "agentgate-test",
		appName:           "agentgate-test",
		appOwner:          "agentgate-org",
		webhookSecret:     randomHex(20),
		rateLimit:         5000,
		rateWindow:        time.Hour,
		unauthRateLimit:   60,
		seed:              1,
		now:               time.Now,
		webhookTimeout:    10 * time.Second,
		validateResponses: true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	router, err := operationsRouter()
	if err != nil {
		t.Fatalf("githubtest: %v", err)
	}
	s := &Server{
		t:             t,
		cfg:           cfg,
		router:        router,
		done:          make(chan struct{}),
		rand:          mathrand.New(mathrand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)),
		installations: map[int64]*installation{},
		tokens:        map[string]*installationToken{},
		buckets:       map[string]*bucket{},
		manifestCodes: map[string]*manifestCode{},
	}
	s.app = newApp(cfg, cfg.now())
	s.api = map[string]http.HandlerFunc{}
	s.web = http.NewServeMux()
	s.routes()
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.close)
	return s
}

// routes lists every endpoint the fake serves. Each must also be an operation in
// openapi/operations.txt: requests are routed by the operation of the description they
// match (GitHub's paths overlap in ways http.ServeMux refuses, e.g. .../issues/comments/{id}
// and .../issues/{number}/labels), and an operation the fake does not serve is GitHub's 404.
func (s *Server) routes() {
	// GitHub App, authenticated with the app's JWT.
	s.handle("GET /app", authApp, s.getApp)
	s.handle("GET /app/installations", authApp, s.listInstallations)
	s.handle("GET /app/installations/{installation_id}", authApp, s.getInstallation)
	s.handle("POST /app/installations/{installation_id}/access_tokens", authApp, s.createAccessToken)
	s.handle("GET /app/hook/deliveries", authApp, s.listDeliveries)
	s.handle("GET /app/hook/deliveries/{delivery_id}", authApp, s.getDelivery)
	s.handle("POST /app/hook/deliveries/{delivery_id}/attempts", authApp, s.redeliver)
	s.handle("GET /repos/{owner}/{repo}/installation", authApp, s.getRepoInstallation)
	s.handle("POST /app-manifests/{code}/conversions", authNone, s.convertManifest)

	// Installation, authenticated with an installation token.
	s.handle("GET /installation/repositories", authInstallation, s.listInstallationRepos)
	s.handle("GET /repos/{owner}/{repo}", authInstallation, s.getRepo)
	s.handle("GET /repos/{owner}/{repo}/contents/{path}", authInstallation, s.getContents)
	s.handle("GET /repos/{owner}/{repo}/collaborators/{username}/permission", authInstallation, s.getPermission)
	s.handle("GET /orgs/{org}/teams/{team_slug}/memberships/{username}", authInstallation, s.getTeamMembership)
	s.handle("GET /repos/{owner}/{repo}/pulls", authInstallation, s.listPulls)
	s.handle("GET /repos/{owner}/{repo}/pulls/{pull_number}", authInstallation, s.getPull)
	s.handle("GET /repos/{owner}/{repo}/pulls/{pull_number}/files", authInstallation, s.listPullFiles)
	s.handle("GET /repos/{owner}/{repo}/pulls/{pull_number}/commits", authInstallation, s.listPullCommits)
	s.handle("GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", authInstallation, s.listPullReviews)
	s.handle("GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls", authInstallation, s.listCommitPulls)
	s.handle("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", authInstallation, s.listCheckRunsForRef)
	s.handle("GET /repos/{owner}/{repo}/commits/{ref}/status", authInstallation, s.getCombinedStatus)
	s.handle("GET /repos/{owner}/{repo}/commits/{ref}/statuses", authInstallation, s.listStatuses)
	s.handle("POST /repos/{owner}/{repo}/check-runs", authInstallation, s.createCheckRun)
	s.handle("GET /repos/{owner}/{repo}/check-runs/{check_run_id}", authInstallation, s.getCheckRun)
	s.handle("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", authInstallation, s.updateCheckRun)
	s.handle("GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations", authInstallation, s.listAnnotations)
	s.handle("POST /repos/{owner}/{repo}/pulls", authInstallation, s.createPull)
	s.handle("PATCH /repos/{owner}/{repo}/pulls/{pull_number}", authInstallation, s.updatePull)
	s.handle("GET /repos/{owner}/{repo}/pulls/comments/{comment_id}", authInstallation, s.getReviewComment)
	s.handle("POST /repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions", authInstallation, s.reactToReviewComment)
	s.handle("GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments", authInstallation, s.listReviewComments)
	s.handle("PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge", authInstallation, s.mergePullRequest)
	s.handle("DELETE /repos/{owner}/{repo}/git/refs/{ref}", authInstallation, s.deleteRef)
	s.handle("GET /repos/{owner}/{repo}/git/commits/{commit_sha}", authInstallation, s.getGitCommit)
	s.handle("POST /repos/{owner}/{repo}/attestations", authInstallation, s.createAttestation)
	s.handle("GET /repos/{owner}/{repo}/attestations/{subject_digest}", authInstallation, s.listAttestations)
	s.handle("GET /repos/{owner}/{repo}/issues/{issue_number}", authInstallation, s.getIssue)
	s.handle("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", authInstallation, s.listIssueComments)
	s.handle("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", authInstallation, s.createIssueComment)
	s.handle("GET /repos/{owner}/{repo}/issues/comments/{comment_id}", authInstallation, s.getIssueComment)
	s.handle("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", authInstallation, s.updateIssueComment)
	s.handle("POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", authInstallation, s.reactToIssueComment)
	s.handle("POST /repos/{owner}/{repo}/issues/{issue_number}/reactions", authInstallation, s.reactToIssue)
	s.handle("GET /repos/{owner}/{repo}/issues/{issue_number}/labels", authInstallation, s.listIssueLabels)
	s.handle("POST /repos/{owner}/{repo}/issues/{issue_number}/labels", authInstallation, s.addIssueLabels)
	s.handle("DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", authInstallation, s.removeIssueLabel)
	s.handle("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", authInstallation, s.dispatchWorkflow)
	s.handle("GET /users/{username}", authInstallation, s.getUser)

	// github.com web pages (not API operations; not validated against the description).
	s.web.HandleFunc("POST /settings/apps/new", s.newAppFromManifest)
	s.web.HandleFunc("POST /organizations/{org}/settings/apps/new", s.newAppFromManifest)
	// Attestation bundles, at the bundle_url of GET .../attestations/{subject_digest}.
	s.web.HandleFunc("GET /_githubtest/attestations/{id}/bundle.json", s.serveAttestationBundle)
	// Git over smart HTTP (git.go), at github.com's clone URLs.
	s.web.HandleFunc("GET /{owner}/{repo}/info/refs", s.serveGit)
	s.web.HandleFunc("POST /{owner}/{repo}/git-upload-pack", s.serveGit)
	s.web.HandleFunc("POST /{owner}/{repo}/git-receive-pack", s.serveGit)
}

func (s *Server) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.done)
	s.inflight.Wait()
	s.srv.Close()
	if s.cfg.allowViolations {
		return
	}
	for _, v := range s.Violations() {
		s.t.Errorf("githubtest: %s", v)
	}
}

// URL is the API base URL with a trailing slash, as go-github wants it
// (e.g. "http://127.0.0.1:34567/").
func (s *Server) URL() string { return s.srv.URL + "/" }

// WebURL is the base URL of the fake's github.com web pages (the manifest flow's
// POST {WebURL}settings/apps/new); the same server as [Server.URL], with a trailing slash.
func (s *Server) WebURL() string { return s.srv.URL + "/" }

// Client returns an HTTP client for the fake's server (plain HTTP; no auth).
func (s *Server) Client() *http.Client { return s.srv.Client() }

func (s *Server) now() time.Time { return s.cfg.now() }

// Violation is a request GitHub's API description does not allow, or (Response true) a
// response of the fake that does not match the description, which is a bug in the fake.
type Violation struct {
	Method   string
	Path     string
	Response bool
	Reason   string
}

func (v Violation) String() string {
	what := "request"
	if v.Response {
		what = "response of the fake to"
	}
	return what + " " + v.Method + " " + v.Path + " is invalid by GitHub's OpenAPI description: " + v.Reason
}

// Violations lists the invalid requests seen so far.
func (s *Server) Violations() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Violation(nil), s.violations...)
}

// AuthKind says how a request authenticated.
type AuthKind string

const (
	AuthNone         AuthKind = "none"
	AuthAppJWT       AuthKind = "app-jwt"
	AuthInstallation AuthKind = "installation"
	AuthInvalid      AuthKind = "invalid"
)

// Request is one request the fake answered.
type Request struct {
	Time   time.Time
	Method string
	Path   string
	Query  url.Values
	// Operation is the matched operation of the description, e.g.
	// "GET /app/installations/{installation_id}"; empty if none matched.
	Operation      string
	PathParams     map[string]string
	Body           []byte
	Status         int
	Auth           AuthKind
	InstallationID int64  // for installation tokens
	IfNoneMatch    string // the conditional request's header, if any
	NotModified    bool   // answered 304
	Fault          FaultKind
	Violation      string // why the request is invalid, if it is
}

// Requests returns every request answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// call is what the pipeline learns about one API request on its way through.
type call struct {
	req        *Request
	route      *routers.Route
	pathParams map[string]string
	body       []byte
	bucket     string // rate limit bucket key
	inst       *installation
	token      *installationToken
}

type callKey struct{}

func callOf(r *http.Request) *call { return r.Context().Value(callKey{}).(*call) }

// response buffers a handler's answer, so that ETags, 304s and rate limit headers can be
// decided from the finished body.
type response struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *response) Header() http.Header { return w.header }
func (w *response) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
func (w *response) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// ServeHTTP runs every API request through the same pipeline: match an operation of the
// description → faults → (per route) authentication → rate limit → request validation →
// handler → conditional request and rate limit accounting.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.web.Handler(r); pattern != "" {
		s.web.ServeHTTP(w, r)
		return
	}
	rec := &Request{
		Time:        s.now(),
		Method:      r.Method,
		Path:        r.URL.Path,
		Query:       r.URL.Query(),
		Auth:        AuthNone,
		IfNoneMatch: r.Header.Get("If-None-Match"),
	}
	c := &call{req: rec, bucket: "ip:" + remoteHost(r)}
	resp := &response{header: http.Header{}}
	defer func() { s.finish(w, r, c, resp) }()

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil || len(body) > maxBodyBytes {
		writeError(resp, http.StatusRequestEntityTooLarge, "Request body too large")
		return
	}
	c.body = body
	rec.Body = body
	r.Body = io.NopCloser(bytes.NewReader(body))

	route, params, err := s.findRoute(r)
	if err != nil {
		// GitHub answers 404 for unknown paths and for methods a path does not have.
		s.violation(c, r, false, "no such operation ("+err.Error()+")")
		writeError(resp, http.StatusNotFound, "Not Found")
		return
	}
	c.route, c.pathParams = route, params
	rec.Operation = route.Method + " " + route.Path
	rec.PathParams = params

	// Attribute the request to its installation before a fault may answer
	// it, so tests can tell whose request was refused.
	s.identify(r, c)
	if s.applyFault(r, c, resp) {
		return
	}
	h := s.api[rec.Operation]
	if h == nil {
		// An operation of the description that the fake does not serve yet.
		writeError(resp, http.StatusNotFound, "Not Found")
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), callKey{}, c))
	for name, value := range params {
		r.SetPathValue(name, value)
	}
	h(resp, r)
}

// finish decides the conditional request, charges the rate limit, writes the answer and
// records the request.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, c *call, resp *response) {
	if resp.status == 0 {
		resp.status = http.StatusOK
	}
	h := resp.header
	h.Set("X-GitHub-Request-Id", strings.ToUpper(randomHex(4))+":"+strings.ToUpper(randomHex(6)))
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	status, body := resp.status, resp.body.Bytes()

	if r.Method == http.MethodGet && status == http.StatusOK {
		// The ETag covers the pagination links too: a page whose items are unchanged but
		// whose list grew or shrank is a different answer (a 304 carries no Link to fix
		// up the client's cached one).
		etag := `"` + sha256Hex(append(slices.Clip(body), h.Get("Link")...)) + `"`
		h.Set("ETag", etag)
		// GitHub's caching headers for authenticated reads: clients that honour them (and
		// do not revalidate) may reuse an answer for a minute without asking.
		h.Set("Cache-Control", "private, max-age=60, s-maxage=60")
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			status, body = http.StatusNotModified, nil
			c.req.NotModified = true
			h.Del("Content-Type")
			h.Del("Link")
		}
	}
	// A 304 costs nothing (GitHub's rule); neither do answers that refused the request for
	// its rate limit, which already carry their own headers.
	charge := status != http.StatusNotModified && h.Get("X-RateLimit-Remaining") == ""
	if h.Get("X-RateLimit-Limit") == "" {
		s.rateLimitHeaders(h, c.bucket, charge)
	}

	if s.cfg.validateResponses && c.route != nil && status >= 200 && status < 300 && status != http.StatusNoContent {
		s.validateResponse(r, c, status, h, body)
	}
	w2 := w.Header()
	for k, v := range h {
		w2[k] = v
	}
	if body != nil {
		w2.Set("Content-Length", itoa(len(body)))
	}
	// Record before answering, so a client that has its answer finds its request in Requests.
	c.req.Status = status
	s.mu.Lock()
	s.requests = append(s.requests, *c.req)
	s.mu.Unlock()

	w.WriteHeader(status)
	w.Write(body)
}

// handlerFunc is an endpoint's handler; the pipeline has authenticated and validated the
// request before it runs.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call)

// handle registers an API endpoint behind authentication, rate limiting and request
// validation. The pattern is an operation of the description ("GET /repos/{owner}/{repo}");
// its path parameters are the handler's r.PathValue.
func (s *Server) handle(pattern string, auth authRequirement, h handlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	if route, _, err := s.router.FindRoute(&http.Request{Method: method, URL: &url.URL{Path: path}}); err != nil || route.Path != path {
		panic("githubtest: " + pattern + " is not an operation of openapi/operations.txt")
	}
	if s.api[pattern] != nil {
		panic("githubtest: " + pattern + " is registered twice")
	}
	s.api[pattern] = func(w http.ResponseWriter, r *http.Request) {
		c := callOf(r)
		if !s.authenticate(w, r, c, auth) {
			return
		}
		if !s.takeRateLimit(w, c) {
			return
		}
		if !s.validateRequest(w, r, c) {
			return
		}
		h(w, r, c)
	}
}

func (s *Server) violation(c *call, r *http.Request, resp bool, reason string) {
	if !resp {
		c.req.Violation = reason
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, Violation{Method: r.Method, Path: r.URL.RequestURI(), Response: resp, Reason: reason})
}

// writeJSON answers with v as JSON, indented like GitHub's API output is not; compact it is.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("githubtest: encode response: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// apiError is GitHub's error body.
type apiError struct {
	Message          string             `json:"message"`
	Errors           []ValidationDetail `json:"errors,omitempty"`
	DocumentationURL string             `json:"documentation_url"`
	Status           string             `json:"status,omitempty"`
}

// ValidationDetail is one entry of a 422 "Validation Failed" answer's errors.
type ValidationDetail struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, apiError{Message: message, DocumentationURL: docsURL, Status: itoa(status)})
}

// writeValidationFailed is GitHub's 422 for a request that is well-formed but refers to
// things that do not exist or cannot be used.
func writeValidationFailed(w http.ResponseWriter, details ...ValidationDetail) {
	writeJSON(w, http.StatusUnprocessableEntity, apiError{
		Message: "Validation Failed", Errors: details, DocumentationURL: docsURL, Status: "422",
	})
}

func remoteHost(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return host
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func (s *Server) privateKey() *rsa.PrivateKey {
	s.keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic("githubtest: generate app key: " + err.Error())
		}
		s.key = k
	})
	return s.key
}
