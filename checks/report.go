package checks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/policy"
)

// ActionReevaluate is the identifier of the check run's "Re-evaluate"
// button; GitHub sends it back in a check_run requested_action event.
const ActionReevaluate = "reevaluate"

// reevaluate is the button on every completed run. GitHub's limits: label
// 20 characters, description 40, identifier 20.
var reevaluate = &github.CheckRunAction{
	Label:       "Re-evaluate",
	Description: "Evaluate this PR again",
	Identifier:  ActionReevaluate,
}

// Errors for expected outcomes.
var (
	// ErrNoRun: the head SHA has no check run of ours by that name.
	ErrNoRun = errors.New("no check run")
	// ErrConclusion: a decision's conclusion is not one agentgate posts
	// (success, failure, action_required). In particular never neutral,
	// which required checks treat as passing.
	ErrConclusion = errors.New("conclusion must be success, failure or action_required")
)

// CheckRun is one of our check runs: what is needed to update it later.
type CheckRun struct {
	ID         int64
	Name       string
	HeadSHA    string
	ExternalID string
	DetailsURL string
	HTMLURL    string
	Status     string // queued, in_progress, completed
	Conclusion string // empty until completed
}

// Reporter posts gate decisions as check runs: one run per evaluation,
// created by Start and finished by Complete.
type Reporter struct {
	// Now stamps started_at and completed_at; nil means time.Now.
	Now func() time.Time
}

func (r *Reporter) now() github.Timestamp {
	if r.Now != nil {
		return github.Timestamp{Time: r.Now()}
	}
	return github.Timestamp{Time: time.Now()}
}

// Start creates the evaluation's check run, in_progress. detailsURL and
// externalID may be empty. It costs one request.
func (r *Reporter) Start(ctx context.Context, client *github.Client, owner, repo, headSHA, name, detailsURL, externalID string) (CheckRun, error) {
	if name == "" || headSHA == "" {
		return CheckRun{}, fmt.Errorf("create check run on %s/%s: name and head SHA are required", owner, repo)
	}
	started := r.now()
	run, _, err := client.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{
		Name:       name,
		HeadSHA:    headSHA,
		Status:     github.Ptr("in_progress"),
		StartedAt:  &started,
		DetailsURL: optional(detailsURL),
		ExternalID: optional(externalID),
	})
	if err != nil {
		return CheckRun{}, fmt.Errorf("create check run %q on %s/%s@%s: %w", name, owner, repo, headSHA, err)
	}
	return fromGitHub(run), nil
}

// Complete posts out to run. While d is pending (no conclusion) it updates
// the output and leaves the run in_progress, without annotations: GitHub
// appends annotations on every update, so they are all sent once, when the
// run completes. Otherwise the first update completes the run with d's
// conclusion, the first AnnotationBatch annotations and the Re-evaluate
// button; each further update adds the next batch. In all, Start and
// Complete cost 1 + ceil(max(1, annotations)/50) requests.
//
// The conclusion goes first so that, if a later batch fails, the run
// already says what the gate decided; the error says which batch failed.
func (r *Reporter) Complete(ctx context.Context, client *github.Client, owner, repo string, run CheckRun, d policy.Decision, out Output) error {
	if run.ID == 0 || run.Name == "" {
		return fmt.Errorf("update check run on %s/%s: run id and name are required", owner, repo)
	}
	if d.Conclusion == "" {
		_, _, err := client.Checks.UpdateCheckRun(ctx, owner, repo, run.ID, github.UpdateCheckRunOptions{
			Name:   run.Name,
			Status: github.Ptr("in_progress"),
			Output: output(out, nil),
		})
		if err != nil {
			return fmt.Errorf("update pending check run %d on %s/%s: %w", run.ID, owner, repo, err)
		}
		return nil
	}
	switch d.Conclusion {
	case "success", "failure", "action_required":
	default:
		return fmt.Errorf("complete check run %d on %s/%s: %w, not %q", run.ID, owner, repo, ErrConclusion, d.Conclusion)
	}
	first := min(len(out.Annotations), AnnotationBatch)
	completed := r.now()
	_, _, err := client.Checks.UpdateCheckRun(ctx, owner, repo, run.ID, github.UpdateCheckRunOptions{
		Name:        run.Name,
		Status:      github.Ptr("completed"),
		Conclusion:  github.Ptr(d.Conclusion),
		CompletedAt: &completed,
		Output:      output(out, out.Annotations[:first]),
		Actions:     []*github.CheckRunAction{reevaluate},
	})
	if err != nil {
		return fmt.Errorf("complete check run %d on %s/%s as %s: %w", run.ID, owner, repo, d.Conclusion, err)
	}
	for start := first; start < len(out.Annotations); start += AnnotationBatch {
		end := min(start+AnnotationBatch, len(out.Annotations))
		_, _, err := client.Checks.UpdateCheckRun(ctx, owner, repo, run.ID, github.UpdateCheckRunOptions{
			Name:   run.Name,
			Output: output(out, out.Annotations[start:end]),
		})
		if err != nil {
			return fmt.Errorf("annotate check run %d on %s/%s (annotations %d-%d of %d): %w",
				run.ID, owner, repo, start+1, end, len(out.Annotations), err)
		}
	}
	return nil
}

