package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// newTestEngine is shared: compiling the defaults once keeps the tests fast.
var (
	testEngineOnce sync.Once
	testEngine     *Engine
	testEngineErr  error
)

func sharedEngine(t testing.TB) *Engine {
	t.Helper()
	testEngineOnce.Do(func() { testEngine, testEngineErr = NewEngine() })
	if testEngineErr != nil {
		t.Fatal(testEngineErr)
	}
	return testEngine
}

// agentInput is an agent pull request that passes every default policy:
// files under server/ (the plan's paths), a complete provenance block, a
// passing "test" check.
func agentInput(files int) *Input {
	cfg := DefaultConfig()
	cfg.TestEvidence.RequiredChecks = []string{"test"}
	cfg.Size.MaxFiles = max(40, files)
	cfg.Size.MaxLines = max(800, 20*files)
	cfg.Protected.RequireApproval = []ApprovalRule{{Paths: []string{"policy/**"}, Owners: []string{"alice", "acme/security"}}}
	in := &Input{
		Repository: Repository{FullName: "acme/app", DefaultBranch: "main", Private: true},
		PullRequest: PullRequest{
			Number: 7, Title: "Fix the thing", Author: Person{Login: "agentgate[bot]", Type: "Bot"},
			Base: Ref{Ref: "main", SHA: "base1"}, Head: Ref{Ref: "agent/issue-12", SHA: "head1"},
			Labels: []string{"agent"},
		},
		Commits: []Commit{{SHA: "head1", Message: "Fix", Trailers: map[string]string{"Agent-Run": "r1"}}},
		Provenance: Provenance{Present: true, Fields: map[string]any{
			"task": "t1", "agent": "claude", "model": "opus", "prompt_sha256": "abc", "base_sha": "base1", "involvement": "autonomous",
		}, Errors: []ProvenanceError{}},
		AgentAuthored: true,
		AgentReasons:  []string{"author is agentgate[bot]"},
		Task: &Task{ID: "t1", Plan: &Plan{ID: "p1", SHA256: "abc", ApprovedBy: "bob",
			Paths: []string{"server/**"}, Acceptance: []string{"go test ./server/..."}}},
		Checks:    []Check{{Name: "test", Status: "completed", Conclusion: "success", App: "github-actions", Kind: "check_run"}},
		Reviews:   []Review{},
		Config:    cfg,
		Requester: &Person{Login: "bob", Type: "User"},
	}
	for i := range files {
		name := fmt.Sprintf("server/pkg%d/file%d.go", i%50, i)
		if i%2 == 1 {
			name = fmt.Sprintf("server/pkg%d/file%d_test.go", i%50, i)
		}
		in.Files = append(in.Files, File{Path: name, Status: "modified", Additions: 5, Deletions: 2, FirstLine: 10})
		in.PullRequest.Additions += 5
		in.PullRequest.Deletions += 2
	}
	in.PullRequest.ChangedFiles = files
	in.Limits = InputLimits{FilesListed: files}
	if in.Files == nil {
		in.Files = []File{}
	}
	return in
}

func verdicts(d Decision) map[string]Verdict {
	out := map[string]Verdict{}
	for _, p := range d.Policies {
		out[p.Name] = p.Verdict
	}
	return out
}

