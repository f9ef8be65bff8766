package auditclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/agentgate/agentgate/provenance/attestlog"
	"github.com/agentgate/agentgate/provenance/keyring"
	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/provenance/verify"
)

// Options say what Verify checks.
type Options struct {
	// Filter selects the rows; Filter.PredicateType, when set, is also
	// required of every bundle.
	Filter Filter
	// Keys are the trusted keys with their windows; nil means the keys the
	// server publishes (GET /api/v1/keys).
	Keys *keyring.Keyring
	// Workers verify bundles in parallel; 0 means one per CPU.
	Workers int
	// PageSize is the rows per listing request; 0 means MaxPageSize.
	PageSize int
}

// Failure is one row whose bundle did not verify.
type Failure struct {
	Seq           int64
	ID            string
	Repository    string
	Commit        string
	PredicateType string
	// Reasons say what failed, in words.
	Reasons []string
}

func (f Failure) String() string {
	return fmt.Sprintf("row %d (%s) %s %s %s: %s", f.Seq, f.ID, f.Repository, shortSHA(f.Commit), f.PredicateType, strings.Join(f.Reasons, "; "))
}

// Report is what Verify found.
type Report struct {
	// Rows is how many rows were listed and checked.
	Rows int64
	// Failures are the rows whose bundle failed a check, in log order.
	Failures []Failure
	// Chain are problems with the hash chain of the rows seen.
	Chain []attestlog.Finding
	// Head is the log head the server reported before the listing.
	Head LogHead
	// Complete says the rows seen were the whole log up to Head (no filter,
	// and the token sees every repository): then a deleted or inserted row
	// anywhere was detectable. Otherwise only the rows seen, and the links
	// between rows with consecutive sequence numbers, were checked.
	Complete bool
}

// OK reports whether every check passed.
func (r Report) OK() bool { return len(r.Failures) == 0 && len(r.Chain) == 0 }

