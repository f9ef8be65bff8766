package statement_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	testresult "github.com/in-toto/attestation/go/predicates/test_result/v0"
	vsa "github.com/in-toto/attestation/go/predicates/vsa/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/agentgate/agentgate/provenance/statement"
)

var update = flag.Bool("update", false, "rewrite testdata/statements.golden.jsonl from Build's output")

// The statements for the example input, one JSON line each, are exactly
// the golden file: any change to what agentgate attests shows in review.
func TestBuildGolden(t *testing.T) {
	sts, err := statement.Build(input())
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for _, st := range sts {
		got.Write(st.Payload)
		got.WriteByte('\n')
	}
	path := filepath.Join("testdata", "statements.golden.jsonl")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("statements differ from %s (run with -update if the change is intended):\n%s", path, got.String())
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	a, err := statement.Build(input())
	if err != nil {
		t.Fatal(err)
	}
	b, err := statement.Build(input())
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if !bytes.Equal(a[i].Payload, b[i].Payload) {
			t.Errorf("statement %d differs between two builds", i)
		}
	}
}

// The subject is exactly DESIGN.md §5's, in every statement.
func TestSubjectShape(t *testing.T) {
	want := `{"uri":"https://github.com/o/r/commit/` + landed + `","digest":{"gitCommit":"` + landed + `","gitTree":"` + tree + `"},"annotations":{"sourceRefs":["refs/heads/main"]}}`
	sts, err := statement.Build(input())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		var s struct {
			Type    string            `json:"_type"`
			Subject []json.RawMessage `json:"subject"`
		}
		if err := json.Unmarshal(st.Payload, &s); err != nil {
			t.Fatal(err)
		}
		if s.Type != "https://in-toto.io/Statement/v1" {
			t.Errorf("%s: _type %q", st.PredicateType, s.Type)
		}
		if len(s.Subject) == 0 || string(s.Subject[0]) != want {
			t.Errorf("%s: first subject\n%s\nwant\n%s", st.PredicateType, s.Subject[0], want)
		}
	}
}

// Each statement parses back into the in-toto types, strictly, and its
// predicate validates (the VSA's extension field aside).
func TestStatementsParseIntoInTotoTypes(t *testing.T) {
	sts, err := statement.Build(input())
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, st := range sts {
		types = append(types, st.PredicateType)
		var s intoto.Statement
		if err := protojson.Unmarshal(st.Payload, &s); err != nil {
			t.Fatalf("%s: %v", st.PredicateType, err)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", st.PredicateType, err)
		}
		pred, err := protojson.Marshal(s.GetPredicate())
		if err != nil {
			t.Fatal(err)
		}
		switch st.PredicateType {
		case statement.PredicateProvenance:
			var p slsa.Provenance
			if err := protojson.Unmarshal(pred, &p); err != nil {
				t.Fatalf("provenance: %v", err)
			}
			if err := p.Validate(); err != nil {
				t.Errorf("provenance: %v", err)
			}
			bd := p.GetBuildDefinition()
			if bd.GetBuildType() != statement.BuildType || p.GetRunDetails().GetBuilder().GetId() != "https://agentgate.example.com" ||
				p.GetRunDetails().GetMetadata().GetInvocationId() != "run-3" {
				t.Errorf("provenance: %v", &p)
			}
			ext := bd.GetExternalParameters().AsMap()
			if len(ext) != 6 || ext["repository"] != "https://github.com/o/r" || ext["ref"] != "refs/heads/main" ||
				ext["pullRequest"] != 7.0 || ext["issue"] != 12.0 || ext["agent"] != "claude-code" || ext["model"] != "claude-sonnet-4.5" {
				t.Errorf("externalParameters %v", ext)
			}
			var names []string
			for _, d := range bd.GetResolvedDependencies() {
				names = append(names, d.GetName())
			}
			if !slices.Equal(names, []string{"base", "head", "issue", "prompt", "plan", "policy/rego/size.rego"}) {
				t.Errorf("resolvedDependencies %v", names)
			}
		case statement.PredicateTestResult:
			var p testresult.TestResult
			if err := protojson.Unmarshal(pred, &p); err != nil {
				t.Fatalf("test result: %v", err)
			}
			if len(s.GetSubject()) != 2 || s.GetSubject()[1].GetDigest()["gitCommit"] != head {
				t.Errorf("test result subjects %v, want the landed and the head commit", s.GetSubject())
			}
		case statement.PredicateVSA:
			var p vsa.VerificationSummary
			if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(pred, &p); err != nil {
				t.Fatalf("vsa: %v", err)
			}
			if p.GetVerificationResult() != "PASSED" || p.GetResourceUri() != "git+https://github.com/o/r" || p.GetVerifier().GetId() != "https://agentgate.example.com" ||
				p.GetPolicy().GetDigest()["sha256"] != sha3 {
				t.Errorf("vsa %v", &p)
			}
			for _, l := range p.GetVerifiedLevels() {
				if strings.HasPrefix(l, "SLSA_") {
					t.Errorf("vsa claims %s", l)
				}
			}
		}
	}
	want := []string{statement.PredicateProvenance, statement.PredicateTestResult, statement.PredicateTestResult, statement.PredicateReview, statement.PredicateVSA}
	if !slices.Equal(types, want) {
		t.Errorf("statements %v, want %v", types, want)
	}
	var names []string
	for _, st := range sts {
		names = append(names, st.Name)
	}
	if !slices.Equal(names, []string{"", "test", "lint", "", ""}) {
		t.Errorf("statement names %q: want the check name on each test result only", names)
	}
}

