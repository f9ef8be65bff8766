package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/provenance/keyring"
	"github.com/agentgate/agentgate/store"
)

// BundleMediaType is the content type of GET /api/v1/attestations/{id}.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// Page sizes of GET /api/v1/attestations.
const (
	defaultAttestationPage = 100
	maxAttestationPage     = 1000
)

// AttestationsAPI is the auditor's read-only API over the attestation log:
//
//	GET /api/v1/attestations       the rows, filtered, a page at a time
//	                               (bundles=true adds each bundle, base64, as
//	                               bundle_base64: one request per page where
//	                               an audit would make one per row)
//	GET /api/v1/attestations/{id}  one bundle
//	GET /api/v1/keys               the published public keys with their windows
//	GET /api/v1/log/head           the chain's head
//
// Every request needs "Authorization: Bearer <token>" with a token whose
// sha256 is in api.tokens; a token scoped to repositories sees only their
// rows. The log head is the whole chain's (it names no repository), so any
// valid token may read it.
type AttestationsAPI struct {
	store     *store.Store
	tokens    []apiToken
	keys      *keyring.Keyring
	publicURL string
	log       *slog.Logger
}

type apiToken struct {
	config.APIToken
	digest []byte // decoded SHA256
}

// NewAttestationsAPI serves the attestations in st to the holders of
// tokens; keys is what /api/v1/keys publishes. publicURL (the server's
// public_url) is the base of bundle_url and Link; empty means the request's
// own host.
func NewAttestationsAPI(st *store.Store, tokens []config.APIToken, keys *keyring.Keyring, publicURL string, log *slog.Logger) (*AttestationsAPI, error) {
	api := &AttestationsAPI{store: st, keys: keys, publicURL: strings.TrimSuffix(publicURL, "/"), log: log}
	if api.log == nil {
		api.log = slog.New(slog.DiscardHandler)
	}
	for _, t := range tokens {
		if err := t.Check(); err != nil {
			return nil, fmt.Errorf("attestations api: %w", err)
		}
		d, _ := hex.DecodeString(t.SHA256) // Check: 64 hex digits
		api.tokens = append(api.tokens, apiToken{APIToken: t, digest: d})
	}
	return api, nil
}

// Register adds the four routes to mux.
func (api *AttestationsAPI) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/attestations", api.List)
	mux.HandleFunc("GET /api/v1/attestations/{id}", api.Bundle)
	mux.HandleFunc("GET /api/v1/keys", api.Keys)
	mux.HandleFunc("GET /api/v1/log/head", api.LogHead)
}

// authenticate finds the request's token, or answers 401 and returns false.
// Digests are compared in constant time, against every token.
func (api *AttestationsAPI) authenticate(w http.ResponseWriter, r *http.Request) (apiToken, bool) {
	raw := bearer(r)
	if raw == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentgate"`)
		apiError(w, http.StatusUnauthorized, "an API token is required: send Authorization: Bearer <token> (an operator makes one with agentgate api-token)")
		return apiToken{}, false
	}
	if len(api.tokens) == 0 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentgate", error="invalid_token"`)
		apiError(w, http.StatusUnauthorized, "this server has no API tokens configured (api.tokens), so no token is valid")
		return apiToken{}, false
	}
	sum := sha256.Sum256([]byte(raw))
	found := -1
	for i, t := range api.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.digest) == 1 {
			found = i
		}
	}
	if found < 0 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentgate", error="invalid_token"`)
		apiError(w, http.StatusUnauthorized, "the API token is not valid on this server")
		return apiToken{}, false
	}
	return api.tokens[found], true
}

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": msg})
}

// attestationJSON is one row of GET /api/v1/attestations.
type attestationJSON struct {
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
	// SignedAt keeps the nanoseconds the store has, so the row's hash
	// (over Unix milliseconds) can be recomputed from it.
	SignedAt     string `json:"signed_at"`
	BundleSHA256 string `json:"bundle_sha256"`
	PrevHash     string `json:"prev_hash"`
	RowHash      string `json:"row_hash"`
	BundleURL    string `json:"bundle_url"`
	// Bundle is the bundle's bytes (base64), with bundles=true only.
	Bundle []byte `json:"bundle_base64,omitempty"`
}

type attestationListJSON struct {
	Attestations []attestationJSON `json:"attestations"`
	NextCursor   string            `json:"next_cursor"`
}

