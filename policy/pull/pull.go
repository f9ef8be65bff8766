// Package pull is the gate's view of one pull request: a small interface ([Context]) that
// answers every question the gate asks about a pull request, and a GitHub-backed
// implementation ([New]) that fetches each fact at most once per evaluation, lazily, and
// counts the API requests it made (the scarcest resource: 5,000 per hour per installation).
//
// Modelled on palantir/policy-bot's pull.Context. Only this package talks to GitHub for the
// gate; the input document is built from its answers, so the gate can be tested offline
// with another implementation of Context.
//
// What it must not do: write to GitHub (check runs are package checks' business), parse
// commit trailers or provenance (the caller's), or keep anything across evaluations (the
// client's ETag cache does that; this view lives for one evaluation).
package pull

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/policy"
)

// Context is everything the gate asks about one pull request, fetched at most once per
// evaluation. Errors are memoised too: a view that failed to fetch a fact fails the
// evaluation, and the next evaluation builds a new view.
type Context interface {
	Repository(ctx context.Context) (policy.Repository, error)
	PullRequest(ctx context.Context) (policy.PullRequest, error)
	// Files lists the changed files. truncated is true when the pull request changes more
	// files than GitHub lists (3,000): the gate must fail closed then.
	Files(ctx context.Context) (files []policy.File, truncated bool, err error)
	// Commits are the pull request's commits (GitHub lists at most 250), oldest first,
	// without trailers (the caller parses them).
	Commits(ctx context.Context) ([]policy.Commit, error)
	// Reviews is the latest review of each reviewer, with the reviewer's permission on the
	// repository.
	Reviews(ctx context.Context) ([]policy.Review, error)
	// Checks are the check runs and commit statuses on the head SHA, without our own check.
	Checks(ctx context.Context) ([]policy.Check, error)
	// FileAt reads a file at a ref (the base SHA for configuration and policies); exists is
	// false when there is no such file.
	FileAt(ctx context.Context, ref, path string) (content []byte, exists bool, err error)
	// ListDir names the files (not subdirectories) of a directory at a ref; a missing
	// directory is empty.
	ListDir(ctx context.Context, ref, dir string) ([]string, error)
	// TeamMember says whether login is an active member of org/team.
	TeamMember(ctx context.Context, org, team, login string) (bool, error)
	// Requests is how many GitHub API requests this view made.
	Requests() int
	// NotModified is how many of those GitHub answered 304 Not Modified from the client's
	// ETag cache: they cost no rate limit.
	NotModified() int
}

// Option configures a view.
type Option func(*options)

type options struct {
	headSHA   string
	checkName string
}

// WithHeadSHA reads checks and statuses on this SHA instead of the pull request's head, for
// a merge group's head commit.
func WithHeadSHA(sha string) Option { return func(o *options) { o.headSHA = sha } }

// WithCheckName leaves our own check run (by name) out of Checks.
func WithCheckName(name string) Option { return func(o *options) { o.checkName = name } }

// GitHub's listing limits.
const (
	perPage      = 100
	maxFilePages = 3000 / perPage // GitHub lists at most 3,000 files
)

// New returns a lazy, memoised view of owner/repo#number through client (an installation
// client from internal/ghapp, whose ETag cache turns repeated reads into free 304s).
func New(client *github.Client, owner, repo string, number int, opts ...Option) Context {
	v := &view{client: client, owner: owner, repo: repo, number: number}
	for _, o := range opts {
		o(&v.opts)
	}
	return v
}

type view struct {
	client      *github.Client
	owner, repo string
	number      int
	opts        options
	requests    atomic.Int64
	notModified atomic.Int64
	repository  memo[policy.Repository]
	pull        memo[*github.PullRequest]
	files       memo[filesResult]
	commits     memo[[]policy.Commit]
	reviews     memo[[]policy.Review]
	checks      memo[[]policy.Check]
	permissions keyed[string, string]
	contents    keyed[[2]string, fileResult]
	dirs        keyed[[2]string, []string]
	teamMembers keyed[[3]string, bool]
}

type filesResult struct {
	files     []policy.File
	truncated bool
}

type fileResult struct {
	content []byte
	exists  bool
}

// memo computes a value once.
type memo[T any] struct {
	once sync.Once
	v    T
	err  error
}

func (m *memo[T]) get(f func() (T, error)) (T, error) {
	m.once.Do(func() { m.v, m.err = f() })
	return m.v, m.err
}

