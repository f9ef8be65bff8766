package githubtest

import (
	"encoding/base64"
	"net/http"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Endpoints that read repositories: pull requests with their files, commits and reviews,
// contents at a ref, collaborator permissions and team membership.

// repoAccessLocked finds the repository of the request's {owner}/{repo} and checks that the
// token may use it with the permission at the level: GitHub answers 404 when the token
// cannot see the repository and 403 when it lacks the permission.
func (s *Server) repoAccessLocked(w http.ResponseWriter, r *http.Request, c *call, perm, level string) (Repo, *repoData, bool) {
	repo, ok := c.inst.repo(r.PathValue("owner") + "/" + r.PathValue("repo"))
	if !ok || !c.token.canAccessRepo(repo.ID) {
		writeError(w, http.StatusNotFound, "Not Found")
		return Repo{}, nil, false
	}
	if !c.token.allows(perm, level) {
		writeError(w, http.StatusForbidden, "Resource not accessible by integration")
		return Repo{}, nil, false
	}
	return repo, s.repoLocked(repo.FullName), true
}

// allows says whether the token has the permission at least at level; every token may read
// metadata.
func (t *installationToken) allows(perm, level string) bool {
	if perm == "metadata" && level == "read" {
		return true
	}
	return permissionLevel[t.permissions[perm]] >= permissionLevel[level]
}

func ts(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

func (s *Server) userJSON(a Account) map[string]any {
	return s.accountJSON(a.Login, derivedID(a.Login), a.typ())
}

// pullLocked finds {pull_number}.
func pullLocked(w http.ResponseWriter, r *http.Request, d *repoData) (*PullRequest, bool) {
	pr := d.pulls[int(pathInt(r, "pull_number"))]
	if pr == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return nil, false
	}
	return pr, true
}

// pullJSONLocked is a "pull-request" object, or with simple a "pull-request-simple" (lists).
func (s *Server) pullJSONLocked(inst *installation, repo Repo, pr *PullRequest, simple bool) map[string]any {
	api := s.srv.URL + "/repos/" + repo.FullName
	html := s.WebURL() + repo.FullName + "/pull/" + itoa(pr.Number)
	self := api + "/pulls/" + itoa(pr.Number)
	id := derivedID(repo.FullName+"#"+itoa(pr.Number)) + 1_000_000_000
	created, updated := ts(pr.created), ts(pr.updated)
	labels := s.labelsJSON(repo, pr.Labels)
	owner := s.accountJSON(repo.owner(), derivedID(repo.owner()), ownerType(inst, repo))
	side := func(ref PullRef) map[string]any {
		return map[string]any{
			"label": repo.owner() + ":" + ref.Ref, "ref": ref.Ref, "sha": ref.SHA,
			"repo": s.repositoryJSONLocked(inst, repo), "user": owner,
		}
	}
	link := func(href string) map[string]any { return map[string]any{"href": href} }
	var mergedAt, closedAt, mergeSHA any
	if pr.State == "closed" {
		closedAt = updated
	}
	if pr.Merged {
		mergedAt, mergeSHA = updated, gitBlobSHA("merge:"+pr.Head.SHA)
		if !pr.MergedAt.IsZero() {
			mergedAt, closedAt = ts(pr.MergedAt), ts(pr.MergedAt)
		}
		if pr.MergeCommitSHA != "" {
			mergeSHA = pr.MergeCommitSHA
		}
	}
	out := map[string]any{
		"url": self, "id": id, "node_id": nodeID("PullRequest", id), "html_url": html,
		"diff_url": html + ".diff", "patch_url": html + ".patch",
		"issue_url":           api + "/issues/" + itoa(pr.Number),
		"commits_url":         self + "/commits",
		"review_comments_url": self + "/comments",
		"review_comment_url":  api + "/pulls/comments{/number}",
		"comments_url":        api + "/issues/" + itoa(pr.Number) + "/comments",
		"statuses_url":        api + "/statuses/" + pr.Head.SHA,
		"number":              pr.Number, "state": pr.State, "locked": false, "title": pr.Title,
		"user": s.userJSON(pr.User), "body": nilIfEmpty(pr.Body), "labels": labels,
		"milestone": nil, "active_lock_reason": nil,
		"created_at": created, "updated_at": updated, "closed_at": closedAt, "merged_at": mergedAt,
		"merge_commit_sha": mergeSHA, "assignee": nil, "assignees": []any{},
		"requested_reviewers": []any{}, "requested_teams": []any{},
		"head": side(pr.Head), "base": side(pr.Base),
		"_links": map[string]any{
			"self": link(self), "html": link(html), "issue": link(api + "/issues/" + itoa(pr.Number)),
			"comments":        link(api + "/issues/" + itoa(pr.Number) + "/comments"),
			"review_comments": link(self + "/comments"), "review_comment": link(api + "/pulls/comments{/number}"),
			"commits": link(self + "/commits"), "statuses": link(api + "/statuses/" + pr.Head.SHA),
		},
		"author_association": "CONTRIBUTOR", "auto_merge": nil, "draft": pr.Draft,
	}
	if simple {
		return out
	}
	additions, deletions, files := pr.counts()
	out["merged"] = pr.Merged
	out["mergeable"] = nil
	out["rebaseable"] = nil
	out["mergeable_state"] = "unknown"
	out["merged_by"] = nil
	if pr.Merged && pr.MergedBy.Login != "" {
		out["merged_by"] = s.userJSON(pr.MergedBy)
	}
	d := s.repoLocked(repo.FullName)
	out["comments"] = len(d.issueComments(pr.Number))
	out["review_comments"] = len(d.pullReviewComments(pr.Number))
	out["maintainer_can_modify"] = false
	out["commits"] = len(pr.Commits)
	out["additions"] = additions
	out["deletions"] = deletions
	out["changed_files"] = files
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// GET /repos/{owner}/{repo}/pulls/{pull_number}
func (s *Server) getPull(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "pull_requests", "read")
	if !ok {
		return
	}
	pr, ok := pullLocked(w, r, d)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.pullJSONLocked(c.inst, repo, pr, false))
}

