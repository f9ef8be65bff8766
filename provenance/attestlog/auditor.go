package attestlog

import (
	"fmt"
	"sort"
)

// Kinds of Finding.
const (
	KindEdited    = "edited"    // a row's contents or hash were changed, or it was renumbered
	KindDeleted   = "deleted"   // rows are missing from the chain
	KindInserted  = "inserted"  // a row is not part of the chain as it was signed
	KindBundle    = "bundle"    // a row's bundle does not match its recorded digest
	KindSignature = "signature" // a row's bundle fails the caller's check
)

// Window is how many recent rows the Auditor remembers: an insertion is
// recognised when the row after it chains to a row at most this far back,
// and a deletion whose later rows were renumbered when at most this many
// rows were cut.
const Window = 1024

// MaxFindings bounds the findings a Report lists; more are counted in
// Report.Omitted. A log tampered past this is rebuilt, not read row by row.
const MaxFindings = 10000

// Row is one row of the log as stored.
type Row struct {
	Entry
	RowHash string
	Bundle  []byte // nil = do not check the bundle digest
}

// Finding is one tampering: which row (Seq and ID; for deleted rows, the
// first missing place and no ID) and why, in words.
type Finding struct {
	Kind   string // KindEdited, KindDeleted, KindInserted, KindBundle or KindSignature
	Seq    int64
	ID     string
	Detail string
}

// Report is what an audit found.
type Report struct {
	Rows     int64     // rows read
	Head     string    // the RowHash of the last row read (Genesis for an empty log)
	Findings []Finding // in order of Seq
	Omitted  int64     // findings beyond MaxFindings, counted but not listed
}

// OK says the log is intact: no findings.
func (r Report) OK() bool { return len(r.Findings) == 0 && r.Omitted == 0 }

// Auditor checks the rows of a log added in order of Seq. Its memory is
// bounded by Window and MaxFindings, not by the length of the log. It is
// not safe for concurrent use.
type Auditor struct {
	rows     int64
	head     string
	chain    []node // recent rows on the chain, oldest first; the last is the chain's end (at first the genesis node)
	rejected []node // recent rows judged inserted, which a later row may yet show were genuine
	findings []Finding
	omitted  int64
}

// node is a row the auditor remembers.
type node struct {
	seq     int64 // as stored
	orig    int64 // the place its hash was made for (its Seq when signed)
	id      string
	hash    string // its stored RowHash
	prev    string // its stored PrevHash
	finding int    // index in findings, noFinding, or omittedFinding
	local   *Finding
}

const (
	noFinding      = -1
	omittedFinding = -2
)

// NewAuditor starts an audit at the genesis of the log.
func NewAuditor() *Auditor {
	return &Auditor{head: Genesis, chain: []node{{hash: Genesis, finding: noFinding}}}
}