// Verify lists the rows opts.Filter selects, with their bundles, and
// checks each: its bundle has the sha256 the row logged, verifies with a
// trusted key (provenance/verify), names the row's commit as its subject,
// is of the row's predicate type (and of the filter's, if given), was
// signed by the key the row names, at a time inside that key's window, and
// for the row's repository. The rows' hash chain is checked as it is
// listed. An error means the audit could not run (the server, the
// network); what failed verification is in the Report.
func (c *Client) Verify(ctx context.Context, opts Options) (Report, error) {
	ring := opts.Keys
	if ring == nil {
		var err error
		if ring, err = c.Keyring(ctx); err != nil {
			return Report{}, err
		}
	}
	v, err := ring.Verifier()
	if err != nil {
		return Report{}, err
	}
	head, err := c.LogHead(ctx)
	if err != nil {
		return Report{}, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	pageSize := opts.PageSize
	if pageSize <= 0 || pageSize > MaxPageSize {
		pageSize = MaxPageSize
	}

	rep := Report{Head: head}
	var mu sync.Mutex
	// The buffer holds a page, so the next page is fetched while the
	// workers verify this one.
	work := make(chan Attestation, pageSize)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				reasons := []string{"the server lists the row but has no bundle for it"}
				if a.Bundle != nil {
					reasons = CheckBundle(v, ring, a, a.Bundle, opts.Filter.PredicateType)
				}
				if len(reasons) > 0 {
					mu.Lock()
					rep.Failures = append(rep.Failures, failure(a, reasons))
					mu.Unlock()
				}
			}
		}()
	}

	chain := newChainCheck(head)
	listErr := c.EachWithBundles(ctx, opts.Filter, pageSize, func(a Attestation) error {
		chain.add(a)
		select {
		case work <- a:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(work)
	wg.Wait()
	if listErr != nil {
		return Report{}, listErr
	}
	rep.Rows = chain.rows
	rep.Complete = opts.Filter.IsZero() && chain.coversHead()
	rep.Chain = chain.findings(rep.Complete)
	sort.Slice(rep.Failures, func(i, j int) bool { return rep.Failures[i].Seq < rep.Failures[j].Seq })
	return rep, nil
}

func failure(a Attestation, reasons []string) Failure {
	return Failure{Seq: a.Seq, ID: a.ID, Repository: a.Repository, Commit: a.Commit, PredicateType: a.PredicateType, Reasons: reasons}
}

// CheckBundle checks one row's bundle and returns what failed (nothing when
// it verifies): the sha256, the signature by a trusted key, the subject
// commit, the predicate type (the row's, and wantType if set), the signer
// the row names, the key's window at the row's signing time, and that a
// subject URI, if there is one, is the row's repository's commit.
func CheckBundle(v *verify.Verifier, ring *keyring.Keyring, a Attestation, bundle []byte, wantType string) []string {
	var reasons []string
	sum := sha256.Sum256(bundle)
	if got := hex.EncodeToString(sum[:]); got != a.BundleSHA256 {
		reasons = append(reasons, fmt.Sprintf("the bundle's sha256 is %s but the log recorded %s (the bundle was changed after it was logged)", got, a.BundleSHA256))
	}
	if wantType != "" && a.PredicateType != wantType {
		reasons = append(reasons, fmt.Sprintf("the row is of type %s, not %s", a.PredicateType, wantType))
	}
	return append(reasons, CheckSignature(v, ring, a, bundle)...)
}

// CheckSignature is CheckBundle without the sha256 and filter checks: what
// `audit verify-log` adds to the store's own chain audit.
func CheckSignature(v *verify.Verifier, ring *keyring.Keyring, a Attestation, bundle []byte) []string {
	var reasons []string
	res, err := v.Verify(bundle, verify.Expect{Commit: a.Commit, PredicateType: a.PredicateType})
	if err != nil {
		return append(reasons, err.Error())
	}
	if res.KeyID != a.SignerKeyID {
		reasons = append(reasons, fmt.Sprintf("signed by key %s but the row says %s", res.KeyID, a.SignerKeyID))
	}
	if err := ring.CheckWindow(res.KeyID, a.SignedAt); err != nil {
		reasons = append(reasons, err.Error())
	}
	want := strings.ToLower("/" + a.Repository + "/commit/" + a.Commit)
	for _, s := range res.Subjects {
		if s.Digest["gitCommit"] == a.Commit && s.URI != "" && !strings.HasSuffix(strings.ToLower(s.URI), want) {
			reasons = append(reasons, fmt.Sprintf("the statement's subject is %s, not a commit of %s", s.URI, a.Repository))
		}
	}
	return append(reasons, labelMismatches(a, res.Statement)...)
}

// labelMismatches compares the row's labels, which queries filter on
// (agent, model, pull request, check name), with what the signed statement
// says, where it says them: a relabelled row fails even if its chain was
// recomputed.
func labelMismatches(a Attestation, payload []byte) []string {
	var st struct {
		Predicate struct {
			BuildDefinition struct {
				ExternalParameters struct {
					Agent       *string `json:"agent"`
					Model       *string `json:"model"`
					PullRequest *int    `json:"pullRequest"`
				} `json:"externalParameters"`
			} `json:"buildDefinition"`
			Configuration []struct {
				Name string `json:"name"`
			} `json:"configuration"`
			PullRequest *int `json:"pullRequest"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return []string{fmt.Sprintf("the signed statement is not JSON: %v", err)}
	}
	var out []string
	mismatch := func(what, row, signed string) {
		if row != signed {
			out = append(out, fmt.Sprintf("the row says %s %q, the signed statement %q", what, row, signed))
		}
	}
	p := st.Predicate
	switch a.PredicateType {
	case statement.PredicateProvenance:
		ext := p.BuildDefinition.ExternalParameters
		if ext.Agent != nil {
			mismatch("agent", a.Agent, *ext.Agent)
		}
		if ext.Model != nil {
			mismatch("model", a.Model, *ext.Model)
		}
		if ext.PullRequest != nil {
			mismatch("pull request", strconv.Itoa(a.PullRequest), strconv.Itoa(*ext.PullRequest))
		}
	case statement.PredicateTestResult:
		if len(p.Configuration) > 0 {
			mismatch("check", a.Name, p.Configuration[0].Name)
		}
	case statement.PredicateReview:
		if p.PullRequest != nil {
			mismatch("pull request", strconv.Itoa(a.PullRequest), strconv.Itoa(*p.PullRequest))
		}
	}
	return out
}

// chainCheck follows the rows as they are listed, in log order. It keeps
// two views: the attestlog auditor over every row (meaningful when the
// rows are the whole log), and a check of what any subset can show: each
// row's own hash, and the link between rows with consecutive sequence
// numbers.
type chainCheck struct {
	head    LogHead
	auditor *attestlog.Auditor
	rows    int64
	upToHd  int64 // rows with Seq <= head.Seq
	prev    *Attestation
	last    *Attestation // the last row with Seq <= head.Seq
	partial []attestlog.Finding
}

func newChainCheck(head LogHead) *chainCheck {
	return &chainCheck{head: head, auditor: attestlog.NewAuditor()}
}

func (c *chainCheck) add(a Attestation) {
	c.rows++
	if a.Seq <= c.head.Seq {
		c.upToHd++
		c.auditor.Add(attestlog.Row{Entry: a.Entry(), RowHash: a.RowHash}, nil)
		last := a
		c.last = &last
	}
	if got := a.Entry().Hash(); got != a.RowHash {
		c.partial = append(c.partial, attestlog.Finding{Kind: "edited", Seq: a.Seq, ID: a.ID,
			Detail: fmt.Sprintf("row %d (%s) was edited: its hash does not match its contents", a.Seq, a.ID)})
	}
	switch {
	case a.Seq == 1 && a.PrevHash != attestlog.Genesis:
		c.partial = append(c.partial, attestlog.Finding{Kind: "inserted", Seq: a.Seq, ID: a.ID,
			Detail: fmt.Sprintf("row 1 (%s) does not start the chain: its prev_hash is not the genesis hash", a.ID)})
	case c.prev != nil && a.Seq <= c.prev.Seq:
		c.partial = append(c.partial, attestlog.Finding{Kind: "inserted", Seq: a.Seq, ID: a.ID,
			Detail: fmt.Sprintf("row %d (%s) was listed after row %d: the log is out of order", a.Seq, a.ID, c.prev.Seq)})
	case c.prev != nil && a.Seq == c.prev.Seq+1 && a.PrevHash != c.prev.RowHash:
		c.partial = append(c.partial, attestlog.Finding{Kind: "edited", Seq: a.Seq, ID: a.ID,
			Detail: fmt.Sprintf("row %d (%s) does not chain to row %d: a row was edited or replaced", a.Seq, a.ID, c.prev.Seq)})
	}
	p := a
	c.prev = &p
}

// coversHead says the rows seen up to the head are all the head counts.
func (c *chainCheck) coversHead() bool { return c.upToHd == c.head.Count }

func (c *chainCheck) findings(complete bool) []attestlog.Finding {
	var out []attestlog.Finding
	if complete {
		rep := c.auditor.Finish()
		out = append(out, rep.Findings...)
		if rep.Head != c.head.RowHash && rep.OK() {
			out = append(out, attestlog.Finding{Kind: "edited", Seq: c.head.Seq,
				Detail: fmt.Sprintf("the log head the server reports (row %d, %s) is not the last row's hash %s", c.head.Seq, c.head.RowHash, rep.Head)})
		}
		return out
	}
	out = append(out, c.partial...)
	if c.last != nil && c.last.Seq == c.head.Seq && c.last.RowHash != c.head.RowHash {
		out = append(out, attestlog.Finding{Kind: "edited", Seq: c.head.Seq, ID: c.last.ID,
			Detail: fmt.Sprintf("the log head the server reports (row %d, %s) is not row %d's hash %s", c.head.Seq, c.head.RowHash, c.last.Seq, c.last.RowHash)})
	}
	return out
}

// ExportRecord is one line of an export: the row and its bundle.
type ExportRecord struct {
	Attestation
	Bundle json.RawMessage `json:"bundle"`
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
