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
	ID   string `json:"id"`
	Plan *Plan  `json:"plan,omitempty"`
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
