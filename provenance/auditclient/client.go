// Package auditclient is the auditor's side of agentgate's attestation API:
// an HTTP client for /api/v1/attestations, /keys and /log/head, and the
// checks `agentgate audit verify` runs on what it fetches: every bundle
// verified against the published keys (provenance/verify), its subject
// commit, predicate type and signer against the row, the signing time
// inside the key's window, the bundle's sha256, and the hash chain of the
// rows seen (provenance/attestlog).
//
// It trusts nothing the server says without checking it: rows are checked
// against their own hashes and each other, bundles against the keys. It
// never signs and does not import the sign package. Keys can be pinned
// (Options.Keys) so the server's own key list is not the only root of
// trust.
package auditclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/provenance/attestlog"
	"github.com/agentgate/agentgate/provenance/keyring"
)

// MaxPageSize is the most rows the API returns in one page.
const MaxPageSize = 1000

// maxBundle bounds a bundle read from the server.
const maxBundle = 16 << 20

// Client talks to one agentgate server with one API token.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New makes a client for the server at serverURL (e.g.
// https://gate.example.com) with the token; hc nil means a client with a
// one-minute timeout.
func New(serverURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(serverURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("audit client: server %q is not an http(s) URL", serverURL)
	}
	if token == "" {
		return nil, errors.New("audit client: no API token")
	}
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 64, ForceAttemptHTTP2: true,
		}}
	}
	return &Client{base: u, token: token, http: hc}, nil
}

// APIError is the server's answer to a request it refused.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Filter selects attestations, as the API's query parameters do. Zero
// fields do not filter.
type Filter struct {
	Repository    string
	Commit        string
	PullRequest   int
	Agent         string
	Model         string
	PredicateType string
	Since, Until  time.Time
}

// IsZero reports whether the filter selects everything.
func (f Filter) IsZero() bool { return f == Filter{} }

// Values are the filter's query parameters.
func (f Filter) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("repo", f.Repository)
	set("commit", f.Commit)
	if f.PullRequest != 0 {
		v.Set("pr", strconv.Itoa(f.PullRequest))
	}
	set("agent", f.Agent)
	set("model", f.Model)
	set("predicate_type", f.PredicateType)
	if !f.Since.IsZero() {
		v.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		v.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	return v
}

// Attestation is one row of the attestation log as the API lists it.
type Attestation struct {
	ID            string    `json:"id"`
	Seq           int64     `json:"seq"`
	Repository    string    `json:"repository"`
	Commit        string    `json:"commit"`
	PullRequest   int       `json:"pull_request"`
	PredicateType string    `json:"predicate_type"`
	Name          string    `json:"name"`
	Agent         string    `json:"agent"`
	Model         string    `json:"model"`
	SignerKeyID   string    `json:"signer_key_id"`
	SignedAt      time.Time `json:"signed_at"`
	BundleSHA256  string    `json:"bundle_sha256"`
	PrevHash      string    `json:"prev_hash"`
	RowHash       string    `json:"row_hash"`
	BundleURL     string    `json:"bundle_url,omitempty"`
	// Bundle is the bundle itself when the listing asked for it
	// (EachWithBundles); otherwise nil (fetch it with Client.Bundle).
	Bundle []byte `json:"bundle_base64,omitempty"`
}

// Entry is the row as the hash chain sees it.
func (a Attestation) Entry() attestlog.Entry {
	return attestlog.Entry{
		Seq: a.Seq, ID: a.ID, Repository: a.Repository, Commit: a.Commit, PullNumber: a.PullRequest,
		PredicateType: a.PredicateType, Name: a.Name, Agent: a.Agent, Model: a.Model,
		SignerKeyID: a.SignerKeyID, SignedAt: a.SignedAt, BundleSHA256: a.BundleSHA256, PrevHash: a.PrevHash,
	}
}

// Page is one page of a listing.
type Page struct {
	Attestations []Attestation `json:"attestations"`
	// NextCursor continues the listing; "" on the last page.
	NextCursor string `json:"next_cursor"`
}

// Page fetches one page: the rows after cursor ("" for the first page),
// at most limit of them (0 for the server's default).
func (c *Client) Page(ctx context.Context, f Filter, cursor string, limit int) (Page, error) {
	return c.page(ctx, f, cursor, limit, false)
}