// listParams are the query parameters of GET /api/v1/attestations.
var listParams = []string{"repo", "commit", "pr", "agent", "model", "predicate_type", "since", "until", "cursor", "limit", "bundles"}

var (
	commitHex = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
	repoName  = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
)

// maxFilterLen bounds free-text filters (agent, model, predicate type).
const maxFilterLen = 256

// parseListQuery turns the query string into a store query for the token,
// or says what is wrong with it.
func parseListQuery(v url.Values, tok apiToken) (store.AttestationQuery, error) {
	q := store.AttestationQuery{Limit: defaultAttestationPage}
	for k, vals := range v {
		if !slices.Contains(listParams, k) {
			return q, fmt.Errorf("unknown parameter %q (known: %s)", k, strings.Join(listParams, ", "))
		}
		if len(vals) > 1 {
			return q, fmt.Errorf("parameter %q is given %d times; give it once", k, len(vals))
		}
	}
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	if !tok.AllRepos() {
		q.Repositories = slices.Clone(tok.Repos)
	}
	if repo := get("repo"); repo != "" {
		if !repoName.MatchString(repo) {
			return q, fmt.Errorf("repo %q is not owner/name", repo)
		}
		if !tok.Allows(repo) {
			return q, fmt.Errorf("repo %s is outside this token's scope (%s)", repo, strings.Join(tok.Repos, ", "))
		}
		q.Repository = repo
	}
	if c := get("commit"); c != "" {
		if !commitHex.MatchString(c) {
			return q, fmt.Errorf("commit %q is not a full commit sha (40 hex digits)", c)
		}
		q.Commit = strings.ToLower(c)
	}
	if pr := get("pr"); pr != "" {
		n, err := strconv.Atoi(pr)
		if err != nil || n < 1 {
			return q, fmt.Errorf("pr %q is not a positive integer (a pull request number)", pr)
		}
		q.PullNumber = n
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"agent", &q.Agent}, {"model", &q.Model}, {"predicate_type", &q.PredicateType}} {
		s := get(f.name)
		if len(s) > maxFilterLen {
			return q, fmt.Errorf("%s is longer than %d characters", f.name, maxFilterLen)
		}
		*f.dst = s
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		s := get(f.name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, fmt.Errorf("%s %q is not an RFC 3339 time like 2026-03-01T00:00:00Z", f.name, s)
		}
		*f.dst = t
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return q, fmt.Errorf("until %s is not after since %s", get("until"), get("since"))
	}
	if c := get("cursor"); c != "" {
		seq, err := parseCursor(c)
		if err != nil {
			return q, err
		}
		q.AfterSeq = seq
	}
	if b := get("bundles"); b != "" {
		with, err := strconv.ParseBool(b)
		if err != nil {
			return q, fmt.Errorf("bundles %q is not true or false", b)
		}
		q.WithBundles = with
	}
	if l := get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxAttestationPage {
			return q, fmt.Errorf("limit %q is not a number from 1 to %d", l, maxAttestationPage)
		}
		q.Limit = n
	}
	return q, nil
}

// A cursor is opaque to clients: "s" and the last row's sequence number.
func formatCursor(afterSeq int64) string { return "s" + strconv.FormatInt(afterSeq, 10) }

func parseCursor(c string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(c, "s"), 10, 64)
	if !strings.HasPrefix(c, "s") || err != nil || n < 1 {
		return 0, fmt.Errorf("cursor %q is not one this server gave out (use next_cursor of the previous page)", c)
	}
	return n, nil
}