// Add audits the next row (in order of Seq). check, when not nil, is run
// on each row whose hash and bundle digest are intact (typically a
// signature verification of the bundle); its error becomes a "signature"
// finding.
func (a *Auditor) Add(r Row, check func(Row) error) {
	a.rows++
	a.head = r.RowHash
	last := len(a.chain) - 1
	end := a.chain[last]
	linked := r.PrevHash == end.hash
	wi, xi := -1, -1
	if !linked {
		if wi = a.findChain(r.PrevHash, last); wi < 0 {
			xi = a.findRejected(r.PrevHash)
		}
	}
	orig, hashOK := a.originalSeq(r, linked, wi, xi)
	n := node{seq: r.Seq, orig: orig, id: r.ID, hash: r.RowHash, prev: r.PrevHash, finding: noFinding}

	if !hashOK {
		// Its contents (or its hash) changed. Its place is assumed to be
		// the next one, so the rows after it are judged as usual.
		n.orig = end.orig + 1
		detail := "its hash does not match its contents"
		if !linked && wi < 0 && xi < 0 {
			detail += ", and it does not chain to " + a.describeEnd(end)
		}
		a.accept(n, &Finding{Kind: KindEdited, Seq: r.Seq, ID: r.ID, Detail: fmt.Sprintf("%s was edited: %s", rowName(r.Seq, r.ID), detail)})
		return
	}
	local := localFinding(r, check)
	switch {
	case linked && orig != end.orig+1:
		a.accept(n, &Finding{Kind: KindEdited, Seq: r.Seq, ID: r.ID, Detail: fmt.Sprintf(
			"%s was edited: its hash was made for place %d in the chain, but it follows %s", rowName(r.Seq, r.ID), orig, a.describeEnd(end))})
	case linked && r.Seq-orig != end.seq-end.orig:
		a.accept(n, &Finding{Kind: KindEdited, Seq: r.Seq, ID: r.ID, Detail: fmt.Sprintf(
			"%s was renumbered: it was row %d when signed", rowName(r.Seq, r.ID), orig)})
	case linked:
		a.accept(n, local)
	case wi >= 0:
		a.fork(n, wi, local)
	case xi >= 0:
		a.restore(n, xi, local)
	case orig > end.orig+1:
		a.deleted(n, end)
		a.accept(n, local)
	case orig == end.orig+1 && last > 0:
		// This row is intact and in its place, so its PrevHash is the
		// true hash of the row before it: that row was edited and its
		// hash recomputed to match.
		a.setFinding(&a.chain[last], Finding{Kind: KindEdited, Seq: end.seq, ID: end.id, Detail: fmt.Sprintf(
			"%s was edited: its hash was recomputed, but %s chains to a different hash", rowName(end.seq, end.id), rowName(r.Seq, r.ID))})
		a.accept(n, local)
	case orig == 1:
		a.accept(n, &Finding{Kind: KindEdited, Seq: r.Seq, ID: r.ID, Detail: fmt.Sprintf(
			"%s was edited: it is the first row but does not chain to the genesis hash", rowName(r.Seq, r.ID))})
	default:
		// Its hash places it where the chain already has a row, and it
		// chains to no row the auditor knows.
		a.reject(n, Finding{Kind: KindInserted, Seq: r.Seq, ID: r.ID, Detail: fmt.Sprintf(
			"%s was inserted: its hash was made for place %d in the chain, which is taken, and it chains to no row before it", rowName(r.Seq, r.ID), orig)}, local)
	}
}

