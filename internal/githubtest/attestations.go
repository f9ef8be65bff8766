package githubtest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Artifact attestations: POST /repos/{owner}/{repo}/attestations stores a Sigstore bundle
// whose DSSE envelope carries an in-toto statement, and
// GET /repos/{owner}/{repo}/attestations/{subject_digest} lists the repository's
// attestations with a subject of that digest ("sha256:<hex>"; the fake matches any
// algorithm the statement's subjects name, e.g. "gitCommit:<sha>"), newest first, in pages
// linked by before/after cursors as GitHub does. As on GitHub, an installation token needs
// attestations:write to create and attestations:read to list (neither is among the fake
// app's default permissions: give the installation or the app's manifest the permission).
// The fake checks the bundle's shape (media type, DSSE envelope with an in-toto statement
// with subjects, at least one signature) but not its signature: GitHub checks it against
// its trust roots, which a test cannot produce.

// Attestation is an attestation stored on the fake.
type Attestation struct {
	ID             int64
	Repo           string // the repository's full name
	RepositoryID   int64
	InstallationID int64 // of the token that created it
	Bundle         json.RawMessage
	PredicateType  string
	// SubjectDigests are "algorithm:digest" for every digest of every subject of the
	// statement, e.g. "gitCommit:1f0c…", "sha256:9a3b…".
	SubjectDigests []string
	CreatedAt      time.Time
}

// Attestations returns the repository's attestations, oldest first.
func (s *Server) Attestations(repo string) []Attestation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Attestation
	for _, a := range s.repoLocked(repo).attestations {
		c := *a
		c.Bundle = slices.Clone(a.Bundle)
		c.SubjectDigests = slices.Clone(a.SubjectDigests)
		out = append(out, c)
	}
	return out
}

// sigstoreBundle is what the fake reads of a bundle.
type sigstoreBundle struct {
	MediaType            string          `json:"mediaType"`
	VerificationMaterial json.RawMessage `json:"verificationMaterial"`
	DSSEEnvelope         *struct {
		Payload     string            `json:"payload"`
		PayloadType string            `json:"payloadType"`
		Signatures  []json.RawMessage `json:"signatures"`
	} `json:"dsseEnvelope"`
}

// inTotoStatement is what the fake reads of a statement.
type inTotoStatement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
}

// parseBundle checks a bundle's shape and returns the statement's predicate type and subject
// digests, or why the bundle is refused.
func parseBundle(raw json.RawMessage) (predicateType string, digests []string, problem string) {
	var b sigstoreBundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", nil, "bundle is not a JSON object"
	}
	switch {
	case !strings.HasPrefix(b.MediaType, "application/vnd.dev.sigstore.bundle"):
		return "", nil, "bundle has no Sigstore bundle mediaType"
	case len(b.VerificationMaterial) == 0 || string(b.VerificationMaterial) == "null":
		return "", nil, "bundle has no verificationMaterial"
	case b.DSSEEnvelope == nil:
		return "", nil, "bundle has no dsseEnvelope"
	case b.DSSEEnvelope.PayloadType != "application/vnd.in-toto+json":
		return "", nil, "dsseEnvelope payloadType is not application/vnd.in-toto+json"
	case len(b.DSSEEnvelope.Signatures) == 0:
		return "", nil, "dsseEnvelope has no signatures"
	}
	payload, err := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Payload)
	if err != nil {
		return "", nil, "dsseEnvelope payload is not base64"
	}
	var st inTotoStatement
	if err := json.Unmarshal(payload, &st); err != nil || !strings.HasPrefix(st.Type, "https://in-toto.io/Statement/") {
		return "", nil, "dsseEnvelope payload is not an in-toto statement"
	}
	if st.PredicateType == "" {
		return "", nil, "statement has no predicateType"
	}
	for _, sub := range st.Subject {
		for alg, d := range sub.Digest {
			if alg != "" && d != "" {
				digests = append(digests, alg+":"+d)
			}
		}
	}
	if len(digests) == 0 {
		return "", nil, "statement has no subject with a digest"
	}
	slices.Sort(digests)
	return st.PredicateType, slices.Compact(digests), ""
}

