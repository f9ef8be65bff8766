package githubtest

import (
	"crypto/sha1"
	"encoding/hex"
	"slices"
	"sort"
	"strings"
	"time"
)

// Repository state: what a test puts in a repository (git content per commit, branches, pull
// requests with their files, commits and reviews, check runs, commit statuses, collaborators)
// and what the app's requests change (check runs). Everything is keyed by the repository's
// full name, case-insensitively, like GitHub's URLs.

// GitHub's listing limits.
const (
	maxPullFiles   = 3000 // GET .../pulls/{n}/files lists at most this many; changed_files tells the truth
	maxPullCommits = 250  // GET .../pulls/{n}/commits
	// Check run limits (POST/PATCH .../check-runs): longer text, more annotations per
	// request or more actions are refused with 422.
	maxCheckRunText        = 65535
	maxAnnotationsPerCall  = 50
	maxCheckRunActions     = 3
	maxActionLabel         = 20
	maxActionDescription   = 40
	maxActionIdentifier    = 20
	githubActionsAppID     = 15368
	githubActionsAppSlug   = "github-actions"
	githubActionsAppName   = "GitHub Actions"
	githubActionsAppOwner  = "github"
	defaultCheckRunAppSlug = githubActionsAppSlug
)

// Account is a user or bot as pull requests and reviews show it.
type Account struct {
	Login string
	Type  string // "User" (default) or "Bot"
}

func (a Account) typ() string {
	if a.Type == "" {
		if strings.HasSuffix(a.Login, "[bot]") {
			return "Bot"
		}
		return "User"
	}
	return a.Type
}

// PullRef is one side of a pull request: a branch and the commit it points at.
type PullRef struct {
	Ref string
	SHA string
}

// PullRequest is a pull request as a test sets it up. Additions, deletions and changed_files
// are computed from Files (all of them, even past the 3,000 the API lists).
type PullRequest struct {
	Number int
	Title  string
	Body   string
	Draft  bool
	User   Account
	Base   PullRef
	Head   PullRef
	Labels []string
	State  string // "open" (default) or "closed"
	Merged bool
	// Set when the pull request is merged on the fake (MergePull, PUT .../merge); for a
	// merged pull request a test adds, merged_at is its updated_at and merge_commit_sha
	// is made up.
	MergedAt       time.Time
	MergedBy       Account
	MergeCommitSHA string
	// Files are the changed files, in the order the API lists them.
	Files []PullFile
	// Commits are the pull request's commits, oldest first.
	Commits []Commit

	// Set by the fake: when the pull request was added and last changed (its created_at
	// and updated_at), and the order of changes, for GET .../pulls?sort=updated.
	created, updated time.Time
	touched          int64
}

// PullFile is one changed file of a pull request.
type PullFile struct {
	Filename         string
	Status           string // added, removed, modified (default), renamed, copied, changed, unchanged
	Additions        int
	Deletions        int
	Patch            string // unified diff hunks, as GitHub's "patch"
	PreviousFilename string // for renames
	SHA              string // the blob at the head (default: made up from head and name)
}

// Commit is a commit of a pull request. Commits read from a git repository have every field;
// a test's may leave the git names, the committer and the parents out.
type Commit struct {
	SHA     string
	Message string
	// Author is the author's GitHub account. Name is the git author name (default: the
	// account's login); a commit with a Name but no account (its email is no GitHub
	// account's) has a null "author" in the API, as on GitHub.
	Author Account
	Name   string
	Email  string // git author email (default login@users.noreply.github.com)
	Date   time.Time
	// The committer; defaults: the author's.
	Committer      Account
	CommitterName  string
	CommitterEmail string
	CommitterDate  time.Time
	// Parents default to the previous commit of the pull request (its base for the first).
	Parents []string
}

// Review is a pull request review.
type Review struct {
	ID          int64 // assigned if 0
	User        Account
	State       string // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
	Body        string
	CommitID    string // default: the pull request's head SHA
	SubmittedAt time.Time
}

// CheckRun is a check run, created by the app through the API or by a test for another app
// ([Server.AddCheckRun]).
type CheckRun struct {
	ID          int64
	Name        string
	HeadSHA     string
	Status      string // queued, in_progress, completed
	Conclusion  string // set when completed
	App         string // app slug; AddCheckRun's default is "github-actions"
	Output      CheckRunOutput
	DetailsURL  string
	ExternalID  string
	Actions     []CheckRunAction
	StartedAt   time.Time
	CompletedAt time.Time
	// History has one entry per create and update, oldest first, so tests can see how a
	// run went (e.g. in_progress → completed).
	History []CheckRunUpdate
}

// CheckRunOutput is a check run's output; Annotations accumulate over updates, as on GitHub.
type CheckRunOutput struct {
	Title       string
	Summary     string
	Text        string
	Annotations []CheckRunAnnotation
}