func vsaPredicate(t *testing.T, st *statement.Statement) map[string]any {
	t.Helper()
	var s struct {
		PredicateType string         `json:"predicateType"`
		Predicate     map[string]any `json:"predicate"`
	}
	if err := json.Unmarshal(st.Payload, &s); err != nil || s.PredicateType != statement.PredicateVSA {
		t.Fatalf("not a VSA: %v %s", err, st.Payload)
	}
	return s.Predicate
}

func TestVSAListsTheOtherStatementsByDigest(t *testing.T) {
	sts, err := statement.Build(input())
	if err != nil {
		t.Fatal(err)
	}
	p := vsaPredicate(t, sts[len(sts)-1])
	var got []string
	for _, a := range p["inputAttestations"].([]any) {
		got = append(got, a.(map[string]any)["digest"].(map[string]any)["sha256"].(string))
	}
	var want []string
	for _, st := range sts[:len(sts)-1] {
		sum := sha256.Sum256(st.Payload)
		want = append(want, hex.EncodeToString(sum[:]))
	}
	if !slices.Equal(got, want) {
		t.Errorf("inputAttestations %v, want the payload digests %v", got, want)
	}
}

func levels(p map[string]any) []string {
	var out []string
	if l, ok := p["verifiedLevels"].([]any); ok {
		for _, v := range l {
			out = append(out, v.(string))
		}
	}
	return out
}