func result(t *testing.T, d Decision, name string) PolicyResult {
	t.Helper()
	for _, p := range d.Policies {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no result for %s in %+v", name, d.Policies)
	return PolicyResult{}
}

func TestEngineDefaultPolicies(t *testing.T) {
	t.Parallel()
	e := sharedEngine(t)
	all := func(v Verdict) map[string]Verdict {
		return map[string]Verdict{"size": v, "provenance": v, "test_evidence": v, "protected_paths": v, "plan_scope": v}
	}
	with := func(m map[string]Verdict, name string, v Verdict) map[string]Verdict {
		m[name] = v
		return m
	}
	tests := []struct {
		name       string
		edit       func(in *Input)
		want       map[string]Verdict
		conclusion string
		violation  Violation // when set, the named policy's first violation
	}{
		{name: "all pass", edit: func(*Input) {}, want: all(VerdictPass), conclusion: "success"},
		{name: "empty pull request", edit: func(in *Input) { in.Files = []File{} }, want: all(VerdictPass), conclusion: "success"},
		{
			name: "size fails", edit: func(in *Input) { in.Files[0].Additions = 5000 },
			want: with(all(VerdictPass), "size", VerdictFail), conclusion: "failure",
			violation: Violation{Policy: "size", Message: "5023 lines changed (additions + deletions); the limit is 800: split the pull request"},
		},
		{
			name: "provenance missing", edit: func(in *Input) { in.Provenance = Provenance{Fields: map[string]any{}, Errors: []ProvenanceError{}} },
			want: with(all(VerdictPass), "provenance", VerdictFail), conclusion: "failure",
		},
		{
			name: "provenance parse error keeps its line", edit: func(in *Input) {
				in.Provenance.Errors = []ProvenanceError{{Field: "model", Line: 4, Message: "duplicate"}}
			},
			want: with(all(VerdictPass), "provenance", VerdictFail), conclusion: "failure",
			violation: Violation{Policy: "provenance", Message: "provenance model: duplicate", Line: 4},
		},
		{
			name: "test still running is pending", edit: func(in *Input) { in.Checks[0] = Check{Name: "test", Status: "in_progress"} },
			want: with(all(VerdictPass), "test_evidence", VerdictPending), conclusion: "",
		},
		{
			name: "test failed", edit: func(in *Input) { in.Checks[0].Conclusion = "failure" },
			want: with(all(VerdictPass), "test_evidence", VerdictFail), conclusion: "failure",
		},
		{
			name: "agent touches a workflow", edit: func(in *Input) {
				in.Files = append(in.Files, File{Path: ".github/workflows/ci.yml", Status: "removed", Deletions: 9})
				in.Task.Plan.Paths = append(in.Task.Plan.Paths, ".github/**")
			},
			want: with(all(VerdictPass), "protected_paths", VerdictFail), conclusion: "failure",
			violation: Violation{Policy: "protected_paths", Message: "agents may not delete protected path .github/workflows/ci.yml", File: ".github/workflows/ci.yml"},
		},
		{
			name: "owner approval missing", edit: func(in *Input) {
				in.Files = append(in.Files, File{Path: "policy/x.go", Status: "modified", Additions: 1})
				in.Task.Plan.Paths = append(in.Task.Plan.Paths, "policy/**")
			},
			want: with(all(VerdictPass), "protected_paths", VerdictActionRequired), conclusion: "action_required",
		},
		{
			name: "owner approved by team", edit: func(in *Input) {
				in.Files = append(in.Files, File{Path: "policy/x.go", Status: "modified", Additions: 1})
				in.Task.Plan.Paths = append(in.Task.Plan.Paths, "policy/**")
				in.Reviews = []Review{{User: "dave", State: "APPROVED", CommitID: "head1", Teams: []string{"acme/security"}}}
			},
			want: all(VerdictPass), conclusion: "success",
		},
		{
			name: "outside the plan", edit: func(in *Input) {
				in.Files = append(in.Files, File{Path: "store/db.go", Status: "modified", Additions: 1, FirstLine: 3})
			},
			want: with(all(VerdictPass), "plan_scope", VerdictFail), conclusion: "failure",
			violation: Violation{Policy: "plan_scope", Message: "store/db.go is outside the approved plan's paths (server/**)", File: "store/db.go", Line: 3},
		},
		{
			name: "human pull request", edit: func(in *Input) {
				in.AgentAuthored, in.Task, in.Requester = false, nil, nil
				in.PullRequest.Author = Person{Login: "carol", Type: "User"}
				in.Provenance = Provenance{Fields: map[string]any{}, Errors: []ProvenanceError{}}
				in.Files[0].Additions = 5000
			},
			want: with(all(VerdictSkipped), "protected_paths", VerdictPass), conclusion: "success",
		},
		{
			name: "disabled policies skipped", edit: func(in *Input) {
				in.Config.Disabled = []string{"size", "plan_scope"}
				in.Files[0].Additions = 5000
				in.Files = append(in.Files, File{Path: "store/db.go", Status: "modified"})
			},
			want: with(with(all(VerdictPass), "size", VerdictSkipped), "plan_scope", VerdictSkipped), conclusion: "success",
		},
		{
			name: "nil lists in config and input", edit: func(in *Input) {
				in.Config, in.Task = Config{}, nil
				in.Files, in.Checks, in.Reviews, in.Provenance.Errors = nil, nil, nil, nil
			},
			want: with(with(all(VerdictPass), "plan_scope", VerdictSkipped), "protected_paths", VerdictPass), conclusion: "success",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := agentInput(4)
			tt.edit(in)
			d, err := e.Evaluate(context.Background(), in, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := verdicts(d); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("verdicts = %v\nwant %v\n%s", got, tt.want, dump(d))
			}
			if d.Conclusion != tt.conclusion {
				t.Errorf("conclusion = %q, want %q", d.Conclusion, tt.conclusion)
			}
			if tt.violation.Policy != "" {
				r := result(t, d, tt.violation.Policy)
				if len(r.Violations) == 0 || r.Violations[0] != tt.violation {
					t.Errorf("violations = %+v, want first %+v", r.Violations, tt.violation)
				}
			}
			if len(d.LoadErrors) > 0 {
				t.Errorf("load errors: %+v", d.LoadErrors)
			}
		})
	}
}

