package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/agentgate/agentgate/provenance/attestlog"
)

// Attestation is one signed statement in the append-only attestation log.
type Attestation struct {
	ID            string // store-generated, "att_" + 26 sortable base32 characters (time, then random)
	Seq           int64  // 1-based position in the chain
	Repository    string // owner/name
	Commit        string // the commit that landed on the base branch (40 hex)
	PullNumber    int
	PredicateType string
	// Name tells apart several statements of one type on one commit (the
	// check name of a test-result); "" otherwise.
	Name         string
	Agent        string
	Model        string
	SignerKeyID  string
	SignedAt     time.Time // kept to the millisecond, UTC
	Bundle       []byte    // the Sigstore bundle JSON; nil when not asked for
	BundleSHA256 string
	PrevHash     string
	RowHash      string
}

// Entry is the part of the row its hash covers.
func (a Attestation) Entry() attestlog.Entry {
	return attestlog.Entry{
		Seq: a.Seq, ID: a.ID, Repository: a.Repository, Commit: a.Commit, PullNumber: a.PullNumber,
		PredicateType: a.PredicateType, Name: a.Name, Agent: a.Agent, Model: a.Model,
		SignerKeyID: a.SignerKeyID, SignedAt: a.SignedAt, BundleSHA256: a.BundleSHA256, PrevHash: a.PrevHash,
	}
}

// ErrInvalidQuery is wrapped by QueryAttestations for a filter it cannot
// run (a bad limit, cursor or scope entry); the API answers 400.
var ErrInvalidQuery = errors.New("invalid attestation query")

// attestationLockID keys the PostgreSQL advisory transaction lock that
// serialises appends to the chain across replicas.
const attestationLockID = 0x61676174 // "agat"

const attestationColumns = `a.seq, a.id, a.repository, a.commit_sha, a.pull_number, a.predicate_type, a.name,
	a.agent, a.model, a.signer_key_id, a.signed_at, a.bundle_sha256, a.prev_hash, a.row_hash`