// GET /repos/{owner}/{repo}/pulls: the repository's pull requests, filtered by state (open
// by default, closed or all), head ("owner:branch") and base (branch), sorted by created
// (default), updated, popularity (GitHub counts comments; the fake has none, so reviews) or
// long-running (created, only those open over a month with activity in the last month),
// newest first for created and oldest first otherwise unless direction says, and paged.
func (s *Server) listPulls(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "pull_requests", "read")
	if !ok {
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	sortBy := q.Get("sort")
	if sortBy == "" {
		sortBy = "created"
	}
	desc := sortBy == "created"
	if dir := q.Get("direction"); dir != "" {
		desc = dir == "desc"
	}
	now := s.now()
	monthAgo := now.AddDate(0, -1, 0)
	var prs []*PullRequest
	for _, pr := range d.pulls {
		switch {
		case state != "all" && pr.State != state,
			q.Get("base") != "" && pr.Base.Ref != q.Get("base"),
			q.Get("head") != "" && !strings.EqualFold(q.Get("head"), repo.owner()+":"+pr.Head.Ref),
			sortBy == "long-running" && (pr.State != "open" || !pr.created.Before(monthAgo) || pr.updated.Before(monthAgo)):
			continue
		}
		prs = append(prs, pr)
	}
	// less is the ascending order; ties go by number, which is creation order on GitHub.
	less := func(a, b *PullRequest) bool {
		switch sortBy {
		case "updated":
			return a.touched < b.touched
		case "popularity":
			if na, nb := len(d.reviews[a.Number]), len(d.reviews[b.Number]); na != nb {
				return na < nb
			}
		default: // created, long-running
			if !a.created.Equal(b.created) {
				return a.created.Before(b.created)
			}
		}
		return a.Number < b.Number
	}
	sort.Slice(prs, func(i, j int) bool {
		if desc {
			return less(prs[j], prs[i])
		}
		return less(prs[i], prs[j])
	})
	items := make([]any, 0, len(prs))
	for _, pr := range prs {
		items = append(items, s.pullJSONLocked(c.inst, repo, pr, true))
	}
	writeJSON(w, http.StatusOK, paginate(w, r, items))
}

