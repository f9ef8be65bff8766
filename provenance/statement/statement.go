package statement

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	testresult "github.com/in-toto/attestation/go/predicates/test_result/v0"
	vsa "github.com/in-toto/attestation/go/predicates/vsa/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Predicate types of the four statements, and our own URIs.
const (
	PredicateProvenance = "https://slsa.dev/provenance/v1"
	PredicateTestResult = "https://in-toto.io/attestation/test-result/v0.1"
	PredicateReview     = "https://agentgate.dev/attestation/review/v1"
	PredicateVSA        = "https://slsa.dev/verification_summary/v1"

	// BuildType is the provenance's buildType: an agent change landed
	// through agentgate. Its parameters are documented in the package doc.
	BuildType = "https://agentgate.dev/attestation/agent-change/v1"

	// GateExtension is the VSA extension field (a URI, as SLSA's parsing
	// rules ask of extension fields) holding the gate's verdict and reasons,
	// which the VSA's own fields cannot say.
	GateExtension = "https://agentgate.dev/attestation/vsa/v1#gate"

	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
)

// Verification results of the VSA.
const (
	ResultPassed = "PASSED"
	ResultFailed = "FAILED"
)

// The ORG_SOURCE_* properties the VSA may list in verifiedLevels. Each is
// listed only when the gate passed and the input shows the fact; agentgate
// claims no SLSA_SOURCE_LEVEL_n (it does not check what those levels
// require of the repository's history and branch protection).
const (
	PropertyPolicyPassed    = "ORG_SOURCE_AGENTGATE_POLICY_PASSED"   // the gate's policies passed on the head commit
	PropertyAgentProvenance = "ORG_SOURCE_AGENTGATE_PROVENANCE"      // agentgate ran the agent and recorded agent, model, task, run and prompt digest
	PropertyPlanApproved    = "ORG_SOURCE_AGENTGATE_PLAN_APPROVED"   // a person approved the plan by its digest
	PropertyHumanReviewed   = "ORG_SOURCE_AGENTGATE_HUMAN_REVIEWED"  // someone other than the requester approved the head commit
	PropertyTestsPassed     = "ORG_SOURCE_AGENTGATE_REQUIRED_CHECKS" // every required check succeeded on the head commit
)

// Statement is one in-toto Statement v1, validated, with the exact bytes to
// sign.
type Statement struct {
	PredicateType string
	// Name tells apart statements of one predicate type about one commit:
	// a test result's check name; "" for the others.
	Name string
	// Payload is the statement as compact JSON: the DSSE payload. The same
	// Input always gives the same bytes.
	Payload   []byte
	Statement *intoto.Statement
}

// SHA256 is the hex sha256 of Payload; the VSA lists the other statements
// by it.
func (s *Statement) SHA256() string {
	sum := sha256.Sum256(s.Payload)
	return hex.EncodeToString(sum[:])
}

