package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// PoliciesDir is where a repository keeps its own Rego policies, read from
// the base branch.
const PoliciesDir = ".github/agentgate/policies"

// Source is what an evaluation reads about one pull request. policy/pull
// implements it over the GitHub API, fetching each fact at most once.
type Source interface {
	Repository(ctx context.Context) (Repository, error)
	PullRequest(ctx context.Context) (PullRequest, error)
	Files(ctx context.Context) (files []File, truncated bool, err error)
	Commits(ctx context.Context) ([]Commit, error)
	Reviews(ctx context.Context) ([]Review, error)
	Checks(ctx context.Context) ([]Check, error)
	FileAt(ctx context.Context, ref, path string) ([]byte, bool, error)
	ListDir(ctx context.Context, ref, dir string) ([]string, error)
	TeamMember(ctx context.Context, org, team, login string) (bool, error)
	Requests() int
}

// Evaluator is the one evaluation path: the webhook's task, `agentgate
// policy eval` and the details page all go through Evaluate.
type Evaluator struct {
	Engine *Engine
	// AppLogin is agentgate's own bot login (e.g. "agentgate[bot]"): its
	// pull requests are agent-authored by definition.
	AppLogin string
	// OrgDefault, when set, is the organisation-wide config repositories
	// override.
	OrgDefault *Config
}

// Evaluation is a decision and everything it was made on.
type Evaluation struct {
	Input       Input
	Decision    Decision
	Config      Config
	APIRequests int
}

// completenessPolicy is the synthetic policy that fails closed when GitHub
// would not list every changed file.
const completenessPolicy = "complete_listing"

// Evaluate builds the input document from src (config and policies from the
// pull request's base SHA, never its head) and runs the policies. An error
// means the facts could not be fetched (retry); problems with the policy set
// or config are LoadErrors in a failing decision.
func (e *Evaluator) Evaluate(ctx context.Context, src Source, opts ...EvalOption) (*Evaluation, error) {
	var o evalOptions
	for _, opt := range opts {
		opt(&o)
	}
	repo, err := src.Repository(ctx)
	if err != nil {
		return nil, err
	}
	pr, err := src.PullRequest(ctx)
	if err != nil {
		return nil, err
	}
	var loadErrors []LoadError
	base := pr.Base.SHA

	cfg, cfgBytes, err := e.loadConfig(ctx, src, base)
	if err != nil {
		return nil, err
	}
	if cfg.err != nil {
		loadErrors = append(loadErrors, *cfg.err)
	}
	repoPolicies, err := loadRepoPolicies(ctx, src, base)
	if err != nil {
		return nil, err
	}

	in := Input{Repository: repo, PullRequest: pr, Config: cfg.Config, MergeGroup: o.mergeGroup, Task: o.task}
	files, truncated, err := src.Files(ctx)
	if err != nil {
		return nil, err
	}
	in.Files = files
	in.Limits = InputLimits{FilesTruncated: truncated, FilesListed: len(files)}
	if in.Commits, err = src.Commits(ctx); err != nil {
		return nil, err
	}
	for i := range in.Commits {
		in.Commits[i].Trailers = parseTrailers(in.Commits[i].Message)
	}
	in.Provenance = parseProvenance(pr.Body)
	in.AgentAuthored, in.AgentReasons = agentAuthored(in, e.AppLogin)
	in.Requester = requester(in)
	if in.Reviews, err = src.Reviews(ctx); err != nil {
		return nil, err
	}
	if err := resolveTeams(ctx, src, &in); err != nil {
		return nil, err
	}
	if in.Checks, err = src.Checks(ctx); err != nil {
		return nil, err
	}
	d, err := e.Judge(ctx, &in, repoPolicies)
	if err != nil {
		return nil, fmt.Errorf("evaluate %s#%d: %w", repo.FullName, pr.Number, err)
	}
	d.LoadErrors = append(loadErrors, d.LoadErrors...)
	d.PolicyDigest = digest(d.PolicyDigest, cfgBytes)
	d.Conclusion = Conclude(d.Policies, d.LoadErrors)
	return &Evaluation{Input: in, Decision: d, Config: cfg.Config, APIRequests: src.Requests()}, nil
}

// Judge runs the policies over an input document that is already built:
// the tail of Evaluate, and all `agentgate policy eval --input` needs to
// replay a stored input. It fills absent lists, records the derived facts
// in the input, and fails closed when the file listing was truncated.
func (e *Evaluator) Judge(ctx context.Context, in *Input, repoPolicies map[string][]byte) (Decision, error) {
	normalise(in)
	d, derived, err := e.Engine.evaluate(ctx, in, repoPolicies, true)
	in.Derived = derived
	if err != nil {
		return Decision{}, err
	}
	if in.Limits.FilesTruncated {
		d.Policies = append([]PolicyResult{{
			Name: completenessPolicy, Title: "Complete file list", Verdict: VerdictFail,
			Summary: fmt.Sprintf("GitHub lists %d of %d changed files; agentgate does not judge what it cannot see", len(in.Files), in.PullRequest.ChangedFiles),
			Violations: []Violation{{Policy: completenessPolicy,
				Message: fmt.Sprintf("this pull request changes %d files; GitHub's API lists at most 3,000, so it fails closed: split it", in.PullRequest.ChangedFiles)}},
		}}, d.Policies...)
	}
	d.Conclusion = Conclude(d.Policies, d.LoadErrors)
	return d, nil
}