// GET /repos/{owner}/{repo}/pulls/{pull_number}/files lists at most 3,000 files, like GitHub.
func (s *Server) listPullFiles(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "pull_requests", "read")
	if !ok {
		s.mu.Unlock()
		return
	}
	pr, ok := pullLocked(w, r, d)
	if !ok {
		s.mu.Unlock()
		return
	}
	files := pr.Files[:min(len(pr.Files), maxPullFiles)]
	head := pr.Head.SHA
	s.mu.Unlock()

	api := s.srv.URL + "/repos/" + repo.FullName
	html := s.WebURL() + repo.FullName
	items := make([]any, 0, len(files))
	for _, f := range files {
		status := f.Status
		if status == "" {
			status = "modified"
		}
		var sha any = f.SHA
		if f.SHA == "" {
			sha = gitBlobSHA(head + ":" + f.Filename)
		}
		if status == "removed" {
			sha = nil
		}
		item := map[string]any{
			"sha": sha, "filename": f.Filename, "status": status,
			"additions": f.Additions, "deletions": f.Deletions, "changes": f.Additions + f.Deletions,
			"blob_url":     html + "/blob/" + head + "/" + f.Filename,
			"raw_url":      html + "/raw/" + head + "/" + f.Filename,
			"contents_url": api + "/contents/" + f.Filename + "?ref=" + head,
		}
		if f.Patch != "" {
			item["patch"] = f.Patch
		}
		if f.PreviousFilename != "" {
			item["previous_filename"] = f.PreviousFilename
		}
		items = append(items, item)
	}
	writeJSON(w, http.StatusOK, paginate(w, r, items))
}

// GET /repos/{owner}/{repo}/pulls/{pull_number}/commits lists at most 250 commits.
func (s *Server) listPullCommits(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "pull_requests", "read")
	if !ok {
		return
	}
	pr, ok := pullLocked(w, r, d)
	if !ok {
		return
	}
	api := s.srv.URL + "/repos/" + repo.FullName
	items := []any{}
	parent := pr.Base.SHA
	for _, cm := range pr.Commits[:min(len(pr.Commits), maxPullCommits)] {
		items = append(items, s.commitJSON(api, s.WebURL()+repo.FullName, d, cm, parent))
		parent = cm.SHA
	}
	writeJSON(w, http.StatusOK, paginate(w, r, items))
}

// commitJSON is a "commit" object; parent is the default parent, for commits without
// Parents.
func (s *Server) commitJSON(api, html string, d *repoData, cm Commit, parent string) map[string]any {
	author := cm.Author
	if author.Login == "" && cm.Name == "" {
		author.Login = "octocat"
	}
	name := cm.Name
	if name == "" {
		name = author.Login
	}
	email := cm.Email
	if email == "" {
		email = author.Login + "@users.noreply.github.com"
	}
	date := cm.Date
	if date.IsZero() {
		date = s.now()
	}
	committer, committerName, committerEmail, committerDate := cm.Committer, cm.CommitterName, cm.CommitterEmail, cm.CommitterDate
	if committerName == "" {
		committer, committerName, committerEmail = author, name, email
	}
	if committerDate.IsZero() {
		committerDate = date
	}
	tree := gitBlobSHA("tree:" + cm.SHA)
	if cd := d.commits[cm.SHA]; cd != nil {
		tree = cd.tree
	}
	parentSHAs := cm.Parents
	if parentSHAs == nil && parent != "" {
		parentSHAs = []string{parent}
	}
	parents := []any{}
	for _, p := range parentSHAs {
		parents = append(parents, map[string]any{"sha": p, "url": api + "/commits/" + p, "html_url": html + "/commit/" + p})
	}
	account := func(a Account) any {
		if a.Login == "" {
			return nil
		}
		return s.userJSON(a)
	}
	return map[string]any{
		"url": api + "/commits/" + cm.SHA, "sha": cm.SHA, "node_id": nodeID("Commit", derivedID(cm.SHA)),
		"html_url": html + "/commit/" + cm.SHA, "comments_url": api + "/commits/" + cm.SHA + "/comments",
		"commit": map[string]any{
			"url":       api + "/git/commits/" + cm.SHA,
			"author":    map[string]any{"name": name, "email": email, "date": ts(date)},
			"committer": map[string]any{"name": committerName, "email": committerEmail, "date": ts(committerDate)},
			"message":   cm.Message, "comment_count": 0,
			"tree": map[string]any{"sha": tree, "url": api + "/git/trees/" + tree},
			"verification": map[string]any{
				"verified": false, "reason": "unsigned", "signature": nil, "payload": nil, "verified_at": nil,
			},
		},
		"author": account(author), "committer": account(committer), "parents": parents,
	}
}

// GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews, oldest first.
func (s *Server) listPullReviews(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "pull_requests", "read")
	if !ok {
		return
	}
	pr, ok := pullLocked(w, r, d)
	if !ok {
		return
	}
	prURL := s.srv.URL + "/repos/" + repo.FullName + "/pulls/" + itoa(pr.Number)
	html := s.WebURL() + repo.FullName + "/pull/" + itoa(pr.Number)
	items := []any{}
	for _, rv := range d.reviews[pr.Number] {
		reviewHTML := html + "#pullrequestreview-" + itoa(rv.ID)
		item := map[string]any{
			"id": rv.ID, "node_id": nodeID("PullRequestReview", rv.ID), "user": s.userJSON(rv.User),
			"body": rv.Body, "state": rv.State, "commit_id": rv.CommitID,
			"html_url": reviewHTML, "pull_request_url": prURL,
			"_links": map[string]any{
				"html":         map[string]any{"href": reviewHTML},
				"pull_request": map[string]any{"href": prURL},
			},
			"author_association": "COLLABORATOR",
		}
		if rv.State != "PENDING" {
			item["submitted_at"] = ts(rv.SubmittedAt)
		}
		items = append(items, item)
	}
	writeJSON(w, http.StatusOK, paginate(w, r, items))
}

// GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls: the pull requests whose head is the
// commit or that contain it.
func (s *Server) listCommitPulls(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "pull_requests", "read")
	if !ok {
		return
	}
	sha := r.PathValue("commit_sha")
	numbers := make([]int, 0, len(d.pulls))
	for n, pr := range d.pulls {
		// GitHub lists the merged pull request that introduced a commit, by
		// its merge commit too.
		if pr.Head.SHA == sha || pr.MergeCommitSHA == sha || slices.ContainsFunc(pr.Commits, func(cm Commit) bool { return cm.SHA == sha }) {
			numbers = append(numbers, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(numbers)))
	items := []any{}
	for _, n := range numbers {
		items = append(items, s.pullJSONLocked(c.inst, repo, d.pulls[n], true))
	}
	writeJSON(w, http.StatusOK, paginate(w, r, items))
}

// GET /repos/{owner}/{repo}/contents/{path}?ref=: a file (base64, wrapped at 60 columns like
// GitHub's) or a directory listing, from the content a test set (SetFiles) or else from the
// repository's git repository.
func (s *Server) getContents(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "contents", "read")
	if !ok {
		s.mu.Unlock()
		return
	}
	ref := r.URL.Query().Get("ref")
	sha, commit := d.resolve(ref, repo.DefaultBranch)
	g := d.git
	s.mu.Unlock()

	var tree map[string]gitEntry
	read := func(p string) (string, error) { return commit.files[p], nil }
	switch {
	case commit != nil:
		tree = commit.entries(sha)
	case g != nil:
		rev := sha
		if rev == "" {
			rev = refOr(ref, repo.DefaultBranch)
		}
		if full, ok := g.resolve(rev); ok {
			var err error
			if tree, err = g.tree(full); err != nil {
				writeError(w, http.StatusInternalServerError, err.Error())
				return
			}
			sha = full
			read = func(p string) (string, error) {
				b, err := g.git("cat-file", "blob", tree[p].sha)
				return string(b), err
			}
		}
	}
	if tree == nil {
		if ref != "" && sha == "" {
			writeError(w, http.StatusNotFound, "No commit found for the ref "+ref)
			return
		}
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}

	p := strings.Trim(r.PathValue("path"), "/")
	api := s.srv.URL + "/repos/" + repo.FullName
	html := s.WebURL() + repo.FullName
	entryJSON := func(p string, e gitEntry) map[string]any {
		typ := "file"
		self := api + "/contents/" + p + "?ref=" + refOr(ref, sha)
		gitURL := api + "/git/blobs/" + e.sha
		htmlURL := html + "/blob/" + refOr(ref, sha) + "/" + p
		var download any = s.srv.URL + "/raw/" + repo.FullName + "/" + sha + "/" + p
		if e.dir {
			typ = "dir"
			gitURL = api + "/git/trees/" + e.sha
			htmlURL = html + "/tree/" + refOr(ref, sha) + "/" + p
			download = nil
		}
		return map[string]any{
			"type": typ, "size": e.size, "name": path.Base(p), "path": p, "sha": e.sha,
			"url": self, "git_url": gitURL, "html_url": htmlURL, "download_url": download,
			"_links": map[string]any{"self": self, "git": gitURL, "html": htmlURL},
		}
	}
	if e, ok := tree[p]; ok && !e.dir {
		content, err := read(p)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		out := entryJSON(p, e)
		out["encoding"] = "base64"
		out["content"] = wrap60(base64.StdEncoding.EncodeToString([]byte(content)))
		writeJSON(w, http.StatusOK, out)
		return
	}
	var children []string
	for f := range tree {
		if dir := path.Dir(f); dir == p || (dir == "." && p == "") {
			children = append(children, f)
		}
	}
	if len(children) == 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	sort.Strings(children)
	items := make([]any, 0, len(children))
	for _, f := range children {
		items = append(items, entryJSON(f, tree[f]))
	}
	writeJSON(w, http.StatusOK, items)
}

