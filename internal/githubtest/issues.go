package githubtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Issues, their labels, and users. Issues and pull requests share a repository's numbers
// (a pull request is an issue too): GET .../issues/{n} of a pull request answers the issue
// side of it, with a pull_request key, and labels and comments work on both. The issues
// endpoints take the issues permission, or pull_requests for a pull request's number, as
// GitHub's fine-grained permissions do.

// Issue is an issue as a test sets it up ([Server.AddIssue]).
type Issue struct {
	Number int
	Title  string
	Body   string
	User   Account // default octocat
	Labels []string
	State  string // "open" (default) or "closed"

	created, updated time.Time
}

// issueLike is an issue or a pull request, as the issues API sees either.
type issueLike struct {
	issue *Issue
	pr    *PullRequest
}

func (x issueLike) number() int {
	if x.pr != nil {
		return x.pr.Number
	}
	return x.issue.Number
}

// labels is the issue's or pull request's label list, to read or change.
func (x issueLike) labels() *[]string {
	if x.pr != nil {
		return &x.pr.Labels
	}
	return &x.issue.Labels
}

// issueLocked finds issue or pull request number.
func (d *repoData) issueLocked(number int) (issueLike, bool) {
	if pr := d.pulls[number]; pr != nil {
		return issueLike{pr: pr}, true
	}
	if is := d.issues[number]; is != nil {
		return issueLike{issue: is}, true
	}
	return issueLike{}, false
}

// touchIssueLocked records a change to an issue or pull request.
func (d *repoData) touchIssueLocked(x issueLike, now time.Time) {
	if x.pr != nil {
		d.touchLocked(x.pr, now)
		return
	}
	x.issue.updated = now
}

// nextNumberLocked is the number of the next issue or pull request.
func (d *repoData) nextNumberLocked() int {
	n := 0
	for k := range d.pulls {
		n = max(n, k)
	}
	for k := range d.issues {
		n = max(n, k)
	}
	return n + 1
}

// labelLocked returns the repository's label of that name (label names are
// case-insensitive), creating it if it is new, as adding a label to an issue does.
func (d *repoData) labelLocked(name string) string {
	key := strings.ToLower(name)
	if existing, ok := d.labels[key]; ok {
		return existing
	}
	d.labels[key] = name
	return name
}

// knowLocked makes an account known to GET /users/{username}.
func (s *Server) knowLocked(a Account) {
	if a.Login == "" {
		return
	}
	if s.users == nil {
		s.users = map[string]Account{}
	}
	a.Type = a.typ()
	s.users[strings.ToLower(a.Login)] = a
}

// botLocked is the app's bot account, which acts for installation tokens.
func (s *Server) botLocked() Account {
	return Account{Login: s.app.slug + "[bot]", Type: "Bot"}
}

// AddIssue adds (or replaces) an issue. Its number must not be a pull request's.
func (s *Server) AddIssue(repo string, is Issue) {
	s.t.Helper()
	if is.Number <= 0 {
		s.t.Fatalf("githubtest: AddIssue needs a Number, got %+v", is)
	}
	if is.User.Login == "" {
		is.User.Login = "octocat"
	}
	if is.State == "" {
		is.State = "open"
	}
	is.Labels = slices.Clone(is.Labels)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.repoLocked(repo)
	if d.pulls[is.Number] != nil {
		s.t.Fatalf("githubtest: AddIssue: %s#%d is a pull request", repo, is.Number)
	}
	for i, l := range is.Labels {
		is.Labels[i] = d.labelLocked(l)
	}
	s.knowLocked(is.User)
	now := s.now().UTC().Truncate(time.Second)
	is.created, is.updated = now, now
	if old := d.issues[is.Number]; old != nil {
		is.created = old.created
	}
	d.issues[is.Number] = &is
}

// Issue returns an issue that is not a pull request.
func (s *Server) Issue(repo string, number int) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.repoLocked(repo).issues[number]
	if is == nil {
		return Issue{}, false
	}
	out := *is
	out.Labels = slices.Clone(is.Labels)
	return out, true
}

// PullRequest returns a pull request as the fake holds it (files and commits included).
func (s *Server) PullRequest(repo string, number int) (PullRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.repoLocked(repo).pulls[number]
	if pr == nil {
		return PullRequest{}, false
	}
	out := *pr
	out.Labels = slices.Clone(pr.Labels)
	out.Files = slices.Clone(pr.Files)
	out.Commits = slices.Clone(pr.Commits)
	return out, true
}

// IssueLabels returns the labels of an issue or pull request, in the order they were added.
func (s *Server) IssueLabels(repo string, number int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.repoLocked(repo).issueLocked(number)
	if !ok {
		return nil
	}
	return slices.Clone(*x.labels())
}

