package statement

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Input is everything the statements say about one landed commit: what the
// store knows (task, plan, runs, gate decision) and what GitHub knows (the
// landed commit and its tree, reviews, check runs). The caller fills it;
// this package reads nothing else.
type Input struct {
	// ServerURL is GitHub's web address; "" means https://github.com.
	ServerURL string
	// Repository is "owner/name".
	Repository string
	// Commit is the commit that landed on the base branch (after merge,
	// squash or rebase) and Tree its tree: 40 hex digits each.
	Commit string
	Tree   string
	// Ref is the branch it landed on, "refs/heads/main".
	Ref string

	PullRequest int // the pull request's number
	Issue       int // the task's issue; 0 when the change had none

	Agent        string // the agent's name, e.g. "claude-code"
	AgentVersion string // optional
	Model        string
	TaskID       string
	RunID        string // the run that produced the final head commit
	Runner       string // optional: "exec", "actions"
	Involvement  string // optional: authored, transformed, suggested
	// FactsFrom says where agent, model, task, run and requester come
	// from: FactsFromAgentgate (agentgate dispatched the task and recorded
	// them) or FactsFromPullRequest (the pull request's provenance block and
	// commit trailers: claims by whoever wrote them). Optional.
	FactsFrom string

	Plan Plan // zero when the task skipped plan approval

	// PromptSHA256 is the digest of what the agent was given (64 hex
	// digits). Optional: a pull request from an agent agentgate did not run
	// may not say; the VSA then does not claim ORG_SOURCE_AGENTGATE_PROVENANCE.
	PromptSHA256    string
	IssueTextSHA256 string // optional: the digest of the issue text handed to the agent

	BaseSHA string // the base branch commit the change was made from
	HeadSHA string // the pull request's head commit when it merged

	// PolicyDigest is the sha256 (64 hex digits) of the policy set the gate
	// evaluated; PolicyURI optionally names where it lives. PolicyFiles are
	// the individual files, recorded as resolved dependencies.
	PolicyDigest string
	PolicyURI    string
	PolicyFiles  []PolicyFile

	Gate Gate

	InstallationID int64
	// BuilderID is this agentgate instance's URL: the provenance's
	// builder.id and the VSA's verifier.id.
	BuilderID string
	// AgentgateVersion is optional; it becomes builder.version.
	AgentgateVersion string

	StartedOn  time.Time // when the task started
	FinishedOn time.Time // when the change landed

	// Checks are the required checks on HeadSHA, each one test-result
	// statement.
	Checks []Check
	// ChecksMissing are required checks that never finished on HeadSHA:
	// no statement, and the VSA does not claim the required checks passed.
	ChecksMissing []string

	Requester string // who asked for the change
	Reviews   []Review
	Revisions []Revision
}

// Where an Input's agent facts come from (Input.FactsFrom).
const (
	FactsFromAgentgate   = "agentgate"
	FactsFromPullRequest = "pull-request"
)

// Plan is the approved plan.
type Plan struct {
	ID         string
	SHA256     string // 64 hex digits
	ApprovedBy string
	ApprovedAt time.Time
}

// PolicyFile is one policy file the gate read from the base branch.
type PolicyFile struct {
	Path   string
	SHA256 string // 64 hex digits
}

// Gate is the gate's last decision on the pull request.
type Gate struct {
	Passed      bool
	Reasons     []string  // why it failed (or what it noted); free text
	EvaluatedAt time.Time // zero means FinishedOn
}

// Check is one required check run (or status) on the head commit.
type Check struct {
	Name       string
	App        string // the app that ran it, e.g. "github-actions"; optional
	Conclusion string // GitHub's conclusion: success, failure, neutral, skipped, cancelled, timed_out, action_required, stale
	URL        string // the check run's page
}

// Review is one pull request review.
type Review struct {
	ID          int64
	User        string
	State       string // GitHub's state: APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
	CommitID    string // the commit the review was made on
	SubmittedAt time.Time
}

// Revision is one revision run after the pull request was opened.
type Revision struct {
	RunID       string
	RequestedBy string
	HeadSHA     string // the head commit the revision produced; optional
	At          time.Time
}

// ErrInput is wrapped by every error Validate returns.
var ErrInput = errors.New("invalid statement input")

var (
	gitSHA    = regexp.MustCompile(`^[0-9a-f]{40}$`)
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	repoName  = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
)

