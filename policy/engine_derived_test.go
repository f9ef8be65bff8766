package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	defaultpolicies "github.com/agentgate/agentgate/rego"
)

// regoMatcher returns the paths glob.match(lib.glob_of(patterns), ["/"], p)
// matches, evaluated by OPA with the default policies' lib.rego: what the
// policies compute when input.derived is absent.
func regoMatcher(t *testing.T) func(patterns, paths []string) ([]string, error) {
	t.Helper()
	src, err := defaultpolicies.FS.ReadFile("lib.rego")
	if err != nil {
		t.Fatal(err)
	}
	pq, err := rego.New(
		rego.Module("lib.rego", string(src)),
		rego.Query(`r := [p | some p in input.paths; glob.match(data.agentgate.lib.glob_of(input.patterns), ["/"], p)]`),
		rego.SetRegoVersion(ast.RegoV1),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return func(patterns, paths []string) ([]string, error) {
		rs, err := pq.Eval(context.Background(), rego.EvalInput(map[string]any{"patterns": patterns, "paths": paths}))
		if err != nil {
			return nil, err
		}
		var out []string
		for _, p := range rs[0].Bindings["r"].([]any) {
			out = append(out, p.(string))
		}
		return out, nil
	}
}

var (
	globPieces = []string{"a", "b", "ab", "*", "a*", "*b", "?", "a?b", "*.go", "*_test.go", "**", "**", "**",
		"{a,b}", "{a*,c}", "{a/b,c}", "{,a}", "x.test.*", "[ab]", `a\*`, "a,b", "{**,a}", "{}", "é", "a{b,c}d", "{a,b}**", "**{a,b}", "{a/**/b,c}", "{a/**,b}", "{x,**/y}"}
	pathPieces = []string{"a", "b", "ab", "c", "d", "a.go", "a_test.go", "x.test.js", "ba", "é", "acd", "**", "*", "a,b", "a*"}
)

func randomGlob(r *rand.Rand) string {
	n := 1 + r.IntN(4)
	segs := make([]string, n)
	for i := range segs {
		segs[i] = globPieces[r.IntN(len(globPieces))]
	}
	return strings.Join(segs, "/")
}

func randomPath(r *rand.Rand) string {
	n := 1 + r.IntN(4)
	segs := make([]string, n)
	for i := range segs {
		segs[i] = pathPieces[r.IntN(len(pathPieces))]
	}
	return strings.Join(segs, "/")
}

// TestDerivedGlobsMatchRego: for the patterns safeGlob accepts, the Go
// matcher behind input.derived matches exactly what the policies' own
// glob.match(lib.glob_of(...)) does, and what MatchGlob does.
func TestDerivedGlobsMatchRego(t *testing.T) {
	t.Parallel()
	match := regoMatcher(t)
	r := rand.New(rand.NewPCG(1, 2))
	var safe, unsafe, matched int
	for range 3000 {
		patterns := []string{randomGlob(r)}
		if r.IntN(3) == 0 {
			patterns = append(patterns, randomGlob(r), "")
		}
		paths := make([]string, 40)
		for i := range paths {
			paths[i] = randomPath(r)
		}
		g, ok := compileGlobList(patterns)
		if !ok {
			unsafe++
			continue
		}
		safe++
		want, err := match(patterns, paths)
		if err != nil {
			t.Errorf("%q: Rego fails on a pattern safeGlob accepts: %v", patterns, err)
			continue
		}
		var got []string
		for _, p := range paths {
			if g.match(p) {
				got = append(got, p)
			}
			var byMatchGlob bool
			for _, pat := range patterns {
				byMatchGlob = byMatchGlob || MatchGlob(pat, p)
			}
			if byMatchGlob != g.match(p) {
				t.Errorf("%q on %q: MatchGlob %v, derived %v", patterns, p, byMatchGlob, g.match(p))
			}
		}
		matched += len(got)
		if !slices.Equal(got, want) {
			t.Errorf("%q: derived matches %q, Rego %q", patterns, got, want)
		}
	}
	t.Logf("%d safe pattern lists (%d matches), %d left to Rego", safe, matched, unsafe)
	if safe < 500 || unsafe < 500 || matched < 1000 {
		t.Errorf("the generator is off: %d safe, %d unsafe, %d matches", safe, unsafe, matched)
	}
}

// TestDerivedGlobsSafe pins which configuration globs input.derived
// handles itself (every default one) and which it leaves to Rego.
func TestDerivedGlobsSafe(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	for _, list := range [][]string{cfg.Size.Exclude, cfg.TestEvidence.TestGlobs, cfg.Protected.AgentsMayNotTouch} {
		for _, p := range list {
			if !safeGlob(p) {
				t.Errorf("default glob %q is left to Rego", p)
			}
		}
	}
	for p, want := range map[string]bool{
		"src/**": true, "**/*.{js,ts}": true, "{src,lib}/**": true, "a/**/b": true, "**": true, "*.go": true,
		"a/**/**/b": false, "[ab]/x": false, `a\*`: false, "a,b": false, "{**/x,y}": false, "a/{b,{c,d}}": false,
		"/abs": false, "a**": false, "": false,
	} {
		if got := safeGlob(p); got != want {
			t.Errorf("safeGlob(%q) = %v, want %v", p, got, want)
		}
	}
}

// randomInput is an input with files, config and plan drawn from small
// pools, so the policies' verdicts vary: violations, approvals, excluded
// and protected files, renames, repeated paths, and globs derive leaves to
// Rego.
func randomInput(r *rand.Rand) *Input {
	in := agentInput(0)
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	lists := func(pool ...[]string) []string { return pool[r.IntN(len(pool))] }
	in.AgentAuthored = r.IntN(4) > 0
	cfg := &in.Config
	cfg.Size.MaxLines = r.IntN(300)
	cfg.Size.MaxFiles = r.IntN(12)
	cfg.Size.AppliesTo = pick("agents", "all")
	cfg.Size.Exclude = lists(DefaultConfig().Size.Exclude, nil, []string{""}, []string{"vendor/**", "[v]endor/**"}, []string{"docs/*.md"})
	cfg.TestEvidence.RequireTestChanges = r.IntN(2) == 0
	cfg.TestEvidence.TestGlobs = lists(DefaultConfig().TestEvidence.TestGlobs, nil, []string{"**/*_test.go"}, []string{`**/*\_test.go`})
	cfg.TestEvidence.CodeGlobs = lists(nil, []string{}, []string{""}, []string{"**/*.go"}, []string{"*.go", "server/**"})
	cfg.Protected.AgentsMayNotTouch = lists(DefaultConfig().Protected.AgentsMayNotTouch, nil, []string{".github/**", "a/**/**/b"})
	rules := []ApprovalRule{
		{Paths: []string{"policy/**"}, Owners: []string{"alice", "acme/security"}},
		{Paths: []string{"**/*.sql", "db/**"}, Owners: []string{"dba"}},
		{Paths: nil, Owners: []string{"nobody"}},
		{Paths: []string{"[p]olicy/**"}, Owners: []string{"alice"}},
	}
	cfg.Protected.RequireApproval = nil
	for _, rule := range rules {
		if r.IntN(2) == 0 {
			cfg.Protected.RequireApproval = append(cfg.Protected.RequireApproval, rule)
		}
	}
	cfg.PlanScope.Enabled = r.IntN(4) > 0
	switch r.IntN(6) {
	case 0:
		in.Task = nil
	case 1:
		in.Task.Plan = nil
	default:
		in.Task.Plan.Paths = lists([]string{"server/**"}, []string{"server/**", "docs/*.md"}, []string{""}, nil, []string{"{server,policy}/**", "*.md"}, []string{"[s]erver/**"})
	}
	pool := []string{"server/a.go", "server/a_test.go", "server/pkg/b.go", "server/test/fixture.json", "policy/x.go", "policy/x_test.go",
		"vendor/lib/v.go", "api/v1/api.pb.go", "docs/guide.md", "README.md", ".github/workflows/ci.yml", ".github/agentgate.yml",
		"db/001.sql", "go.sum", "web/app.spec.ts", "a/x/b"}
	for range r.IntN(14) {
		f := File{Path: pick(pool...), Status: pick("added", "modified", "removed", "renamed"),
			Additions: r.IntN(60), Deletions: r.IntN(20), FirstLine: r.IntN(3)}
		if f.Status == "renamed" {
			f.PreviousPath = pick(pool...)
		}
		in.Files = append(in.Files, f)
	}
	in.Reviews = nil
	for range r.IntN(3) {
		in.Reviews = append(in.Reviews, Review{User: pick("alice", "bob", "dba", "carol"), State: pick("APPROVED", "COMMENTED"),
			CommitID: pick("head1", "old"), Teams: lists(nil, []string{"acme/security"})})
	}
	return in
}

// TestDerivedEquivalence: the default policies give the same decision,
// verdicts, summaries and violations alike, with input.derived and
// without it (computing every fact from input.files in Rego).
func TestDerivedEquivalence(t *testing.T) {
	t.Parallel()
	e := sharedEngine(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	var cases int
	present := map[string]int{}
	verdicts := map[string]int{}
	check := func(name string, in *Input) {
		t.Helper()
		cases++
		with, derived, err := e.evaluate(ctx, in, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		without, none, err := e.evaluate(ctx, in, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if none != nil {
			t.Fatal("derived without withDerived")
		}
		if !reflect.DeepEqual(with, without) {
			b, _ := json.MarshalIndent(in, "", " ")
			d, _ := json.Marshal(derived)
			t.Fatalf("%s: with input.derived:\n%s\nwithout:\n%s\nderived: %s\ninput: %s", name, dump(with), dump(without), d, b)
		}
		if derived.Size != nil {
			present["size"]++
		}
		if derived.TestEvidence != nil {
			present["test_evidence"]++
		}
		if derived.ProtectedPaths.AgentsMayNotTouch != nil {
			present["agents_may_not_touch"]++
		}
		if derived.ProtectedPaths.RequireApproval != nil {
			present["require_approval"]++
		}
		if derived.PlanScope != nil {
			present["plan_scope"]++
		}
		for _, p := range with.Policies {
			verdicts[p.Name+":"+string(p.Verdict)]++
		}
	}
	for i := range 400 {
		check(fmt.Sprintf("random input %d", i), randomInput(r))
	}
	for _, n := range []int{0, 1, 100, 1000} {
		check(fmt.Sprintf("agentInput(%d)", n), agentInput(n))
	}
	t.Logf("%d inputs; derived facts present: %v; verdicts: %v", cases, present, verdicts)
	for _, fact := range []string{"size", "test_evidence", "agents_may_not_touch", "require_approval", "plan_scope"} {
		if present[fact] < 50 {
			t.Errorf("derived %s in only %d inputs", fact, present[fact])
		}
	}
	for _, v := range []string{"size:fail", "test_evidence:fail", "protected_paths:fail", "protected_paths:action_required", "plan_scope:fail", "plan_scope:pass"} {
		if verdicts[v] < 10 {
			t.Errorf("verdict %s in only %d inputs", v, verdicts[v])
		}
	}
}

// TestEngineIgnoresCallersDerived: the engine computes input.derived
// itself; a stale one in the input (say, an edited replay) changes nothing.
func TestEngineIgnoresCallersDerived(t *testing.T) {
	t.Parallel()
	e := sharedEngine(t)
	in := agentInput(3)
	in.Files[0].Additions = 5000
	in.Derived = &Derived{Size: &DerivedSize{Lines: 1, Files: 1}, PlanScope: &DerivedPlanScope{Outside: []string{"x"}}}
	d, err := e.Evaluate(context.Background(), in, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Verdict{}
	for _, p := range d.Policies {
		got[p.Name] = p.Verdict
	}
	if got["size"] != VerdictFail || got["plan_scope"] != VerdictPass {
		t.Errorf("verdicts %v: the engine used the caller's derived facts", got)
	}
}

// TestInputValueCachedFiles: files convert as encoding/json would, the
// first time (fileTerm) and from the cache, derived facts included.
func TestInputValueCachedFiles(t *testing.T) {
	t.Parallel()
	in := agentInput(5)
	in.Files[1].PreviousPath = "server/old.go"
	in.Files = append(in.Files, in.Files[0], File{Path: "é/x y", Status: "added", Additions: 1 << 40, Deletions: -1})
	in.Derived = derive(in)
	fileTerms.Lock()
	for _, f := range in.Files {
		delete(fileTerms.m, f)
	}
	fileTerms.Unlock()
	if !fileFields {
		t.Error("File's fields changed: update fileTerm and fileFields")
	}
	for range 2 {
		got, err := inputValue(in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ast.ValueFromReader(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if got.Compare(want) != 0 {
			t.Errorf("inputValue =\n%v\nwant (encoding/json)\n%v", got, want)
		}
	}
}

// BenchmarkEvaluateColdFiles is BenchmarkEvaluate at 3,000 files with no
// file converted before (a pull request's first evaluation), and the parts
// of an evaluation the policies do not: derive and the input conversion.
func BenchmarkEvaluateColdFiles(b *testing.B) {
	e, err := NewEngine()
	if err != nil {
		b.Fatal(err)
	}
	in := agentInput(3000)
	clear := func() {
		fileTerms.Lock()
		fileTerms.m = nil
		fileTerms.Unlock()
	}
	b.Run("evaluate", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			clear()
			b.StartTimer()
			if _, err := e.Evaluate(context.Background(), in, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("derive", func(b *testing.B) {
		for b.Loop() {
			derive(in)
		}
	})
	b.Run("inputValue/warm", func(b *testing.B) {
		for b.Loop() {
			if _, err := inputValue(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("inputValue/cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			clear()
			b.StartTimer()
			if _, err := inputValue(in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
