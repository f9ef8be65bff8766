package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/provenance/auditclient/audittest"
	"github.com/agentgate/agentgate/provenance/keyring"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/provenance/verify"
	"github.com/agentgate/agentgate/server"
	"github.com/agentgate/agentgate/store"
	"github.com/agentgate/agentgate/store/storetest"
)

// apiFixture is a real SQLite store with signed attestations of three
// repositories, served by the real handlers.
type apiFixture struct {
	url    string
	store  *store.Store
	rows   []store.Attestation // in log order
	tokens map[string]string   // name → token
	active *sign.LocalKey
	old    *sign.LocalKey
	ring   *keyring.Keyring
}

var (
	t0      = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	jan     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	jun     = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	changes = []audittest.Change{
		{Repository: "acme/web", PullRequest: 1, Agent: "claude-code", Model: "claude-sonnet-4.5", Checks: []string{"test", "lint"}, SignedAt: t0},
		{Repository: "acme/api", PullRequest: 2, Agent: "codex", Model: "gpt-5", SignedAt: t0.Add(time.Hour)},
		{Repository: "other/x", PullRequest: 3, Agent: "aider", Model: "gpt-5", Checks: []string{"ci"}, SignedAt: t0.Add(2 * time.Hour)},
		{Repository: "acme/web", PullRequest: 4, Agent: "claude-code", Model: "claude-opus-4", SignedAt: t0.Add(3 * time.Hour)},
	}
)

func newAPIFixture(t *testing.T) *apiFixture { return newAPIFixtureOn(t, store.SQLite) }

// eachDialect runs test on SQLite and PostgreSQL (skipped without
// AGENTGATE_TEST_POSTGRES_URL, see store/storetest).
func eachDialect(t *testing.T, test func(t *testing.T, f *apiFixture)) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) { test(t, newAPIFixtureOn(t, d)) })
	}
}

