package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/ghapp"
	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/policy"
	"github.com/agentgate/agentgate/policy/pull"
	"github.com/agentgate/agentgate/provenance"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/store"
)

// Attester signs the attestations of one merged agent-authored pull
// request: the AttestTask queue task. It is idempotent: the statements of
// a landed commit are signed and stored once (the store refuses a second
// copy), and publishing and comments after that are safe to repeat, so a
// crash anywhere is mended by the job's retry or a redelivered event.
type Attester struct {
	store     *store.Store
	log       *store.AttestationWriter // group-commits the appends of merges in flight
	clients   *ghapp.Clients
	evaluator func(ctx context.Context) (*policy.Evaluator, error)
	signer    sign.Signer
	signOpts  []sign.Option
	// builderID is this instance's public URL: the provenance's builder.id
	// and the VSA's verifier.id.
	builderID string
	version   string
	publish   []Publisher
	comments  attestComments
	now       func() time.Time
}

// Publisher sends a landed commit's bundles somewhere besides the store
// (git notes, GitHub's attestation API). It must be idempotent.
type Publisher interface {
	Name() string
	// Publish sends rows, all of the commit's attestations; fresh says
	// this pass signed them (false on a retry or a redelivered event).
	Publish(ctx context.Context, t AttestTarget, commit string, rows []store.Attestation, fresh bool) error
}