// Finish ends the audit.
func (a *Auditor) Finish() Report {
	var out []Finding
	for _, f := range a.findings {
		if f.Kind != "" {
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return Report{Rows: a.rows, Head: a.head, Findings: out, Omitted: a.omitted}
}

// originalSeq finds the place in the chain a row's hash was made for: its
// stored Seq, or, when rows were renumbered, another. A sequence number is
// inside the hash, so at most one place matches.
func (a *Auditor) originalSeq(r Row, linked bool, wi, xi int) (int64, bool) {
	end := a.chain[len(a.chain)-1]
	var tried [5]int64
	nt := 0
	try := func(seq int64) bool {
		if seq < 1 {
			return false
		}
		for _, t := range tried[:nt] {
			if t == seq {
				return false
			}
		}
		if nt < len(tried) {
			tried[nt] = seq
			nt++
		}
		e := r.Entry
		e.Seq = seq
		return e.Hash() == r.RowHash
	}
	candidates := [5]int64{r.Seq, r.Seq - (end.seq - end.orig), end.orig + 1, -1, -1}
	if wi >= 0 {
		candidates[3] = a.chain[wi].orig + 1
	}
	if xi >= 0 {
		candidates[4] = a.rejected[xi].orig + 1
	}
	for _, c := range candidates {
		if try(c) {
			return c, true
		}
	}
	if !linked && wi < 0 && xi < 0 {
		// Rows were cut and the later ones renumbered down.
		for c := end.orig + 2; c <= end.orig+1+Window; c++ {
			e := r.Entry
			e.Seq = c
			if e.Hash() == r.RowHash {
				return c, true
			}
		}
	}
	return r.Seq, false
}

// fork handles a row that chains to chain[wi], a row that already has a
// successor on the chain: either the new row or the rows after chain[wi]
// were inserted.
func (a *Auditor) fork(n node, wi int, local *Finding) {
	w := a.chain[wi]
	next := a.chain[wi+1]
	// The rows after w stay unless the new row, whose place as signed is
	// right after w, shows it is the genuine one: it was renumbered (moved
	// to make room) while w was not, or its bundle passes the check where
	// theirs fail.
	renumbered := n.seq-n.orig != w.seq-w.orig
	if n.orig != w.orig+1 || !(renumbered || local == nil && a.branchFails(wi)) {
		a.reject(n, Finding{Kind: KindInserted, Seq: n.seq, ID: n.id, Detail: fmt.Sprintf(
			"%s was inserted: it chains to %s, which %s already follows", rowName(n.seq, n.id), rowName(w.seq, w.id), rowName(next.seq, next.id))}, local)
		return
	}
	why := fmt.Sprintf("%s chains to %s", rowName(n.seq, n.id), a.describeEnd(w))
	if renumbered {
		why += fmt.Sprintf(" (it was row %d when signed)", n.orig)
	} else {
		why += ", and its bundle passes the check this one's fails"
	}
	a.cutAfter(wi, why)
	a.accept(n, local)
}

// branchFails says every chain row after chain[wi] failed its bundle
// digest or check.
func (a *Auditor) branchFails(wi int) bool {
	for _, b := range a.chain[wi+1:] {
		if b.finding < 0 {
			return false
		}
		if k := a.findings[b.finding].Kind; k != KindSignature && k != KindBundle {
			return false
		}
	}
	return true
}

// restore handles a row that chains to rejected[xi], a row judged
// inserted: that row was genuine after all, and the rows that took its
// place on the chain were the inserted ones.
func (a *Auditor) restore(n node, xi int, local *Finding) {
	x := a.rejected[xi]
	wi := a.findChain(x.prev, len(a.chain))
	if n.orig != x.orig+1 || wi < 0 {
		a.reject(n, Finding{Kind: KindInserted, Seq: n.seq, ID: n.id, Detail: fmt.Sprintf(
			"%s was inserted: it chains to %s, which is not part of the chain", rowName(n.seq, n.id), rowName(x.seq, x.id))}, local)
		return
	}
	a.rejected = append(a.rejected[:xi], a.rejected[xi+1:]...)
	a.cutAfter(wi, fmt.Sprintf("%s chains to %s", rowName(x.seq, x.id), a.describeEnd(a.chain[wi])))
	// Take back x's inserted finding; it keeps what its bundle check said.
	a.retract(&x)
	xl := x.local
	x.local = nil
	a.accept(x, xl)
	a.accept(n, local)
}

// cutAfter marks the chain's rows after chain[wi] inserted and ends the
// chain at chain[wi].
func (a *Auditor) cutAfter(wi int, why string) {
	for i := wi + 1; i < len(a.chain); i++ {
		b := &a.chain[i]
		a.setFinding(b, Finding{Kind: KindInserted, Seq: b.seq, ID: b.id, Detail: fmt.Sprintf("%s was inserted: %s", rowName(b.seq, b.id), why)})
		a.remember(*b)
	}
	a.chain = a.chain[:wi+1]
}

// deleted records the rows missing between the chain's end and n.
func (a *Auditor) deleted(n node, end node) {
	first, lastMissing := end.orig+1, n.orig-1
	var what string
	if first == lastMissing {
		what = fmt.Sprintf("row %d was deleted", first)
	} else {
		what = fmt.Sprintf("rows %d–%d were deleted", first, lastMissing)
	}
	var where string
	if end.seq == 0 {
		where = fmt.Sprintf("%s is the first row", rowName(n.seq, n.id))
	} else {
		where = fmt.Sprintf("%s follows row %d", rowName(n.seq, n.id), end.seq)
	}
	if n.seq-n.orig != end.seq-end.orig {
		where += fmt.Sprintf(", and the rows after were renumbered (row %d was row %d when signed)", n.seq, n.orig)
	}
	a.add(Finding{Kind: KindDeleted, Seq: first, Detail: what + ": " + where})
}

func (a *Auditor) accept(n node, f *Finding) {
	if f != nil {
		n.finding = a.add(*f)
	}
	a.chain = append(a.chain, n)
	if len(a.chain) > 2*Window {
		k := copy(a.chain, a.chain[len(a.chain)-Window:])
		a.chain = a.chain[:k]
	}
}

func (a *Auditor) reject(n node, f Finding, local *Finding) {
	n.finding = a.add(f)
	n.local = local
	a.remember(n)
}

func (a *Auditor) remember(n node) {
	a.rejected = append(a.rejected, n)
	if len(a.rejected) > 2*Window {
		k := copy(a.rejected, a.rejected[len(a.rejected)-Window:])
		a.rejected = a.rejected[:k]
	}
}

// add appends a finding and returns its index, or omittedFinding past
// MaxFindings.
func (a *Auditor) add(f Finding) int {
	if len(a.findings) >= MaxFindings {
		a.omitted++
		return omittedFinding
	}
	a.findings = append(a.findings, f)
	return len(a.findings) - 1
}

var rank = map[string]int{KindSignature: 1, KindBundle: 2, KindEdited: 3, KindInserted: 4}

// setFinding gives a remembered row finding f, unless it already has one
// that outranks it: a row has one finding at most.
func (a *Auditor) setFinding(n *node, f Finding) {
	switch {
	case n.finding == noFinding:
		n.finding = a.add(f)
	case n.finding == omittedFinding:
	case rank[a.findings[n.finding].Kind] < rank[f.Kind]:
		a.findings[n.finding] = f
	}
}

func (a *Auditor) retract(n *node) {
	switch {
	case n.finding == omittedFinding:
		a.omitted--
	case n.finding >= 0:
		a.findings[n.finding].Kind = ""
	}
	n.finding = noFinding
}

// findChain is the index of the chain row (before index before) whose
// hash is h, or -1.
func (a *Auditor) findChain(h string, before int) int {
	for i := before - 1; i >= 0; i-- {
		if a.chain[i].hash == h {
			return i
		}
	}
	return -1
}

func (a *Auditor) findRejected(h string) int {
	for i := len(a.rejected) - 1; i >= 0; i-- {
		if a.rejected[i].hash == h {
			return i
		}
	}
	return -1
}

// localFinding checks what concerns the row alone: its bundle digest and
// the caller's check.
func localFinding(r Row, check func(Row) error) *Finding {
	if r.Bundle != nil {
		if got := BundleSHA256(r.Bundle); got != r.BundleSHA256 {
			return &Finding{Kind: KindBundle, Seq: r.Seq, ID: r.ID, Detail: fmt.Sprintf(
				"%s has a changed bundle: its sha256 is %s, the row records %s", rowName(r.Seq, r.ID), got, r.BundleSHA256)}
		}
	}
	if check != nil {
		if err := check(r); err != nil {
			return &Finding{Kind: KindSignature, Seq: r.Seq, ID: r.ID, Detail: fmt.Sprintf(
				"%s fails the bundle check: %v", rowName(r.Seq, r.ID), err)}
		}
	}
	return nil
}

func (a *Auditor) describeEnd(n node) string {
	if n.seq == 0 && n.hash == Genesis {
		return "the genesis hash"
	}
	return fmt.Sprintf("row %d", n.seq)
}

func rowName(seq int64, id string) string {
	if id == "" {
		return fmt.Sprintf("row %d", seq)
	}
	return fmt.Sprintf("row %d (%s)", seq, id)
}
