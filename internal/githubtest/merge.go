package githubtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Merging a pull request, through PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge (the
// app, with an installation token that has contents:write) or [Server.MergePull] (a person,
// who needs write access to the repository, as on GitHub). Both run the same code with real
// git in the repository's bare git repository, never through a work tree:
//
//   - merge: a merge commit of the base branch's tip and the head (git merge-tree
//     --write-tree, git commit-tree with both parents), authored by whoever merged;
//   - squash: one commit whose only parent is the base branch's tip, with the merged tree,
//     authored by the pull request's author;
//   - rebase: the pull request's commits replayed one by one onto the base branch's tip
//     (new SHAs; authors and messages kept), the base branch moved to the last.
//
// GitHub commits these as "GitHub <noreply@github.com>"; so does the fake. The base branch
// moves with git update-ref guarded by its old value. Conflicts are 405 "Pull Request is not
// mergeable", as are closed and merged pull requests; a draft is 405 "Pull Request is still
// a draft"; a sha that is not the head is 409. On success the pull request is closed and
// merged (merged_at, merged_by, merge_commit_sha: for rebase the last rebased commit, as
// GitHub reports) and the app gets a pull_request webhook (closed, merged true) and then a
// push webhook for the base branch.

// MergeError is a merge GitHub would refuse: Status is the API's answer (404, 405, 409 or
// 422) and Message its message.
type MergeError struct {
	Status  int
	Message string
}

func (e *MergeError) Error() string {
	return fmt.Sprintf("githubtest: merge refused with %d: %s", e.Status, e.Message)
}

// MergeOptions are the choices of [Server.MergePullWith].
type MergeOptions struct {
	Method        string // merge (default), squash or rebase
	CommitTitle   string // default: GitHub's for the method
	CommitMessage string // default: GitHub's for the method
	SHA           string // if set, the head the pull request must have (409 otherwise)
	User          string // login of the person merging; needs write access (SetPermission)
}

// The committer of the commits GitHub makes when it merges.
var githubCommitter = gitIdent{name: "GitHub", email: "noreply@github.com"}

// mergeInput is a merge request, from the API or from a test.
type mergeInput struct {
	method         string
	title, message *string
	sha            string
	by             Account
}

// MergePull merges a pull request as the person user would on github.com, with method
// merge, squash or rebase ("" is merge) and GitHub's default commit title and message,
// and returns the SHA GitHub reports as merge_commit_sha. The webhooks (pull_request closed,
// then push) have been delivered and answered when it returns. A refused merge is a
// *MergeError. If the merge succeeded but a webhook did not reach the app (no webhook URL,
// the app unreachable or too slow; any answer counts as received), sha is set and err says
// which.
func (s *Server) MergePull(owner, repo string, number int, method, user string) (sha string, err error) {
	return s.MergePullWith(owner, repo, number, MergeOptions{Method: method, User: user})
}

// MergePullWith is [Server.MergePull] with a commit title and message and an expected head.
func (s *Server) MergePullWith(owner, repo string, number int, opts MergeOptions) (sha string, err error) {
	fullName := owner + "/" + repo
	if opts.User == "" {
		return "", errors.New("githubtest: MergePull: no user (the login of the person merging)")
	}
	method := opts.Method
	if method == "" {
		method = "merge"
	}
	if method != "merge" && method != "squash" && method != "rebase" {
		return "", fmt.Errorf("githubtest: MergePull: merge method %q is not merge, squash or rebase", method)
	}
	s.mu.Lock()
	inst, r, ok := s.installedRepoLocked(fullName)
	if !ok {
		s.mu.Unlock()
		return "", fmt.Errorf("githubtest: MergePull: %s is not a repository of any installation", fullName)
	}
	d := s.repoLocked(r.FullName)
	role := d.perms[strings.ToLower(opts.User)]
	user, known := s.accountLocked(opts.User)
	if !known {
		user = Account{Login: opts.User}
	}
	s.knowLocked(user)
	s.mu.Unlock()
	if role != "admin" && role != "maintain" && role != "write" {
		return "", &MergeError{Status: http.StatusForbidden, Message: opts.User + " cannot merge: write access to " + r.FullName + " is needed (githubtest: SetPermission)"}
	}
	in := mergeInput{method: method, sha: opts.SHA, by: user}
	if opts.CommitTitle != "" {
		in.title = &opts.CommitTitle
	}
	if opts.CommitMessage != "" {
		in.message = &opts.CommitMessage
	}
	sha, events, err := s.mergePull(inst, r, number, in)
	if err != nil {
		return "", err
	}
	if err := s.deliverEvents(context.Background(), events); err != nil {
		return sha, fmt.Errorf("githubtest: %s#%d merged as %s, but %w", r.FullName, number, sha, err)
	}
	return sha, nil
}

// PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge
func (s *Server) mergePullRequest(w http.ResponseWriter, r *http.Request, c *call) {
	var req struct {
		CommitTitle   *string `json:"commit_title"`
		CommitMessage *string `json:"commit_message"`
		SHA           string  `json:"sha"`
		MergeMethod   string  `json:"merge_method"`
	}
	if len(c.body) > 0 {
		if err := json.Unmarshal(c.body, &req); err != nil {
			writeError(w, http.StatusBadRequest, "Problems parsing JSON")
			return
		}
	}
	s.mu.Lock()
	repo, _, ok := s.repoAccessLocked(w, r, c, "contents", "write")
	bot := s.botLocked()
	s.mu.Unlock()
	if !ok {
		return
	}
	method := req.MergeMethod
	if method == "" {
		method = "merge"
	}
	sha, events, err := s.mergePull(c.inst, repo, int(pathInt(r, "pull_number")),
		mergeInput{method: method, title: req.CommitTitle, message: req.CommitMessage, sha: req.SHA, by: bot})
	var refused *MergeError
	switch {
	case errors.As(err, &refused):
		writeError(w, refused.Status, refused.Message)
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sha": sha, "merged": true, "message": "Pull Request successfully merged"})
	s.deliverEventsLater(events)
}

// mergePull merges pull request number of repo (an installation's) and returns the SHA
// GitHub reports and the webhooks to send.
func (s *Server) mergePull(inst *installation, repo Repo, number int, in mergeInput) (string, []webhookEvent, error) {
	notMergeable := &MergeError{Status: http.StatusMethodNotAllowed, Message: "Pull Request is not mergeable"}
	s.mu.Lock()
	d := s.repoLocked(repo.FullName)
	g := d.git
	exists := d.pulls[number] != nil
	s.mu.Unlock()
	if !exists {
		return "", nil, &MergeError{Status: http.StatusNotFound, Message: "Not Found"}
	}
	if g == nil {
		return "", nil, fmt.Errorf("githubtest: %s has no git repository, and merging needs one (InitGitRepo)", repo.FullName)
	}
	// g.mu orders the merge with pushes and other merges: nothing moves the base branch
	// while git works.
	g.mu.Lock()
	defer g.mu.Unlock()

	s.mu.Lock()
	pr := d.pulls[number]
	switch {
	case pr == nil:
		s.mu.Unlock()
		return "", nil, &MergeError{Status: http.StatusNotFound, Message: "Not Found"}
	case pr.Merged || pr.State != "open":
		s.mu.Unlock()
		return "", nil, notMergeable
	case pr.Draft:
		s.mu.Unlock()
		return "", nil, &MergeError{Status: http.StatusMethodNotAllowed, Message: "Pull Request is still a draft"}
	case in.sha != "" && in.sha != pr.Head.SHA:
		s.mu.Unlock()
		return "", nil, &MergeError{Status: http.StatusConflict, Message: "Head branch was modified. Review and try the merge again."}
	}
	snap := *pr
	snap.Commits = append([]Commit(nil), pr.Commits...)
	s.mu.Unlock()

	baseRef := "refs/heads/" + snap.Base.Ref
	baseTip, ok := g.resolve(baseRef)
	if !ok {
		return "", nil, &MergeError{Status: http.StatusUnprocessableEntity, Message: "Base branch " + snap.Base.Ref + " does not exist"}
	}
	head, ok := g.resolve(snap.Head.SHA)
	if !ok || head != snap.Head.SHA {
		return "", nil, notMergeable
	}
	now := s.now().UTC().Truncate(time.Second)
	committer := githubCommitter
	committer.when = now
	merger := gitIdent{name: in.by.Login, email: noreplyEmail(in.by, s.AppID()), when: now}

	var newTip, reported string
	created := map[string]bool{}
	switch in.method {
	case "merge", "squash":
		tree, err := g.mergeTree(baseTip, head)
		if errors.Is(err, errConflict) {
			return "", nil, notMergeable
		}
		if err != nil {
			return "", nil, err
		}
		title, message := defaultMergeMessage(repo, &snap, in.method)
		if in.title != nil {
			title = *in.title
		}
		if in.message != nil {
			message = *in.message
		}
		full := title
		if message != "" {
			full += "\n\n" + message
		}
		parents, author := []string{baseTip, head}, merger
		if in.method == "squash" {
			parents = []string{baseTip}
			author = gitIdent{name: snap.User.Login, email: noreplyEmail(snap.User, s.AppID()), when: now}
		}
		newTip, err = g.commitTree(tree, parents, author, committer, full+"\n")
		if err != nil {
			return "", nil, err
		}
		created[newTip] = true
		reported = newTip
	case "rebase":
		out, err := g.git("rev-list", "--reverse", "--topo-order", baseTip+".."+head)
		if err != nil {
			return "", nil, err
		}
		newTip = baseTip
		for _, sha := range strings.Fields(string(out)) {
			cm, ok, err := g.readCommit(sha)
			if err != nil || !ok {
				return "", nil, fmt.Errorf("rebase: read %s: %v", sha, err)
			}
			if len(cm.parents) != 1 {
				return "", nil, notMergeable // a merge commit cannot be replayed
			}
			tree, err := g.cherryPickTree(cm, newTip)
			if errors.Is(err, errConflict) {
				return "", nil, notMergeable
			}
			if err != nil {
				return "", nil, err
			}
			if newTip, err = g.commitTree(tree, []string{newTip}, cm.author, committer, cm.message); err != nil {
				return "", nil, err
			}
			created[newTip] = true
		}
		if newTip == baseTip {
			return "", nil, notMergeable // nothing to replay
		}
		reported = newTip
	default:
		return "", nil, &MergeError{Status: http.StatusUnprocessableEntity, Message: "Invalid merge_method"}
	}

	if _, err := g.git("update-ref", "-m", "githubtest: merge pull request #"+itoa(number), baseRef, newTip, baseTip); err != nil {
		return "", nil, &MergeError{Status: http.StatusMethodNotAllowed, Message: "Base branch was modified. Review and try the merge again."}
	}
	push, err := s.pushCommits(repo, g, baseTip, newTip, created)
	if err != nil {
		return "", nil, err
	}
	s.refsUpdated(repo.FullName, g, []refUpdate{{old: baseTip, new: newTip, ref: baseRef}})

	s.mu.Lock()
	pr = d.pulls[number]
	pr.State, pr.Merged = "closed", true
	pr.MergedAt, pr.MergedBy, pr.MergeCommitSHA = now, in.by, reported
	d.touchLocked(pr, now)
	s.knowLocked(in.by)

	closed := s.eventBaseLocked(inst, repo, in.by, nil)
	closed["action"] = "closed"
	closed["number"] = number
	closed["pull_request"] = s.pullJSONLocked(inst, repo, pr, false)

	pushed := s.eventBaseLocked(inst, repo, in.by, s.pushRepositoryJSONLocked(inst, repo, now))
	html := s.WebURL() + repo.FullName
	pushed["ref"] = baseRef
	pushed["before"] = baseTip
	pushed["after"] = newTip
	pushed["created"], pushed["deleted"], pushed["forced"] = false, false, false
	pushed["base_ref"] = nil
	pushed["compare"] = html + "/compare/" + baseTip[:12] + "..." + newTip[:12]
	pushed["pusher"] = map[string]any{"name": in.by.Login, "email": noreplyEmail(in.by, s.app.id)}
	commits := make([]any, 0, len(push))
	for _, pc := range push {
		commits = append(commits, pc.json(html))
	}
	pushed["commits"] = commits
	pushed["head_commit"] = nil
	if len(push) > 0 {
		pushed["head_commit"] = push[len(push)-1].json(html)
	}
	s.mu.Unlock()
	// newEvent may record a violation, under s.mu.
	return reported, []webhookEvent{s.newEvent("pull_request", closed), s.newEvent("push", pushed)}, nil
}

// defaultMergeMessage is GitHub's default commit title and message: for a merge commit
// "Merge pull request #N from owner/branch" and the pull request's title; for a squash the
// pull request's title with " (#N)" and its commits' messages as a list (a single commit's
// own title and body instead).
func defaultMergeMessage(repo Repo, pr *PullRequest, method string) (title, message string) {
	if method == "merge" {
		return "Merge pull request #" + itoa(pr.Number) + " from " + repo.owner() + "/" + pr.Head.Ref, pr.Title
	}
	if len(pr.Commits) == 1 {
		subject, body, _ := strings.Cut(strings.TrimSpace(pr.Commits[0].Message), "\n")
		return strings.TrimSpace(subject) + " (#" + itoa(pr.Number) + ")", strings.TrimSpace(body)
	}
	items := make([]string, 0, len(pr.Commits))
	for _, c := range pr.Commits {
		items = append(items, "* "+strings.TrimSpace(c.Message))
	}
	return pr.Title + " (#" + itoa(pr.Number) + ")", strings.Join(items, "\n\n")
}

// noreplyEmail is an account's GitHub noreply address: "login@users.noreply.github.com",
// or for the app's bot "<app id>+<slug>[bot]@users.noreply.github.com".
func noreplyEmail(a Account, appID int64) string {
	if a.typ() == "Bot" {
		return itoa(appID) + "+" + a.Login + "@users.noreply.github.com"
	}
	return a.Login + "@users.noreply.github.com"
}

// pushCommit is one commit of a push webhook.
type pushCommit struct {
	cm                       gitCommitObject
	distinct                 bool
	added, removed, modified []string
}

// maxPushCommits is how many commits a push webhook lists at most.
const maxPushCommits = 2048

// pushCommits lists the commits a ref update from old to new brings, oldest first, with the
// files each changed against its first parent. Commits in created are distinct (new to
// the repository).
func (s *Server) pushCommits(repo Repo, g *gitRepo, old, new string, created map[string]bool) ([]pushCommit, error) {
	out, err := g.git("rev-list", "--reverse", "--topo-order", old+".."+new)
	if err != nil {
		return nil, err
	}
	shas := strings.Fields(string(out))
	if len(shas) > maxPushCommits {
		shas = shas[len(shas)-maxPushCommits:]
	}
	var commits []pushCommit
	for _, sha := range shas {
		cm, ok, err := g.readCommit(sha)
		if err != nil || !ok {
			return nil, fmt.Errorf("push of %s: read %s: %v", repo.FullName, sha, err)
		}
		pc := pushCommit{cm: cm, distinct: created[sha], added: []string{}, removed: []string{}, modified: []string{}}
		args := []string{"diff-tree", "-r", "--no-commit-id", "--name-status", "--no-renames", "-z"}
		if len(cm.parents) == 0 {
			args = append(args, "--root", sha)
		} else {
			args = append(args, cm.parents[0], sha)
		}
		diff, err := g.git(args...)
		if err != nil {
			return nil, err
		}
		fields := strings.Split(strings.TrimSuffix(string(diff), "\x00"), "\x00")
		for i := 0; i+1 < len(fields); i += 2 {
			switch fields[i] {
			case "A":
				pc.added = append(pc.added, fields[i+1])
			case "D":
				pc.removed = append(pc.removed, fields[i+1])
			default:
				pc.modified = append(pc.modified, fields[i+1])
			}
		}
		commits = append(commits, pc)
	}
	return commits, nil
}

// json is the commit as push webhooks show it.
func (pc pushCommit) json(html string) map[string]any {
	ident := func(id gitIdent) map[string]any {
		out := map[string]any{"name": id.name, "email": id.email, "date": id.date()}
		if id.name == githubCommitter.name && id.email == githubCommitter.email {
			out["username"] = "web-flow"
		} else if a := accountOfEmail(id.email); a.Login != "" {
			out["username"] = a.Login
		}
		return out
	}
	return map[string]any{
		"id": pc.cm.sha, "tree_id": pc.cm.tree, "distinct": pc.distinct,
		"message": strings.TrimRight(pc.cm.message, "\n"), "timestamp": pc.cm.author.date(),
		"url": html + "/commit/" + pc.cm.sha, "author": ident(pc.cm.author), "committer": ident(pc.cm.committer),
		"added": pc.added, "removed": pc.removed, "modified": pc.modified,
	}
}