func TestVSAVerdict(t *testing.T) {
	t.Run("passed", func(t *testing.T) {
		in := input()
		in.Checks[1].Conclusion = "success"
		sts, err := statement.Build(in)
		if err != nil {
			t.Fatal(err)
		}
		p := vsaPredicate(t, sts[len(sts)-1])
		want := []string{statement.PropertyPolicyPassed, statement.PropertyAgentProvenance, statement.PropertyPlanApproved, statement.PropertyHumanReviewed, statement.PropertyTestsPassed}
		if p["verificationResult"] != "PASSED" || !slices.Equal(levels(p), want) {
			t.Errorf("result %v levels %v, want PASSED %v", p["verificationResult"], levels(p), want)
		}
	})
	t.Run("facts from the pull request: no provenance property, and the VSA says so", func(t *testing.T) {
		in := input()
		in.Checks[1].Conclusion = "success"
		in.FactsFrom = statement.FactsFromPullRequest
		sts, err := statement.Build(in)
		if err != nil {
			t.Fatal(err)
		}
		vsa := sts[len(sts)-1]
		if slices.Contains(levels(vsaPredicate(t, vsa)), statement.PropertyAgentProvenance) {
			t.Errorf("VSA claims %s on a pull request's own word", statement.PropertyAgentProvenance)
		}
		if !strings.Contains(string(vsa.Payload), `"factsFrom":"pull-request"`) {
			t.Errorf("VSA does not say whose word the agent facts are:\n%s", vsa.Payload)
		}
	})
	t.Run("a required check missing: no tests property", func(t *testing.T) {
		in := input()
		in.Checks[1].Conclusion = "success"
		in.ChecksMissing = []string{"e2e"}
		sts, err := statement.Build(in)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(levels(vsaPredicate(t, sts[len(sts)-1])), statement.PropertyTestsPassed) {
			t.Errorf("VSA claims %s with a required check that never finished", statement.PropertyTestsPassed)
		}
	})
	t.Run("no prompt digest: no provenance property, no prompt dependency", func(t *testing.T) {
		in := input()
		in.Checks[1].Conclusion = "success"
		in.PromptSHA256 = ""
		sts, err := statement.Build(in)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(levels(vsaPredicate(t, sts[len(sts)-1])), statement.PropertyAgentProvenance) {
			t.Errorf("VSA claims %s without a prompt digest", statement.PropertyAgentProvenance)
		}
		if strings.Contains(string(sts[0].Payload), `"name":"prompt"`) {
			t.Errorf("provenance lists a prompt dependency without a digest: %s", sts[0].Payload)
		}
	})
	t.Run("failed gate: FAILED, why, no levels", func(t *testing.T) {
		in := input()
		in.Gate.Passed = false
		in.Gate.Reasons = []string{"size: 1200 lines changed, limit 400", "test-evidence: check test failed"}
		sts, err := statement.Build(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(sts) != 5 {
			t.Fatalf("%d statements: a failed gate still gets every statement", len(sts))
		}
		p := vsaPredicate(t, sts[len(sts)-1])
		if p["verificationResult"] != "FAILED" || len(levels(p)) != 0 {
			t.Errorf("result %v levels %v", p["verificationResult"], levels(p))
		}
		gate, _ := p[statement.GateExtension].(map[string]any)
		reasons, _ := gate["reasons"].([]any)
		if gate["verdict"] != "failure" || len(reasons) != 2 || reasons[0] != in.Gate.Reasons[0] {
			t.Errorf("gate extension %v", gate)
		}
	})
	t.Run("requester's own approval is not a human review", func(t *testing.T) {
		in := input()
		in.Reviews = []statement.Review{{ID: 1, User: "Alice", State: "APPROVED", CommitID: head}}
		sts, _ := statement.Build(in)
		if slices.Contains(levels(vsaPredicate(t, sts[len(sts)-1])), statement.PropertyHumanReviewed) {
			t.Error("HUMAN_REVIEWED from the requester's approval")
		}
	})
	t.Run("approval of an older commit is not a review of the head", func(t *testing.T) {
		in := input()
		in.Reviews = []statement.Review{{ID: 1, User: "bob", State: "APPROVED", CommitID: base}}
		sts, _ := statement.Build(in)
		if slices.Contains(levels(vsaPredicate(t, sts[len(sts)-1])), statement.PropertyHumanReviewed) {
			t.Error("HUMAN_REVIEWED from an approval of another commit")
		}
	})
	t.Run("no plan", func(t *testing.T) {
		in := input()
		in.Plan = statement.Plan{}
		sts, err := statement.Build(in)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(levels(vsaPredicate(t, sts[len(sts)-1])), statement.PropertyPlanApproved) {
			t.Error("PLAN_APPROVED without a plan")
		}
	})
}

func TestTestResultPerConclusion(t *testing.T) {
	for conclusion, want := range map[string]string{
		"success": "PASSED", "neutral": "WARNED", "skipped": "WARNED", "failure": "FAILED",
		"cancelled": "FAILED", "timed_out": "FAILED", "action_required": "FAILED", "stale": "FAILED",
	} {
		in := input()
		in.Checks = []statement.Check{{Name: "test", Conclusion: conclusion}}
		sts, err := statement.BuildTestResults(in)
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Predicate map[string]any `json:"predicate"`
		}
		json.Unmarshal(sts[0].Payload, &s)
		if s.Predicate["result"] != want {
			t.Errorf("%s: result %v, want %s", conclusion, s.Predicate["result"], want)
		}
		field := map[string]string{"PASSED": "passedTests", "WARNED": "warnedTests", "FAILED": "failedTests"}[want]
		if l, _ := s.Predicate[field].([]any); len(l) != 1 || l[0] != "test" {
			t.Errorf("%s: %s = %v", conclusion, field, s.Predicate[field])
		}
	}
	// Landed commit == head commit (a fast-forward): one subject.
	in := input()
	in.HeadSHA = landed
	sts, err := statement.BuildTestResults(in)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sts[0].Statement.GetSubject()); n != 1 {
		t.Errorf("%d subjects when head is the landed commit", n)
	}
}

