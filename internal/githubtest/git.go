package githubtest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Real git over smart HTTP. A test gives a repository a bare git repository
// ([Server.InitGitRepo]); the fake then serves it at [Server.GitURL] through git
// http-backend, with GitHub's rules for installation tokens (HTTP Basic, user
// "x-access-token"): no or a bad token is 401, a repository the token cannot see is 404,
// fetching needs contents:read, pushing contents:write, and a push that creates or changes
// .github/workflows/ needs workflows:write. After a push the fake's state follows git:
// branches move, and an open pull request whose head was pushed gets its new head, files and
// commits, as on GitHub's synchronize. Contents of any commit in git are readable through
// GET .../contents (read from git when asked, not copied).

// gitHTTPBackend is git's CGI program for the smart HTTP protocol.
const gitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// zeroSHA is git's "no object": the old side of a creation, the new side of a deletion.
const zeroSHA = "0000000000000000000000000000000000000000"

// gitEpoch is the date of commits the fake makes, so their SHAs are the same in every run;
// each further commit of a repository is a minute later.
var gitEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// The author and committer of commits the fake makes (InitGitRepo, CommitFiles).
const (
	gitAuthorName  = "octocat"
	gitAuthorEmail = "octocat@users.noreply.github.com"
)

// Push is one ref a push updated (as git applied it; refs that receive-pack refused are not
// listed), with the token that pushed.
type Push struct {
	Time time.Time
	Ref  string // "refs/heads/agent/issue-12"
	Old  string // zeroSHA for a new ref
	New  string // zeroSHA for a deletion
	// TokenPermissions are the permissions of the installation token that pushed;
	// TokenRepositoryIDs the repositories it was narrowed to (nil: not narrowed).
	TokenPermissions   map[string]string
	TokenRepositoryIDs []int64
	InstallationID     int64
}

// GitRequest is one git smart HTTP request the fake answered. They are kept apart from
// [Server.Requests]: git traffic is not REST API traffic (no OpenAPI operation, no rate
// limit), and API request counts stay what agentgate asked of the API.
type GitRequest struct {
	Time           time.Time
	Method         string
	Path           string
	Repo           string // the repository's full name as the URL gave it
	Service        string // git-upload-pack (fetch, clone) or git-receive-pack (push)
	Status         int
	InstallationID int64 // of the token, if one was given and known
}

// gitRepo is a repository's bare git repository.
type gitRepo struct {
	dir string
	// mu serialises what changes refs (pushes, CommitFiles, ref deletion) with the
	// fake's reading of them afterwards, so state updates apply in git's order.
	mu      sync.Mutex
	commits int // commits the fake made, for their dates
}

// GitDir is the path of the repository's bare git repository (for `git --git-dir`), or ""
// if it has none.
func (s *Server) GitDir(repo string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.repoLocked(repo).git; g != nil {
		return g.dir
	}
	return ""
}

// GitURL is the repository's clone URL on the fake: <server>/<owner>/<repo>.git.
func (s *Server) GitURL(repo string) string { return s.srv.URL + "/" + repo + ".git" }

// Pushes lists the ref updates pushed to the repository, oldest first.
func (s *Server) Pushes(repo string) []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.repoLocked(repo).pushes)
	for i := range out {
		out[i].TokenRepositoryIDs = slices.Clone(out[i].TokenRepositoryIDs)
	}
	return out
}

// GitRequests returns every git smart HTTP request answered so far, oldest first.
func (s *Server) GitRequests() []GitRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.gitRequests)
}

// Branch returns the commit a branch points at, in the fake's state.
func (s *Server) Branch(repo, branch string) (sha string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, ok = s.repoLocked(repo).branches[branch]
	return sha, ok
}

// installedRepoLocked finds a repository added with AddInstallation or AddRepo.
func (s *Server) installedRepoLocked(fullName string) (*installation, Repo, bool) {
	for _, id := range s.instOrder {
		inst := s.installations[id]
		if r, ok := inst.repo(fullName); ok {
			return inst, r, true
		}
	}
	return nil, Repo{}, false
}