// POST /repos/{owner}/{repo}/attestations
func (s *Server) createAttestation(w http.ResponseWriter, r *http.Request, c *call) {
	var req struct {
		Bundle json.RawMessage `json:"bundle"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	predicateType, digests, problem := parseBundle(req.Bundle)
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "attestations", "write")
	if !ok {
		return
	}
	if problem != "" {
		writeValidationFailed(w, ValidationDetail{Resource: "Attestation", Field: "bundle", Code: "invalid", Message: problem})
		return
	}
	a := &Attestation{
		ID: s.nextIDLocked(), Repo: repo.FullName, RepositoryID: repo.ID, InstallationID: c.inst.ID,
		Bundle: slices.Clone(req.Bundle), PredicateType: predicateType, SubjectDigests: digests,
		CreatedAt: s.now().UTC().Truncate(time.Second),
	}
	d.attestations = append(d.attestations, a)
	writeJSON(w, http.StatusCreated, map[string]any{"id": a.ID})
}

// predicateAliases are the predicate_type filter's names for well-known predicate types
// (prefixes of the type URI).
var predicateAliases = map[string][]string{
	"provenance": {"https://slsa.dev/provenance/"},
	"sbom":       {"https://spdx.dev/Document", "https://cyclonedx.org/bom"},
	"release":    {"https://in-toto.io/attestation/release/"},
}

func predicateMatches(filter, predicateType string) bool {
	if filter == "" || filter == predicateType {
		return true
	}
	for _, prefix := range predicateAliases[filter] {
		if strings.HasPrefix(predicateType, prefix) {
			return true
		}
	}
	return false
}

// digestMatches compares "alg:digest" case-insensitively (GitHub's hex digests are
// lower-case; algorithm names are matched without regard to case).
func digestMatches(want string, digests []string) bool {
	return slices.ContainsFunc(digests, func(d string) bool { return strings.EqualFold(d, want) })
}

// attestationCursor is an opaque page cursor naming an attestation.
func attestationCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("attestation:" + itoa(id)))
}

func parseAttestationCursor(cur string) (int64, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(raw), "attestation:")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(v, 10, 64)
	return id, err == nil
}

// GET /repos/{owner}/{repo}/attestations/{subject_digest}
func (s *Server) listAttestations(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var after, before int64
	for name, dst := range map[string]*int64{"after": &after, "before": &before} {
		if cur := q.Get(name); cur != "" {
			id, ok := parseAttestationCursor(cur)
			if !ok {
				writeError(w, http.StatusBadRequest, "Invalid cursor")
				return
			}
			*dst = id
		}
	}
	size := perPage(r)
	digest, filter := r.PathValue("subject_digest"), q.Get("predicate_type")

	s.mu.Lock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "attestations", "read")
	if !ok {
		s.mu.Unlock()
		return
	}
	var matched []*Attestation // newest first
	for _, a := range slices.Backward(d.attestations) {
		if digestMatches(digest, a.SubjectDigests) && predicateMatches(filter, a.PredicateType) {
			matched = append(matched, a)
		}
	}
	s.mu.Unlock()

	// The page: the oldest ones after a cursor, the newest ones before a cursor, or the
	// newest.
	start, end := 0, min(size, len(matched))
	switch {
	case after != 0:
		start = len(matched)
		if i := slices.IndexFunc(matched, func(a *Attestation) bool { return a.ID < after }); i >= 0 {
			start = i
		}
		end = min(start+size, len(matched))
	case before != 0:
		end = len(matched)
		if i := slices.IndexFunc(matched, func(a *Attestation) bool { return a.ID <= before }); i >= 0 {
			end = i
		}
		start = max(0, end-size)
	}
	page := matched[start:end]
	var links []string
	if len(page) > 0 && end < len(matched) {
		links = append(links, "<"+pageCursorURL(r, "after", attestationCursor(page[len(page)-1].ID))+`>; rel="next"`)
	}
	if len(page) > 0 && start > 0 {
		links = append(links, "<"+pageCursorURL(r, "before", attestationCursor(page[0].ID))+`>; rel="prev"`)
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	items := make([]any, 0, len(page))
	for _, a := range page {
		items = append(items, map[string]any{
			"bundle":        a.Bundle,
			"repository_id": repo.ID,
			"bundle_url":    s.srv.URL + "/_githubtest/attestations/" + itoa(a.ID) + "/bundle.json",
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"attestations": items})
}

// pageCursorURL is the request's URL with one cursor set and the other removed.
func pageCursorURL(r *http.Request, key, value string) string {
	r2 := r.Clone(r.Context())
	q := r2.URL.Query()
	q.Del("after")
	q.Del("before")
	r2.URL.RawQuery = q.Encode()
	return pageURL(r2, key, value)
}

// serveAttestationBundle answers a bundle_url: the bundle as stored.
func (s *Server) serveAttestationBundle(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var bundle json.RawMessage
	if err == nil {
		s.mu.Lock()
		for _, d := range s.repos {
			for _, a := range d.attestations {
				if a.ID == id {
					bundle = slices.Clone(a.Bundle)
				}
			}
		}
		s.mu.Unlock()
	}
	if bundle == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(bundle)
}