// repoVisibleLocked finds the request's {owner}/{repo}; 404 if the token cannot see it.
func (s *Server) repoVisibleLocked(w http.ResponseWriter, r *http.Request, c *call) (Repo, *repoData, bool) {
	repo, ok := c.inst.repo(r.PathValue("owner") + "/" + r.PathValue("repo"))
	if !ok || !c.token.canAccessRepo(repo.ID) {
		writeError(w, http.StatusNotFound, "Not Found")
		return Repo{}, nil, false
	}
	return repo, s.repoLocked(repo.FullName), true
}

// issueAllowed checks the token for the issues permission at level, or pull_requests for a
// pull request, and answers 403 if it has neither.
func issueAllowed(w http.ResponseWriter, c *call, x issueLike, level string) bool {
	if c.token.allows("issues", level) || (x.pr != nil && c.token.allows("pull_requests", level)) {
		return true
	}
	writeError(w, http.StatusForbidden, "Resource not accessible by integration")
	return false
}

// issueAccessLocked finds {issue_number} and checks the token may use it at level.
func (s *Server) issueAccessLocked(w http.ResponseWriter, r *http.Request, c *call, level string) (Repo, *repoData, issueLike, bool) {
	repo, d, ok := s.repoVisibleLocked(w, r, c)
	if !ok {
		return Repo{}, nil, issueLike{}, false
	}
	x, ok := d.issueLocked(int(pathInt(r, "issue_number")))
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return Repo{}, nil, issueLike{}, false
	}
	if !issueAllowed(w, c, x, level) {
		return Repo{}, nil, issueLike{}, false
	}
	return repo, d, x, true
}

// associationLocked is a user's author_association with the repository: OWNER for its
// owner, MEMBER for a member of a team of the owning organization, COLLABORATOR for someone
// with a role (SetPermission), else NONE (bots included).
func (s *Server) associationLocked(repo Repo, d *repoData, login string) string {
	lower := strings.ToLower(login)
	switch {
	case strings.EqualFold(login, repo.owner()):
		return "OWNER"
	case strings.HasSuffix(lower, "[bot]"):
		return "NONE"
	}
	for team, members := range s.teams {
		if strings.HasPrefix(team, strings.ToLower(repo.owner())+"/") && members[lower] {
			return "MEMBER"
		}
	}
	if d.perms[lower] != "" {
		return "COLLABORATOR"
	}
	return "NONE"
}

// labelsJSON is a list of "label" objects.
func (s *Server) labelsJSON(repo Repo, names []string) []any {
	api := s.srv.URL + "/repos/" + repo.FullName
	out := []any{}
	for _, l := range names {
		id := derivedID("label:" + l)
		out = append(out, map[string]any{
			"id": id, "node_id": nodeID("Label", id), "url": api + "/labels/" + url.PathEscape(l), "name": l,
			"description": "", "color": "ededed", "default": false,
		})
	}
	return out
}

// issueJSONLocked is an "issue" object for an issue or a pull request.
func (s *Server) issueJSONLocked(repo Repo, d *repoData, x issueLike) map[string]any {
	api := s.srv.URL + "/repos/" + repo.FullName
	n := itoa(x.number())
	self := api + "/issues/" + n
	html := s.WebURL() + repo.FullName + "/issues/" + n
	id := derivedID(repo.FullName+"#"+n) + 2_000_000_000
	out := map[string]any{
		"id": id, "node_id": nodeID("Issue", id), "url": self, "repository_url": api,
		"labels_url": self + "/labels{/name}", "comments_url": self + "/comments",
		"events_url": self + "/events", "timeline_url": self + "/timeline",
		"number": x.number(), "locked": false, "active_lock_reason": nil,
		"assignee": nil, "assignees": []any{}, "milestone": nil,
		"comments":                 len(d.issueComments(x.number())),
		"labels":                   s.labelsJSON(repo, *x.labels()),
		"reactions":                s.reactionRollup(self, d.reactions[issueReactionKey(x.number())]),
		"performed_via_github_app": nil,
	}
	var user Account
	var state, title, body string
	var created, updated time.Time
	if pr := x.pr; pr != nil {
		user, state, title, body, created, updated = pr.User, pr.State, pr.Title, pr.Body, pr.created, pr.updated
		html = s.WebURL() + repo.FullName + "/pull/" + n
		var mergedAt any
		if pr.Merged {
			mergedAt = ts(pr.updated)
		}
		out["pull_request"] = map[string]any{
			"url": api + "/pulls/" + n, "html_url": html, "diff_url": html + ".diff", "patch_url": html + ".patch",
			"merged_at": mergedAt,
		}
		out["draft"] = pr.Draft
	} else {
		is := x.issue
		user, state, title, body, created, updated = is.User, is.State, is.Title, is.Body, is.created, is.updated
	}
	var closedAt, stateReason any
	if state == "closed" {
		closedAt, stateReason = ts(updated), "completed"
	}
	out["html_url"] = html
	out["user"] = s.userJSON(user)
	out["author_association"] = s.associationLocked(repo, d, user.Login)
	out["state"], out["state_reason"], out["closed_at"] = state, stateReason, closedAt
	out["title"], out["body"] = title, nilIfEmpty(body)
	out["created_at"], out["updated_at"] = ts(created), ts(updated)
	return out
}