func TestEngineResultShape(t *testing.T) {
	t.Parallel()
	d, err := sharedEngine(t).Evaluate(context.Background(), agentInput(4), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names, titles []string
	for _, p := range d.Policies {
		names = append(names, p.Name)
		titles = append(titles, p.Title)
	}
	if got, want := strings.Join(names, ","), "plan_scope,protected_paths,provenance,size,test_evidence"; got != want {
		t.Errorf("order = %s, want %s", got, want)
	}
	if got, want := strings.Join(titles, ","), "Plan scope,Protected paths,Provenance,Size,Test evidence"; got != want {
		t.Errorf("titles = %s, want %s", got, want)
	}
	if got, want := result(t, d, "size").Summary, "28 lines in 4 files (limits 800 lines, 40 files)"; got != want {
		t.Errorf("size summary = %q, want %q", got, want)
	}
	if !strings.HasPrefix(d.PolicyDigest, "sha256:") || len(d.PolicyDigest) != 71 {
		t.Errorf("digest = %q", d.PolicyDigest)
	}
}

const repoDir = ".github/agentgate/policies/"

func TestEngineRepoPolicy(t *testing.T) {
	t.Parallel()
	e := sharedEngine(t)
	repo := map[string][]byte{repoDir + "no_todo.rego": []byte(`package agentgate.repo.no_todo

import data.agentgate.lib

title := "No TODO in titles"

violations contains {"message": "title says TODO", "file": "z.go", "line": 2} if contains(input.pull_request.title, "TODO")

violations contains {"message": "title says TODO", "file": "a.go", "line": 9} if contains(input.pull_request.title, "TODO")

violations contains "plain string reason" if contains(input.pull_request.title, "TODO")

violations contains {"message": "docs changed", "file": f.path} if {
	some f in input.files
	lib.matches_any(["docs/**"], f.path)
}
`)}
	in := agentInput(2)
	d, err := e.Evaluate(context.Background(), in, repo)
	if err != nil {
		t.Fatal(err)
	}
	if r := result(t, d, "repo.no_todo"); r.Verdict != VerdictPass || r.Title != "No TODO in titles" || d.Conclusion != "success" {
		t.Fatalf("clean: %+v, conclusion %q", r, d.Conclusion)
	}
	if last := d.Policies[len(d.Policies)-1]; last.Name != "repo.no_todo" {
		t.Errorf("repo policies come last: %s", last.Name)
	}

	in.PullRequest.Title = "TODO: fix"
	d, err = e.Evaluate(context.Background(), in, repo)
	if err != nil {
		t.Fatal(err)
	}
	r := result(t, d, "repo.no_todo")
	want := []Violation{
		{Policy: "repo.no_todo", Message: "plain string reason"},
		{Policy: "repo.no_todo", Message: "title says TODO", File: "a.go", Line: 9},
		{Policy: "repo.no_todo", Message: "title says TODO", File: "z.go", Line: 2},
	}
	if r.Verdict != VerdictFail || fmt.Sprint(r.Violations) != fmt.Sprint(want) {
		t.Errorf("got %s %+v\nwant fail %+v", r.Verdict, r.Violations, want)
	}
	if r.Summary != "plain string reason (and 2 more)" {
		t.Errorf("summary = %q", r.Summary)
	}
	if d.Conclusion != "failure" {
		t.Errorf("conclusion = %q", d.Conclusion)
	}
}

func TestEngineRepoPolicyLoadErrors(t *testing.T) {
	t.Parallel()
	e := sharedEngine(t)
	tests := []struct {
		name, src string
		line      int
		contains  string
	}{
		{"syntax error", "package agentgate.repo.broken\n\nviolations contains msg if {\n\tmsg := \"x\"\n\tinput.files[\n}\n", 6, "parse"},
		{"http.send", "package agentgate.repo.phone_home\n\nviolations contains \"x\" if {\n\tr := http.send({\"method\": \"GET\", \"url\": \"https://example.com\"})\n\tr.status_code == 200\n}\n", 4, "http.send"},
		{"opa.runtime", "package agentgate.repo.peek\n\nviolations contains x if {\n\tx := opa.runtime().env.HOME\n}\n", 4, "opa.runtime"},
		{"overrides a default", "package agentgate.policies.size\n\nviolations := set()\n", 1, "agentgate.repo.<name>"},
		{"outside agentgate.repo", "package other\n\nx := 1\n", 1, "agentgate.repo.<name>"},
		{"nested package", "package agentgate.repo.a.b\n\nx := 1\n", 1, "agentgate.repo.<name>"},
		{"strict: unused variable", "package agentgate.repo.sloppy\n\nviolations contains \"x\" if {\n\tunused := 1\n\tinput.agent_authored\n}\n", 4, "unused"},
		{"wrong shape", "package agentgate.repo.shape\n\nviolations(x) := x\n", 1, "shape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := repoDir + strings.ReplaceAll(tt.name, " ", "_") + ".rego"
			d, err := e.Evaluate(context.Background(), agentInput(2), map[string][]byte{file: []byte(tt.src)})
			if err != nil {
				t.Fatal(err)
			}
			if d.Conclusion != "failure" {
				t.Errorf("conclusion = %q, want failure", d.Conclusion)
			}
			if len(d.LoadErrors) == 0 {
				t.Fatalf("no load errors; policies %s", dump(d))
			}
			le := d.LoadErrors[0]
			if le.File != file || le.Line != tt.line || !strings.Contains(le.Message, tt.contains) {
				t.Errorf("load error = %+v, want %s:%d containing %q", le, file, tt.line, tt.contains)
			}
			// The defaults still judge, so the author sees every other verdict.
			if got := verdicts(d); len(got) != 5 || got["size"] != VerdictPass {
				t.Errorf("verdicts = %v, want the five defaults passing", got)
			}
		})
	}
}

