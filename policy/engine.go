package policy

import (
	"cmp"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	defaultpolicies "github.com/agentgate/agentgate/rego"
)

// The packages the engine reads. A default policy is a package
// agentgate.policies.<name>; a repository's own is agentgate.repo.<name>
// and its result is named "repo.<name>". Both have the same shape:
//
//	title := "Human title"                          # string; the name when undefined
//	applies := true                                 # false: verdict skipped; undefined: applies
//	violations contains {"message": m, "file": f, "line": n}  # any: fail (file, line optional)
//	action_required contains {"message": m, "file": f}        # any: action_required (a person must act)
//	pending contains "message"                      # any: pending (something will happen)
//	summary := "one line"                           # why it passed (or does not apply)
//
// violations, action_required and pending may hold strings or objects with
// a message (and optionally file and line).
const (
	defaultPackage = "agentgate.policies"
	repoPackage    = "agentgate.repo"
	// defaultsDir names the embedded default modules in digests and errors.
	defaultsDir = "rego/"
)

// DefaultCacheSize is how many prepared policy sets an Engine keeps.
const DefaultCacheSize = 256

// removedBuiltins are the built-ins a policy may not call: I/O, the OPA
// runtime, and non-determinism (a decision must be reproducible from its
// input and policy digest).
var removedBuiltins = map[string]bool{
	"http.send":          true,
	"net.lookup_ip_addr": true,
	"opa.runtime":        true,
	"rego.parse_module":  true,
	"rand.intn":          true,
	"uuid.rfc4122":       true,
}

// Engine evaluates the default Rego policies, and a repository's own, over
// an Input. It compiles each distinct policy set once and keeps the prepared
// query in a bounded cache keyed by the set's digest, so re-evaluating a
// pull request compiles nothing. Safe for concurrent use.
type Engine struct {
	defaults       map[string][]byte      // rego/<file> -> source
	defaultModules map[string]*ast.Module // parsed once
	caps           *ast.Capabilities
	cacheSize      int

	mu    sync.Mutex
	cache map[string]*list.Element // digest -> *cacheEntry, most recent first in lru
	lru   *list.List

	hits, misses atomic.Int64
}

type cacheEntry struct {
	key   string
	ready chan struct{} // closed once set and err are final
	set   *preparedSet
	err   error
}

// EngineOption configures an Engine.
type EngineOption func(*Engine)

// WithCacheSize bounds how many prepared policy sets the engine keeps
// (least recently used first out). n < 1 means 1.
func WithCacheSize(n int) EngineOption {
	return func(e *Engine) { e.cacheSize = max(n, 1) }
}

// withDefaults replaces the embedded default policies (tests).
func withDefaults(modules map[string][]byte) EngineOption {
	return func(e *Engine) { e.defaults = modules }
}

// NewEngine parses and compiles the default policies (an error here is a
// bug in rego/) and warms the cache with them.
func NewEngine(opts ...EngineOption) (*Engine, error) {
	e := &Engine{cacheSize: DefaultCacheSize, cache: map[string]*list.Element{}, lru: list.New()}
	for _, opt := range opts {
		opt(e)
	}
	if e.defaults == nil {
		e.defaults = map[string][]byte{}
		for name, src := range defaultpolicies.Modules() {
			e.defaults[defaultsDir+name] = src
		}
	}
	e.caps = capabilities()
	e.defaultModules = map[string]*ast.Module{}
	for name, src := range e.defaults {
		m, err := ast.ParseModuleWithOpts(name, string(src), parserOptions(e.caps))
		if err != nil {
			return nil, fmt.Errorf("parse default policy %s: %w", name, err)
		}
		e.defaultModules[name] = m
	}
	if _, err := e.prepare(context.Background(), nil); err != nil {
		return nil, fmt.Errorf("compile default policies: %w", err)
	}
	return e, nil
}

func parserOptions(caps *ast.Capabilities) ast.ParserOptions {
	return ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: caps, ProcessAnnotation: true}
}

// capabilities is this OPA's capability set without removedBuiltins and
// with no network access.
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool { return removedBuiltins[b.Name] })
	caps.AllowNet = []string{}
	return caps
}