// Validate reports the first field that is missing or malformed, so a
// statement never carries a half-filled subject.
func (in *Input) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInput, fmt.Sprintf(format, args...))
	}
	if in.ServerURL != "" {
		if u, err := url.Parse(in.ServerURL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			return bad("server URL %q is not an http(s) URL", in.ServerURL)
		}
	}
	if !repoName.MatchString(in.Repository) {
		return bad("repository %q is not owner/name", in.Repository)
	}
	for _, f := range []struct{ name, v string }{{"commit", in.Commit}, {"tree", in.Tree}, {"base sha", in.BaseSHA}, {"head sha", in.HeadSHA}} {
		if !gitSHA.MatchString(f.v) {
			return bad("%s %q is not 40 lower-case hex digits", f.name, f.v)
		}
	}
	if !strings.HasPrefix(in.Ref, "refs/") || len(in.Ref) == len("refs/") {
		return bad("ref %q is not a full ref (refs/heads/...)", in.Ref)
	}
	if in.PullRequest <= 0 {
		return bad("pull request number %d", in.PullRequest)
	}
	if in.Issue < 0 {
		return bad("issue number %d", in.Issue)
	}
	for _, f := range []struct{ name, v string }{{"agent", in.Agent}, {"model", in.Model}, {"task id", in.TaskID}, {"run id", in.RunID}, {"requester", in.Requester}} {
		if strings.TrimSpace(f.v) == "" {
			return bad("%s is empty", f.name)
		}
	}
	if in.PromptSHA256 != "" && !sha256Hex.MatchString(in.PromptSHA256) {
		return bad("prompt sha256 %q is not 64 lower-case hex digits", in.PromptSHA256)
	}
	if in.IssueTextSHA256 != "" && !sha256Hex.MatchString(in.IssueTextSHA256) {
		return bad("issue text sha256 %q is not 64 lower-case hex digits", in.IssueTextSHA256)
	}
	if in.Plan != (Plan{}) {
		if in.Plan.ID == "" {
			return bad("plan has a digest but no id")
		}
		if !sha256Hex.MatchString(in.Plan.SHA256) {
			return bad("plan sha256 %q is not 64 lower-case hex digits", in.Plan.SHA256)
		}
	}
	if in.FactsFrom != "" && in.FactsFrom != FactsFromAgentgate && in.FactsFrom != FactsFromPullRequest {
		return bad("facts from %q: want %q or %q", in.FactsFrom, FactsFromAgentgate, FactsFromPullRequest)
	}
	if !sha256Hex.MatchString(in.PolicyDigest) {
		return bad("policy digest %q is not 64 lower-case hex digits", in.PolicyDigest)
	}
	for _, p := range in.PolicyFiles {
		if p.Path == "" || !sha256Hex.MatchString(p.SHA256) {
			return bad("policy file %q: sha256 %q", p.Path, p.SHA256)
		}
	}
	if u, err := url.Parse(in.BuilderID); err != nil || !u.IsAbs() || u.Host == "" {
		return bad("builder id %q is not an absolute URL", in.BuilderID)
	}
	if in.InstallationID <= 0 {
		return bad("installation id %d", in.InstallationID)
	}
	if in.StartedOn.IsZero() || in.FinishedOn.IsZero() {
		return bad("started and finished times are required")
	}
	if in.FinishedOn.Before(in.StartedOn) {
		return bad("finished %s before it started %s", in.FinishedOn.Format(time.RFC3339), in.StartedOn.Format(time.RFC3339))
	}
	seen := make(map[string]bool, len(in.Checks))
	for _, c := range in.Checks {
		if c.Name == "" {
			return bad("a check has no name")
		}
		if seen[c.Name] {
			return bad("check %q is listed twice", c.Name)
		}
		seen[c.Name] = true
		if _, ok := testResults[c.Conclusion]; !ok {
			return bad("check %q has unknown conclusion %q", c.Name, c.Conclusion)
		}
	}
	for _, r := range in.Reviews {
		if r.User == "" || r.ID <= 0 {
			return bad("review %d by %q", r.ID, r.User)
		}
		if r.State == stateApproved && !gitSHA.MatchString(r.CommitID) {
			return bad("approving review %d by %s has commit %q", r.ID, r.User, r.CommitID)
		}
	}
	for _, r := range in.Revisions {
		if r.RunID == "" {
			return bad("a revision has no run id")
		}
		if r.HeadSHA != "" && !gitSHA.MatchString(r.HeadSHA) {
			return bad("revision %s has head sha %q", r.RunID, r.HeadSHA)
		}
	}
	return nil
}

func (in *Input) serverURL() string {
	if in.ServerURL == "" {
		return "https://github.com"
	}
	return strings.TrimSuffix(in.ServerURL, "/")
}

// repoURL is "https://github.com/o/r".
func (in *Input) repoURL() string { return in.serverURL() + "/" + in.Repository }

// commitURL is the subject URI of a commit, as the SLSA source track writes it.
func (in *Input) commitURL(sha string) string { return in.repoURL() + "/commit/" + sha }

// gitURI is a git+https URI of the repository, optionally at a revision.
func (in *Input) gitURI(rev string) string {
	u := "git+" + in.repoURL()
	if rev != "" {
		u += "@" + rev
	}
	return u
}

func (in *Input) evaluatedAt() time.Time {
	if !in.Gate.EvaluatedAt.IsZero() {
		return in.Gate.EvaluatedAt
	}
	return in.FinishedOn
}