// Run implements the AttestTask queue task.
func (a *Attester) Run(ctx context.Context, payload json.RawMessage) error {
	var t AttestTarget
	if err := json.Unmarshal(payload, &t); err != nil {
		return fmt.Errorf("%w: attest task payload: %v", webhook.ErrPermanent, err)
	}
	log := webhook.Logger(ctx).With("target", t.Key(), "trigger_delivery", t.Delivery)
	client, err := a.clients.Installation(t.InstallationID)
	if err != nil {
		return err
	}
	full := t.Owner + "/" + t.Repo
	pr, _, err := client.PullRequests.Get(ctx, t.Owner, t.Repo, t.Number)
	if err != nil {
		return fmt.Errorf("get pull request %s#%d: %w", full, t.Number, err)
	}
	if !pr.GetMerged() || pr.GetMergeCommitSHA() == "" {
		log.Info("pull request is not merged; nothing to attest")
		return nil
	}
	landed := pr.GetMergeCommitSHA()
	rows, err := a.rowsOf(ctx, full, landed)
	if err != nil {
		return err
	}
	fresh := false // this pass signed the rows (another pass may race it)
	if len(rows) > 0 {
		log.Info("attestations already stored; publishing and comments only", "commit", landed, "rows", len(rows))
	}
	if len(rows) == 0 {
		in, agentAuthored, err := a.facts(ctx, client, t, pr)
		if err != nil {
			return err
		}
		if !agentAuthored {
			log.Info("pull request is not agent-authored; no attestations")
			return nil
		}
		inserted, err := a.signAndStore(ctx, in)
		if err != nil {
			return err
		}
		fresh = len(inserted) > 0
		log.Info("attestations signed", "commit", landed, "inserted", len(inserted), "key_id", a.signer.KeyID())
		if rows, err = a.rowsOf(ctx, full, landed); err != nil {
			return err
		}
	}
	var errs []error
	for _, p := range a.publish {
		if err := p.Publish(ctx, t, landed, rows, fresh); err != nil {
			errs = append(errs, fmt.Errorf("publish to %s: %w", p.Name(), err))
		}
	}
	evaluator, err := a.evaluator(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if err := a.comments.post(ctx, client, evaluator.AppLogin, t, landed, rows); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// rowsOf are the stored attestations of a landed commit, with bundles.
func (a *Attester) rowsOf(ctx context.Context, repository, commit string) ([]store.Attestation, error) {
	page, err := a.store.QueryAttestations(ctx, store.AttestationQuery{
		Repository: repository, Commit: commit, Limit: 1000, WithBundles: true,
	})
	if err != nil {
		return nil, fmt.Errorf("attestations of %s@%s: %w", repository, commit, err)
	}
	return page.Items, nil
}

// signAndStore builds, signs and appends the statements in one go: the
// store's append is one transaction, so a commit has all of its
// attestations or none.
func (a *Attester) signAndStore(ctx context.Context, in *statement.Input) ([]store.Attestation, error) {
	sts, err := statement.Build(in)
	if err != nil {
		return nil, fmt.Errorf("build statements for %s@%s: %w", in.Repository, in.Commit, err)
	}
	rows := make([]store.Attestation, 0, len(sts))
	for _, st := range sts {
		b, err := sign.Built(ctx, a.signer, st, a.signOpts...)
		if err != nil {
			return nil, fmt.Errorf("sign %s for %s@%s: %w", st.PredicateType, in.Repository, in.Commit, err)
		}
		rows = append(rows, store.Attestation{
			Repository: in.Repository, Commit: in.Commit, PullNumber: in.PullRequest,
			PredicateType: st.PredicateType, Name: st.Name,
			Agent: in.Agent, Model: in.Model, SignerKeyID: b.KeyID, SignedAt: a.now(),
			Bundle: b.JSON,
		})
	}
	inserted, err := a.log.AppendCommit(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("store attestations of %s@%s: %w", in.Repository, in.Commit, err)
	}
	return inserted, nil
}

// facts gathers what the statements say: the landed commit and its tree
// from GitHub, the pull request's facts as the gate sees them (the same
// evaluator, so "agent-authored" means what it means to the gate), the
// gate's recorded verdict on the merged head, and the task behind it.
func (a *Attester) facts(ctx context.Context, client *github.Client, t AttestTarget, pr *github.PullRequest) (*statement.Input, bool, error) {
	full := t.Owner + "/" + t.Repo
	landed := pr.GetMergeCommitSHA()
	commit, _, err := client.Git.GetCommit(ctx, t.Owner, t.Repo, landed)
	if err != nil {
		return nil, false, fmt.Errorf("landed commit %s of %s#%d: %w", landed, full, t.Number, err)
	}
	evaluator, err := a.evaluator(ctx)
	if err != nil {
		return nil, false, err
	}
	var opts []policy.EvalOption
	task, policyTask, hasTask := taskOf(ctx, a.store, full, t.Number)
	if hasTask {
		opts = append(opts, policy.WithTask(policyTask))
	}
	ev, err := evaluator.Evaluate(ctx, pull.New(client, t.Owner, t.Repo, t.Number), opts...)
	if err != nil {
		return nil, false, fmt.Errorf("read the facts of %s#%d: %w", full, t.Number, err)
	}
	if !ev.Input.AgentAuthored {
		return nil, false, nil
	}
	prov := provenance.Fields(ev.Input.Provenance.Fields)
	head := pr.GetHead().GetSHA()
	in := &statement.Input{
		Repository: full, Commit: landed, Tree: commit.GetTree().GetSHA(),
		Ref: "refs/heads/" + pr.GetBase().GetRef(), PullRequest: t.Number,
		BaseSHA: pr.GetBase().GetSHA(), HeadSHA: head,
		InstallationID: t.InstallationID, BuilderID: a.builderID, AgentgateVersion: a.version,
		StartedOn: pr.GetCreatedAt().Time, FinishedOn: pr.GetMergedAt().Time,
		Involvement: text(prov, provenance.KeyInvolvement),
		Runner:      text(prov, provenance.KeyRunner),
		Agent:       text(prov, provenance.KeyAgent), AgentVersion: text(prov, provenance.KeyAgentVersion),
		Model:        text(prov, provenance.KeyModel),
		TaskID:       text(prov, provenance.KeyTask),
		PromptSHA256: text(prov, provenance.KeyPromptSHA256),
		Requester:    pr.GetUser().GetLogin(),
		FactsFrom:    statement.FactsFromPullRequest,
	}
	if r := ev.Input.Requester; r != nil && r.Login != "" {
		in.Requester = r.Login
	}
	if hasTask {
		a.taskFacts(ctx, in, task, head)
	} else {
		trailerFacts(in, ev.Input.Commits)
	}
	if in.TaskID == "" {
		in.TaskID = fmt.Sprintf("%s#%d", full, t.Number) // an agent agentgate did not dispatch
	}
	if in.RunID == "" {
		in.RunID = head
	}
	in.Agent, in.Model = orUnknown(in.Agent), orUnknown(in.Model)
	if in.FinishedOn.Before(in.StartedOn) {
		in.StartedOn = in.FinishedOn
	}
	in.Reviews = reviewFacts(ev.Input.Reviews)
	in.Checks, in.ChecksMissing = requiredChecks(ev.Config.TestEvidence.RequiredChecks, ev.Input.Checks)
	if err := a.gateFacts(ctx, in, full, head, ev.Decision.PolicyDigest); err != nil {
		return nil, false, err
	}
	return in, true, nil
}

// taskFacts fills what agentgate itself recorded, and nothing from the PR
// body, which anyone with write access can edit: the agent is the server's
// configured agent the task ran, not the name the agent reports; model,
// version and usage are what the run recorded.
func (a *Attester) taskFacts(ctx context.Context, in *statement.Input, t store.Task, head string) {
	in.TaskID, in.Requester, in.Issue = t.ID, t.Requester, t.IssueNumber
	in.FactsFrom = statement.FactsFromAgentgate
	in.StartedOn = t.CreatedAt
	in.Agent, in.AgentVersion, in.Model, in.PromptSHA256, in.RunID = t.Agent, "", "", "", ""
	in.Runner, in.Involvement = t.Runner, provenance.InvolvementAuthored
	if t.IssueBody != "" {
		sum := sha256.Sum256([]byte(t.IssueBody))
		in.IssueTextSHA256 = hex.EncodeToString(sum[:])
	}
	if t.ApprovedPlanID != "" {
		if p, err := a.store.GetPlan(ctx, t.ID, t.ApprovedPlanID); err == nil {
			in.Plan = statement.Plan{ID: p.ID, SHA256: p.SHA256, ApprovedBy: p.ApprovedBy, ApprovedAt: p.ApprovedAt}
		}
	}
	runs, err := a.store.RunsOfTask(ctx, t.ID)
	if err != nil {
		return
	}
	var last *store.Run
	for i := range runs {
		r := &runs[i]
		if r.State != "succeeded" || r.Kind == "plan" {
			continue
		}
		if r.Kind == "revise" {
			in.Revisions = append(in.Revisions, statement.Revision{RunID: r.ID, RequestedBy: r.RequestedBy, HeadSHA: r.HeadSHA, At: r.FinishedAt})
		}
		// The run whose commit is the merged head; failing that (a person
		// pushed the last commit), the latest run.
		switch {
		case last == nil, r.HeadSHA == head, last.HeadSHA != head && r.Seq > last.Seq:
			last = r
		}
	}
	if last == nil {
		return
	}
	in.RunID, in.AgentVersion, in.Model, in.PromptSHA256 = last.ID, last.AgentVersion, last.Model, last.PromptSHA256
	if in.Agent == "" {
		in.Agent = last.Agent
	}
}

// trailerFacts fills agent and model from the head-most commit's Agent-*
// trailers when nothing better said.
func trailerFacts(in *statement.Input, commits []policy.Commit) {
	for i := len(commits) - 1; i >= 0; i-- {
		tr := provenance.AgentTrailers(commits[i].Trailers)
		if in.Agent == "" {
			in.Agent = tr[provenance.TrailerName]
		}
		if in.Model == "" {
			in.Model = tr[provenance.TrailerModel]
		}
		if in.RunID == "" {
			in.RunID = tr[provenance.TrailerRun]
		}
	}
}

func reviewFacts(reviews []policy.Review) []statement.Review {
	out := make([]statement.Review, 0, len(reviews))
	for _, r := range reviews {
		if r.ID <= 0 || r.User == "" || r.State == "APPROVED" && len(r.CommitID) != 40 {
			continue
		}
		out = append(out, statement.Review{ID: r.ID, User: r.User, State: r.State, CommitID: r.CommitID})
	}
	return out
}

// requiredChecks is one entry per required check that finished on the
// head, and the names of those that did not: a check still running or
// never reported has no result to attest (the gate's verdict, in the VSA,
// already failed for it, and the VSA does not claim the checks passed).
func requiredChecks(required []string, seen []policy.Check) (done []statement.Check, missing []string) {
	for _, name := range required {
		found := false
		for i := len(seen) - 1; i >= 0; i-- {
			c := seen[i]
			if c.Name == name && c.Status == "completed" && c.Conclusion != "" {
				done = append(done, statement.Check{Name: c.Name, App: c.App, Conclusion: c.Conclusion})
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, name)
		}
	}
	return done, missing
}

// gateFacts records the gate's last verdict on the head that merged. A
// merge the gate did not pass (an admin override, a gate that was not
// required) still gets attestations, whose VSA says FAILED and why.
func (a *Attester) gateFacts(ctx context.Context, in *statement.Input, repository, head, freshDigest string) error {
	in.PolicyDigest = strings.TrimPrefix(freshDigest, "sha256:")
	e, err := a.store.LatestEvaluation(ctx, repository, head)
	if errors.Is(err, store.ErrNotFound) {
		in.Gate = statement.Gate{Reasons: []string{fmt.Sprintf("the gate never evaluated the merged head %s", head)}}
		return nil
	}
	if err != nil {
		return err
	}
	if e.PolicyDigest != "" {
		in.PolicyDigest = strings.TrimPrefix(e.PolicyDigest, "sha256:") // the gate writes "sha256:<hex>"
	}
	in.Gate = statement.Gate{Passed: e.Conclusion == "success", EvaluatedAt: e.FinishedAt}
	if !in.Gate.Passed {
		in.Gate.Reasons = gateReasons(e)
	}
	return nil
}

func gateReasons(e store.Evaluation) []string {
	var d policy.Decision
	if err := json.Unmarshal(e.Decision, &d); err != nil {
		return []string{fmt.Sprintf("the gate's conclusion on %s was %q", e.HeadSHA, e.Conclusion)}
	}
	var out []string
	for _, l := range d.LoadErrors {
		out = append(out, "load error: "+l.Message)
	}
	for _, p := range d.Policies {
		if p.Verdict == policy.VerdictPass || p.Verdict == policy.VerdictSkipped {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s (%s)", p.Name, p.Summary, p.Verdict))
	}
	if len(out) == 0 {
		conclusion := e.Conclusion
		if conclusion == "" {
			conclusion = "in progress"
		}
		out = append(out, fmt.Sprintf("the gate's conclusion on %s was %s", e.HeadSHA, conclusion))
	}
	return out
}

func text(f provenance.Fields, key string) string { return strings.TrimSpace(f.Text(key)) }

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "unknown"
	}
	return s
}