// GET /repos/{owner}/{repo}/issues/{issue_number}
func (s *Server) getIssue(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, x, ok := s.issueAccessLocked(w, r, c, "read")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.issueJSONLocked(repo, d, x))
}

// GET /repos/{owner}/{repo}/issues/{issue_number}/labels
func (s *Server) listIssueLabels(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, _, x, ok := s.issueAccessLocked(w, r, c, "read")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, paginate(w, r, s.labelsJSON(repo, *x.labels())))
}

// POST /repos/{owner}/{repo}/issues/{issue_number}/labels adds labels (names, or objects
// with a name, in {"labels": [...]} or as a bare array) to those the issue has; labels the repository lacks are created, as GitHub
// does for a token that may push.
func (s *Server) addIssueLabels(w http.ResponseWriter, r *http.Request, c *call) {
	var req struct {
		Labels []json.RawMessage `json:"labels"`
	}
	if err := json.Unmarshal(wrapArray("labels")(c.body), &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	var names []string
	for _, raw := range req.Labels {
		var name string
		if json.Unmarshal(raw, &name) != nil {
			var obj struct{ Name string }
			json.Unmarshal(raw, &obj)
			name = obj.Name
		}
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, x, ok := s.issueAccessLocked(w, r, c, "write")
	if !ok {
		return
	}
	labels := x.labels()
	for _, name := range names {
		name = d.labelLocked(name)
		if !slices.Contains(*labels, name) {
			*labels = append(*labels, name)
		}
	}
	d.touchIssueLocked(x, s.now().UTC().Truncate(time.Second))
	writeJSON(w, http.StatusOK, s.labelsJSON(repo, *labels))
}

// DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}: 404 "Label does not
// exist" if the issue does not have it; otherwise the labels left.
func (s *Server) removeIssueLabel(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, x, ok := s.issueAccessLocked(w, r, c, "write")
	if !ok {
		return
	}
	labels := x.labels()
	name := r.PathValue("name")
	i := slices.IndexFunc(*labels, func(l string) bool { return strings.EqualFold(l, name) })
	if i < 0 {
		writeError(w, http.StatusNotFound, "Label does not exist")
		return
	}
	*labels = slices.Delete(*labels, i, i+1)
	d.touchIssueLocked(x, s.now().UTC().Truncate(time.Second))
	writeJSON(w, http.StatusOK, s.labelsJSON(repo, *labels))
}

// accountLocked finds a user or organization by login: the app's bot, the people tests
// named (pull requests, issues, comments, reviews, permissions, teams), and the accounts of
// installations and repository owners.
func (s *Server) accountLocked(login string) (Account, bool) {
	lower := strings.ToLower(login)
	if bot := s.botLocked(); strings.ToLower(bot.Login) == lower {
		return bot, true
	}
	if a, ok := s.users[lower]; ok {
		return a, true
	}
	for _, id := range s.instOrder {
		inst := s.installations[id]
		if strings.EqualFold(inst.Account, login) {
			return Account{Login: inst.Account, Type: inst.AccountType}, true
		}
		for _, r := range inst.Repos {
			if strings.EqualFold(r.owner(), login) {
				return Account{Login: r.owner(), Type: ownerType(inst, r)}, true
			}
		}
	}
	return Account{}, false
}

// GET /users/{username}: a "public-user".
func (s *Server) getUser(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	a, ok := s.accountLocked(r.PathValue("username"))
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	out := s.userJSON(a)
	created := ts(gitEpoch.AddDate(-5, 0, 0))
	for k, v := range map[string]any{
		"name": nil, "company": nil, "blog": "", "location": nil, "email": nil, "hireable": nil,
		"bio": nil, "twitter_username": nil, "public_repos": 0, "public_gists": 0,
		"followers": 0, "following": 0, "created_at": created, "updated_at": created,
	} {
		out[k] = v
	}
	writeJSON(w, http.StatusOK, out)
}