// InitGitRepo gives a repository (added with AddRepo or AddInstallation) a bare git
// repository with one commit of files on defaultBranch ("" keeps the repository's), which
// becomes the repository's default branch. The commit's author, committer and dates are
// fixed, so the same files give the same SHA in every run; it is returned.
func (s *Server) InitGitRepo(repo, defaultBranch string, files map[string]string) (sha string) {
	s.t.Helper()
	s.mu.Lock()
	_, r, ok := s.installedRepoLocked(repo)
	if ok && s.repoLocked(repo).git != nil {
		s.mu.Unlock()
		s.t.Fatalf("githubtest: InitGitRepo: %s already has a git repository", repo)
	}
	if s.gitRoot == "" {
		s.gitRoot = s.t.TempDir()
	}
	root := s.gitRoot
	s.mu.Unlock()
	if !ok {
		s.t.Fatalf("githubtest: InitGitRepo: %s is not a repository of any installation (AddRepo first)", repo)
	}
	if defaultBranch == "" {
		defaultBranch = r.DefaultBranch
	}
	g := &gitRepo{dir: filepath.Join(root, strings.ToLower(r.FullName)+".git")}
	if _, err := runGit("", nil, "init", "--quiet", "--bare", "--initial-branch="+defaultBranch, g.dir); err != nil {
		s.t.Fatalf("githubtest: InitGitRepo: %v", err)
	}
	if err := os.WriteFile(filepath.Join(g.dir, "hooks", "pre-receive"), []byte(preReceiveHook), 0o755); err != nil {
		s.t.Fatalf("githubtest: InitGitRepo: %v", err)
	}
	sha, err := g.commit("refs/heads/"+defaultBranch, "", "Initial commit", files)
	if err != nil {
		s.t.Fatalf("githubtest: InitGitRepo: %v", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.repoLocked(r.FullName)
	d.git = g
	d.branches[defaultBranch] = sha
	for _, inst := range s.installations {
		for i := range inst.Repos {
			if inst.Repos[i].ID == r.ID {
				inst.Repos[i].DefaultBranch = defaultBranch
			}
		}
	}
	return sha
}

// CommitFiles commits files (path → content; other files stay as they are) on a branch of
// the repository's git repository, as someone pushing to it would, and returns the commit's
// SHA. A new branch starts at the default branch. Open pull requests with that head follow,
// as after a push; nothing is recorded in Pushes.
func (s *Server) CommitFiles(repo, branch, message string, files map[string]string) (sha string) {
	s.t.Helper()
	s.mu.Lock()
	d := s.repoLocked(repo)
	g := d.git
	_, r, _ := s.installedRepoLocked(repo)
	s.mu.Unlock()
	if g == nil {
		s.t.Fatalf("githubtest: CommitFiles: %s has no git repository (InitGitRepo first)", repo)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	ref := "refs/heads/" + branch
	old, ok := g.resolve(ref)
	parent := old
	if !ok {
		old = zeroSHA
		if parent, ok = g.resolve("refs/heads/" + r.DefaultBranch); !ok {
			s.t.Fatalf("githubtest: CommitFiles: %s has no default branch %q", repo, r.DefaultBranch)
		}
	}
	sha, err := g.commit(ref, parent, message, files)
	if err != nil {
		s.t.Fatalf("githubtest: CommitFiles: %v", err)
	}
	s.refsUpdated(repo, g, []refUpdate{{old: old, new: sha, ref: ref}})
	return sha
}

// preReceiveHook refuses, like GitHub, a GitHub App's push that adds, changes or removes a
// file under .github/workflows/ unless its token has workflows:write (the fake passes the
// permission as GITHUBTEST_WORKFLOWS). ("~" stands for a backquote.)
var preReceiveHook = strings.ReplaceAll(`#!/bin/sh
test "$GITHUBTEST_WORKFLOWS" = write && exit 0
zero=0000000000000000000000000000000000000000
status=0
while read old new ref; do
	test "$new" = $zero && continue
	if test "$old" = $zero; then
		commits=$(git rev-list "$new" --not --all)
	else
		commits=$(git rev-list "$old..$new")
	fi
	test -z "$commits" && continue
	file=$(echo "$commits" | git diff-tree --stdin --root -r --name-only --no-commit-id -- .github/workflows/ | head -n 1)
	if test -n "$file"; then
		echo 'refusing to allow a GitHub App to create or update workflow ~'"$file"'~ without ~workflows~ permission' >&2
		status=1
	fi
done
exit $status
`, "~", "`")

// runGit runs git on a repository (dir "" for none) with the user's and the system's git
// configuration left out, and returns its standard output.
func runGit(dir string, stdin []byte, args ...string) ([]byte, error) {
	if dir != "" {
		args = append([]string{"--git-dir=" + dir}, args...)
	}
	cmd := exec.Command("git", args...)
	cmd.Env = gitEnv()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// gitEnv is the environment of git commands the fake runs: the process's, without GIT_*
// variables that could point git elsewhere, and without user or system configuration.
func gitEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GIT_") })
	return append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
}

func (g *gitRepo) git(args ...string) ([]byte, error) { return runGit(g.dir, nil, args...) }

// commit writes a commit of files on top of parent ("" for a root commit) with git
// fast-import and points ref at it. The caller holds g.mu (or owns g).
func (g *gitRepo) commit(ref, parent, message string, files map[string]string) (string, error) {
	when := gitEpoch.Add(time.Duration(g.commits) * time.Minute).Unix()
	g.commits++
	var b bytes.Buffer
	data := func(s string) { fmt.Fprintf(&b, "data %d\n%s\n", len(s), s) }
	fmt.Fprintf(&b, "commit %s\nmark :1\n", ref)
	fmt.Fprintf(&b, "author %s <%s> %d +0000\n", gitAuthorName, gitAuthorEmail, when)
	fmt.Fprintf(&b, "committer %s <%s> %d +0000\n", gitAuthorName, gitAuthorEmail, when)
	data(message)
	if parent != "" {
		fmt.Fprintf(&b, "from %s\n", parent)
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		name := strings.Trim(p, "/")
		if strings.ContainsAny(name, "\"\n\\") {
			name = strconv.Quote(name)
		}
		fmt.Fprintf(&b, "M 100644 inline %s\n", name)
		data(files[p])
	}
	b.WriteString("get-mark :1\n")
	out, err := runGit(g.dir, b.Bytes(), "fast-import", "--quiet", "--force", "--date-format=raw")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// resolve returns the commit a revision names.
func (g *gitRepo) resolve(rev string) (string, bool) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return "", false
	}
	out, err := g.git("rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(out)), true
}

// gitEntry is a file or directory of a commit's tree.
type gitEntry struct {
	dir  bool
	sha  string // blob or tree
	size int
}

// tree lists every file and directory of a commit.
func (g *gitRepo) tree(commit string) (map[string]gitEntry, error) {
	out, err := g.git("ls-tree", "-r", "-t", "-l", "-z", "--full-tree", commit)
	if err != nil {
		return nil, err
	}
	entries := map[string]gitEntry{}
	for _, rec := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		meta, p, ok := strings.Cut(rec, "\t")
		f := strings.Fields(meta) // mode, type, object, size
		if !ok || len(f) != 4 {
			continue
		}
		switch f[1] {
		case "tree":
			entries[p] = gitEntry{dir: true, sha: f[2]}
		case "blob":
			size, _ := strconv.Atoi(f[3])
			entries[p] = gitEntry{sha: f[2], size: size}
		}
	}
	return entries, nil
}

// refUpdate is one command of a push: old, new, ref.
type refUpdate struct{ old, new, ref string }

// receivePackCommands reads the ref updates from the start of a git-receive-pack request:
// pkt-lines "<old> <new> <ref>" (the first with "\0capabilities"), up to a flush packet.
func receivePackCommands(body []byte) []refUpdate {
	var out []refUpdate
	for len(body) >= 4 {
		n, err := strconv.ParseUint(string(body[:4]), 16, 16)
		if err != nil || n == 0 || int(n) > len(body) || n < 4 {
			break
		}
		line := string(body[4:n])
		body = body[n:]
		line, _, _ = strings.Cut(strings.TrimSuffix(line, "\n"), "\x00")
		f := strings.Fields(line)
		if len(f) == 3 && len(f[0]) == 40 && len(f[1]) == 40 {
			out = append(out, refUpdate{old: f[0], new: f[1], ref: f[2]})
		}
	}
	return out
}

// gitService is the git program a smart HTTP request is for.
func gitService(r *http.Request) string {
	if strings.HasSuffix(r.URL.Path, "/info/refs") {
		return r.URL.Query().Get("service")
	}
	return r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// serveGit answers GET /{owner}/{repo}.git/info/refs?service=... and
// POST /{owner}/{repo}.git/git-upload-pack|git-receive-pack.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request) {
	fullName := r.PathValue("owner") + "/" + strings.TrimSuffix(r.PathValue("repo"), ".git")
	service := gitService(r)
	rec := GitRequest{Time: s.now(), Method: r.Method, Path: r.URL.Path, Repo: fullName, Service: service}
	sw := &statusRecorder{ResponseWriter: w}
	defer func() {
		rec.Status = sw.status
		s.mu.Lock()
		s.gitRequests = append(s.gitRequests, rec)
		s.mu.Unlock()
	}()
	text := func(status int, msg string) {
		sw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		sw.WriteHeader(status)
		io.WriteString(sw, msg+"\n")
	}
	if service != "git-upload-pack" && service != "git-receive-pack" {
		text(http.StatusForbidden, "Please upgrade your git client.\nGitHub.com no longer supports git over dumb-http.")
		return
	}

	user, password, hasAuth := r.BasicAuth()
	s.mu.Lock()
	tok := s.tokens[password]
	var inst *installation
	if hasAuth && user == "x-access-token" && tok != nil && s.now().Before(tok.expiresAt) {
		inst = s.installations[tok.installationID]
	}
	if inst == nil {
		s.mu.Unlock()
		sw.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		msg := "Invalid username or token. Password authentication is not supported for Git operations."
		if !hasAuth {
			msg = "Authentication required."
		}
		text(http.StatusUnauthorized, msg)
		return
	}
	rec.InstallationID = inst.ID
	repo, ok := inst.repo(fullName)
	if !ok || !tok.canAccessRepo(repo.ID) {
		s.mu.Unlock()
		text(http.StatusNotFound, "Repository not found.")
		return
	}
	d := s.repoLocked(repo.FullName)
	g := d.git
	bot := s.app.slug + "[bot]"
	perms := tok.permissions
	var repoIDs []int64
	if tok.repoIDs != nil {
		repoIDs = slices.Sorted(maps.Keys(tok.repoIDs))
	}
	push := service == "git-receive-pack"
	allowed := tok.allows("contents", "read")
	if push {
		allowed = tok.allows("contents", "write")
	}
	workflows := tok.allows("workflows", "write")
	s.mu.Unlock()
	if g == nil {
		text(http.StatusNotFound, "Repository not found. (githubtest: "+repo.FullName+" has no git repository; call InitGitRepo)")
		return
	}
	if !allowed {
		text(http.StatusForbidden, "Permission to "+repo.FullName+".git denied to "+bot+".")
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, 2*maxBodyBytes))
	if err == nil && r.Header.Get("Content-Encoding") == "gzip" {
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
			body, err = io.ReadAll(zr)
		}
	}
	if err != nil {
		text(http.StatusBadRequest, "bad request body: "+err.Error())
		return
	}
	r2 := r.Clone(r.Context())
	r2.Header.Del("Content-Encoding")
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	r2.URL.Path = "/" + filepath.Base(g.dir) // the backend's path: <name>.git/<what>
	if strings.HasSuffix(r.URL.Path, "/info/refs") {
		r2.URL.Path += "/info/refs"
	} else {
		r2.URL.Path += "/" + service
	}
	r2.URL.RawPath = ""
	workflowsEnv := "none"
	if workflows {
		workflowsEnv = "write"
	}
	backend := &cgi.Handler{
		Path: gitHTTPBackend,
		Dir:  g.dir,
		Env: []string{
			"GIT_PROJECT_ROOT=" + filepath.Dir(g.dir),
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER=x-access-token", // lets http-backend run receive-pack
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=" + os.DevNull,
			"GITHUBTEST_WORKFLOWS=" + workflowsEnv,
		},
		Stderr: io.Discard,
	}
	if !push || r.Method != http.MethodPost {
		backend.ServeHTTP(sw, r2)
		return
	}

	updates := receivePackCommands(body)
	g.mu.Lock()
	defer g.mu.Unlock()
	backend.ServeHTTP(sw, r2)
	if sw.status != http.StatusOK {
		return
	}
	// receive-pack answers 200 and reports refused refs in its output; what counts is
	// what git applied.
	var applied []refUpdate
	for _, u := range updates {
		sha, ok := g.resolve(u.ref)
		if (u.new == zeroSHA && !ok) || (ok && sha == u.new) {
			applied = append(applied, u)
		}
	}
	now := s.now()
	s.mu.Lock()
	for _, u := range applied {
		d.pushes = append(d.pushes, Push{
			Time: now, Ref: u.ref, Old: u.old, New: u.new,
			TokenPermissions: maps.Clone(perms), TokenRepositoryIDs: slices.Clone(repoIDs), InstallationID: inst.ID,
		})
	}
	s.mu.Unlock()
	s.refsUpdated(repo.FullName, g, applied)
}

