package policy

// Input is the document every Rego policy sees as `input` (DESIGN.md §3).
// Field names are the JSON (and so Rego) names; changing one is a breaking
// change for repositories' own policies.
type Input struct {
	Repository    Repository  `json:"repository"`
	PullRequest   PullRequest `json:"pull_request"`
	Files         []File      `json:"files"`
	Commits       []Commit    `json:"commits"`
	Provenance    Provenance  `json:"provenance"`
	AgentAuthored bool        `json:"agent_authored"`
	AgentReasons  []string    `json:"agent_authored_because"` // why it counts as agent-authored
	Task          *Task       `json:"task,omitempty"`
	Checks        []Check     `json:"checks"`
	Reviews       []Review    `json:"reviews"`
	Config        Config      `json:"config"`
	Limits        InputLimits `json:"limits"`
	MergeGroup    *MergeGroup `json:"merge_group,omitempty"`
	Requester     *Person     `json:"requester,omitempty"` // who asked the agent (task or provenance trigger)
	Derived       *Derived    `json:"derived,omitempty"`   // facts computed from files and config (see Derived)
}

// Repository is the repository the pull request targets.
type Repository struct {
	FullName      string `json:"full_name"`
	DefaultBranch string `json:"default_branch"`
	Private       bool   `json:"private"`
}

// PullRequest is the pull request under evaluation.
type PullRequest struct {
	Number       int      `json:"number"`
	Title        string   `json:"title"`
	Body         string   `json:"body"`
	Draft        bool     `json:"draft"`
	Author       Person   `json:"author"`
	Base         Ref      `json:"base"`
	Head         Ref      `json:"head"`
	Labels       []string `json:"labels"`
	Additions    int      `json:"additions"`
	Deletions    int      `json:"deletions"`
	ChangedFiles int      `json:"changed_files"`
}

// Person is a GitHub account.
type Person struct {
	Login string `json:"login"`
	Type  string `json:"type"` // User or Bot
}

// Ref is a branch and the commit it pointed at.
type Ref struct {
	Ref string `json:"ref"`
	SHA string `json:"sha"`
}

// File is one changed file of the pull request.
type File struct {
	Path         string `json:"path"`
	PreviousPath string `json:"previous_path,omitempty"` // for renames
	Status       string `json:"status"`                  // added, removed, modified, renamed, copied, changed, unchanged
	Additions    int    `json:"additions"`
	Deletions    int    `json:"deletions"`
	// FirstLine is the first changed line on the new side (0 if unknown),
	// so violations about a file can be annotated where the change is.
	FirstLine int `json:"first_line,omitempty"`
}

// Commit is one commit of the pull request.
type Commit struct {
	SHA      string            `json:"sha"`
	Message  string            `json:"message"`
	Author   string            `json:"author"`
	Trailers map[string]string `json:"trailers"`
}

// Provenance is what the provenance block and Agent-* trailers said.
type Provenance struct {
	Present bool              `json:"present"`
	Version string            `json:"version,omitempty"`
	Fields  map[string]any    `json:"fields"`
	Errors  []ProvenanceError `json:"errors"`
}

// ProvenanceError is a precise complaint about the provenance block.
type ProvenanceError struct {
	Field   string `json:"field,omitempty"`
	Line    int    `json:"line,omitempty"` // line in the PR body
	Message string `json:"message"`
}

// Task is the agentgate task behind the pull request, when there is one.
type Task struct {
	ID        string `json:"id"`
	Requester string `json:"requester,omitempty"` // who labelled or commanded, from agentgate's store
	Plan      *Plan  `json:"plan,omitempty"`
}

// Plan is the plan a human approved.
type Plan struct {
	ID         string   `json:"id"`
	SHA256     string   `json:"sha256"`
	ApprovedBy string   `json:"approved_by"`
	Paths      []string `json:"paths"`
	Acceptance []string `json:"acceptance"`
}

// Check is a check run or commit status on the head SHA.
type Check struct {
	Name       string `json:"name"`
	Status     string `json:"status"`     // queued, in_progress, completed
	Conclusion string `json:"conclusion"` // success, failure, neutral, cancelled, skipped, timed_out, action_required, stale; "" until completed
	App        string `json:"app"`        // app slug, or "status" for commit statuses
	Kind       string `json:"kind"`       // check_run or status
}

// Review is the latest review of each reviewer.
type Review struct {
	ID         int64    `json:"id"`
	User       string   `json:"user"`
	State      string   `json:"state"` // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
	CommitID   string   `json:"commit_id"`
	Permission string   `json:"permission"`      // admin, maintain, write, triage, read, none
	Teams      []string `json:"teams,omitempty"` // org/team slugs the reviewer belongs to, when asked
}

// MergeGroup is set when the evaluation is for a merge queue group.
type MergeGroup struct {
	HeadSHA string `json:"head_sha"`
	HeadRef string `json:"head_ref"`
	BaseSHA string `json:"base_sha"`
}

// InputLimits records what could not be listed completely, so policies
// (and the engine) fail closed instead of judging half a pull request.
type InputLimits struct {
	FilesTruncated bool `json:"files_truncated"`
	FilesListed    int  `json:"files_listed"`
}

// Derived holds facts agentgate computes in Go from Files, Config and Task
// (the configuration read from the base branch, never from the pull
// request; the plan from the task a person approved), so the default
// policies read one number or the few offending paths instead of matching
// every file against every glob in Rego. The engine computes it on every
// evaluation (a value the caller set is replaced), with the glob semantics
// of agentgate.lib.glob_of; a fact is absent when a glob falls outside the
// syntax both sides are known to read alike (character classes,
// backslashes, "**" inside braces and the like), and then the policies
// compute it from input.files themselves, as they do for an input written
// by hand without derived. Paths are sorted and distinct.
type Derived struct {
	Size           *DerivedSize           `json:"size,omitempty"`
	TestEvidence   *DerivedTestEvidence   `json:"test_evidence,omitempty"`
	ProtectedPaths *DerivedProtectedPaths `json:"protected_paths,omitempty"`
	PlanScope      *DerivedPlanScope      `json:"plan_scope,omitempty"`
}

// DerivedSize is the size policy's totals over files whose path does not
// match config.size.exclude.
type DerivedSize struct {
	Lines         int `json:"lines"`          // additions + deletions
	Files         int `json:"files"`          // files, less the excluded ones
	ExcludedFiles int `json:"excluded_files"` // distinct paths matching size.exclude
}

// DerivedTestEvidence counts the distinct paths of code files (matching
// test_evidence.code_globs, or every file when there are none, and not a
// test) and of test files (path or previous path matching test_globs).
// Present when test_evidence.require_test_changes is on.
type DerivedTestEvidence struct {
	CodeFiles int `json:"code_files"`
	TestFiles int `json:"test_files"`
}

// DerivedProtectedPaths lists the changed paths (paths and previous paths)
// matching protected_paths.agents_may_not_touch (absent when it has no
// globs), and, by index of protected_paths.require_approval, those matching
// each rule's paths (null for a rule without globs; the list is absent
// when there are no rules).
type DerivedProtectedPaths struct {
	AgentsMayNotTouch []string   `json:"agents_may_not_touch,omitzero"`
	RequireApproval   [][]string `json:"require_approval,omitzero"`
}

// DerivedPlanScope lists the changed paths (paths and previous paths)
// matching none of the approved plan's path globs. Present when the input
// has a plan with paths.
type DerivedPlanScope struct {
	Outside []string `json:"outside"`
}