// CheckRunAnnotation is one annotation of a check run.
type CheckRunAnnotation struct {
	Path            string `json:"path"`
	StartLine       int    `json:"start_line"`
	EndLine         int    `json:"end_line"`
	StartColumn     *int   `json:"start_column,omitempty"`
	EndColumn       *int   `json:"end_column,omitempty"`
	AnnotationLevel string `json:"annotation_level"`
	Message         string `json:"message"`
	Title           string `json:"title,omitempty"`
	RawDetails      string `json:"raw_details,omitempty"`
}

// CheckRunAction is a button on a completed check run.
type CheckRunAction struct {
	Label       string `json:"label"`
	Description string `json:"description"`
	Identifier  string `json:"identifier"`
}

// CheckRunUpdate is the state of a check run after one create or update.
type CheckRunUpdate struct {
	Time        time.Time
	Created     bool // the create, not an update
	Status      string
	Conclusion  string
	Title       string
	Summary     string
	Text        string
	Annotations int // annotations added by this request
}

// Status is a commit status.
type Status struct {
	ID          int64
	Context     string
	State       string // error, failure, pending, success
	Description string
	TargetURL   string
	CreatedAt   time.Time
}

// repoData is one repository's state.
type repoData struct {
	commits   map[string]*commitData // by SHA
	branches  map[string]string      // branch → SHA
	pulls     map[int]*PullRequest
	reviews   map[int][]*Review // by pull request number
	checkRuns []*CheckRun       // by ID order
	statuses  map[string][]*Status
	perms     map[string]string // lower-case login → admin, maintain, write, triage, read
	pullSeq   int64             // counts changes to pull requests, for sort=updated

	git            *gitRepo          // see git.go; nil without InitGitRepo
	pushes         []Push            // oldest first
	issues         map[int]*Issue    // issues that are not pull requests, see issues.go
	labels         map[string]string // the repository's labels: lower-case name → name
	comments       []*IssueComment   // issue and pull request comments, by ID order
	reviewComments []*ReviewComment  // by ID order
	reactions      map[string][]reaction
	workflows      map[string]int64 // registered workflow file → ID, see actions.go
	dispatches     []WorkflowDispatch
	attestations   []*Attestation // oldest first, see attestations.go
}

// touchLocked records a change to a pull request: its updated_at and its place in
// sort=updated.
func (d *repoData) touchLocked(pr *PullRequest, now time.Time) {
	d.pullSeq++
	pr.updated, pr.touched = now, d.pullSeq
	if pr.created.IsZero() {
		pr.created = now
	}
}

type commitData struct {
	files map[string]string
	tree  string
}

// repoLocked returns the repository's state, created on first use.
func (s *Server) repoLocked(fullName string) *repoData {
	key := strings.ToLower(fullName)
	if s.repos == nil {
		s.repos = map[string]*repoData{}
	}
	d := s.repos[key]
	if d == nil {
		d = &repoData{
			commits:   map[string]*commitData{},
			branches:  map[string]string{},
			pulls:     map[int]*PullRequest{},
			reviews:   map[int][]*Review{},
			statuses:  map[string][]*Status{},
			perms:     map[string]string{},
			issues:    map[int]*Issue{},
			labels:    map[string]string{},
			reactions: map[string][]reaction{},
			workflows: map[string]int64{},
		}
		s.repos[key] = d
	}
	return d
}

func (s *Server) nextIDLocked() int64 {
	s.lastID++
	return 100_000_000 + s.lastID
}