// CacheStats counts prepared-query cache lookups: a miss compiled a policy
// set, a hit reused one.
type CacheStats struct {
	Hits, Misses int64
	Entries      int
}

// CacheStats reports the prepared-query cache's counters.
func (e *Engine) CacheStats() CacheStats {
	e.mu.Lock()
	n := e.lru.Len()
	e.mu.Unlock()
	return CacheStats{Hits: e.hits.Load(), Misses: e.misses.Load(), Entries: n}
}

// Digest is the sha256 of policy modules, name and source, taken in order
// of the groups and by name within each ("sha256:<hex>").
func Digest(groups ...map[string][]byte) string {
	h := sha256.New()
	for i, modules := range groups {
		fmt.Fprintf(h, "group %d\x00", i)
		names := make([]string, 0, len(modules))
		for name := range modules {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Fprintf(h, "%s\x00%d\x00", name, len(modules[name]))
			h.Write(modules[name])
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Evaluate runs the default policies and repoPolicies (path -> source, as
// read from .github/agentgate/policies/*.rego on the base branch) over in.
// Results come defaults first, then the repository's, each by name. A
// repository policy that does not parse, compile or declare package
// agentgate.repo.<name> is a LoadError in a failing decision (the defaults
// still judge the pull request); a policy whose evaluation fails gets the
// verdict error. The error return is for the engine itself (a cancelled
// context, a broken default policy).
//
// The policies see in with input.derived computed afresh from its files,
// config and task: a Derived the caller set is ignored.
func (e *Engine) Evaluate(ctx context.Context, in *Input, repoPolicies map[string][]byte) (Decision, error) {
	d, _, err := e.evaluate(ctx, in, repoPolicies, true)
	return d, err
}

// evaluate is Evaluate, also returning the input.derived the policies saw.
// With withDerived false they see none and compute every fact from
// input.files (the tests compare the two).
func (e *Engine) evaluate(ctx context.Context, in *Input, repoPolicies map[string][]byte, withDerived bool) (Decision, *Derived, error) {
	if in == nil {
		return Decision{}, nil, errors.New("evaluate: nil input")
	}
	if err := ctx.Err(); err != nil {
		return Decision{}, nil, fmt.Errorf("evaluate: %w", err)
	}
	set, err := e.prepare(ctx, repoPolicies)
	if err != nil {
		return Decision{}, nil, err
	}
	doc := *in
	doc.Derived = nil
	if withDerived {
		doc.Derived = derive(in)
	}
	value, err := inputValue(&doc)
	if err != nil {
		return Decision{}, nil, fmt.Errorf("convert input: %w", err)
	}
	results, err := set.eval(ctx, value)
	if err != nil {
		return Decision{}, nil, err
	}
	d := Decision{Policies: results, LoadErrors: slices.Clone(set.loadErrors), PolicyDigest: set.digest}
	d.Conclusion = Conclude(d.Policies, d.LoadErrors)
	return d, doc.Derived, nil
}

// prepare returns the prepared policy set for the defaults plus repo,
// compiling it only if the cache does not hold it. Concurrent callers with
// the same set wait for one compilation.
func (e *Engine) prepare(ctx context.Context, repo map[string][]byte) (*preparedSet, error) {
	key := Digest(e.defaults, repo)
	e.mu.Lock()
	if el, ok := e.cache[key]; ok {
		e.lru.MoveToFront(el)
		ent := el.Value.(*cacheEntry)
		e.mu.Unlock()
		select {
		case <-ent.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if ent.err == nil {
			e.hits.Add(1)
		}
		return ent.set, ent.err
	}
	ent := &cacheEntry{key: key, ready: make(chan struct{})}
	e.cache[key] = e.lru.PushFront(ent)
	for e.lru.Len() > e.cacheSize {
		oldest := e.lru.Back()
		e.lru.Remove(oldest)
		delete(e.cache, oldest.Value.(*cacheEntry).key)
	}
	e.mu.Unlock()

	e.misses.Add(1)
	// Waiters share this compilation: one caller's cancellation must not fail it.
	ent.set, ent.err = e.compile(context.WithoutCancel(ctx), key, repo)
	close(ent.ready)
	if ent.err != nil {
		e.mu.Lock()
		if el, ok := e.cache[key]; ok && el.Value == ent {
			e.lru.Remove(el)
			delete(e.cache, key)
		}
		e.mu.Unlock()
	}
	return ent.set, ent.err
}

// policyRef is one policy package of a set.
type policyRef struct {
	name   string   // "size" or "repo.<name>"
	path   ast.Ref  // data.agentgate.policies.size
	files  []string // the modules declaring it
	line   int      // of the first module's package
	isRepo bool
	query  rego.PreparedEvalQuery // this policy alone (to attribute errors)
}

// preparedSet is one compiled policy set and its prepared queries.
type preparedSet struct {
	digest     string
	policies   []*policyRef
	loadErrors []LoadError
	all        rego.PreparedEvalQuery // every policy in one evaluation
}

func (e *Engine) compile(ctx context.Context, key string, repo map[string][]byte) (*preparedSet, error) {
	set := &preparedSet{digest: key}
	modules := make(map[string]*ast.Module, len(e.defaultModules)+len(repo))
	for name, m := range e.defaultModules {
		modules[name] = m
	}
	names := make([]string, 0, len(repo))
	for name := range repo {
		names = append(names, name)
	}
	sort.Strings(names)
	repoModules := map[string]*ast.Module{}
	for _, name := range names {
		if _, clash := modules[name]; clash {
			set.loadErrors = append(set.loadErrors, LoadError{File: name, Message: "the name of a default policy module: rename the file"})
			continue
		}
		m, err := ast.ParseModuleWithOpts(name, string(repo[name]), parserOptions(e.caps))
		if err != nil {
			set.loadErrors = append(set.loadErrors, astLoadErrors(name, err)...)
			continue
		}
		if m == nil {
			set.loadErrors = append(set.loadErrors, LoadError{File: name, Line: 1, Message: "empty policy: declare package " + repoPackage + ".<name>"})
			continue
		}
		if _, ok := repoPolicyName(m.Package.Path); !ok {
			set.loadErrors = append(set.loadErrors, LoadError{File: name, Line: m.Package.Location.Row,
				Message: fmt.Sprintf("package %s: a repository policy must declare package %s.<name> (one segment, letters, digits and _)", strings.TrimPrefix(m.Package.Path.String(), "data."), repoPackage)})
			continue
		}
		repoModules[name] = m
	}
	for name, m := range repoModules {
		modules[name] = m
	}

	compiler := e.newCompiler()
	if compiler.Compile(modules); compiler.Failed() {
		set.loadErrors = append(set.loadErrors, astLoadErrors("", compiler.Errors)...)
		// Judge with the defaults alone, so the author still sees their verdicts.
		compiler = e.newCompiler()
		if compiler.Compile(e.defaultModules); compiler.Failed() {
			return nil, compiler.Errors
		}
	}

	set.policies = policyPackages(compiler)
	var ok []*policyRef
	for _, p := range set.policies {
		pq, err := prepareQuery(ctx, compiler, "r = "+policyObject(p.path))
		if err != nil {
			if !p.isRepo {
				return nil, fmt.Errorf("prepare %s: %w", p.name, err)
			}
			set.loadErrors = append(set.loadErrors, LoadError{File: p.files[0], Line: p.line,
				Message: fmt.Sprintf("policy %s does not have the shape agentgate reads (title, applies, violations, pending, action_required, summary): %v", p.name, err)})
			continue
		}
		p.query = pq
		ok = append(ok, p)
	}
	set.policies = ok
	var all strings.Builder
	all.WriteString("r = {")
	for i, p := range set.policies {
		if i > 0 {
			all.WriteString(", ")
		}
		all.WriteString(strconv.Quote(p.name) + ": " + policyObject(p.path))
	}
	all.WriteString("}")
	pq, err := prepareQuery(ctx, compiler, all.String())
	if err != nil {
		return nil, fmt.Errorf("prepare policy set: %w", err)
	}
	set.all = pq
	sortLoadErrors(set.loadErrors)
	return set, nil
}

func (e *Engine) newCompiler() *ast.Compiler {
	return ast.NewCompiler().
		WithStrict(true).
		WithCapabilities(e.caps).
		WithDefaultRegoVersion(ast.RegoV1).
		WithEnablePrintStatements(false)
}

func prepareQuery(ctx context.Context, c *ast.Compiler, query string) (rego.PreparedEvalQuery, error) {
	return rego.New(
		rego.Compiler(c),
		rego.Query(query),
		rego.Capabilities(c.Capabilities()),
		rego.SetRegoVersion(ast.RegoV1),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
}

// policyObject is the query term collecting one policy's shape. Each part
// is a comprehension, so a rule the policy does not define is an empty
// array, and only these rules are evaluated (not the package's helpers).
func policyObject(path ast.Ref) string {
	p := path.String()
	return `{"title": [x | x := ` + p + `.title],` +
		` "applies": [x | x := ` + p + `.applies],` +
		` "summary": [x | x := ` + p + `.summary],` +
		` "violations": [x | some x in ` + p + `.violations],` +
		` "action_required": [x | some x in ` + p + `.action_required],` +
		` "pending": [x | some x in ` + p + `.pending]}`
}

// policyPackages lists the compiled policy packages: defaults by name, then
// the repository's by name.
func policyPackages(c *ast.Compiler) []*policyRef {
	byName := map[string]*policyRef{}
	for file, m := range c.Modules {
		var name string
		var isRepo bool
		if n, ok := repoPolicyName(m.Package.Path); ok {
			name, isRepo = "repo."+n, true
		} else if n, ok := defaultPolicyName(m.Package.Path); ok {
			name = n
		} else {
			continue // helpers (agentgate.lib)
		}
		p := byName[name]
		if p == nil {
			p = &policyRef{name: name, path: m.Package.Path, isRepo: isRepo}
			byName[name] = p
		}
		p.files = append(p.files, file)
	}
	out := make([]*policyRef, 0, len(byName))
	for _, p := range byName {
		sort.Strings(p.files)
		p.line = c.Modules[p.files[0]].Package.Location.Row
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *policyRef) int {
		if a.isRepo != b.isRepo {
			if a.isRepo {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.name, b.name)
	})
	return out
}

func repoPolicyName(path ast.Ref) (string, bool) {
	return packageName(path, repoPackage)
}

func defaultPolicyName(path ast.Ref) (string, bool) {
	return packageName(path, defaultPackage)
}

// packageName is <name> when path is data.<prefix>.<name> and name is a
// plain identifier.
func packageName(path ast.Ref, prefix string) (string, bool) {
	want := strings.Split(prefix, ".")
	if len(path) != len(want)+2 {
		return "", false
	}
	for i, seg := range want {
		if s, ok := path[i+1].Value.(ast.String); !ok || string(s) != seg {
			return "", false
		}
	}
	s, ok := path[len(path)-1].Value.(ast.String)
	if !ok || !identifier(string(s)) {
		return "", false
	}
	return string(s), true
}

func identifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// astLoadErrors turns OPA parse or compile errors into LoadErrors; file is
// used when an error has no location.
func astLoadErrors(file string, err error) []LoadError {
	var errs ast.Errors
	if !errors.As(err, &errs) {
		return []LoadError{{File: file, Message: err.Error()}}
	}
	out := make([]LoadError, 0, len(errs))
	for _, e := range errs {
		le := LoadError{File: file, Message: e.Message}
		if e.Code != "" {
			le.Message = e.Code + ": " + e.Message
		}
		if e.Location != nil {
			if e.Location.File != "" {
				le.File = e.Location.File
			}
			le.Line = e.Location.Row
		}
		out = append(out, le)
	}
	return out
}

func sortLoadErrors(errs []LoadError) {
	slices.SortStableFunc(errs, func(a, b LoadError) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Message, b.Message))
	})
}

// eval runs every policy in one evaluation. If that fails (a conflict or a
// built-in error in some policy), each policy runs alone so the failure is
// that policy's verdict error and the others still judge.
func (s *preparedSet) eval(ctx context.Context, input ast.Value) ([]PolicyResult, error) {
	rs, err := s.all.Eval(ctx, rego.EvalParsedInput(input))
	if err == nil {
		all, ok := binding(rs)
		if !ok {
			return nil, errors.New("evaluate policies: no result")
		}
		out := make([]PolicyResult, 0, len(s.policies))
		for _, p := range s.policies {
			out = append(out, p.result(all[p.name]))
		}
		return out, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	out := make([]PolicyResult, 0, len(s.policies))
	for _, p := range s.policies {
		rs, err := p.query.Eval(ctx, rego.EvalParsedInput(input))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			out = append(out, PolicyResult{Name: p.name, Title: p.name, Verdict: VerdictError,
				Summary: "evaluation failed: " + err.Error()})
			continue
		}
		r, _ := binding(rs)
		out = append(out, p.result(r))
	}
	return out, nil
}

func binding(rs rego.ResultSet) (map[string]any, bool) {
	if len(rs) != 1 {
		return nil, false
	}
	m, ok := rs[0].Bindings["r"].(map[string]any)
	return m, ok
}

// result reads one policy's shape (see the package comment above) into a
// PolicyResult: not applying skips; else any violation fails, any
// action_required waits on a person, any pending waits on something else.
// Reasons are listed in that order, each group sorted by file, line and
// message.
func (p *policyRef) result(v any) PolicyResult {
	obj, _ := v.(map[string]any)
	res := PolicyResult{Name: p.name, Title: p.name}
	if s, ok := first(obj, "title").(string); ok && s != "" {
		res.Title = s
	}
	summary, _ := first(obj, "summary").(string)
	switch a := first(obj, "applies").(type) {
	case nil, bool:
		if a == false {
			res.Verdict, res.Summary = VerdictSkipped, cmp.Or(summary, "does not apply")
			return res
		}
	default:
		res.Verdict, res.Summary = VerdictError, fmt.Sprintf("applies is %T, not a boolean", a)
		return res
	}
	violations := p.reasons(obj["violations"])
	actions := p.reasons(obj["action_required"])
	pending := p.reasons(obj["pending"])
	res.Violations = slices.Concat(violations, actions, pending)
	switch {
	case len(violations) > 0:
		res.Verdict = VerdictFail
	case len(actions) > 0:
		res.Verdict = VerdictActionRequired
	case len(pending) > 0:
		res.Verdict = VerdictPending
	default:
		res.Verdict, res.Summary = VerdictPass, cmp.Or(summary, "no violations")
		return res
	}
	res.Summary = res.Violations[0].Message
	if n := len(res.Violations) - 1; n > 0 {
		res.Summary += fmt.Sprintf(" (and %d more)", n)
	}
	return res
}

func first(obj map[string]any, key string) any {
	if xs, ok := obj[key].([]any); ok && len(xs) > 0 {
		return xs[0]
	}
	return nil
}

// reasons reads violations, action_required or pending: strings, or
// objects with message and optional file and line.
func (p *policyRef) reasons(v any) []Violation {
	xs, _ := v.([]any)
	out := make([]Violation, 0, len(xs))
	for _, x := range xs {
		vi := Violation{Policy: p.name}
		switch x := x.(type) {
		case string:
			vi.Message = x
		case map[string]any:
			vi.Message, _ = x["message"].(string)
			vi.File, _ = x["file"].(string)
			vi.Line = lineNumber(x["line"])
			if vi.Message == "" {
				b, _ := json.Marshal(x)
				vi.Message = string(b)
			}
		default:
			b, _ := json.Marshal(x)
			vi.Message = string(b)
		}
		out = append(out, vi)
	}
	slices.SortFunc(out, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Message, b.Message))
	})
	return out
}

func lineNumber(v any) int {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil && i > 0 {
			return int(i)
		}
	case float64:
		if n > 0 {
			return int(n)
		}
	case int:
		return max(n, 0)
	}
	return 0
}