func TestReviewPredicate(t *testing.T) {
	st, err := statement.BuildReview(input())
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		PredicateType string                    `json:"predicateType"`
		Predicate     statement.ReviewPredicate `json:"predicate"`
	}
	if err := json.Unmarshal(st.Payload, &s); err != nil {
		t.Fatal(err)
	}
	p := s.Predicate
	if s.PredicateType != "https://agentgate.dev/attestation/review/v1" || p.Requester != "alice" || p.PullRequest != 7 {
		t.Errorf("review %+v", s)
	}
	if len(p.Approvers) != 1 || p.Approvers[0] != (statement.ReviewApprover{Login: "bob", ReviewID: "3000000002", Commit: head, HeadCommit: true, SubmittedAt: "2026-03-01T10:55:00Z"}) {
		t.Errorf("approvers %+v (only APPROVED reviews, with id and commit)", p.Approvers)
	}
	if p.Plan == nil || p.Plan.ID != "p-3f2a" || p.Plan.ApprovedBy != "bob" || p.Plan.SHA256 != sha {
		t.Errorf("plan %+v", p.Plan)
	}
	if len(p.Revisions) != 1 || p.Revisions[0].RunID != "run-2" || p.Revisions[0].RequestedBy != "bob" {
		t.Errorf("revisions %+v", p.Revisions)
	}
}

func TestInputValidation(t *testing.T) {
	cases := map[string]func(in *statement.Input){
		"short commit":           func(in *statement.Input) { in.Commit = landed[:7] },
		"upper-case commit":      func(in *statement.Input) { in.Commit = strings.ToUpper(landed) },
		"no tree":                func(in *statement.Input) { in.Tree = "" },
		"branch name as ref":     func(in *statement.Input) { in.Ref = "main" },
		"repo without owner":     func(in *statement.Input) { in.Repository = "r" },
		"no pull request":        func(in *statement.Input) { in.PullRequest = 0 },
		"no model":               func(in *statement.Input) { in.Model = " " },
		"no requester":           func(in *statement.Input) { in.Requester = "" },
		"bad prompt digest":      func(in *statement.Input) { in.PromptSHA256 = "abc" },
		"unknown facts source":   func(in *statement.Input) { in.FactsFrom = "the PR said so" },
		"plan without id":        func(in *statement.Input) { in.Plan.ID = "" },
		"bad plan digest":        func(in *statement.Input) { in.Plan.SHA256 = landed },
		"no policy digest":       func(in *statement.Input) { in.PolicyDigest = "" },
		"relative builder id":    func(in *statement.Input) { in.BuilderID = "agentgate" },
		"no installation":        func(in *statement.Input) { in.InstallationID = 0 },
		"no times":               func(in *statement.Input) { in.StartedOn = time.Time{} },
		"finished before start":  func(in *statement.Input) { in.FinishedOn = in.StartedOn.Add(-1) },
		"duplicate check":        func(in *statement.Input) { in.Checks = append(in.Checks, in.Checks[0]) },
		"unknown conclusion":     func(in *statement.Input) { in.Checks[0].Conclusion = "passed" },
		"approval without sha":   func(in *statement.Input) { in.Reviews[1].CommitID = "" },
		"review without id":      func(in *statement.Input) { in.Reviews[0].ID = 0 },
		"revision without run":   func(in *statement.Input) { in.Revisions[0].RunID = "" },
		"bad policy file digest": func(in *statement.Input) { in.PolicyFiles[0].SHA256 = "x" },
		"server URL not http":    func(in *statement.Input) { in.ServerURL = "ftp://github.example" },
	}
	for name, breakIt := range cases {
		in := input()
		breakIt(in)
		if _, err := statement.Build(in); !errors.Is(err, statement.ErrInput) {
			t.Errorf("%s: %v, want ErrInput", name, err)
		}
	}
	if err := input().Validate(); err != nil {
		t.Errorf("the example input: %v", err)
	}
}

func TestServerURL(t *testing.T) {
	in := input()
	in.ServerURL = "https://github.example.com/"
	st, err := statement.BuildProvenance(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Statement.GetSubject()[0].GetUri(); got != "https://github.example.com/o/r/commit/"+landed {
		t.Errorf("subject uri %s", got)
	}
}