// List serves GET /api/v1/attestations.
func (api *AttestationsAPI) List(w http.ResponseWriter, r *http.Request) {
	tok, ok := api.authenticate(w, r)
	if !ok {
		return
	}
	q, err := parseListQuery(r.URL.Query(), tok)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := api.store.QueryAttestations(r.Context(), q)
	if errors.Is(err, store.ErrInvalidQuery) {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		api.log.Error("list attestations", "token", tok.Name, "err", err)
		apiError(w, http.StatusInternalServerError, "could not list attestations")
		return
	}
	base := api.base(r)
	out := attestationListJSON{Attestations: make([]attestationJSON, 0, len(page.Items))}
	for _, a := range page.Items {
		out.Attestations = append(out.Attestations, attestationJSON{
			ID: a.ID, Seq: a.Seq, Repository: a.Repository, Commit: a.Commit, PullRequest: a.PullNumber,
			PredicateType: a.PredicateType, Name: a.Name, Agent: a.Agent, Model: a.Model,
			SignerKeyID: a.SignerKeyID, SignedAt: a.SignedAt.UTC().Format(time.RFC3339Nano),
			BundleSHA256: a.BundleSHA256, PrevHash: a.PrevHash, RowHash: a.RowHash,
			BundleURL: base + "/api/v1/attestations/" + url.PathEscape(a.ID),
			Bundle:    a.Bundle, // nil unless bundles=true
		})
	}
	if page.NextAfterSeq > 0 {
		out.NextCursor = formatCursor(page.NextAfterSeq)
		next := r.URL.Query()
		next.Set("cursor", out.NextCursor)
		w.Header().Set("Link", fmt.Sprintf(`<%s/api/v1/attestations?%s>; rel="next"`, base, next.Encode()))
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// Bundle serves GET /api/v1/attestations/{id}: the bundle's bytes as
// stored. A row outside the token's scope is as absent as an unknown one.
func (api *AttestationsAPI) Bundle(w http.ResponseWriter, r *http.Request) {
	tok, ok := api.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	a, err := api.store.Attestation(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !tok.Allows(a.Repository)) {
		apiError(w, http.StatusNotFound, fmt.Sprintf("no attestation %q", id))
		return
	}
	if err != nil {
		api.log.Error("read attestation", "id", id, "token", tok.Name, "err", err)
		apiError(w, http.StatusInternalServerError, "could not read the attestation")
		return
	}
	if len(a.Bundle) == 0 {
		// The row is there and its bundle is not: the log was tampered
		// with (bundles are never deleted). Say so rather than serve nothing.
		api.log.Error("attestation has no bundle", "id", id, "seq", a.Seq)
		apiError(w, http.StatusInternalServerError, fmt.Sprintf("attestation %q has lost its bundle; run agentgate audit verify-log", id))
		return
	}
	h := w.Header()
	h.Set("Content-Type", BundleMediaType)
	h.Set("Content-Length", strconv.Itoa(len(a.Bundle)))
	h.Set("ETag", `"sha256:`+a.BundleSHA256+`"`)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.Bundle)
}

type keyJSON struct {
	KeyID      string  `json:"key_id"`
	PublicKey  string  `json:"public_key"`
	ValidFrom  *string `json:"valid_from"`  // null: unbounded
	ValidUntil *string `json:"valid_until"` // null: unbounded
	Active     bool    `json:"active"`
}

// Keys serves GET /api/v1/keys: every published public key (PEM) with its
// validity window; the active key first.
func (api *AttestationsAPI) Keys(w http.ResponseWriter, r *http.Request) {
	if _, ok := api.authenticate(w, r); !ok {
		return
	}
	stamp := func(t time.Time) *string {
		if t.IsZero() {
			return nil
		}
		s := t.UTC().Format(time.RFC3339Nano)
		return &s
	}
	out := struct {
		Keys []keyJSON `json:"keys"`
	}{Keys: []keyJSON{}}
	if api.keys != nil {
		for _, k := range api.keys.Keys() {
			out.Keys = append(out.Keys, keyJSON{
				KeyID: k.KeyID, PublicKey: string(k.PEM), ValidFrom: stamp(k.ValidFrom), ValidUntil: stamp(k.ValidUntil), Active: k.Active,
			})
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// LogHead serves GET /api/v1/log/head: the last row's sequence number and
// hash, and how many rows there are.
func (api *AttestationsAPI) LogHead(w http.ResponseWriter, r *http.Request) {
	tok, ok := api.authenticate(w, r)
	if !ok {
		return
	}
	head, err := api.store.AttestationLogHead(r.Context())
	if err != nil {
		api.log.Error("read the attestation log head", "token", tok.Name, "err", err)
		apiError(w, http.StatusInternalServerError, "could not read the log head")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, struct {
		Seq     int64  `json:"seq"`
		RowHash string `json:"row_hash"`
		Count   int64  `json:"count"`
	}{head.Seq, head.RowHash, head.Count})
}

// base is the URL links start with: public_url, or the request's host.
func (api *AttestationsAPI) base(r *http.Request) string {
	if api.publicURL != "" {
		return api.publicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