func (c *Client) page(ctx context.Context, f Filter, cursor string, limit int, bundles bool) (Page, error) {
	v := f.Values()
	if bundles {
		v.Set("bundles", "true")
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var p Page
	if err := c.getJSON(ctx, "/api/v1/attestations?"+v.Encode(), &p); err != nil {
		return Page{}, fmt.Errorf("list attestations: %w", err)
	}
	return p, nil
}

// Each calls fn for every row the filter selects, in log order, fetching
// pageSize rows at a time (0: MaxPageSize). It stops at fn's first error
// and returns it.
func (c *Client) Each(ctx context.Context, f Filter, pageSize int, fn func(Attestation) error) error {
	return c.each(ctx, f, pageSize, false, fn)
}

// EachWithBundles is Each with every row's Bundle filled: the bundles come
// with the listing, a page per request. A row the server has no bundle for
// comes with a nil Bundle.
func (c *Client) EachWithBundles(ctx context.Context, f Filter, pageSize int, fn func(Attestation) error) error {
	return c.each(ctx, f, pageSize, true, fn)
}

func (c *Client) each(ctx context.Context, f Filter, pageSize int, bundles bool, fn func(Attestation) error) error {
	if pageSize <= 0 || pageSize > MaxPageSize {
		pageSize = MaxPageSize
	}
	cursor := ""
	for {
		p, err := c.page(ctx, f, cursor, pageSize, bundles)
		if err != nil {
			return err
		}
		for _, a := range p.Attestations {
			if err := fn(a); err != nil {
				return err
			}
		}
		if p.NextCursor == "" {
			return nil
		}
		if p.NextCursor == cursor {
			return fmt.Errorf("list attestations: the server returned the same cursor %q twice", cursor)
		}
		cursor = p.NextCursor
	}
}

// Bundle fetches one attestation's bundle, as stored.
func (c *Client) Bundle(ctx context.Context, id string) ([]byte, error) {
	resp, err := c.get(ctx, "/api/v1/attestations/"+url.PathEscape(id))
	if err != nil {
		return nil, fmt.Errorf("fetch bundle %s: %w", id, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBundle+1))
	if err != nil {
		return nil, fmt.Errorf("fetch bundle %s: %w", id, err)
	}
	if len(b) > maxBundle {
		return nil, fmt.Errorf("fetch bundle %s: larger than %d bytes", id, maxBundle)
	}
	return b, nil
}

// PublishedKey is one entry of GET /api/v1/keys.
type PublishedKey struct {
	KeyID      string     `json:"key_id"`
	PublicKey  string     `json:"public_key"`
	ValidFrom  *time.Time `json:"valid_from"`
	ValidUntil *time.Time `json:"valid_until"`
	Active     bool       `json:"active"`
}

// Key is the entry as a keyring key.
func (k PublishedKey) Key() keyring.Key {
	out := keyring.Key{KeyID: k.KeyID, PEM: []byte(k.PublicKey), Active: k.Active}
	if k.ValidFrom != nil {
		out.ValidFrom = *k.ValidFrom
	}
	if k.ValidUntil != nil {
		out.ValidUntil = *k.ValidUntil
	}
	return out
}

// PublishedKeyOf renders a keyring key as the API does.
func PublishedKeyOf(k keyring.Key) PublishedKey {
	out := PublishedKey{KeyID: k.KeyID, PublicKey: string(k.PEM), Active: k.Active}
	if !k.ValidFrom.IsZero() {
		t := k.ValidFrom
		out.ValidFrom = &t
	}
	if !k.ValidUntil.IsZero() {
		t := k.ValidUntil
		out.ValidUntil = &t
	}
	return out
}

// Keys fetches the published keys.
func (c *Client) Keys(ctx context.Context) ([]PublishedKey, error) {
	var out struct {
		Keys []PublishedKey `json:"keys"`
	}
	if err := c.getJSON(ctx, "/api/v1/keys", &out); err != nil {
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	return out.Keys, nil
}

// Keyring fetches the published keys as a keyring (each key's id is
// recomputed from its PEM and must match what the server said).
func (c *Client) Keyring(ctx context.Context) (*keyring.Keyring, error) {
	keys, err := c.Keys(ctx)
	if err != nil {
		return nil, err
	}
	ring := make([]keyring.Key, len(keys))
	for i, k := range keys {
		ring[i] = k.Key()
	}
	kr, err := keyring.New(ring...)
	if err != nil {
		return nil, fmt.Errorf("published keys: %w", err)
	}
	return kr, nil
}

// LogHead is the chain's head as the server reports it.
type LogHead struct {
	Seq     int64  `json:"seq"`
	RowHash string `json:"row_hash"`
	Count   int64  `json:"count"`
}

// LogHead fetches the chain's head.
func (c *Client) LogHead(ctx context.Context) (LogHead, error) {
	var h LogHead
	if err := c.getJSON(ctx, "/api/v1/log/head", &h); err != nil {
		return LogHead{}, fmt.Errorf("fetch log head: %w", err)
	}
	return h, nil
}

func (c *Client) getJSON(ctx context.Context, path string, into any) error {
	resp, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, 64<<20))
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	return nil
}

// get sends an authenticated GET and returns a 200 response; any other
// status is an *APIError.
func (c *Client) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", "agentgate-audit")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	return nil, &APIError{Status: resp.StatusCode, Message: msg}
}

// RowAt is the log's row at seq, as this token sees it: what an auditor
// compares with a head recorded earlier (GET /api/v1/log/head), since
// rows rewritten with recomputed hashes, or cut from the end, leave a
// chain that is consistent in itself.
func (c *Client) RowAt(ctx context.Context, seq int64) (Attestation, error) {
	if seq < 1 {
		return Attestation{}, fmt.Errorf("row %d: the log starts at 1", seq)
	}
	cursor := ""
	if seq > 1 {
		cursor = "s" + strconv.FormatInt(seq-1, 10) // the server's cursor: after this seq
	}
	p, err := c.Page(ctx, Filter{}, cursor, 1)
	if err != nil {
		return Attestation{}, fmt.Errorf("row %d: %w", seq, err)
	}
	if len(p.Attestations) == 0 || p.Attestations[0].Seq != seq {
		return Attestation{}, fmt.Errorf("row %d is not in the log (or not visible to this token)", seq)
	}
	return p.Attestations[0], nil
}