// EvalOption adjusts one evaluation.
type EvalOption func(*evalOptions)

type evalOptions struct {
	mergeGroup *MergeGroup
	task       *Task
}

// ForMergeGroup marks the evaluation as one of a merge queue group's head.
func ForMergeGroup(mg MergeGroup) EvalOption {
	return func(o *evalOptions) { o.mergeGroup = &mg }
}

// WithTask attaches the agentgate task (and approved plan) behind the PR.
func WithTask(t Task) EvalOption {
	return func(o *evalOptions) { o.task = &t }
}

type loadedConfig struct {
	Config
	err *LoadError
}

// loadConfig reads .github/agentgate.yml at the base SHA. A bad file is a
// load error (the check fails naming file and line) and the defaults judge
// the rest, so the author still sees every other verdict.
func (e *Evaluator) loadConfig(ctx context.Context, src Source, base string) (loadedConfig, []byte, error) {
	data, ok, err := src.FileAt(ctx, base, ConfigPath)
	if err != nil {
		return loadedConfig{}, nil, fmt.Errorf("read %s at %s: %w", ConfigPath, base, err)
	}
	if !ok {
		data = nil
	}
	cfg, perr := ParseConfig(ConfigPath, data, e.OrgDefault)
	if perr != nil {
		fallback, _ := ParseConfig(ConfigPath, nil, e.OrgDefault)
		le := LoadError{File: ConfigPath, Message: perr.Error()}
		var ce *ConfigError
		if errors.As(perr, &ce) {
			le = ce.LoadError()
		}
		return loadedConfig{Config: fallback, err: &le}, data, nil
	}
	return loadedConfig{Config: cfg}, data, nil
}

func loadRepoPolicies(ctx context.Context, src Source, base string) (map[string][]byte, error) {
	names, err := src.ListDir(ctx, base, PoliciesDir)
	if err != nil {
		return nil, fmt.Errorf("list %s at %s: %w", PoliciesDir, base, err)
	}
	out := map[string][]byte{}
	for _, name := range names {
		if !strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, "_test.rego") {
			continue
		}
		p := path.Join(PoliciesDir, path.Base(name))
		data, ok, err := src.FileAt(ctx, base, p)
		if err != nil {
			return nil, fmt.Errorf("read %s at %s: %w", p, base, err)
		}
		if ok {
			out[p] = data
		}
	}
	return out, nil
}

// resolveTeams fills each approving reviewer's teams for the org/team owners
// the config names, asking GitHub only about those pairs.
func resolveTeams(ctx context.Context, src Source, in *Input) error {
	var teams []string
	seen := map[string]bool{}
	for _, rule := range in.Config.Protected.RequireApproval {
		for _, owner := range rule.Owners {
			if strings.Contains(owner, "/") && !seen[owner] {
				seen[owner] = true
				teams = append(teams, owner)
			}
		}
	}
	if len(teams) == 0 {
		return nil
	}
	for i, r := range in.Reviews {
		if r.State != "APPROVED" {
			continue
		}
		for _, t := range teams {
			org, slug, _ := strings.Cut(t, "/")
			member, err := src.TeamMember(ctx, org, slug, r.User)
			if err != nil {
				return fmt.Errorf("team %s membership of %s: %w", t, r.User, err)
			}
			if member {
				in.Reviews[i].Teams = append(in.Reviews[i].Teams, t)
			}
		}
	}
	return nil
}

// normalise makes empty lists [] rather than null, so policies can iterate
// without guarding, and sorts what has no inherent order.
func normalise(in *Input) {
	if in.Files == nil {
		in.Files = []File{}
	}
	if in.Commits == nil {
		in.Commits = []Commit{}
	}
	if in.Checks == nil {
		in.Checks = []Check{}
	}
	if in.Reviews == nil {
		in.Reviews = []Review{}
	}
	if in.PullRequest.Labels == nil {
		in.PullRequest.Labels = []string{}
	}
	if in.AgentReasons == nil {
		in.AgentReasons = []string{}
	}
	if in.Provenance.Fields == nil {
		in.Provenance.Fields = map[string]any{}
	}
	if in.Provenance.Errors == nil {
		in.Provenance.Errors = []ProvenanceError{}
	}
	sort.SliceStable(in.Checks, func(i, j int) bool { return in.Checks[i].Name < in.Checks[j].Name })
}

func digest(policyDigest string, config []byte) string {
	h := sha256.New()
	h.Write([]byte(policyDigest))
	h.Write([]byte{0})
	h.Write(config)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