// refsUpdated makes the fake's state follow branch updates that git applied: branches move
// or go, and open pull requests whose head moved get the new head, files and commits. The
// caller holds g.mu.
func (s *Server) refsUpdated(repo string, g *gitRepo, updates []refUpdate) {
	type pullSync struct {
		number  int
		base    string
		head    string
		headRef string
	}
	var todo []pullSync
	s.mu.Lock()
	d := s.repoLocked(repo)
	for _, u := range updates {
		branch, ok := strings.CutPrefix(u.ref, "refs/heads/")
		if !ok {
			continue
		}
		if u.new == zeroSHA {
			delete(d.branches, branch)
			continue
		}
		d.branches[branch] = u.new
		for n, pr := range d.pulls {
			if pr.State == "open" && pr.Head.Ref == branch {
				todo = append(todo, pullSync{number: n, base: pr.Base.Ref, head: u.new, headRef: branch})
			}
		}
	}
	s.mu.Unlock()
	sort.Slice(todo, func(i, j int) bool { return todo[i].number < todo[j].number })

	for _, t := range todo {
		baseSHA, ok := g.resolve("refs/heads/" + t.base)
		if !ok {
			continue
		}
		cmp, err := g.compare(baseSHA, t.head)
		if err != nil {
			s.t.Errorf("githubtest: update %s#%d after a push: %v", repo, t.number, err)
			continue
		}
		s.mu.Lock()
		if pr := d.pulls[t.number]; pr != nil && pr.Head.Ref == t.headRef {
			pr.Base.SHA, pr.Head.SHA = baseSHA, t.head
			pr.Files, pr.Commits = cmp.files, cmp.commits
			d.touchLocked(pr, s.now().UTC().Truncate(time.Second))
		}
		s.mu.Unlock()
	}
}