// output is the API's output object. Title, summary and text go with every
// update (GitHub requires title and summary whenever output is sent), with
// one batch of annotations.
func output(out Output, batch []Annotation) *github.CheckRunOutput {
	o := &github.CheckRunOutput{
		Title:   github.Ptr(out.Title),
		Summary: github.Ptr(out.Summary),
		Text:    github.Ptr(out.Text),
	}
	for _, a := range batch {
		o.Annotations = append(o.Annotations, &github.CheckRunAnnotation{
			Path:            github.Ptr(a.Path),
			StartLine:       github.Ptr(a.StartLine),
			EndLine:         github.Ptr(a.EndLine),
			AnnotationLevel: github.Ptr(a.Level),
			Message:         github.Ptr(a.Message),
			Title:           optional(a.Title),
		})
	}
	return o
}

// FindRun returns our latest check run called name on headSHA, or ErrNoRun.
// appID restricts the search to our app's runs: anyone who can run a
// workflow can create a check run with the same name. (0 searches every
// app's runs; for tests only.)
func FindRun(ctx context.Context, client *github.Client, owner, repo, headSHA, name string, appID int64) (*CheckRun, error) {
	opts := &github.ListCheckRunsOptions{
		CheckName:   github.Ptr(name),
		Filter:      github.Ptr("latest"),
		ListOptions: github.ListOptions{PerPage: 100},
	}
	if appID != 0 {
		opts.AppID = github.Ptr(appID)
	}
	var latest *github.CheckRun
	for {
		res, resp, err := client.Checks.ListCheckRunsForRef(ctx, owner, repo, headSHA, opts)
		if err != nil {
			return nil, fmt.Errorf("find check run %q on %s/%s@%s: %w", name, owner, repo, headSHA, err)
		}
		for _, run := range res.CheckRuns {
			if run.GetName() != name || (appID != 0 && run.GetApp() != nil && run.GetApp().GetID() != appID) {
				continue
			}
			if latest == nil || run.GetID() > latest.GetID() {
				latest = run
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if latest == nil {
		return nil, fmt.Errorf("find check run %q on %s/%s@%s: %w", name, owner, repo, headSHA, ErrNoRun)
	}
	run := fromGitHub(latest)
	return &run, nil
}

func fromGitHub(r *github.CheckRun) CheckRun {
	return CheckRun{
		ID:         r.GetID(),
		Name:       r.GetName(),
		HeadSHA:    r.GetHeadSHA(),
		ExternalID: r.GetExternalID(),
		DetailsURL: r.GetDetailsURL(),
		HTMLURL:    r.GetHTMLURL(),
		Status:     r.GetStatus(),
		Conclusion: r.GetConclusion(),
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