// keyed memoises a value per key.
type keyed[K comparable, T any] struct {
	mu sync.Mutex
	m  map[K]*memo[T]
}

func (k *keyed[K, T]) get(key K, f func() (T, error)) (T, error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[K]*memo[T]{}
	}
	m := k.m[key]
	if m == nil {
		m = &memo[T]{}
		k.m[key] = m
	}
	k.mu.Unlock()
	return m.get(f)
}

func (v *view) Requests() int    { return int(v.requests.Load()) }
func (v *view) NotModified() int { return int(v.notModified.Load()) }

// count records one request GitHub answered. httpcache marks an answer it served from the
// cache after GitHub said 304 with X-From-Cache (go-githubapp's cache always revalidates).
func (v *view) count(resp *github.Response) {
	if resp == nil || resp.Response == nil {
		return
	}
	v.requests.Add(1)
	if resp.Header.Get("X-From-Cache") != "" {
		v.notModified.Add(1)
	}
}

func (v *view) name() string { return v.owner + "/" + v.repo + "#" + strconv.Itoa(v.number) }

func isNotFound(err error) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound
}

func (v *view) Repository(ctx context.Context) (policy.Repository, error) {
	return v.repository.get(func() (policy.Repository, error) {
		r, resp, err := v.client.Repositories.Get(ctx, v.owner, v.repo)
		v.count(resp)
		if err != nil {
			return policy.Repository{}, fmt.Errorf("get repository %s/%s: %w", v.owner, v.repo, err)
		}
		return policy.Repository{FullName: r.GetFullName(), DefaultBranch: r.GetDefaultBranch(), Private: r.GetPrivate()}, nil
	})
}

func (v *view) pullRequest(ctx context.Context) (*github.PullRequest, error) {
	return v.pull.get(func() (*github.PullRequest, error) {
		pr, resp, err := v.client.PullRequests.Get(ctx, v.owner, v.repo, v.number)
		v.count(resp)
		if err != nil {
			return nil, fmt.Errorf("get pull request %s: %w", v.name(), err)
		}
		return pr, nil
	})
}

func (v *view) PullRequest(ctx context.Context) (policy.PullRequest, error) {
	pr, err := v.pullRequest(ctx)
	if err != nil {
		return policy.PullRequest{}, err
	}
	labels := make([]string, 0, len(pr.Labels))
	for _, l := range pr.Labels {
		labels = append(labels, l.GetName())
	}
	return policy.PullRequest{
		Number:       pr.GetNumber(),
		Title:        pr.GetTitle(),
		Body:         pr.GetBody(),
		Draft:        pr.GetDraft(),
		Author:       policy.Person{Login: pr.GetUser().GetLogin(), Type: pr.GetUser().GetType()},
		Base:         policy.Ref{Ref: pr.GetBase().GetRef(), SHA: pr.GetBase().GetSHA()},
		Head:         policy.Ref{Ref: pr.GetHead().GetRef(), SHA: pr.GetHead().GetSHA()},
		Labels:       labels,
		Additions:    pr.GetAdditions(),
		Deletions:    pr.GetDeletions(),
		ChangedFiles: pr.GetChangedFiles(),
	}, nil
}