// comparison is what a pull request from base to head shows: the commits of head that base
// lacks, oldest first, and the files changed since their merge base.
type comparison struct {
	commits []Commit
	files   []PullFile
}

// compare reads a pull request's commits and files from git, as GitHub computes them.
func (g *gitRepo) compare(base, head string) (comparison, error) {
	var cmp comparison
	const sep, end = "\x1f", "\x1e"
	format := strings.Join([]string{"%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"}, "%x1f") + "%x1e"
	out, err := g.git("log", "--reverse", "--format="+format, base+".."+head)
	if err != nil {
		return cmp, err
	}
	for _, rec := range strings.Split(string(out), end) {
		f := strings.Split(strings.TrimLeft(rec, "\n"), sep)
		if len(f) != 9 {
			continue
		}
		authorDate, _ := time.Parse(time.RFC3339, f[4])
		committerDate, _ := time.Parse(time.RFC3339, f[7])
		cmp.commits = append(cmp.commits, Commit{
			SHA: f[0], Parents: strings.Fields(f[1]),
			Name: f[2], Email: f[3], Date: authorDate, Author: accountOfEmail(f[3]),
			CommitterName: f[5], CommitterEmail: f[6], CommitterDate: committerDate, Committer: accountOfEmail(f[6]),
			Message: strings.TrimRight(f[8], "\n"),
		})
	}
	if len(cmp.commits) == 0 {
		return cmp, nil
	}

	rng := base + "..." + head // from the merge base, like a pull request's diff
	raw, err := g.git("diff", "--raw", "-z", "-M", "--no-abbrev", rng)
	if err != nil {
		return cmp, err
	}
	numstat, err := g.git("diff", "--numstat", "-z", "-M", rng)
	if err != nil {
		return cmp, err
	}
	patch, err := g.git("diff", "-M", "--no-color", "--no-ext-diff", rng)
	if err != nil {
		return cmp, err
	}
	files, err := parseRawDiff(string(raw))
	if err != nil {
		return cmp, err
	}
	counts := parseNumstat(string(numstat))
	patches := splitPatch(string(patch))
	if len(counts) != len(files) || len(patches) != len(files) {
		return cmp, fmt.Errorf("git diff %s: %d files, %d numstat and %d patch entries", rng, len(files), len(counts), len(patches))
	}
	for i := range files {
		files[i].Additions, files[i].Deletions = counts[i][0], counts[i][1]
		files[i].Patch = patches[i]
	}
	cmp.files = files
	return cmp, nil
}