func TestEngineEvaluationErrorIsPolicyVerdict(t *testing.T) {
	t.Parallel()
	repo := map[string][]byte{repoDir + "conflict.rego": []byte(`package agentgate.repo.conflict

title := "A" if input.agent_authored

title := "B" if input.pull_request.number > 0
`)}
	d, err := sharedEngine(t).Evaluate(context.Background(), agentInput(2), repo)
	if err != nil {
		t.Fatal(err)
	}
	r := result(t, d, "repo.conflict")
	if r.Verdict != VerdictError || !strings.Contains(r.Summary, "conflict") {
		t.Errorf("got %+v, want verdict error naming the conflict", r)
	}
	if got := verdicts(d); got["size"] != VerdictPass || got["provenance"] != VerdictPass {
		t.Errorf("defaults should still judge: %v", got)
	}
	if d.Conclusion != "failure" {
		t.Errorf("conclusion = %q", d.Conclusion)
	}
}

func TestEngineCache(t *testing.T) {
	t.Parallel()
	e, err := NewEngine(WithCacheSize(2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eval := func(repo map[string][]byte) Decision {
		t.Helper()
		d, err := e.Evaluate(ctx, agentInput(3), repo)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	start := e.CacheStats() // NewEngine compiled the defaults alone
	if start.Misses != 1 {
		t.Fatalf("after NewEngine: %+v", start)
	}
	eval(nil)
	eval(nil)
	if s := e.CacheStats(); s.Misses != 1 || s.Hits != 2 {
		t.Errorf("defaults again: %+v, want no new compilation", s)
	}
	v1 := map[string][]byte{repoDir + "a.rego": []byte("package agentgate.repo.a\n\ntitle := \"A\"\n")}
	d1 := eval(v1)
	d1again := eval(map[string][]byte{repoDir + "a.rego": []byte("package agentgate.repo.a\n\ntitle := \"A\"\n")})
	if s := e.CacheStats(); s.Misses != 2 || s.Hits != 3 {
		t.Errorf("same repo policy twice: %+v, want one compilation", s)
	}
	if d1.PolicyDigest != d1again.PolicyDigest {
		t.Errorf("digest changed: %s, %s", d1.PolicyDigest, d1again.PolicyDigest)
	}
	v2 := map[string][]byte{repoDir + "a.rego": []byte("package agentgate.repo.a\n\ntitle := \"A2\"\n")}
	d2 := eval(v2)
	if s := e.CacheStats(); s.Misses != 3 {
		t.Errorf("changed repo policy: %+v, want one more compilation", s)
	}
	if d2.PolicyDigest == d1.PolicyDigest {
		t.Error("a changed policy kept its digest")
	}
	if result(t, d2, "repo.a").Title != "A2" {
		t.Errorf("stale policy: %+v", d2.Policies)
	}
	// Load errors are cached too.
	bad := map[string][]byte{repoDir + "bad.rego": []byte("package agentgate.repo.bad\n\nx := \n")}
	eval(bad)
	eval(bad)
	if s := e.CacheStats(); s.Misses != 4 || s.Entries != 2 {
		t.Errorf("broken policy twice: %+v, want one compilation, 2 entries (bounded)", s)
	}
}

func TestEngineConcurrent(t *testing.T) {
	t.Parallel()
	e, err := NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	sets := []map[string][]byte{
		nil,
		{repoDir + "a.rego": []byte("package agentgate.repo.a\n\nviolations contains \"no\" if input.pull_request.number == 8\n")},
		{repoDir + "b.rego": []byte("package agentgate.repo.b\n\npending contains \"wait\" if input.pull_request.number == 8\n")},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		wg.Go(func() {
			in := agentInput(10)
			in.PullRequest.Number = 7 + i%2
			set := sets[i%len(sets)]
			d, err := e.Evaluate(context.Background(), in, set)
			if err != nil {
				errs <- err
				return
			}
			want := "success"
			if in.PullRequest.Number == 8 {
				want = []string{"success", "failure", ""}[i%len(sets)]
			}
			if d.Conclusion != want {
				errs <- fmt.Errorf("goroutine %d: conclusion %q, want %q: %s", i, d.Conclusion, want, dump(d))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := e.CacheStats(); s.Misses != 3 {
		t.Errorf("cache: %+v, want each of the 3 sets compiled once", s)
	}
}

func TestEngineCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sharedEngine(t).Evaluate(ctx, agentInput(100), nil); err == nil {
		t.Error("evaluation with a cancelled context succeeded")
	}
}

// The direct conversion must give exactly the document encoding/json gives.
func TestInputValueMatchesJSON(t *testing.T) {
	t.Parallel()
	in := agentInput(3)
	in.Files[0].PreviousPath = "server/old.go"
	in.MergeGroup = &MergeGroup{HeadSHA: "mg1"}
	in.Provenance.Fields["nested"] = map[string]any{"n": 1.5, "list": []any{"a", true, nil}}
	in.Provenance.Errors = nil
	in.Reviews = []Review{{ID: 1 << 40, User: "alice", State: "APPROVED", Teams: nil}}
	for _, in := range []*Input{in, {}} {
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

func TestDigest(t *testing.T) {
	t.Parallel()
	a := Digest(map[string][]byte{"x.rego": []byte("a"), "y.rego": []byte("b")})
	b := Digest(map[string][]byte{"y.rego": []byte("b"), "x.rego": []byte("a")})
	c := Digest(map[string][]byte{"x.rego": []byte("ab"), "y.rego": []byte("")})
	if a != b || a == c {
		t.Errorf("digests: %s %s %s", a, b, c)
	}
}

func dump(d Decision) string {
	b, _ := json.MarshalIndent(d, "", "  ")
	return string(b)
}