// Build makes every statement about the landed commit, in this order:
// the SLSA provenance, one test result per check, the review, and last the
// VSA, whose inputAttestations are the sha256 digests of the others'
// payloads.
func Build(in *Input) ([]*Statement, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	prov, err := provenance(in)
	if err != nil {
		return nil, err
	}
	out := []*Statement{prov}
	for _, c := range in.Checks {
		st, err := testResult(in, c)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	rev, err := review(in)
	if err != nil {
		return nil, err
	}
	out = append(out, rev)
	v, err := verificationSummary(in, out)
	if err != nil {
		return nil, err
	}
	return append(out, v), nil
}

// BuildProvenance builds only the SLSA provenance.
func BuildProvenance(in *Input) (*Statement, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return provenance(in)
}

// BuildTestResults builds only the test results, one per check.
func BuildTestResults(in *Input) ([]*Statement, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out []*Statement
	for _, c := range in.Checks {
		st, err := testResult(in, c)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// BuildReview builds only the review statement.
func BuildReview(in *Input) (*Statement, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return review(in)
}

// BuildVSA builds only the verification summary; inputs are the statements
// it summarises (their payload digests become inputAttestations).
func BuildVSA(in *Input, inputs []*Statement) (*Statement, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return verificationSummary(in, inputs)
}

// Subject is the landed commit as the statements name it:
//
//	{"uri": "https://github.com/o/r/commit/<sha>",
//	 "digest": {"gitCommit": "<sha>", "gitTree": "<tree>"},
//	 "annotations": {"sourceRefs": ["refs/heads/main"]}}
func Subject(in *Input) (*intoto.ResourceDescriptor, error) {
	ann, err := structpb.NewStruct(map[string]any{"sourceRefs": []any{in.Ref}})
	if err != nil {
		return nil, err
	}
	return &intoto.ResourceDescriptor{
		Uri:         in.commitURL(in.Commit),
		Digest:      map[string]string{"gitCommit": in.Commit, "gitTree": in.Tree},
		Annotations: ann,
	}, nil
}

func provenance(in *Input) (*Statement, error) {
	ext := map[string]any{
		"repository":  in.repoURL(),
		"ref":         in.Ref,
		"pullRequest": in.PullRequest,
		"agent":       in.Agent,
		"model":       in.Model,
	}
	if in.Issue > 0 {
		ext["issue"] = in.Issue
	}
	internal := map[string]any{
		"policyDigest":   map[string]any{"sha256": in.PolicyDigest},
		"installationId": strconv.FormatInt(in.InstallationID, 10),
		"taskId":         in.TaskID,
	}
	for k, v := range map[string]string{"agentVersion": in.AgentVersion, "runner": in.Runner, "involvement": in.Involvement, "factsFrom": in.FactsFrom} {
		if v != "" {
			internal[k] = v
		}
	}
	extS, err := structpb.NewStruct(ext)
	if err != nil {
		return nil, fmt.Errorf("provenance external parameters: %w", err)
	}
	intS, err := structpb.NewStruct(internal)
	if err != nil {
		return nil, fmt.Errorf("provenance internal parameters: %w", err)
	}

	deps := []*intoto.ResourceDescriptor{
		{Name: "base", Uri: in.gitURI(in.BaseSHA), Digest: map[string]string{"gitCommit": in.BaseSHA}},
		{Name: "head", Uri: in.gitURI(fmt.Sprintf("refs/pull/%d/head", in.PullRequest)), Digest: map[string]string{"gitCommit": in.HeadSHA}},
	}
	if in.IssueTextSHA256 != "" {
		d := &intoto.ResourceDescriptor{Name: "issue", Digest: map[string]string{"sha256": in.IssueTextSHA256}}
		if in.Issue > 0 {
			d.Uri = fmt.Sprintf("%s/issues/%d", in.repoURL(), in.Issue)
		}
		deps = append(deps, d)
	}
	if in.PromptSHA256 != "" {
		deps = append(deps, &intoto.ResourceDescriptor{Name: "prompt", Digest: map[string]string{"sha256": in.PromptSHA256}})
	}
	if in.Plan.ID != "" {
		ann, err := structpb.NewStruct(map[string]any{"id": in.Plan.ID})
		if err != nil {
			return nil, err
		}
		deps = append(deps, &intoto.ResourceDescriptor{Name: "plan", Digest: map[string]string{"sha256": in.Plan.SHA256}, Annotations: ann})
	}
	for _, p := range in.PolicyFiles {
		deps = append(deps, &intoto.ResourceDescriptor{Name: "policy/" + p.Path, Digest: map[string]string{"sha256": p.SHA256}})
	}

	builder := &slsa.Builder{Id: in.BuilderID}
	if in.AgentgateVersion != "" {
		builder.Version = map[string]string{"agentgate": in.AgentgateVersion}
	}
	pred := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            BuildType,
			ExternalParameters:   extS,
			InternalParameters:   intS,
			ResolvedDependencies: deps,
		},
		RunDetails: &slsa.RunDetails{
			Builder: builder,
			Metadata: &slsa.BuildMetadata{
				InvocationId: in.RunID,
				StartedOn:    timestamppb.New(in.StartedOn),
				FinishedOn:   timestamppb.New(in.FinishedOn),
			},
		},
	}
	if err := pred.Validate(); err != nil {
		return nil, fmt.Errorf("provenance predicate: %w", err)
	}
	subject, err := Subject(in)
	if err != nil {
		return nil, err
	}
	return newStatement(PredicateProvenance, []*intoto.ResourceDescriptor{subject}, pred)
}

// testResults maps GitHub's check conclusions to the test-result
// predicate's results. A conclusion that is not a success never maps to
// PASSED.
var testResults = map[string]string{
	"success":         "PASSED",
	"neutral":         "WARNED",
	"skipped":         "WARNED",
	"failure":         "FAILED",
	"cancelled":       "FAILED",
	"timed_out":       "FAILED",
	"action_required": "FAILED",
	"stale":           "FAILED",
	"startup_failure": "FAILED",
}

func testResult(in *Input, c Check) (*Statement, error) {
	result := testResults[c.Conclusion]
	config := &intoto.ResourceDescriptor{Name: c.Name}
	if c.App != "" {
		ann, err := structpb.NewStruct(map[string]any{"app": c.App, "conclusion": c.Conclusion})
		if err != nil {
			return nil, err
		}
		config.Annotations = ann
	} else {
		ann, err := structpb.NewStruct(map[string]any{"conclusion": c.Conclusion})
		if err != nil {
			return nil, err
		}
		config.Annotations = ann
	}
	pred := &testresult.TestResult{
		Result:        result,
		Configuration: []*intoto.ResourceDescriptor{config},
		Url:           c.URL,
	}
	switch result {
	case "PASSED":
		pred.PassedTests = []string{c.Name}
	case "WARNED":
		pred.WarnedTests = []string{c.Name}
	default:
		pred.FailedTests = []string{c.Name}
	}
	if err := validateTestResult(pred); err != nil {
		return nil, fmt.Errorf("test result %q: %w", c.Name, err)
	}
	subject, err := Subject(in)
	if err != nil {
		return nil, err
	}
	subjects := []*intoto.ResourceDescriptor{subject}
	if in.HeadSHA != in.Commit {
		subjects = append(subjects, &intoto.ResourceDescriptor{
			Uri:    in.commitURL(in.HeadSHA),
			Digest: map[string]string{"gitCommit": in.HeadSHA},
		})
	}
	st, err := newStatement(PredicateTestResult, subjects, pred)
	if err != nil {
		return nil, err
	}
	st.Name = c.Name
	return st, nil
}

func validateTestResult(p *testresult.TestResult) error {
	switch p.GetResult() {
	case "PASSED", "WARNED", "FAILED":
	default:
		return fmt.Errorf("result %q is not PASSED, WARNED or FAILED", p.GetResult())
	}
	if len(p.GetConfiguration()) == 0 {
		return errors.New("configuration required")
	}
	for i, rd := range p.GetConfiguration() {
		if err := rd.Validate(); err != nil {
			return fmt.Errorf("configuration[%d]: %w", i, err)
		}
	}
	return nil
}

// ReviewPredicate is the review statement's predicate
// (https://agentgate.dev/attestation/review/v1): who asked for the change,
// who approved which commit, who approved the plan, and the revisions.
type ReviewPredicate struct {
	Repository  string           `json:"repository"`
	PullRequest int              `json:"pullRequest"`
	Requester   string           `json:"requester"`
	Approvers   []ReviewApprover `json:"approvers"`
	Plan        *ReviewPlan      `json:"plan,omitempty"`
	Revisions   []ReviewRevision `json:"revisions"`
}

// ReviewApprover is one approving review.
type ReviewApprover struct {
	Login    string `json:"login"`
	ReviewID string `json:"reviewId"`
	// Commit is the commit the reviewer approved; HeadCommit says whether
	// it is the pull request's final head commit.
	Commit      string `json:"commit"`
	HeadCommit  bool   `json:"headCommit"`
	SubmittedAt string `json:"submittedAt,omitempty"`
	// Requester is true when the approver asked for the change: such an
	// approval does not count as the human review of an agent change.
	Requester bool `json:"requester"`
}

// ReviewPlan is the approved plan.
type ReviewPlan struct {
	ID         string `json:"id"`
	SHA256     string `json:"sha256"`
	ApprovedBy string `json:"approvedBy,omitempty"`
	ApprovedAt string `json:"approvedAt,omitempty"`
}

// ReviewRevision is one revision run.
type ReviewRevision struct {
	RunID       string `json:"runId"`
	RequestedBy string `json:"requestedBy,omitempty"`
	HeadCommit  string `json:"headCommit,omitempty"`
	At          string `json:"at,omitempty"`
}

const stateApproved = "APPROVED"

func review(in *Input) (*Statement, error) {
	p := ReviewPredicate{
		Repository:  in.Repository,
		PullRequest: in.PullRequest,
		Requester:   in.Requester,
		Approvers:   []ReviewApprover{},
		Revisions:   []ReviewRevision{},
	}
	for _, r := range in.Reviews {
		if r.State != stateApproved {
			continue
		}
		p.Approvers = append(p.Approvers, ReviewApprover{
			Login:       r.User,
			ReviewID:    strconv.FormatInt(r.ID, 10),
			Commit:      r.CommitID,
			HeadCommit:  r.CommitID == in.HeadSHA,
			SubmittedAt: rfc3339(r.SubmittedAt),
			Requester:   equalFoldLogin(r.User, in.Requester),
		})
	}
	if in.Plan.ID != "" {
		p.Plan = &ReviewPlan{ID: in.Plan.ID, SHA256: in.Plan.SHA256, ApprovedBy: in.Plan.ApprovedBy, ApprovedAt: rfc3339(in.Plan.ApprovedAt)}
	}
	for _, r := range in.Revisions {
		p.Revisions = append(p.Revisions, ReviewRevision{RunID: r.RunID, RequestedBy: r.RequestedBy, HeadCommit: r.HeadSHA, At: rfc3339(r.At)})
	}
	if p.Requester == "" {
		return nil, errors.New("review predicate: requester required")
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("review predicate: %w", err)
	}
	pred := new(structpb.Struct)
	if err := protojson.Unmarshal(raw, pred); err != nil {
		return nil, fmt.Errorf("review predicate: %w", err)
	}
	subject, err := Subject(in)
	if err != nil {
		return nil, err
	}
	return newStatement(PredicateReview, []*intoto.ResourceDescriptor{subject}, pred)
}

func verificationSummary(in *Input, inputs []*Statement) (*Statement, error) {
	result := ResultFailed
	var levels []string
	if in.Gate.Passed {
		result = ResultPassed
		levels = verifiedLevels(in)
	}
	pred := &vsa.VerificationSummary{
		Verifier:           &vsa.VerificationSummary_Verifier{Id: in.BuilderID},
		TimeVerified:       timestamppb.New(in.evaluatedAt()),
		ResourceUri:        in.gitURI(""),
		Policy:             &vsa.VerificationSummary_Policy{Uri: in.PolicyURI, Digest: map[string]string{"sha256": in.PolicyDigest}},
		VerificationResult: result,
		VerifiedLevels:     levels,
	}
	for _, st := range inputs {
		pred.InputAttestations = append(pred.InputAttestations, &vsa.VerificationSummary_InputAttestation{
			Digest: map[string]string{"sha256": st.SHA256()},
		})
	}
	if err := validateVSA(pred); err != nil {
		return nil, fmt.Errorf("verification summary: %w", err)
	}
	predS, err := toStruct(pred)
	if err != nil {
		return nil, fmt.Errorf("verification summary: %w", err)
	}
	reasons := make([]any, 0, len(in.Gate.Reasons))
	for _, r := range in.Gate.Reasons {
		reasons = append(reasons, r)
	}
	verdict := "failure"
	if in.Gate.Passed {
		verdict = "success"
	}
	ext := map[string]any{"verdict": verdict, "reasons": reasons}
	if in.FactsFrom != "" {
		ext["factsFrom"] = in.FactsFrom
	}
	gate, err := structpb.NewValue(ext)
	if err != nil {
		return nil, err
	}
	predS.Fields[GateExtension] = gate
	subject, err := Subject(in)
	if err != nil {
		return nil, err
	}
	return newStatement(PredicateVSA, []*intoto.ResourceDescriptor{subject}, predS)
}

// verifiedLevels lists the ORG_SOURCE_* properties the input shows.
func verifiedLevels(in *Input) []string {
	var levels []string
	if in.Gate.Passed {
		levels = append(levels, PropertyPolicyPassed)
	}
	// Only agentgate's own records count as recorded provenance: a pull
	// request's block says whatever its writer typed.
	if in.PromptSHA256 != "" && in.FactsFrom != FactsFromPullRequest {
		levels = append(levels, PropertyAgentProvenance)
	}
	if in.Plan.ID != "" && in.Plan.ApprovedBy != "" {
		levels = append(levels, PropertyPlanApproved)
	}
	for _, r := range in.Reviews {
		if r.State == stateApproved && r.CommitID == in.HeadSHA && !equalFoldLogin(r.User, in.Requester) {
			levels = append(levels, PropertyHumanReviewed)
			break
		}
	}
	if len(in.Checks) > 0 && len(in.ChecksMissing) == 0 {
		passed := true
		for _, c := range in.Checks {
			passed = passed && c.Conclusion == "success"
		}
		if passed {
			levels = append(levels, PropertyTestsPassed)
		}
	}
	return levels
}

func validateVSA(p *vsa.VerificationSummary) error {
	if p.GetVerifier().GetId() == "" {
		return errors.New("verifier.id required")
	}
	if err := p.GetTimeVerified().CheckValid(); err != nil {
		return fmt.Errorf("timeVerified: %w", err)
	}
	if p.GetResourceUri() == "" {
		return errors.New("resourceUri required")
	}
	if p.GetPolicy().GetUri() == "" && len(p.GetPolicy().GetDigest()) == 0 {
		return errors.New("policy required")
	}
	switch p.GetVerificationResult() {
	case ResultPassed:
	case ResultFailed:
		if len(p.GetVerifiedLevels()) > 0 {
			return errors.New("a FAILED summary lists no verified levels")
		}
	default:
		return fmt.Errorf("verificationResult %q is not PASSED or FAILED", p.GetVerificationResult())
	}
	for _, l := range p.GetVerifiedLevels() {
		if !strings.HasPrefix(l, "ORG_SOURCE_") {
			return fmt.Errorf("verified level %q is not an ORG_SOURCE_ property", l)
		}
	}
	for i, a := range p.GetInputAttestations() {
		rd := &intoto.ResourceDescriptor{Uri: a.GetUri(), Digest: a.GetDigest()}
		if err := rd.Validate(); err != nil {
			return fmt.Errorf("inputAttestations[%d]: %w", i, err)
		}
	}
	return nil
}

func newStatement(predicateType string, subjects []*intoto.ResourceDescriptor, predicate proto.Message) (*Statement, error) {
	predS, ok := predicate.(*structpb.Struct)
	if !ok {
		var err error
		if predS, err = toStruct(predicate); err != nil {
			return nil, fmt.Errorf("%s predicate: %w", predicateType, err)
		}
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       subjects,
		PredicateType: predicateType,
		Predicate:     predS,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%s statement: %w", predicateType, err)
	}
	payload, err := Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("%s statement: %w", predicateType, err)
	}
	return &Statement{PredicateType: predicateType, Payload: payload, Statement: st}, nil
}

// Marshal renders a statement as compact JSON. protojson sorts map keys
// (digests, annotations, struct fields) and keeps proto field order
// (_type, subject, predicateType, predicate); compacting removes the
// whitespace protojson varies on purpose, so the bytes are stable.
func Marshal(st *intoto.Statement) ([]byte, error) {
	raw, err := protojson.Marshal(st)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func toStruct(m proto.Message) (*structpb.Struct, error) {
	raw, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	s := new(structpb.Struct)
	if err := protojson.Unmarshal(raw, s); err != nil {
		return nil, err
	}
	return s, nil
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// equalFoldLogin compares GitHub logins, which are case-insensitive.
func equalFoldLogin(a, b string) bool { return strings.EqualFold(a, b) }