// accountOfEmail is the GitHub account of a commit email: only GitHub's noreply addresses
// ("login@users.noreply.github.com", "id+login@users.noreply.github.com") name one here.
func accountOfEmail(email string) Account {
	local, ok := strings.CutSuffix(email, "@users.noreply.github.com")
	if !ok {
		return Account{}
	}
	if _, login, ok := strings.Cut(local, "+"); ok {
		local = login
	}
	return Account{Login: local}
}

var diffStatus = map[byte]string{
	'A': "added", 'D': "removed", 'M': "modified", 'R': "renamed", 'C': "copied", 'T': "changed",
}

// parseRawDiff reads `git diff --raw -z`: ":srcmode dstmode src dst STATUS\0path\0" with a
// second path for renames and copies.
func parseRawDiff(raw string) ([]PullFile, error) {
	var files []PullFile
	fields := strings.Split(strings.TrimSuffix(raw, "\x00"), "\x00")
	for i := 0; i < len(fields) && fields[i] != ""; {
		meta := strings.Fields(strings.TrimPrefix(fields[i], ":"))
		if len(meta) != 5 || i+1 >= len(fields) {
			return nil, fmt.Errorf("git diff --raw: unexpected %q", fields[i])
		}
		f := PullFile{Status: diffStatus[meta[4][0]], SHA: meta[3]}
		if f.Status == "" {
			f.Status = "changed"
		}
		f.Filename = fields[i+1]
		i += 2
		if meta[4][0] == 'R' || meta[4][0] == 'C' {
			if i >= len(fields) {
				return nil, errors.New("git diff --raw: rename without a new path")
			}
			f.PreviousFilename, f.Filename = f.Filename, fields[i]
			i++
		}
		if f.Status == "removed" {
			f.SHA = ""
		}
		files = append(files, f)
	}
	return files, nil
}

// parseNumstat reads `git diff --numstat -z`: "add\tdel\tpath\0", or for renames
// "add\tdel\t\0old\0new\0"; binary files count "-", as zero.
func parseNumstat(out string) [][2]int {
	var counts [][2]int
	fields := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
	for i := 0; i < len(fields) && fields[i] != ""; i++ {
		f := strings.SplitN(fields[i], "\t", 3)
		if len(f) != 3 {
			continue
		}
		add, _ := strconv.Atoi(f[0])
		del, _ := strconv.Atoi(f[1])
		counts = append(counts, [2]int{add, del})
		if f[2] == "" {
			i += 2 // a rename's two paths follow
		}
	}
	return counts
}

// splitPatch cuts a `git diff` into one patch per file, each as GitHub's "patch" shows it:
// the hunks, without the file headers; "" for binary files and pure renames.
func splitPatch(out string) []string {
	var patches []string
	for _, chunk := range strings.Split("\n"+out, "\ndiff --git ")[1:] {
		p := ""
		if i := strings.Index(chunk, "\n@@"); i >= 0 {
			p = strings.TrimSuffix(chunk[i+1:], "\n")
		}
		patches = append(patches, p)
	}
	return patches
}