// AddRepo adds a repository to an installation (or replaces the one with the same ID).
func (s *Server) AddRepo(installationID int64, r Repo) {
	s.t.Helper()
	if r.ID == 0 || !strings.Contains(r.FullName, "/") {
		s.t.Fatalf("githubtest: repository needs ID and owner/name FullName, got %+v", r)
	}
	if r.DefaultBranch == "" {
		r.DefaultBranch = "main"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installations[installationID]
	if inst == nil {
		s.t.Fatalf("githubtest: AddRepo: no installation %d", installationID)
	}
	inst.Repos = slices.DeleteFunc(slices.Clone(inst.Repos), func(x Repo) bool { return x.ID == r.ID })
	inst.Repos = append(inst.Repos, r)
}

// SetFiles sets the content of the repository at a commit: every file (path → content) of
// the tree. Later calls for the same SHA replace it.
func (s *Server) SetFiles(repo, sha string, files map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &commitData{files: map[string]string{}}
	paths := make([]string, 0, len(files))
	for p, content := range files {
		p = strings.Trim(p, "/")
		c.files[p] = content
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha1.New()
	for _, p := range paths {
		h.Write([]byte(p + "\x00" + gitBlobSHA(c.files[p]) + "\n"))
	}
	c.tree = hex.EncodeToString(h.Sum(nil))
	s.repoLocked(repo).commits[sha] = c
}

// SetBranch points a branch at a commit.
func (s *Server) SetBranch(repo, branch, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repoLocked(repo).branches[branch] = sha
}

// AddPullRequest adds (or replaces) a pull request. Its base and head branches are pointed at
// their SHAs.
func (s *Server) AddPullRequest(repo string, pr PullRequest) {
	s.t.Helper()
	if pr.Number <= 0 || pr.Head.SHA == "" || pr.Base.SHA == "" {
		s.t.Fatalf("githubtest: AddPullRequest needs Number, Base.SHA and Head.SHA, got #%d", pr.Number)
	}
	if pr.Base.Ref == "" {
		pr.Base.Ref = "main"
	}
	if pr.Head.Ref == "" {
		pr.Head.Ref = "pr-" + itoa(pr.Number)
	}
	if pr.User.Login == "" {
		pr.User.Login = "octocat"
	}
	if pr.State == "" {
		pr.State = "open"
	}
	pr.Files = slices.Clone(pr.Files)
	pr.Commits = slices.Clone(pr.Commits)
	pr.Labels = slices.Clone(pr.Labels)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC().Truncate(time.Second)
	for i := range pr.Commits {
		if pr.Commits[i].Date.IsZero() {
			pr.Commits[i].Date = now // fixed once, so answers (and their ETags) stay the same
		}
	}
	d := s.repoLocked(repo)
	if d.issues[pr.Number] != nil {
		s.t.Fatalf("githubtest: AddPullRequest: %s#%d is an issue", repo, pr.Number)
	}
	s.knowLocked(pr.User)
	for _, l := range pr.Labels {
		d.labelLocked(l)
	}
	pr.created, pr.updated, pr.touched = time.Time{}, time.Time{}, 0
	if old := d.pulls[pr.Number]; old != nil {
		pr.created = old.created // replacing keeps the creation time
	}
	d.touchLocked(&pr, now)
	d.pulls[pr.Number] = &pr
	d.branches[pr.Base.Ref] = pr.Base.SHA
	d.branches[pr.Head.Ref] = pr.Head.SHA
}

// UpdatePullRequest changes a pull request in place (e.g. a push: new Head.SHA, Files and
// Commits).
func (s *Server) UpdatePullRequest(repo string, number int, update func(*PullRequest)) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.repoLocked(repo)
	pr := d.pulls[number]
	if pr == nil {
		s.t.Fatalf("githubtest: no pull request %s#%d", repo, number)
	}
	update(pr)
	d.touchLocked(pr, s.now().UTC().Truncate(time.Second))
	d.branches[pr.Head.Ref] = pr.Head.SHA
}

// AddCommit appends a commit to a pull request and makes it the head.
func (s *Server) AddCommit(repo string, number int, c Commit) {
	if c.Date.IsZero() {
		c.Date = s.now().UTC().Truncate(time.Second)
	}
	s.UpdatePullRequest(repo, number, func(pr *PullRequest) {
		pr.Commits = append(pr.Commits, c)
		pr.Head.SHA = c.SHA
	})
}

// AddReview adds a review to a pull request and returns its ID.
func (s *Server) AddReview(repo string, number int, rv Review) int64 {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.repoLocked(repo)
	pr := d.pulls[number]
	if pr == nil {
		s.t.Fatalf("githubtest: AddReview: no pull request %s#%d", repo, number)
	}
	if rv.ID == 0 {
		rv.ID = s.nextIDLocked()
	}
	if rv.CommitID == "" {
		rv.CommitID = pr.Head.SHA
	}
	if rv.SubmittedAt.IsZero() {
		rv.SubmittedAt = s.now()
	}
	if rv.State == "" {
		rv.State = "COMMENTED"
	}
	s.knowLocked(rv.User)
	d.reviews[number] = append(d.reviews[number], &rv)
	d.touchLocked(pr, s.now().UTC().Truncate(time.Second))
	return rv.ID
}

// SetPermission gives a user a role on the repository: admin, maintain, write, triage or
// read ("" removes it).
func (s *Server) SetPermission(repo, login, perm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.repoLocked(repo)
	if perm == "" {
		delete(d.perms, strings.ToLower(login))
		return
	}
	s.knowLocked(Account{Login: login})
	d.perms[strings.ToLower(login)] = perm
}

// AddTeamMember makes login an active member of the organization's team.
func (s *Server) AddTeamMember(org, team, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.teams == nil {
		s.teams = map[string]map[string]bool{}
	}
	key := strings.ToLower(org + "/" + team)
	if s.teams[key] == nil {
		s.teams[key] = map[string]bool{}
	}
	s.teams[key][strings.ToLower(login)] = true
	s.knowLocked(Account{Login: login})
}

// AddCheckRun adds another app's check run (App defaults to "github-actions", Status to
// "queued", or "completed" when Conclusion is set) and returns its ID.
func (s *Server) AddCheckRun(repo string, cr CheckRun) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cr.App == "" {
		cr.App = defaultCheckRunAppSlug
	}
	if cr.Status == "" {
		cr.Status = "queued"
		if cr.Conclusion != "" {
			cr.Status = "completed"
		}
	}
	now := s.now().UTC().Truncate(time.Second)
	if cr.StartedAt.IsZero() {
		cr.StartedAt = now
	}
	if cr.Status == "completed" && cr.CompletedAt.IsZero() {
		cr.CompletedAt = now
	}
	cr.ID = s.nextIDLocked()
	cr.History = []CheckRunUpdate{updateOf(&cr, now, true, 0)}
	d := s.repoLocked(repo)
	d.checkRuns = append(d.checkRuns, &cr)
	return cr.ID
}

