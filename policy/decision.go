package policy

// Verdict is one policy's judgement of a pull request.
type Verdict string

const (
	VerdictPass           Verdict = "pass"
	VerdictFail           Verdict = "fail"
	VerdictPending        Verdict = "pending"         // waiting on something that will happen (a running check)
	VerdictActionRequired Verdict = "action_required" // waiting on a person (an owner's review)
	VerdictSkipped        Verdict = "skipped"         // does not apply (disabled, human PR for an agent-only policy)
	VerdictError          Verdict = "error"           // the policy could not be evaluated: fails closed
)

// Violation is one reason a policy did not pass. File and Line, when set,
// become a check run annotation.
type Violation struct {
	Policy  string `json:"policy"`
	Message string `json:"message"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
}

// PolicyResult is one policy's outcome.
type PolicyResult struct {
	Name       string      `json:"name"`  // e.g. "size", or "repo.my_rule" for a repository's own
	Title      string      `json:"title"` // human name for the summary table
	Verdict    Verdict     `json:"verdict"`
	Summary    string      `json:"summary"` // one line: why
	Violations []Violation `json:"violations,omitempty"`
}

// LoadError is a problem with the policy set itself (a repository's .rego
// file or .github/agentgate.yml): it fails the check, naming file and line.
type LoadError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// Decision is the gate's answer for one pull request head.
type Decision struct {
	// Conclusion is the check run conclusion: success, failure or
	// action_required; empty while a policy is pending (check in_progress).
	Conclusion   string         `json:"conclusion"`
	Policies     []PolicyResult `json:"policies"`
	LoadErrors   []LoadError    `json:"load_errors,omitempty"`
	PolicyDigest string         `json:"policy_digest"` // sha256 of the policy set and config
}

// Conclude derives the check run conclusion from the policy results: any
// load error, error or failure fails; else a person's action is required;
// else anything pending keeps the check in progress; else success. Never
// neutral: required checks treat neutral as passing.
func Conclude(results []PolicyResult, loadErrors []LoadError) string {
	if len(loadErrors) > 0 {
		return "failure"
	}
	var actionRequired, pending bool
	for _, r := range results {
		switch r.Verdict {
		case VerdictFail, VerdictError:
			return "failure"
		case VerdictActionRequired:
			actionRequired = true
		case VerdictPending:
			pending = true
		}
	}
	switch {
	case actionRequired:
		return "action_required"
	case pending:
		return ""
	}
	return "success"
}