func (v *view) Files(ctx context.Context) ([]policy.File, bool, error) {
	r, err := v.files.get(func() (filesResult, error) {
		pr, err := v.pullRequest(ctx)
		if err != nil {
			return filesResult{}, err
		}
		var files []policy.File
		opts := &github.ListOptions{PerPage: perPage}
		for page := 1; page <= maxFilePages; page++ {
			batch, resp, err := v.client.PullRequests.ListFiles(ctx, v.owner, v.repo, v.number, opts)
			v.count(resp)
			if err != nil {
				return filesResult{}, fmt.Errorf("list files of %s: %w", v.name(), err)
			}
			for _, f := range batch {
				files = append(files, policy.File{
					Path:         f.GetFilename(),
					PreviousPath: f.GetPreviousFilename(),
					Status:       f.GetStatus(),
					Additions:    f.GetAdditions(),
					Deletions:    f.GetDeletions(),
					FirstLine:    FirstLine(f.GetPatch()),
				})
			}
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
		return filesResult{files: files, truncated: pr.GetChangedFiles() > len(files)}, nil
	})
	return r.files, r.truncated, err
}

// FirstLine is the first added line on the new side of a unified diff's hunks ("patch" of a
// pull request file), or for a hunk that only deletes, the new-side line where it deletes;
// 0 when there is no hunk (binary files, or patches GitHub leaves out for size).
func FirstLine(patch string) int {
	deletedAt := 0
	newLine := 0
	inHunk := false
	for line := range strings.SplitSeq(patch, "\n") {
		if strings.HasPrefix(line, "@@") {
			start, ok := hunkNewStart(line)
			if !ok {
				inHunk = false
				continue
			}
			newLine, inHunk = start, true
			continue
		}
		if !inHunk || line == "" {
			continue
		}
		switch line[0] {
		case '+':
			return max(newLine, 1)
		case '-':
			if deletedAt == 0 {
				deletedAt = max(newLine, 1)
			}
		case ' ':
			newLine++
		}
	}
	return deletedAt
}

// hunkNewStart reads c of "@@ -a,b +c,d @@ context".
func hunkNewStart(header string) (int, bool) {
	_, rest, ok := strings.Cut(header, " +")
	if !ok {
		return 0, false
	}
	end := strings.IndexAny(rest, ", ")
	if end < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(rest[:end])
	return n, err == nil
}

func (v *view) Commits(ctx context.Context) ([]policy.Commit, error) {
	return v.commits.get(func() ([]policy.Commit, error) {
		var out []policy.Commit
		opts := &github.ListOptions{PerPage: perPage}
		for {
			batch, resp, err := v.client.PullRequests.ListCommits(ctx, v.owner, v.repo, v.number, opts)
			v.count(resp)
			if err != nil {
				return nil, fmt.Errorf("list commits of %s: %w", v.name(), err)
			}
			for _, c := range batch {
				author := c.GetAuthor().GetLogin()
				if author == "" {
					author = c.GetCommit().GetAuthor().GetName()
				}
				out = append(out, policy.Commit{SHA: c.GetSHA(), Message: c.GetCommit().GetMessage(), Author: author})
			}
			if resp.NextPage == 0 {
				return out, nil
			}
			opts.Page = resp.NextPage
		}
	})
}

// Reviews keeps each reviewer's latest review that decides something: a COMMENTED review
// after an approval does not withdraw it (GitHub's own rule), so a reviewer who only
// commented shows as COMMENTED. Pending reviews are not submitted and are left out.
func (v *view) Reviews(ctx context.Context) ([]policy.Review, error) {
	return v.reviews.get(func() ([]policy.Review, error) {
		var all []*github.PullRequestReview
		opts := &github.ListOptions{PerPage: perPage}
		for {
			batch, resp, err := v.client.PullRequests.ListReviews(ctx, v.owner, v.repo, v.number, opts)
			v.count(resp)
			if err != nil {
				return nil, fmt.Errorf("list reviews of %s: %w", v.name(), err)
			}
			all = append(all, batch...)
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
		latest := map[string]int{} // login → index in out
		var out []policy.Review
		for _, r := range all {
			login, state := r.GetUser().GetLogin(), r.GetState()
			if login == "" || state == "PENDING" {
				continue
			}
			rv := policy.Review{ID: r.GetID(), User: login, State: state, CommitID: r.GetCommitID()}
			i, seen := latest[strings.ToLower(login)]
			switch {
			case !seen:
				latest[strings.ToLower(login)] = len(out)
				out = append(out, rv)
			case state != "COMMENTED" || out[i].State == "COMMENTED":
				out[i] = rv
			}
		}
		for i := range out {
			perm, err := v.permission(ctx, out[i].User)
			if err != nil {
				return nil, err
			}
			out[i].Permission = perm
		}
		return out, nil
	})
}

// permission is the user's role on the repository (admin, maintain, write, triage, read or
// none), memoised per user.
func (v *view) permission(ctx context.Context, login string) (string, error) {
	return v.permissions.get(strings.ToLower(login), func() (string, error) {
		p, resp, err := v.client.Repositories.GetPermissionLevel(ctx, v.owner, v.repo, login)
		v.count(resp)
		if isNotFound(err) {
			return "none", nil
		}
		if err != nil {
			return "", fmt.Errorf("get %s's permission on %s/%s: %w", login, v.owner, v.repo, err)
		}
		if role := p.GetRoleName(); role != "" {
			return role, nil
		}
		return p.GetPermission(), nil
	})
}

func (v *view) headSHA(ctx context.Context) (string, error) {
	if v.opts.headSHA != "" {
		return v.opts.headSHA, nil
	}
	pr, err := v.pullRequest(ctx)
	if err != nil {
		return "", err
	}
	return pr.GetHead().GetSHA(), nil
}

func (v *view) Checks(ctx context.Context) ([]policy.Check, error) {
	return v.checks.get(func() ([]policy.Check, error) {
		sha, err := v.headSHA(ctx)
		if err != nil {
			return nil, err
		}
		var out []policy.Check
		opts := &github.ListCheckRunsOptions{Filter: github.Ptr("latest"), ListOptions: github.ListOptions{PerPage: perPage}}
		for {
			res, resp, err := v.client.Checks.ListCheckRunsForRef(ctx, v.owner, v.repo, sha, opts)
			v.count(resp)
			if err != nil {
				return nil, fmt.Errorf("list check runs on %s of %s: %w", sha, v.name(), err)
			}
			for _, cr := range res.CheckRuns {
				if v.opts.checkName != "" && cr.GetName() == v.opts.checkName {
					continue
				}
				out = append(out, policy.Check{
					Name: cr.GetName(), Status: cr.GetStatus(), Conclusion: cr.GetConclusion(),
					App: cr.GetApp().GetSlug(), Kind: "check_run",
				})
			}
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
		statusOpts := &github.ListOptions{PerPage: perPage}
		for {
			combined, resp, err := v.client.Repositories.GetCombinedStatus(ctx, v.owner, v.repo, sha, statusOpts)
			v.count(resp)
			if err != nil {
				return nil, fmt.Errorf("get commit statuses on %s of %s: %w", sha, v.name(), err)
			}
			for _, st := range combined.Statuses {
				out = append(out, statusCheck(st))
			}
			if resp.NextPage == 0 {
				break
			}
			statusOpts.Page = resp.NextPage
		}
		return out, nil
	})
}

// statusCheck maps a commit status onto a check: pending is in progress; error counts as a
// failure (the check conclusions have no "error").
func statusCheck(st *github.RepoStatus) policy.Check {
	c := policy.Check{Name: st.GetContext(), Status: "completed", App: "status", Kind: "status"}
	switch st.GetState() {
	case "success":
		c.Conclusion = "success"
	case "pending":
		c.Status = "in_progress"
	default: // failure, error
		c.Conclusion = "failure"
	}
	return c
}

func (v *view) FileAt(ctx context.Context, ref, path string) ([]byte, bool, error) {
	r, err := v.contents.get([2]string{ref, path}, func() (fileResult, error) {
		file, dir, resp, err := v.client.Repositories.GetContents(ctx, v.owner, v.repo, path, &github.RepositoryContentGetOptions{Ref: ref})
		v.count(resp)
		if isNotFound(err) {
			return fileResult{}, nil
		}
		if err != nil {
			return fileResult{}, fmt.Errorf("read %s at %s in %s/%s: %w", path, ref, v.owner, v.repo, err)
		}
		if file == nil || dir != nil {
			return fileResult{}, fmt.Errorf("read %s at %s in %s/%s: it is a directory", path, ref, v.owner, v.repo)
		}
		content, err := file.GetContent()
		if err != nil {
			return fileResult{}, fmt.Errorf("read %s at %s in %s/%s: %w", path, ref, v.owner, v.repo, err)
		}
		return fileResult{content: []byte(content), exists: true}, nil
	})
	return r.content, r.exists, err
}

func (v *view) ListDir(ctx context.Context, ref, dir string) ([]string, error) {
	return v.dirs.get([2]string{ref, dir}, func() ([]string, error) {
		file, entries, resp, err := v.client.Repositories.GetContents(ctx, v.owner, v.repo, dir, &github.RepositoryContentGetOptions{Ref: ref})
		v.count(resp)
		if isNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s at %s in %s/%s: %w", dir, ref, v.owner, v.repo, err)
		}
		if file != nil {
			return nil, fmt.Errorf("list %s at %s in %s/%s: it is a file", dir, ref, v.owner, v.repo)
		}
		var names []string
		for _, e := range entries {
			if e.GetType() == "file" {
				names = append(names, e.GetName())
			}
		}
		return names, nil
	})
}

func (v *view) TeamMember(ctx context.Context, org, team, login string) (bool, error) {
	key := [3]string{strings.ToLower(org), strings.ToLower(team), strings.ToLower(login)}
	return v.teamMembers.get(key, func() (bool, error) {
		m, resp, err := v.client.Teams.GetTeamMembershipBySlug(ctx, org, team, login)
		v.count(resp)
		if isNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("get %s's membership of %s/%s: %w", login, org, team, err)
		}
		return m.GetState() == "active", nil
	})
}