// CompleteCheckRun completes a check run with a conclusion.
func (s *Server) CompleteCheckRun(repo string, id int64, conclusion string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	cr := s.repoLocked(repo).checkRun(id)
	if cr == nil {
		s.t.Fatalf("githubtest: no check run %d in %s", id, repo)
	}
	now := s.now().UTC().Truncate(time.Second)
	cr.Status, cr.Conclusion, cr.CompletedAt = "completed", conclusion, now
	cr.History = append(cr.History, updateOf(cr, now, false, 0))
}

// CheckRuns returns the repository's check runs (the app's and other apps'), oldest first,
// each with its History.
func (s *Server) CheckRuns(repo string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CheckRun
	for _, cr := range s.repoLocked(repo).checkRuns {
		c := *cr
		c.History = slices.Clone(cr.History)
		c.Actions = slices.Clone(cr.Actions)
		c.Output.Annotations = slices.Clone(cr.Output.Annotations)
		out = append(out, c)
	}
	return out
}

// SetStatus adds a commit status (context, state: error, failure, pending or success) and
// returns its ID.
func (s *Server) SetStatus(repo, sha, context, state string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &Status{ID: s.nextIDLocked(), Context: context, State: state, CreatedAt: s.now().UTC().Truncate(time.Second)}
	d := s.repoLocked(repo)
	d.statuses[sha] = append(d.statuses[sha], st)
	return st.ID
}

func updateOf(cr *CheckRun, now time.Time, created bool, annotations int) CheckRunUpdate {
	return CheckRunUpdate{
		Time: now, Created: created, Status: cr.Status, Conclusion: cr.Conclusion,
		Title: cr.Output.Title, Summary: cr.Output.Summary, Text: cr.Output.Text, Annotations: annotations,
	}
}

func (d *repoData) checkRun(id int64) *CheckRun {
	for _, cr := range d.checkRuns {
		if cr.ID == id {
			return cr
		}
	}
	return nil
}

// resolve turns a ref (SHA, branch, "heads/x", "refs/heads/x") into a SHA with content.
func (d *repoData) resolve(ref, defaultBranch string) (string, *commitData) {
	if ref == "" {
		ref = defaultBranch
	}
	if c := d.commits[ref]; c != nil {
		return ref, c
	}
	branch := strings.TrimPrefix(strings.TrimPrefix(ref, "refs/"), "heads/")
	if sha, ok := d.branches[branch]; ok {
		return sha, d.commits[sha]
	}
	return "", nil
}

// gitBlobSHA is git's object ID of a blob with this content.
func gitBlobSHA(content string) string {
	h := sha1.New()
	h.Write([]byte("blob " + itoa(len(content)) + "\x00"))
	h.Write([]byte(content))
	return hex.EncodeToString(h.Sum(nil))
}

// counts are a pull request's totals over all its files.
func (pr *PullRequest) counts() (additions, deletions, files int) {
	for _, f := range pr.Files {
		additions += f.Additions
		deletions += f.Deletions
	}
	return additions, deletions, len(pr.Files)
}

// GenerateFiles returns n modified files (gen/file-0001.go, ...), each with one added and one
// deleted line and a patch, for pull requests larger than a page or than GitHub lists.
func GenerateFiles(n int) []PullFile {
	files := make([]PullFile, n)
	for i := range files {
		files[i] = PullFile{
			Filename:  "gen/file-" + leftPad(itoa(i+1), 4) + ".go",
			Status:    "modified",
			Additions: 1,
			Deletions: 1,
			Patch:     "@@ -1,3 +1,3 @@\n package gen\n-var x = 1\n+var x = 2\n",
		}
	}
	return files
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}