// AppendAttestations inserts rows at the end of the log in ONE transaction,
// serialised across processes and replicas (PostgreSQL: an advisory
// transaction lock; SQLite: an immediate transaction, which takes the
// file's write lock before reading the head), skipping any row whose
// (repository, commit, predicate type, name) already exists or comes
// earlier in rows: a redelivered merge adds nothing. It fills ID, Seq,
// BundleSHA256, PrevHash and RowHash, truncates SignedAt to the
// millisecond, and returns only the rows it inserted, in chain order.
func (s *Store) AppendAttestations(ctx context.Context, rows []Attestation) ([]Attestation, error) {
	out, err := s.appendGroups(ctx, [][]Attestation{rows}, false)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// AppendCommits appends several landed commits' statements in ONE
// transaction, as AppendAttestations does, with one difference: each group
// is one commit's statements, and a group whose (repository, commit)
// already has any row in the log is skipped whole. So a commit's
// attestations are the set one pass signed, never a mix of two passes
// (two replicas, or a retried job, that read GitHub at different
// moments). It returns, for each group, the rows it inserted.
func (s *Store) AppendCommits(ctx context.Context, groups [][]Attestation) ([][]Attestation, error) {
	for i, g := range groups {
		for _, r := range g {
			if r.Repository != g[0].Repository || r.Commit != g[0].Commit {
				return nil, fmt.Errorf("append commits: group %d mixes %s@%s and %s@%s", i+1, g[0].Repository, g[0].Commit, r.Repository, r.Commit)
			}
		}
	}
	return s.appendGroups(ctx, groups, true)
}

func (s *Store) appendGroups(ctx context.Context, groups [][]Attestation, wholeCommits bool) ([][]Attestation, error) {
	prepared := make([][]Attestation, len(groups))
	for gi, rows := range groups {
		prepared[gi] = make([]Attestation, len(rows))
		for i, r := range rows {
			if err := prepareAttestation(&r); err != nil {
				return nil, fmt.Errorf("append attestation %d of %d: %w", i+1, len(rows), err)
			}
			prepared[gi][i] = r
		}
	}
	out := make([][]Attestation, len(groups))
	if len(groups) == 1 && len(groups[0]) == 0 {
		return out, nil
	}
	err := s.InTx(ctx, func(tx *Tx) error {
		clear(out)
		if tx.pgxTx != nil {
			if _, err := tx.q.exec(ctx, "SELECT pg_advisory_xact_lock(?)", int64(attestationLockID)); err != nil {
				return fmt.Errorf("lock attestation log: %w", err)
			}
		}
		end, err := tx.logEnd(ctx)
		if err != nil {
			return err
		}
		seen := make(map[[4]string]bool)
		for gi, group := range prepared {
			if wholeCommits && len(group) > 0 {
				var n int
				if err := tx.q.queryRow(ctx, `SELECT COUNT(*) FROM attestations WHERE repository = ? AND commit_sha = ?`,
					group[0].Repository, group[0].Commit).Scan(&n); err != nil {
					return fmt.Errorf("attestations of %s@%s: %w", group[0].Repository, group[0].Commit, err)
				}
				if n > 0 {
					continue // attested already, by another pass
				}
			}
			for _, r := range group {
				key := [4]string{r.Repository, r.Commit, r.PredicateType, r.Name}
				if seen[key] {
					continue
				}
				seen[key] = true
				if r.ID, err = newAttestationID(); err != nil {
					return err
				}
				r.Seq, r.PrevHash = end.seq+1, end.rowHash
				r.RowHash = r.Entry().Hash()
				maxSignedAt := max(end.maxSignedAt, attestlog.Millis(r.SignedAt))
				n, err := tx.q.exec(ctx, `INSERT INTO attestations (seq, id, repository, commit_sha, pull_number, predicate_type, name,
					agent, model, signer_key_id, signed_at, max_signed_at, bundle_sha256, prev_hash, row_hash)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
					ON CONFLICT (repository, commit_sha, predicate_type, name) DO NOTHING`,
					r.Seq, r.ID, r.Repository, r.Commit, r.PullNumber, r.PredicateType, r.Name,
					r.Agent, r.Model, r.SignerKeyID, attestlog.Millis(r.SignedAt), maxSignedAt, r.BundleSHA256, r.PrevHash, r.RowHash)
				if err != nil {
					return fmt.Errorf("append %s attestation of %s@%s: %w", r.PredicateType, r.Repository, r.Commit, err)
				}
				if n == 0 {
					continue // already in the log
				}
				if _, err := tx.q.exec(ctx, `INSERT INTO attestation_bundles (seq, bundle) VALUES (?, ?)`, r.Seq, r.Bundle); err != nil {
					return fmt.Errorf("append bundle of attestation %d: %w", r.Seq, err)
				}
				end = logEnd{r.Seq, r.RowHash, maxSignedAt}
				out[gi] = append(out[gi], r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func prepareAttestation(r *Attestation) error {
	switch {
	case r.Repository == "" || !strings.Contains(r.Repository, "/"):
		return fmt.Errorf("repository %q is not owner/name", r.Repository)
	case r.Commit == "":
		return errors.New("no commit")
	case r.PredicateType == "":
		return errors.New("no predicate type")
	case r.SignerKeyID == "":
		return errors.New("no signer key id")
	case r.SignedAt.IsZero():
		return errors.New("no signing time")
	case len(r.Bundle) == 0:
		return errors.New("no bundle")
	}
	sum := attestlog.BundleSHA256(r.Bundle)
	if r.BundleSHA256 != "" && r.BundleSHA256 != sum {
		return fmt.Errorf("bundle sha256 %s given, the bundle's is %s", r.BundleSHA256, sum)
	}
	r.BundleSHA256 = sum
	r.SignedAt = time.UnixMilli(r.SignedAt.UnixMilli()).UTC()
	return nil
}

// attestationIDs encodes ids in Crockford's base32 alphabet, lower case:
// its characters sort in the order of the bits they encode.
var attestationIDs = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newAttestationID is "att_" and 128 bits: 48 of Unix milliseconds, so ids
// sort by creation time, and 80 random.
func newAttestationID() (string, error) {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		return "", fmt.Errorf("attestation id: %w", err)
	}
	return "att_" + attestationIDs.EncodeToString(b[:]), nil
}

// Attestation looks one attestation up by id, with its bundle.
func (q Queries) Attestation(ctx context.Context, id string) (Attestation, error) {
	a, err := scanAttestation(q.q.queryRow(ctx, `SELECT `+attestationColumns+`, b.bundle
		FROM attestations a LEFT JOIN attestation_bundles b ON b.seq = a.seq WHERE a.id = ?`, id), true)
	if err != nil {
		return Attestation{}, fmt.Errorf("attestation %s: %w", id, err)
	}
	return a, nil
}

// AttestationQuery filters the log. Zero values do not filter.
type AttestationQuery struct {
	// Repositories is the scope of the API token: nil = every repository;
	// entries are "owner/name" or "owner/*" ("*" alone: every repository).
	// An empty, non-nil scope matches nothing.
	Repositories  []string
	Repository    string
	Commit        string
	PullNumber    int
	Agent         string
	Model         string
	PredicateType string
	Since, Until  time.Time // signed_at in [Since, Until)
	AfterSeq      int64     // cursor: rows with Seq > AfterSeq, ascending
	Limit         int       // default 100, at most 1000
	WithBundles   bool
}

// AttestationPage is one page of a query.
type AttestationPage struct {
	Items        []Attestation
	NextAfterSeq int64 // the cursor of the next page; 0 = no more
}

// Page sizes of QueryAttestations.
const (
	DefaultAttestationLimit = 100
	MaxAttestationLimit     = 1000
)

// QueryAttestations returns the rows matching f in chain order (ascending
// Seq), a page at a time.
func (q Queries) QueryAttestations(ctx context.Context, f AttestationQuery) (AttestationPage, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultAttestationLimit
	case limit < 0 || limit > MaxAttestationLimit:
		return AttestationPage{}, fmt.Errorf("%w: limit %d is outside 1..%d", ErrInvalidQuery, limit, MaxAttestationLimit)
	}
	if f.AfterSeq < 0 {
		return AttestationPage{}, fmt.Errorf("%w: cursor %d is negative", ErrInvalidQuery, f.AfterSeq)
	}
	if f.PullNumber < 0 {
		return AttestationPage{}, fmt.Errorf("%w: pull request %d is negative", ErrInvalidQuery, f.PullNumber)
	}
	var where []string
	var args []any
	if f.Repositories != nil {
		clause, cargs, err := scopeClause(f.Repositories)
		if err != nil {
			return AttestationPage{}, err
		}
		if clause == "none" {
			return AttestationPage{}, nil
		}
		if clause != "" {
			where, args = append(where, clause), append(args, cargs...)
		}
	}
	eq := func(col, v string) {
		if v != "" {
			where, args = append(where, col+" = ?"), append(args, v)
		}
	}
	eq("a.repository", f.Repository)
	eq("a.commit_sha", f.Commit)
	eq("a.agent", f.Agent)
	eq("a.model", f.Model)
	eq("a.predicate_type", f.PredicateType)
	if f.PullNumber > 0 {
		where, args = append(where, "a.pull_number = ?"), append(args, f.PullNumber)
	}
	from := f.AfterSeq + 1 // the first seq that can match
	signedAt := "a.signed_at"
	if !f.Since.IsZero() || !f.Until.IsZero() {
		sinceSeq, untilSeq, err := q.timeBounds(ctx, f.Since, f.Until)
		if err != nil {
			return AttestationPage{}, err
		}
		if sinceSeq < 0 {
			return AttestationPage{}, nil // nothing was signed since then
		}
		from = max(from, sinceSeq)
		if untilSeq < 0 || untilSeq-from > timeIndexMaxRows {
			// A wide range: read in chain order from the first row that
			// can match, not the whole range through the time index and
			// then a sort. "+ 0" keeps the time index out of the plan.
			signedAt = "a.signed_at + 0"
		} else {
			from = f.AfterSeq + 1 // the time index reads the range itself
		}
	}
	if !f.Since.IsZero() {
		where, args = append(where, signedAt+" >= ?"), append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		where, args = append(where, signedAt+" < ?"), append(args, f.Until.UnixMilli())
	}
	if from > 1 {
		where, args = append(where, "a.seq >= ?"), append(args, from)
	}
	var b strings.Builder
	b.WriteString("SELECT " + attestationColumns)
	if f.WithBundles {
		b.WriteString(", b.bundle FROM attestations a LEFT JOIN attestation_bundles b ON b.seq = a.seq")
	} else {
		b.WriteString(" FROM attestations a")
	}
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY a.seq LIMIT ?")
	args = append(args, limit+1)

	r, err := q.q.query(ctx, b.String(), args...)
	if err != nil {
		return AttestationPage{}, fmt.Errorf("query attestations: %w", err)
	}
	defer r.Close()
	var page AttestationPage
	for r.Next() {
		a, err := scanAttestation(r, f.WithBundles)
		if err != nil {
			return AttestationPage{}, fmt.Errorf("query attestations: %w", err)
		}
		page.Items = append(page.Items, a)
	}
	if err := r.Err(); err != nil {
		return AttestationPage{}, fmt.Errorf("query attestations: %w", err)
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.NextAfterSeq = page.Items[limit-1].Seq
	}
	return page, nil
}

// timeIndexMaxRows is how many rows a signing-time range may span in the
// chain and still be read through the time index (and sorted by seq);
// wider ranges are read in chain order. A variable so tests run both.
var timeIndexMaxRows int64 = 20000

// timeBounds finds, exactly, the first seq that can have been signed at or
// after since (-1: none can) and the first seq after which every row has
// max_signed_at >= until (-1: none; with until zero, -1), by max_signed_at,
// which never decreases along the chain.
func (q Queries) timeBounds(ctx context.Context, since, until time.Time) (sinceSeq, untilSeq int64, err error) {
	const first = `COALESCE((SELECT seq FROM attestations WHERE max_signed_at >= ? ORDER BY max_signed_at, seq LIMIT 1), -1)`
	sinceMs, untilMs := int64(math.MinInt64), int64(math.MaxInt64)
	if !since.IsZero() {
		sinceMs = since.UnixMilli()
	}
	if !until.IsZero() {
		untilMs = until.UnixMilli()
	}
	if err := q.q.queryRow(ctx, `SELECT `+first+`, `+first, sinceMs, untilMs).Scan(&sinceSeq, &untilSeq); err != nil {
		return 0, 0, fmt.Errorf("query attestations: find the time range: %w", err)
	}
	return sinceSeq, untilSeq, nil
}

// scopeClause is the SQL condition of a token's scope: "" for every
// repository, "none" for nothing. One entry is one equality on an index
// ordered by seq (owner or repository), so a page is read in order.
func scopeClause(scope []string) (string, []any, error) {
	var owners, repos []any
	for _, e := range scope {
		owner, name, ok := strings.Cut(e, "/")
		switch {
		case e == "*":
			return "", nil, nil
		case !ok || owner == "" || name == "" || strings.Contains(name, "/") || strings.Contains(owner, "*") ||
			(strings.Contains(name, "*") && name != "*"):
			return "", nil, fmt.Errorf("%w: scope entry %q is not owner/name or owner/*", ErrInvalidQuery, e)
		case name == "*":
			owners = append(owners, owner)
		default:
			repos = append(repos, e)
		}
	}
	var parts []string
	in := func(col string, vals []any) {
		switch len(vals) {
		case 0:
		case 1:
			parts = append(parts, col+" = ?")
		default:
			parts = append(parts, col+" IN (?"+strings.Repeat(", ?", len(vals)-1)+")")
		}
	}
	in("a.owner", owners)
	in("a.repository", repos)
	switch len(parts) {
	case 0:
		return "none", nil, nil
	case 1:
		return parts[0], append(owners, repos...), nil
	}
	return "(" + strings.Join(parts, " OR ") + ")", append(owners, repos...), nil
}

// LogHead is the end of the attestation log.
type LogHead struct {
	Seq     int64  // the last row's seq (0 for an empty log)
	RowHash string // the last row's hash (attestlog.Genesis for an empty log)
	Count   int64  // rows in the log; equal to Seq unless rows were deleted or inserted
}

// AttestationLogHead is the end of the log and how many rows it has, read
// in one statement.
func (q Queries) AttestationLogHead(ctx context.Context) (LogHead, error) {
	var h LogHead
	err := q.q.queryRow(ctx, `SELECT h.seq, h.row_hash, (SELECT COUNT(*) FROM attestations)
		FROM attestations h ORDER BY h.seq DESC LIMIT 1`).Scan(&h.Seq, &h.RowHash, &h.Count)
	if errors.Is(err, ErrNotFound) {
		return LogHead{RowHash: attestlog.Genesis}, nil
	}
	if err != nil {
		return LogHead{}, fmt.Errorf("attestation log head: %w", err)
	}
	return h, nil
}

// logEnd is where the next row goes.
type logEnd struct {
	seq         int64
	rowHash     string
	maxSignedAt int64
}

func (q Queries) logEnd(ctx context.Context) (logEnd, error) {
	var e logEnd
	err := q.q.queryRow(ctx, `SELECT seq, row_hash, max_signed_at FROM attestations ORDER BY seq DESC LIMIT 1`).Scan(&e.seq, &e.rowHash, &e.maxSignedAt)
	if errors.Is(err, ErrNotFound) {
		return logEnd{rowHash: attestlog.Genesis}, nil
	}
	if err != nil {
		return logEnd{}, fmt.Errorf("attestation log head: %w", err)
	}
	return e, nil
}

// auditChunk is how many rows (with their bundles) AuditAttestationLog
// reads per query.
const auditChunk = 500

// AuditAttestationLog reads the whole log in chain order, a chunk at a
// time (never the whole table at once, and without holding a connection
// while check runs), through an attestlog.Auditor: every row's hash, link
// and bundle digest, and check (typically a signature verification; nil =
// none) on every intact row. A row whose bundle is missing gets an empty
// one, so its digest does not match. It also checks max_signed_at, the
// unhashed column time queries steer by, and reports a row whose value
// could make them miss rows as edited (unless the row has a finding
// already).
func (s *Store) AuditAttestationLog(ctx context.Context, check func(attestlog.Row) error) (attestlog.Report, error) {
	a := attestlog.NewAuditor()
	after := int64(math.MinInt64)
	prevSeq, prevMax := int64(0), int64(math.MinInt64)
	var steering []attestlog.Finding
	type auditRow struct {
		attestlog.Row
		maxSignedAt int64
	}
	chunk := make([]auditRow, 0, auditChunk)
	for {
		if err := ctx.Err(); err != nil {
			return attestlog.Report{}, fmt.Errorf("audit attestation log: %w", err)
		}
		chunk = chunk[:0]
		r, err := s.q.query(ctx, `SELECT `+attestationColumns+`, a.max_signed_at, b.bundle, b.seq IS NULL
			FROM attestations a LEFT JOIN attestation_bundles b ON b.seq = a.seq
			WHERE a.seq > ? ORDER BY a.seq LIMIT ?`, after, auditChunk)
		if err != nil {
			return attestlog.Report{}, fmt.Errorf("audit attestation log after row %d: %w", after, err)
		}
		for r.Next() {
			var at Attestation
			var signedAt, maxSignedAt int64
			var missing bool
			if err := r.Scan(&at.Seq, &at.ID, &at.Repository, &at.Commit, &at.PullNumber, &at.PredicateType, &at.Name,
				&at.Agent, &at.Model, &at.SignerKeyID, &signedAt, &at.BundleSHA256, &at.PrevHash, &at.RowHash,
				&maxSignedAt, &at.Bundle, &missing); err != nil {
				r.Close()
				return attestlog.Report{}, fmt.Errorf("audit attestation log after row %d: %w", after, err)
			}
			at.SignedAt = fromMillis(signedAt)
			if missing || at.Bundle == nil {
				at.Bundle = []byte{}
			}
			chunk = append(chunk, auditRow{attestlog.Row{Entry: at.Entry(), RowHash: at.RowHash, Bundle: at.Bundle}, maxSignedAt})
		}
		err = r.Err()
		r.Close()
		if err != nil {
			return attestlog.Report{}, fmt.Errorf("audit attestation log after row %d: %w", after, err)
		}
		for _, row := range chunk {
			a.Add(row.Row, check)
			var why string
			switch signed := attestlog.Millis(row.SignedAt); {
			case row.maxSignedAt < signed:
				why = fmt.Sprintf("its max_signed_at %d is before its own signing time %d", row.maxSignedAt, signed)
			case row.maxSignedAt < prevMax:
				why = fmt.Sprintf("its max_signed_at %d is before row %d's %d", row.maxSignedAt, prevSeq, prevMax)
			}
			if why != "" && len(steering) < attestlog.MaxFindings {
				steering = append(steering, attestlog.Finding{Kind: attestlog.KindEdited, Seq: row.Seq, ID: row.ID,
					Detail: fmt.Sprintf("row %d (%s) was edited: %s, so queries by time could miss rows", row.Seq, row.ID, why)})
			}
			prevSeq, prevMax = row.Seq, row.maxSignedAt
		}
		if len(chunk) < auditChunk {
			return withSteering(a.Finish(), steering), nil
		}
		after = chunk[len(chunk)-1].Seq
	}
}

// withSteering adds the max_signed_at findings of rows that have no other.
func withSteering(rep attestlog.Report, steering []attestlog.Finding) attestlog.Report {
	if len(steering) == 0 {
		return rep
	}
	type rowKey struct {
		seq int64
		id  string
	}
	has := make(map[rowKey]bool, len(rep.Findings))
	for _, f := range rep.Findings {
		has[rowKey{f.Seq, f.ID}] = true
	}
	for _, f := range steering {
		if !has[rowKey{f.Seq, f.ID}] {
			rep.Findings = append(rep.Findings, f)
		}
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool { return rep.Findings[i].Seq < rep.Findings[j].Seq })
	return rep
}

func scanAttestation(r row, withBundle bool) (Attestation, error) {
	var a Attestation
	var signedAt int64
	dest := []any{&a.Seq, &a.ID, &a.Repository, &a.Commit, &a.PullNumber, &a.PredicateType, &a.Name,
		&a.Agent, &a.Model, &a.SignerKeyID, &signedAt, &a.BundleSHA256, &a.PrevHash, &a.RowHash}
	if withBundle {
		dest = append(dest, &a.Bundle)
	}
	if err := r.Scan(dest...); err != nil {
		return Attestation{}, err
	}
	a.SignedAt = fromMillis(signedAt)
	return a, nil
}