// entries lists a commit's files and the directories they are in, as git's tree would.
func (cd *commitData) entries(sha string) map[string]gitEntry {
	out := map[string]gitEntry{}
	for f, content := range cd.files {
		out[f] = gitEntry{sha: gitBlobSHA(content), size: len(content)}
		for dir := path.Dir(f); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if _, ok := out[dir]; ok {
				break
			}
			out[dir] = gitEntry{dir: true, sha: gitBlobSHA("tree:" + sha + ":" + dir)}
		}
	}
	return out
}

// refOr picks the ref the client named, or the SHA it resolved to.
func refOr(ref, sha string) string {
	if ref != "" {
		return ref
	}
	return sha
}

func wrap60(s string) string {
	var b strings.Builder
	for len(s) > 60 {
		b.WriteString(s[:60])
		b.WriteByte('\n')
		s = s[60:]
	}
	b.WriteString(s)
	b.WriteByte('\n')
	return b.String()
}

// legacyPermission is the "permission" field of GET .../collaborators/{u}/permission, which
// predates maintain and triage; role_name has the real role.
var legacyPermission = map[string]string{
	"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read", "none": "none",
}

// GET /repos/{owner}/{repo}/collaborators/{username}/permission
func (s *Server) getPermission(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "metadata", "read")
	if !ok {
		return
	}
	login := r.PathValue("username")
	role := d.perms[strings.ToLower(login)]
	if role == "" {
		role = "none"
		if !repo.Private {
			role = "read"
		}
	}
	user := s.accountJSON(login, derivedID(login), Account{Login: login}.typ())
	user["role_name"] = role
	user["permissions"] = map[string]any{
		"admin": role == "admin", "maintain": role == "admin" || role == "maintain",
		"push": legacyPermission[role] == "write" || role == "admin", "triage": role != "read" && role != "none",
		"pull": role != "none",
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"permission": legacyPermission[role], "role_name": role, "user": user,
	})
}

// GET /orgs/{org}/teams/{team_slug}/memberships/{username}: the installation must be on
// the organization and may read its members.
func (s *Server) getTeamMembership(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	org := r.PathValue("org")
	if !strings.EqualFold(c.inst.Account, org) {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	if !c.token.allows("members", "read") {
		writeError(w, http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	team, login := r.PathValue("team_slug"), r.PathValue("username")
	if !s.teams[strings.ToLower(org+"/"+team)][strings.ToLower(login)] {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	teamID := derivedID("team:" + org + "/" + team)
	writeJSON(w, http.StatusOK, map[string]any{
		"url":   s.srv.URL + "/organizations/" + strconv.FormatInt(derivedID(org), 10) + "/team/" + itoa(teamID) + "/memberships/" + login,
		"role":  "member",
		"state": "active",
	})
}
