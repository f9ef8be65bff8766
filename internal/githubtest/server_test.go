package githubtest_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/githubtest"
)

// The tests drive the fake with the clients agentgate uses (go-github, ghinstallation), so
// they prove that real clients work against it, not just that it answers.

const installationID = 1

func newFake(t *testing.T, repos int, opts ...githubtest.Option) *githubtest.Server {
	t.Helper()
	s := githubtest.New(t, opts...)
	inst := githubtest.Installation{ID: installationID, Account: "octo-org"}
	for i := range repos {
		inst.Repos = append(inst.Repos, githubtest.Repo{ID: int64(1000 + i), FullName: fmt.Sprintf("octo-org/repo-%03d", i)})
	}
	s.AddInstallation(inst)
	return s
}

func clientWith(t *testing.T, s *githubtest.Server, rt http.RoundTripper) *github.Client {
	t.Helper()
	u := s.URL()
	c, err := github.NewClient(github.WithTransport(rt), github.WithURLs(&u, &u))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tokenClient authenticates with a token.
func tokenClient(t *testing.T, s *githubtest.Server, token string) *github.Client {
	t.Helper()
	u := s.URL()
	c, err := github.NewClient(github.WithAuthToken(token), github.WithURLs(&u, &u))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// appClient authenticates as the app, with ghinstallation's JWTs signed by key.
func appClient(t *testing.T, s *githubtest.Server, key []byte) *github.Client {
	t.Helper()
	tr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, s.AppID(), key)
	if err != nil {
		t.Fatal(err)
	}
	tr.BaseURL = strings.TrimSuffix(s.URL(), "/")
	return clientWith(t, s, tr)
}

// installationClient authenticates as the installation; ghinstallation mints the token.
func installationClient(t *testing.T, s *githubtest.Server, id int64) *github.Client {
	t.Helper()
	tr, err := ghinstallation.New(http.DefaultTransport, s.AppID(), id, s.AppPrivateKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	tr.BaseURL = strings.TrimSuffix(s.URL(), "/")
	return clientWith(t, s, tr)
}

func otherKeyPEM(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func signJWT(t *testing.T, s *githubtest.Server, claims jwt.MapClaims) string {
	t.Helper()
	key, err := jwt.ParseRSAPrivateKeyFromPEM(s.AppPrivateKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func get(t *testing.T, s *githubtest.Server, path, auth string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL()+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return er.Response.StatusCode
	}
	return 0
}

func TestAppJWT(t *testing.T) {
	s := newFake(t, 1)
	now := time.Now()
	tests := []struct {
		name   string
		auth   func() string
		status int
	}{
		{"ghinstallation JWT", nil, http.StatusOK},
		{"iss as a number", func() string {
			return "Bearer " + signJWT(t, s, jwt.MapClaims{"iss": s.AppID(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
		}, http.StatusOK},
		{"expired", func() string {
			return "Bearer " + signJWT(t, s, jwt.MapClaims{"iss": s.AppID(), "iat": now.Add(-20 * time.Minute).Unix(), "exp": now.Add(-10 * time.Minute).Unix()})
		}, http.StatusUnauthorized},
		{"exp too far ahead", func() string {
			return "Bearer " + signJWT(t, s, jwt.MapClaims{"iss": s.AppID(), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		}, http.StatusUnauthorized},
		{"iat in the future", func() string {
			return "Bearer " + signJWT(t, s, jwt.MapClaims{"iss": s.AppID(), "iat": now.Add(5 * time.Minute).Unix(), "exp": now.Add(9 * time.Minute).Unix()})
		}, http.StatusUnauthorized},
		{"wrong iss", func() string {
			return "Bearer " + signJWT(t, s, jwt.MapClaims{"iss": "99", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
		}, http.StatusUnauthorized},
		{"HS256 with the app id as secret", func() string {
			tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": s.AppID(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}).SignedString([]byte("x"))
			return "Bearer " + tok
		}, http.StatusUnauthorized},
		{"installation token", func() string { return "token " + s.InstallationToken(installationID) }, http.StatusUnauthorized},
		{"none", func() string { return "" }, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var status int
			if tt.auth == nil {
				app, resp, err := appClient(t, s, s.AppPrivateKeyPEM()).Apps.Get(context.Background(), "")
				if err != nil {
					t.Fatalf("GET /app: %v", err)
				}
				if app.GetID() != s.AppID() || app.GetSlug() == "" {
					t.Errorf("app = %+v", app)
				}
				status = resp.StatusCode
			} else {
				resp := get(t, s, "/app", tt.auth())
				status = resp.StatusCode
				if status == http.StatusUnauthorized {
					body, _ := io.ReadAll(resp.Body)
					if !strings.Contains(string(body), `"documentation_url"`) {
						t.Errorf("401 body is not GitHub's error shape: %s", body)
					}
				}
			}
			if status != tt.status {
				t.Errorf("status = %d, want %d", status, tt.status)
			}
		})
	}

	t.Run("another key", func(t *testing.T) {
		_, _, err := appClient(t, s, otherKeyPEM(t)).Apps.Get(context.Background(), "")
		if got := statusOf(err); got != http.StatusUnauthorized {
			t.Fatalf("status = %d (%v), want 401", got, err)
		}
		reqs := s.Requests()
		if last := reqs[len(reqs)-1]; last.Auth != githubtest.AuthInvalid {
			t.Errorf("recorded auth = %q, want invalid", last.Auth)
		}
	})
}

func TestInstallationTokens(t *testing.T) {
	s := newFake(t, 3)
	ctx := context.Background()

	t.Run("ghinstallation mints and uses a token", func(t *testing.T) {
		repos, _, err := installationClient(t, s, installationID).Apps.ListRepos(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if repos.GetTotalCount() != 3 || len(repos.Repositories) != 3 {
			t.Fatalf("repos = %d/%d, want 3", repos.GetTotalCount(), len(repos.Repositories))
		}
		r := repos.Repositories[0]
		if r.GetFullName() != "octo-org/repo-000" || r.GetOwner().GetLogin() != "octo-org" || r.GetDefaultBranch() != "main" || r.GetNodeID() == "" {
			t.Errorf("repository = %+v", r)
		}
		var minted, used bool
		for _, req := range s.Requests() {
			minted = minted || (req.Operation == "POST /app/installations/{installation_id}/access_tokens" && req.Status == 201 && req.Auth == githubtest.AuthAppJWT)
			used = used || (req.Path == "/installation/repositories" && req.Auth == githubtest.AuthInstallation && req.InstallationID == installationID)
		}
		if !minted || !used {
			t.Errorf("requests: minted=%v used=%v", minted, used)
		}
	})

	app := appClient(t, s, s.AppPrivateKeyPEM())
	tests := []struct {
		name      string
		opts      *github.InstallationTokenOptions
		status    int
		wantRepos int
	}{
		{"all repositories", nil, 201, 3},
		{"narrowed by id", &github.InstallationTokenOptions{RepositoryIDs: []int64{1001}}, 201, 1},
		{"narrowed by name", &github.InstallationTokenOptions{Repositories: []string{"repo-000", "repo-002"}}, 201, 2},
		{"narrowed permissions", &github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Issues: github.Ptr("read")}}, 201, 3},
		{"repository not installed", &github.InstallationTokenOptions{RepositoryIDs: []int64{42}}, 422, 0},
		{"permission not granted", &github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Administration: github.Ptr("write")}}, 422, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, resp, err := app.Apps.CreateInstallationToken(ctx, installationID, tt.opts)
			if tt.status != 201 {
				if got := statusOf(err); got != tt.status {
					t.Fatalf("status = %d (%v), want %d", got, err, tt.status)
				}
				return
			}
			if err != nil || resp.StatusCode != 201 {
				t.Fatalf("create token: %v", err)
			}
			if !strings.HasPrefix(tok.GetToken(), "ghs_") || time.Until(tok.GetExpiresAt().Time) < 59*time.Minute {
				t.Errorf("token = %q expires %v", tok.GetToken(), tok.GetExpiresAt())
			}
			repos, _, err := tokenClient(t, s, tok.GetToken()).Apps.ListRepos(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(repos.Repositories) != tt.wantRepos {
				t.Errorf("token sees %d repositories, want %d", len(repos.Repositories), tt.wantRepos)
			}
		})
	}

	t.Run("unknown token", func(t *testing.T) {
		_, _, err := tokenClient(t, s, "ghs_nope").Apps.ListRepos(ctx, nil)
		if got := statusOf(err); got != http.StatusUnauthorized {
			t.Fatalf("status = %d, want 401", got)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		now := time.Now()
		s := githubtest.New(t, githubtest.WithClock(func() time.Time { return now }))
		s.AddInstallation(githubtest.Installation{ID: 7, Account: "octocat", AccountType: "User"})
		tok := s.InstallationToken(7)
		if resp := get(t, s, "/installation/repositories", "token "+tok); resp.StatusCode != 200 {
			t.Fatalf("fresh token: status %d", resp.StatusCode)
		}
		now = now.Add(61 * time.Minute)
		if resp := get(t, s, "/installation/repositories", "token "+tok); resp.StatusCode != 401 {
			t.Fatalf("expired token: status %d, want 401", resp.StatusCode)
		}
	})
}

func TestPagination(t *testing.T) {
	s := newFake(t, 250)
	c := installationClient(t, s, installationID)
	ctx := context.Background()

	var names []string
	opts := &github.ListOptions{PerPage: 100}
	var lastPages []int
	for {
		repos, resp, err := c.Apps.ListRepos(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if repos.GetTotalCount() != 250 {
			t.Errorf("total_count = %d", repos.GetTotalCount())
		}
		for _, r := range repos.Repositories {
			names = append(names, r.GetFullName())
		}
		lastPages = append(lastPages, resp.LastPage)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(names) != 250 || names[0] != "octo-org/repo-000" || names[249] != "octo-org/repo-249" {
		t.Fatalf("got %d repositories (%v...)", len(names), names[:min(3, len(names))])
	}
	if fmt.Sprint(lastPages) != "[3 3 0]" {
		t.Errorf("last pages per response = %v, want [3 3 0] (no rel=last on the last page)", lastPages)
	}

	tok := "token " + s.InstallationToken(installationID)
	tests := []struct {
		query string
		n     int
		link  string
	}{
		{"", 30, `<URLinstallation/repositories?page=2>; rel="next", <URLinstallation/repositories?page=9>; rel="last"`},
		{"?per_page=500", 100, `<URLinstallation/repositories?page=2&per_page=500>; rel="next", <URLinstallation/repositories?page=3&per_page=500>; rel="last"`},
		{"?per_page=100&page=2", 100, `<URLinstallation/repositories?page=1&per_page=100>; rel="prev", <URLinstallation/repositories?page=3&per_page=100>; rel="next", <URLinstallation/repositories?page=3&per_page=100>; rel="last", <URLinstallation/repositories?page=1&per_page=100>; rel="first"`},
		{"?per_page=100&page=3", 50, `<URLinstallation/repositories?page=2&per_page=100>; rel="prev", <URLinstallation/repositories?page=1&per_page=100>; rel="first"`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp := get(t, s, "/installation/repositories"+tt.query, tok)
			want := strings.ReplaceAll(tt.link, "URL", s.URL())
			if got := resp.Header.Get("Link"); got != want {
				t.Errorf("Link =\n %s\nwant\n %s", got, want)
			}
			var body struct{ Repositories []any }
			decode(t, resp, &body)
			if len(body.Repositories) != tt.n {
				t.Errorf("%d repositories, want %d", len(body.Repositories), tt.n)
			}
		})
	}
}

func TestConditionalRequests(t *testing.T) {
	s := newFake(t, 2)
	tok := "token " + s.InstallationToken(installationID)

	first := get(t, s, "/installation/repositories", tok)
	etag := first.Header.Get("ETag")
	if first.StatusCode != 200 || !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		t.Fatalf("status %d, ETag %q: want 200 and a strong ETag", first.StatusCode, etag)
	}
	remaining := first.Header.Get("X-RateLimit-Remaining")

	tests := []struct {
		name        string
		ifNoneMatch string
		status      int
		charged     bool
	}{
		{"matching ETag", etag, http.StatusNotModified, false},
		{"weak form of the ETag", "W/" + etag, http.StatusNotModified, false},
		{"in a list", `"nope", ` + etag, http.StatusNotModified, false},
		{"stale ETag", `"0000"`, http.StatusOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, s, "/installation/repositories", tok, "If-None-Match", tt.ifNoneMatch)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			body, _ := io.ReadAll(resp.Body)
			if tt.status == http.StatusNotModified && len(body) != 0 {
				t.Errorf("304 with a body: %q", body)
			}
			now := resp.Header.Get("X-RateLimit-Remaining")
			if charged := now != remaining; charged != tt.charged {
				t.Errorf("remaining %s → %s: charged = %v, want %v", remaining, now, charged, tt.charged)
			}
			remaining = now
		})
	}
	var notModified int
	for _, r := range s.Requests() {
		if r.NotModified {
			notModified++
		}
	}
	if notModified != 3 {
		t.Errorf("Requests() shows %d 304s, want 3", notModified)
	}
}

func TestRateLimits(t *testing.T) {
	ctx := context.Background()

	t.Run("headers", func(t *testing.T) {
		s := newFake(t, 1)
		resp := get(t, s, "/installation/repositories", "token "+s.InstallationToken(installationID))
		for h, want := range map[string]string{
			"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", "X-RateLimit-Used": "1", "X-RateLimit-Resource": "core",
		} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
		reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
		if d := time.Until(time.Unix(reset, 0)); d < 59*time.Minute || d > time.Hour {
			t.Errorf("reset in %v", d)
		}
	})

	t.Run("primary limit exhausted", func(t *testing.T) {
		s := newFake(t, 1, githubtest.WithRateLimit(3, time.Hour))
		c := tokenClient(t, s, s.InstallationToken(installationID))
		for i := range 3 {
			if _, _, err := c.Apps.ListRepos(ctx, nil); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		// go-github now refuses on its own (it saw remaining 0); a fresh client asks the fake.
		_, _, err := tokenClient(t, s, s.InstallationToken(installationID)).Apps.ListRepos(ctx, nil)
		var rle *github.RateLimitError
		if !errors.As(err, &rle) {
			t.Fatalf("err = %T %v, want *github.RateLimitError", err, err)
		}
		if rle.Rate.Remaining != 0 || rle.Rate.Limit != 3 || !strings.Contains(rle.Message, "installation ID 1.") {
			t.Errorf("rate limit error = %+v", rle)
		}
		if _, remaining, _ := s.RateLimit(installationID); remaining != 0 {
			t.Errorf("remaining = %d", remaining)
		}
	})

	t.Run("primary limit fault", func(t *testing.T) {
		s := newFake(t, 1)
		s.AddFault(githubtest.Fault{Path: "/installation/repositories", Kind: githubtest.FaultPrimaryRateLimit, Times: 1, RetryAfter: 90 * time.Second})
		c := tokenClient(t, s, s.InstallationToken(installationID))
		_, _, err := c.Apps.ListRepos(ctx, nil)
		var rle *github.RateLimitError
		if !errors.As(err, &rle) {
			t.Fatalf("err = %T %v, want *github.RateLimitError", err, err)
		}
		if d := time.Until(rle.Rate.Reset.Time); d < 60*time.Second || d > 91*time.Second {
			t.Errorf("reset in %v, want ~90s", d)
		}
	})

	t.Run("secondary limit", func(t *testing.T) {
		s := newFake(t, 1)
		s.AddFault(githubtest.Fault{Method: "GET", Path: "/installation/*", Kind: githubtest.FaultSecondaryRateLimit, Times: 1, RetryAfter: 30 * time.Second})
		c := tokenClient(t, s, s.InstallationToken(installationID))
		_, _, err := c.Apps.ListRepos(ctx, nil)
		var arle *github.AbuseRateLimitError
		if !errors.As(err, &arle) {
			t.Fatalf("err = %T %v, want *github.AbuseRateLimitError", err, err)
		}
		if arle.GetRetryAfter() != 30*time.Second || !strings.Contains(arle.Message, "secondary rate limit") {
			t.Errorf("abuse error: retry after %v, message %q", arle.GetRetryAfter(), arle.Message)
		}
	})
}

func TestFaults(t *testing.T) {
	ctx := context.Background()

	t.Run("server errors then recovery", func(t *testing.T) {
		s := newFake(t, 1)
		s.AddFault(githubtest.Fault{Path: "/installation/repositories", Kind: githubtest.FaultServerError, Status: 503, Times: 2})
		c := tokenClient(t, s, s.InstallationToken(installationID))
		var statuses []int
		for range 3 {
			_, resp, _ := c.Apps.ListRepos(ctx, nil)
			statuses = append(statuses, resp.StatusCode)
		}
		if fmt.Sprint(statuses) != "[503 503 200]" {
			t.Fatalf("statuses = %v", statuses)
		}
		var faulted int
		for _, r := range s.Requests() {
			if r.Fault == githubtest.FaultServerError && r.Status == 503 {
				faulted++
			}
		}
		if faulted != 2 {
			t.Errorf("Requests() shows %d faulted requests, want 2", faulted)
		}
	})

	t.Run("probability is reproducible with a seed", func(t *testing.T) {
		pattern := func(seed uint64) string {
			s := newFake(t, 1, githubtest.WithSeed(seed))
			s.AddFault(githubtest.Fault{Kind: githubtest.FaultServerError, Probability: 0.5})
			tok := "token " + s.InstallationToken(installationID)
			var b strings.Builder
			for range 40 {
				if get(t, s, "/installation/repositories", tok).StatusCode == 200 {
					b.WriteByte('.')
				} else {
					b.WriteByte('x')
				}
			}
			return b.String()
		}
		a, b, c := pattern(7), pattern(7), pattern(8)
		if a != b {
			t.Errorf("same seed, different faults:\n%s\n%s", a, b)
		}
		if a == c || !strings.Contains(a, ".") || !strings.Contains(a, "x") {
			t.Errorf("faults do not look random: seed 7 %s, seed 8 %s", a, c)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		s := newFake(t, 1)
		s.AddFault(githubtest.Fault{Path: "/app", Kind: githubtest.FaultTimeout, Times: 1, Delay: time.Minute})
		hc := &http.Client{Timeout: 200 * time.Millisecond, Transport: http.DefaultTransport}
		req, _ := http.NewRequest("GET", s.URL()+"app", nil)
		req.Header.Set("Authorization", "Bearer "+s.SignAppJWT())
		start := time.Now()
		_, err := hc.Do(req)
		if err == nil || time.Since(start) > 5*time.Second {
			t.Fatalf("err = %v after %v, want a client timeout", err, time.Since(start))
		}
		// The fake notices the client left and records the 504.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if reqs := s.Requests(); len(reqs) == 1 {
				if reqs[0].Fault != githubtest.FaultTimeout || reqs[0].Status != http.StatusGatewayTimeout {
					t.Errorf("recorded %+v", reqs[0])
				}
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Error("timed-out request was not recorded")
	})
}

func decode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := jsonUnmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}