func newAPIFixtureOn(t *testing.T, d store.Dialect) *apiFixture {
	t.Helper()
	f := &apiFixture{store: storetest.Open(t, d), active: audittest.Key(t), old: audittest.Key(t), tokens: map[string]string{}}
	for _, c := range changes {
		f.rows = append(f.rows, audittest.Attest(t, f.store, f.active, c)...)
	}
	// One statement signed by the retired key while it was valid.
	f.rows = append(f.rows, audittest.Attest(t, f.store, f.old, audittest.Change{Repository: "acme/legacy", PullRequest: 9, SignedAt: jan.AddDate(0, 2, 0)})...)

	var tokens []config.APIToken
	for name, repos := range map[string][]string{"all": {"*"}, "acme": {"acme/*"}, "x": {"other/x"}} {
		tok := "agt_test_" + name
		sum := sha256.Sum256([]byte(tok))
		tokens = append(tokens, config.APIToken{Name: name, SHA256: hex.EncodeToString(sum[:]), Repos: repos})
		f.tokens[name] = tok
	}
	activePEM, _ := sign.PublicKeyPEM(f.active)
	oldPEM, _ := sign.PublicKeyPEM(f.old)
	ring, err := keyring.New(
		keyring.Key{PEM: oldPEM, ValidFrom: jan, ValidUntil: jun},
		keyring.Key{PEM: activePEM, ValidFrom: jun, Active: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	f.ring = ring
	api, err := server.NewAttestationsAPI(f.store, tokens, ring, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (f *apiFixture) get(t *testing.T, token, path string) answer {
	t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = f.url + path
	}
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

type listed struct {
	Attestations []struct {
		ID            string `json:"id"`
		Seq           int64  `json:"seq"`
		Repository    string `json:"repository"`
		Commit        string `json:"commit"`
		PullRequest   int    `json:"pull_request"`
		PredicateType string `json:"predicate_type"`
		Name          string `json:"name"`
		Agent         string `json:"agent"`
		Model         string `json:"model"`
		SignerKeyID   string `json:"signer_key_id"`
		SignedAt      string `json:"signed_at"`
		BundleSHA256  string `json:"bundle_sha256"`
		PrevHash      string `json:"prev_hash"`
		RowHash       string `json:"row_hash"`
		BundleURL     string `json:"bundle_url"`
	} `json:"attestations"`
	NextCursor string `json:"next_cursor"`
}

func (f *apiFixture) list(t *testing.T, token, query string) (listed, answer) {
	t.Helper()
	a := f.get(t, token, "/api/v1/attestations?"+query)
	if a.status != http.StatusOK {
		t.Fatalf("GET ?%s: %d %s", query, a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var l listed
	if err := json.Unmarshal(a.body, &l); err != nil {
		t.Fatalf("GET ?%s: %v\n%s", query, err, a.body)
	}
	return l, a
}

// listAll follows next_cursor and returns the ids in order.
func (f *apiFixture) listAll(t *testing.T, token, query string) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for range 100 {
		q := query
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		l, _ := f.list(t, token, q)
		for _, a := range l.Attestations {
			ids = append(ids, a.ID)
		}
		if l.NextCursor == "" {
			return ids
		}
		cursor = l.NextCursor
	}
	t.Fatal("pagination does not end")
	return nil
}

func (f *apiFixture) ids(match func(store.Attestation) bool) []string {
	var out []string
	for _, r := range f.rows {
		if match(r) {
			out = append(out, r.ID)
		}
	}
	return out
}

func TestAttestationsAPIFilters(t *testing.T) { eachDialect(t, testAttestationsAPIFilters) }

func testAttestationsAPIFilters(t *testing.T, f *apiFixture) {
	all := f.tokens["all"]
	web1 := f.rows[0]
	cases := []struct {
		query string
		want  func(store.Attestation) bool
	}{
		{"", func(store.Attestation) bool { return true }},
		{"repo=acme/web", func(a store.Attestation) bool { return a.Repository == "acme/web" }},
		{"commit=" + web1.Commit, func(a store.Attestation) bool { return a.Commit == web1.Commit }},
		{"commit=" + strings.ToUpper(web1.Commit), func(a store.Attestation) bool { return a.Commit == web1.Commit }},
		{"pr=3", func(a store.Attestation) bool { return a.PullNumber == 3 }},
		{"agent=codex", func(a store.Attestation) bool { return a.Agent == "codex" }},
		{"model=gpt-5", func(a store.Attestation) bool { return a.Model == "gpt-5" }},
		{"predicate_type=" + url.QueryEscape(statement.PredicateTestResult), func(a store.Attestation) bool { return a.PredicateType == statement.PredicateTestResult }},
		{"since=" + t0.Add(time.Hour).Format(time.RFC3339), func(a store.Attestation) bool { return !a.SignedAt.Before(t0.Add(time.Hour)) }},
		{"until=" + t0.Add(time.Hour).Format(time.RFC3339), func(a store.Attestation) bool { return a.SignedAt.Before(t0.Add(time.Hour)) }},
		{"since=" + url.QueryEscape(t0.Add(30*time.Minute).Format(time.RFC3339)) + "&until=" + url.QueryEscape(t0.Add(150*time.Minute).Format(time.RFC3339)),
			func(a store.Attestation) bool {
				return !a.SignedAt.Before(t0.Add(30*time.Minute)) && a.SignedAt.Before(t0.Add(150*time.Minute))
			}},
		{"repo=acme/web&predicate_type=" + url.QueryEscape(statement.PredicateVSA) + "&model=claude-opus-4",
			func(a store.Attestation) bool {
				return a.Repository == "acme/web" && a.PredicateType == statement.PredicateVSA && a.Model == "claude-opus-4"
			}},
		{"agent=nobody", func(store.Attestation) bool { return false }},
		{"repo=acme/web&pr=", func(a store.Attestation) bool { return a.Repository == "acme/web" }}, // empty means unset
	}
	for _, c := range cases {
		want := f.ids(c.want)
		got := f.listAll(t, all, c.query)
		if !slices.Equal(got, want) {
			t.Errorf("?%s: got %d rows %v, want %d %v", c.query, len(got), got, len(want), want)
		}
	}

	// A row carries everything the log has, and a bundle_url that serves
	// its bundle.
	l, _ := f.list(t, all, "commit="+web1.Commit+"&predicate_type="+url.QueryEscape(statement.PredicateTestResult))
	if len(l.Attestations) != 2 {
		t.Fatalf("test results of %s: %+v", web1.Commit, l)
	}
	got := l.Attestations[0]
	var want store.Attestation
	for _, r := range f.rows {
		if r.ID == got.ID {
			want = r
		}
	}
	signedAt, err := time.Parse(time.RFC3339Nano, got.SignedAt)
	if err != nil || !signedAt.Equal(want.SignedAt) || got.Seq != want.Seq || got.Repository != "acme/web" || got.PullRequest != 1 ||
		got.Name != "test" || got.Agent != want.Agent || got.Model != want.Model || got.SignerKeyID != f.active.KeyID() ||
		got.BundleSHA256 != want.BundleSHA256 || got.PrevHash != want.PrevHash || got.RowHash != want.RowHash || want.RowHash == "" {
		t.Errorf("row %+v\nwant %+v", got, want)
	}
	if got.BundleURL != f.url+"/api/v1/attestations/"+got.ID {
		t.Errorf("bundle_url %q", got.BundleURL)
	}
	b := f.get(t, all, got.BundleURL)
	sum := sha256.Sum256(b.body)
	if b.status != 200 || hex.EncodeToString(sum[:]) != got.BundleSHA256 {
		t.Errorf("bundle_url: %d, sha256 %x", b.status, sum)
	}
	if strings.Contains(string(b.body), "bundle_base64") {
		t.Error("rows carry bundles without bundles=true")
	}

	// bundles=true: each row carries its bundle's bytes, exactly.
	var withBundles struct {
		Attestations []struct {
			ID     string `json:"id"`
			Bundle []byte `json:"bundle_base64"`
		} `json:"attestations"`
	}
	a := f.get(t, all, "/api/v1/attestations?bundles=true&repo=other/x")
	if err := json.Unmarshal(a.body, &withBundles); err != nil || len(withBundles.Attestations) != 4 {
		t.Fatalf("bundles=true: %v %s", err, a.body)
	}
	for _, r := range withBundles.Attestations {
		for _, want := range f.rows {
			if want.ID == r.ID && string(want.Bundle) != string(r.Bundle) {
				t.Errorf("bundles=true: %s's bundle differs from the stored one", r.ID)
			}
		}
	}
}

func TestAttestationsAPIPagination(t *testing.T) { eachDialect(t, testAttestationsAPIPagination) }

func testAttestationsAPIPagination(t *testing.T, f *apiFixture) {
	all := f.tokens["all"]
	linkRE := regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

	// Follow the Link header, as a generic client would.
	var ids []string
	next := f.url + "/api/v1/attestations?limit=4&repo=acme/web"
	pages := 0
	for next != "" {
		a := f.get(t, all, next)
		if a.status != 200 {
			t.Fatalf("%s: %d %s", next, a.status, a.body)
		}
		var l listed
		if err := json.Unmarshal(a.body, &l); err != nil {
			t.Fatal(err)
		}
		pages++
		if len(l.Attestations) > 4 {
			t.Fatalf("page of %d rows with limit=4", len(l.Attestations))
		}
		for _, r := range l.Attestations {
			ids = append(ids, r.ID)
		}
		link := a.header.Get("Link")
		if l.NextCursor == "" {
			if link != "" {
				t.Errorf("last page has a Link: %s", link)
			}
			break
		}
		m := linkRE.FindStringSubmatch(link)
		if m == nil {
			t.Fatalf("page %d: Link %q", pages, link)
		}
		u, _ := url.Parse(m[1])
		if q := u.Query(); q.Get("cursor") != l.NextCursor || q.Get("repo") != "acme/web" || q.Get("limit") != "4" {
			t.Errorf("Link %s does not keep the filters and carry next_cursor %s", m[1], l.NextCursor)
		}
		next = m[1]
	}
	want := f.ids(func(a store.Attestation) bool { return a.Repository == "acme/web" })
	if !slices.Equal(ids, want) || pages != (len(want)+3)/4 {
		t.Errorf("paged %d pages, %v; want %v", pages, ids, want)
	}

	// Cursor and limit=1 one by one: the log order, nothing twice.
	if got := f.listAll(t, all, "limit=1"); !slices.Equal(got, f.ids(func(store.Attestation) bool { return true })) {
		t.Errorf("limit=1 walk: %v", got)
	}
	// The default page is 100 and the maximum 1000.
	l, _ := f.list(t, all, "limit=1000")
	if len(l.Attestations) != len(f.rows) || l.NextCursor != "" {
		t.Errorf("limit=1000: %d rows, cursor %q", len(l.Attestations), l.NextCursor)
	}
}

func TestAttestationsAPITokenScope(t *testing.T) { eachDialect(t, testAttestationsAPITokenScope) }

func testAttestationsAPITokenScope(t *testing.T, f *apiFixture) {
	acme, x := f.tokens["acme"], f.tokens["x"]
	isAcme := func(a store.Attestation) bool { return strings.HasPrefix(a.Repository, "acme/") }
	if got := f.listAll(t, acme, "limit=3"); !slices.Equal(got, f.ids(isAcme)) {
		t.Errorf("acme/* token lists %v, want %v", got, f.ids(isAcme))
	}
	if got := f.listAll(t, x, ""); !slices.Equal(got, f.ids(func(a store.Attestation) bool { return a.Repository == "other/x" })) {
		t.Errorf("other/x token lists %v", got)
	}
	// A filter cannot widen the scope.
	if got := f.listAll(t, acme, "model=gpt-5"); !slices.Equal(got, f.ids(func(a store.Attestation) bool { return isAcme(a) && a.Model == "gpt-5" })) {
		t.Errorf("acme token, model=gpt-5: %v", got)
	}
	if got := f.listAll(t, acme, "pr=3"); len(got) != 0 {
		t.Errorf("acme token sees other/x's pr 3: %v", got)
	}
	var otherID, acmeID string
	for _, r := range f.rows {
		if r.Repository == "other/x" && otherID == "" {
			otherID = r.ID
		}
		if r.Repository == "acme/api" && acmeID == "" {
			acmeID = r.ID
		}
	}
	if a := f.get(t, acme, "/api/v1/attestations/"+otherID); a.status != http.StatusNotFound || !strings.Contains(string(a.body), otherID) {
		t.Errorf("acme token fetches other/x's bundle: %d %s", a.status, a.body)
	}
	if a := f.get(t, acme, "/api/v1/attestations/"+acmeID); a.status != http.StatusOK {
		t.Errorf("acme token cannot fetch acme/api's bundle: %d %s", a.status, a.body)
	}
	// Names compare exactly, as the store compares them.
	for _, q := range []string{"repo=other/x", "repo=ACME/web"} {
		a := f.get(t, acme, "/api/v1/attestations?"+q)
		if a.status != http.StatusBadRequest || !strings.Contains(string(a.body), "outside this token's scope") || !strings.Contains(string(a.body), "acme/*") {
			t.Errorf("acme token, %s: %d %s", q, a.status, a.body)
		}
	}
}

func TestAttestationsAPIUnauthorized(t *testing.T) {
	f := newAPIFixture(t)
	id := f.rows[0].ID
	for _, path := range []string{"/api/v1/attestations", "/api/v1/attestations/" + id, "/api/v1/keys", "/api/v1/log/head"} {
		for name, header := range map[string]string{
			"no header":   "",
			"wrong token": "Bearer agt_nope",
			"basic auth":  "Basic " + f.tokens["all"],
			"empty":       "Bearer ",
			"digest":      "Bearer " + func() string { s := sha256.Sum256([]byte(f.tokens["all"])); return hex.EncodeToString(s[:]) }(),
		} {
			req, _ := http.NewRequest(http.MethodGet, f.url+path, nil)
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct {
				Error string `json:"error"`
			}
			if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal(body, &e) != nil || e.Error == "" ||
				!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s, %s: %d %q %s", path, name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
			if strings.Contains(string(body), "att_") || strings.Contains(string(body), "dsseEnvelope") {
				t.Errorf("%s, %s: the 401 leaks data: %s", path, name, body)
			}
		}
	}

	// A server without tokens serves nobody.
	api, err := server.NewAttestationsAPI(f.store, nil, f.ring, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/attestations", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens["all"])
	api.List(rec, req)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "api.tokens") {
		t.Errorf("no tokens configured: %d %s", rec.Code, rec.Body)
	}
}

func TestAttestationsAPIBadRequests(t *testing.T) {
	f := newAPIFixture(t)
	all := f.tokens["all"]
	cases := map[string]string{ // query → a part of the reason
		"foo=1":                             `unknown parameter "foo"`,
		"repository=acme/web":               `unknown parameter "repository"`,
		"repo=acme/web&repo=a/b":            `"repo" is given 2 times`,
		"repo=acme":                         `repo "acme" is not owner/name`,
		"commit=abc123":                     `commit "abc123" is not a full commit sha`,
		"commit=" + strings.Repeat("g", 40): "40 hex digits",
		"pr=0":                              `pr "0" is not a positive integer`,
		"pr=-2":                             `pr "-2"`,
		"pr=seven":                          `pr "seven"`,
		"since=yesterday":                   `since "yesterday" is not an RFC 3339 time`,
		"until=2026-13-01":                  `until "2026-13-01"`,
		"since=2026-07-02T00:00:00Z&until=2026-07-01T00:00:00Z": "is not after since",
		"cursor=abc":                        `cursor "abc" is not one this server gave out`,
		"cursor=s0":                         `cursor "s0"`,
		"cursor=s-4":                        `cursor "s-4"`,
		"limit=0":                           `limit "0" is not a number from 1 to 1000`,
		"limit=1001":                        `limit "1001"`,
		"limit=ten":                         `limit "ten"`,
		"agent=" + strings.Repeat("a", 300): "agent is longer than 256",
		"bundles=maybe":                     `bundles "maybe" is not true or false`,
	}
	for q, want := range cases {
		a := f.get(t, all, "/api/v1/attestations?"+q)
		var e struct {
			Error string `json:"error"`
		}
		if a.status != http.StatusBadRequest || json.Unmarshal(a.body, &e) != nil || !strings.Contains(e.Error, want) {
			t.Errorf("?%s: %d %s, want 400 with %q", q, a.status, a.body, want)
		}
	}
}

func TestAttestationsAPIBundle(t *testing.T) {
	f := newAPIFixture(t)
	r := f.rows[len(f.rows)-1] // signed by the retired key
	a := f.get(t, f.tokens["all"], "/api/v1/attestations/"+r.ID)
	if a.status != 200 || a.header.Get("Content-Type") != "application/vnd.dev.sigstore.bundle.v0.3+json" || string(a.body) != string(r.Bundle) {
		t.Fatalf("GET bundle: %d %q\n%s", a.status, a.header.Get("Content-Type"), a.body)
	}
	if etag := a.header.Get("ETag"); etag != `"sha256:`+r.BundleSHA256+`"` {
		t.Errorf("ETag %q", etag)
	}
	// The bytes are a bundle the published keys verify.
	v, _ := f.ring.Verifier()
	if res, err := v.Verify(a.body, verify.Expect{Commit: r.Commit, PredicateType: r.PredicateType}); err != nil || res.KeyID != f.old.KeyID() {
		t.Errorf("served bundle does not verify: %v", err)
	}
	for _, id := range []string{"att_nope", "..%2f..%2fetc", "' OR 1=1 --"} {
		if a := f.get(t, f.tokens["all"], "/api/v1/attestations/"+url.PathEscape(id)); a.status != http.StatusNotFound || !strings.Contains(string(a.body), `"error"`) {
			t.Errorf("unknown id %q: %d %s", id, a.status, a.body)
		}
	}
}

func TestAttestationsAPIKeysAndHead(t *testing.T) {
	f := newAPIFixture(t)
	a := f.get(t, f.tokens["x"], "/api/v1/keys")
	var keys struct {
		Keys []struct {
			KeyID      string  `json:"key_id"`
			PublicKey  string  `json:"public_key"`
			ValidFrom  *string `json:"valid_from"`
			ValidUntil *string `json:"valid_until"`
			Active     bool    `json:"active"`
		} `json:"keys"`
	}
	if a.status != 200 || json.Unmarshal(a.body, &keys) != nil || len(keys.Keys) != 2 {
		t.Fatalf("keys: %d %s", a.status, a.body)
	}
	act, old := keys.Keys[0], keys.Keys[1]
	activePEM, _ := sign.PublicKeyPEM(f.active)
	oldPEM, _ := sign.PublicKeyPEM(f.old)
	if !act.Active || act.KeyID != f.active.KeyID() || act.PublicKey != string(activePEM) || act.ValidFrom == nil || *act.ValidFrom != "2026-06-01T00:00:00Z" || act.ValidUntil != nil {
		t.Errorf("active key %+v", act)
	}
	if old.Active || old.KeyID != f.old.KeyID() || old.PublicKey != string(oldPEM) || old.ValidFrom == nil || *old.ValidFrom != "2026-01-01T00:00:00Z" ||
		old.ValidUntil == nil || *old.ValidUntil != "2026-06-01T00:00:00Z" {
		t.Errorf("retired key %+v", old)
	}
	if strings.Contains(string(a.body), "PRIVATE") {
		t.Error("keys answer holds a private key")
	}

	a = f.get(t, f.tokens["acme"], "/api/v1/log/head")
	var head struct {
		Seq     int64  `json:"seq"`
		RowHash string `json:"row_hash"`
		Count   int64  `json:"count"`
	}
	last := f.rows[len(f.rows)-1]
	if a.status != 200 || json.Unmarshal(a.body, &head) != nil || head.Seq != last.Seq || head.RowHash != last.RowHash || head.Count != int64(len(f.rows)) {
		t.Errorf("log head: %d %s; want seq %d hash %s count %d", a.status, a.body, last.Seq, last.RowHash, len(f.rows))
	}
	// The head moves with the log.
	more := audittest.Attest(t, f.store, f.active, audittest.Change{Repository: "acme/web", PullRequest: 77, SignedAt: t0.Add(5 * time.Hour)})
	a = f.get(t, f.tokens["acme"], "/api/v1/log/head")
	_ = json.Unmarshal(a.body, &head)
	if top := more[len(more)-1]; head.Seq != top.Seq || head.RowHash != top.RowHash || head.Count != int64(len(f.rows)+len(more)) {
		t.Errorf("head after appending: %s", a.body)
	}
}

func TestAttestationsAPIPublicURL(t *testing.T) {
	f := newAPIFixture(t)
	sum := sha256.Sum256([]byte("tok"))
	api, err := server.NewAttestationsAPI(f.store, []config.APIToken{{Name: "a", SHA256: hex.EncodeToString(sum[:]), Repos: []string{"*"}}}, f.ring, "https://gate.example.com/", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/attestations?limit=1", nil)
	req.Header.Set("Authorization", "Bearer tok")
	api.List(rec, req)
	if link := rec.Header().Get("Link"); !strings.HasPrefix(link, "<https://gate.example.com/api/v1/attestations?") {
		t.Errorf("Link %q does not use public_url", link)
	}
	if !strings.Contains(rec.Body.String(), `"bundle_url":"https://gate.example.com/api/v1/attestations/att_`) {
		t.Errorf("bundle_url does not use public_url: %s", rec.Body)
	}
	if _, err := server.NewAttestationsAPI(f.store, []config.APIToken{{Name: "bad", SHA256: "xyz", Repos: []string{"*"}}}, f.ring, "", nil); err == nil {
		t.Error("a malformed token digest was accepted")
	}
}
