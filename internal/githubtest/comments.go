package githubtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"
)

// Comments on issues and pull requests' conversations, review comments on pull requests'
// diffs, and reactions. The app comments as its bot ("<slug>[bot]", with
// performed_via_github_app); tests add people's comments. Comment IDs are unique across the
// fake (they come from the same sequence as reviews and check runs), like GitHub's.

// maxCommentBody is GitHub's limit on a comment's body, in characters.
const maxCommentBody = 65536

// IssueComment is a comment on an issue or on a pull request's conversation.
type IssueComment struct {
	ID      int64
	Number  int // of the issue or pull request
	User    Account
	Body    string
	Created time.Time
	Updated time.Time

	viaApp bool // made by the app (performed_via_github_app)
}

// ReviewComment is a comment of a pull request review on a line of the diff.
type ReviewComment struct {
	ID       int64
	Number   int // of the pull request
	ReviewID int64
	User     Account
	Path     string
	Line     int
	Body     string
	CommitID string // the pull request's head when the comment was made
	Created  time.Time
	Updated  time.Time
}

// reaction is one reaction to an issue, pull request or comment.
type reaction struct {
	id      int64
	user    Account
	content string
	created time.Time
}

func issueReactionKey(number int) string { return "issue:" + itoa(number) }
func commentReactionKey(id int64) string { return "comment:" + itoa(id) }

func (d *repoData) issueComments(number int) []*IssueComment {
	var out []*IssueComment
	for _, cm := range d.comments {
		if cm.Number == number {
			out = append(out, cm)
		}
	}
	return out
}

func (d *repoData) issueComment(id int64) *IssueComment {
	for _, cm := range d.comments {
		if cm.ID == id {
			return cm
		}
	}
	return nil
}

func (d *repoData) pullReviewComments(number int) []*ReviewComment {
	var out []*ReviewComment
	for _, cm := range d.reviewComments {
		if cm.Number == number {
			out = append(out, cm)
		}
	}
	return out
}

func (d *repoData) reviewComment(id int64) *ReviewComment {
	for _, cm := range d.reviewComments {
		if cm.ID == id {
			return cm
		}
	}
	return nil
}

// AddIssueComment adds a person's comment to an issue or pull request and returns its ID
// (for webhook payloads such as issue_comment.created).
func (s *Server) AddIssueComment(repo string, number int, user Account, body string) int64 {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.repoLocked(repo)
	x, ok := d.issueLocked(number)
	if !ok {
		s.t.Fatalf("githubtest: AddIssueComment: no issue or pull request %s#%d", repo, number)
	}
	s.knowLocked(user)
	now := s.now().UTC().Truncate(time.Second)
	cm := &IssueComment{ID: s.nextIDLocked(), Number: number, User: user, Body: body, Created: now, Updated: now}
	d.comments = append(d.comments, cm)
	d.touchIssueLocked(x, now)
	return cm.ID
}

// Comments returns the comments of an issue or pull request, oldest first.
func (s *Server) Comments(repo string, number int) []IssueComment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []IssueComment
	for _, cm := range s.repoLocked(repo).issueComments(number) {
		out = append(out, *cm)
	}
	return out
}

// AddReviewComment adds a review comment of review reviewID (see AddReview) on a line of a
// file of pull request number, and returns its ID.
func (s *Server) AddReviewComment(repo string, number int, reviewID int64, user Account, path string, line int, body string) int64 {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.repoLocked(repo)
	pr := d.pulls[number]
	if pr == nil {
		s.t.Fatalf("githubtest: AddReviewComment: no pull request %s#%d", repo, number)
	}
	if !slices.ContainsFunc(d.reviews[number], func(rv *Review) bool { return rv.ID == reviewID }) {
		s.t.Fatalf("githubtest: AddReviewComment: %s#%d has no review %d", repo, number, reviewID)
	}
	s.knowLocked(user)
	now := s.now().UTC().Truncate(time.Second)
	cm := &ReviewComment{
		ID: s.nextIDLocked(), Number: number, ReviewID: reviewID, User: user, Path: path, Line: line,
		Body: body, CommitID: pr.Head.SHA, Created: now, Updated: now,
	}
	d.reviewComments = append(d.reviewComments, cm)
	d.touchLocked(pr, now)
	return cm.ID
}

// Reactions returns the reactions' contents ("eyes", "+1", ...) to an issue comment or a
// review comment, oldest first.
func (s *Server) Reactions(repo string, commentID int64) []string {
	return s.reactions(repo, commentReactionKey(commentID))
}

// IssueReactions returns the reactions' contents to an issue or pull request, oldest first.
func (s *Server) IssueReactions(repo string, number int) []string {
	return s.reactions(repo, issueReactionKey(number))
}

func (s *Server) reactions(repo, key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, rc := range s.repoLocked(repo).reactions[key] {
		out = append(out, rc.content)
	}
	return out
}

// reactionRollup is a "reaction-rollup" object.
func (s *Server) reactionRollup(subjectURL string, rs []reaction) map[string]any {
	out := map[string]any{"url": subjectURL + "/reactions", "total_count": len(rs)}
	for _, content := range []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"} {
		out[content] = 0
	}
	for _, rc := range rs {
		out[rc.content] = out[rc.content].(int) + 1
	}
	return out
}

// issueCommentJSONLocked is an "issue-comment" object.
func (s *Server) issueCommentJSONLocked(repo Repo, d *repoData, cm *IssueComment) map[string]any {
	api := s.srv.URL + "/repos/" + repo.FullName
	self := api + "/issues/comments/" + itoa(cm.ID)
	kind := "/issues/"
	if d.pulls[cm.Number] != nil {
		kind = "/pull/"
	}
	var app any
	if cm.viaApp {
		app = s.appJSONLocked()
	}
	return map[string]any{
		"id": cm.ID, "node_id": nodeID("IssueComment", cm.ID), "url": self,
		"html_url":  s.WebURL() + repo.FullName + kind + itoa(cm.Number) + "#issuecomment-" + itoa(cm.ID),
		"issue_url": api + "/issues/" + itoa(cm.Number),
		"body":      cm.Body, "user": s.userJSON(cm.User),
		"created_at": ts(cm.Created), "updated_at": ts(cm.Updated),
		"author_association":       s.associationLocked(repo, d, cm.User.Login),
		"performed_via_github_app": app,
		"reactions":                s.reactionRollup(self, d.reactions[commentReactionKey(cm.ID)]),
	}
}

// decodeCommentBody reads {"body": ...} and refuses a body over GitHub's limit.
func decodeCommentBody(w http.ResponseWriter, c *call) (string, bool) {
	var req struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return "", false
	}
	if utf8.RuneCountInString(req.Body) > maxCommentBody {
		writeValidationFailed(w, ValidationDetail{Resource: "IssueComment", Field: "data", Code: "unprocessable",
			Message: "Body is too long (maximum is " + itoa(maxCommentBody) + " characters)"})
		return "", false
	}
	return req.Body, true
}

// POST /repos/{owner}/{repo}/issues/{issue_number}/comments: the app's bot comments.
func (s *Server) createIssueComment(w http.ResponseWriter, r *http.Request, c *call) {
	body, ok := decodeCommentBody(w, c)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, x, ok := s.issueAccessLocked(w, r, c, "write")
	if !ok {
		return
	}
	now := s.now().UTC().Truncate(time.Second)
	cm := &IssueComment{ID: s.nextIDLocked(), Number: x.number(), User: s.botLocked(), Body: body, Created: now, Updated: now, viaApp: true}
	d.comments = append(d.comments, cm)
	d.touchIssueLocked(x, now)
	out := s.issueCommentJSONLocked(repo, d, cm)
	w.Header().Set("Location", out["url"].(string))
	writeJSON(w, http.StatusCreated, out)
}

// issueCommentLocked finds {comment_id} and checks the token may use its issue at level.
func (s *Server) issueCommentLocked(w http.ResponseWriter, r *http.Request, c *call, level string) (Repo, *repoData, *IssueComment, bool) {
	repo, d, ok := s.repoVisibleLocked(w, r, c)
	if !ok {
		return Repo{}, nil, nil, false
	}
	cm := d.issueComment(pathInt(r, "comment_id"))
	if cm == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return Repo{}, nil, nil, false
	}
	x, _ := d.issueLocked(cm.Number)
	if !issueAllowed(w, c, x, level) {
		return Repo{}, nil, nil, false
	}
	return repo, d, cm, true
}

// GET /repos/{owner}/{repo}/issues/comments/{comment_id}
func (s *Server) getIssueComment(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, cm, ok := s.issueCommentLocked(w, r, c, "read")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.issueCommentJSONLocked(repo, d, cm))
}

// PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}
func (s *Server) updateIssueComment(w http.ResponseWriter, r *http.Request, c *call) {
	body, ok := decodeCommentBody(w, c)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, cm, ok := s.issueCommentLocked(w, r, c, "write")
	if !ok {
		return
	}
	cm.Body, cm.Updated = body, s.now().UTC().Truncate(time.Second)
	writeJSON(w, http.StatusOK, s.issueCommentJSONLocked(repo, d, cm))
}

// GET /repos/{owner}/{repo}/issues/{issue_number}/comments: oldest first, those updated at or
// after since, paged.
func (s *Server) listIssueComments(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, x, ok := s.issueAccessLocked(w, r, c, "read")
	if !ok {
		return
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		since, _ = time.Parse(time.RFC3339, v)
	}
	items := []any{}
	for _, cm := range d.issueComments(x.number()) {
		if !cm.Updated.Before(since) {
			items = append(items, s.issueCommentJSONLocked(repo, d, cm))
		}
	}
	writeJSON(w, http.StatusOK, paginate(w, r, items))
}

// reviewCommentJSONLocked is a "pull-request-review-comment" (and "review-comment") object.
func (s *Server) reviewCommentJSONLocked(repo Repo, d *repoData, cm *ReviewComment) map[string]any {
	api := s.srv.URL + "/repos/" + repo.FullName
	self := api + "/pulls/comments/" + itoa(cm.ID)
	prURL := api + "/pulls/" + itoa(cm.Number)
	html := s.WebURL() + repo.FullName + "/pull/" + itoa(cm.Number) + "#discussion_r" + itoa(cm.ID)
	hunk := "@@ -" + itoa(max(cm.Line-1, 0)) + " +" + itoa(cm.Line) + " @@"
	if pr := d.pulls[cm.Number]; pr != nil {
		for _, f := range pr.Files {
			if f.Filename == cm.Path && f.Patch != "" {
				hunk = f.Patch
			}
		}
	}
	href := func(u string) map[string]any { return map[string]any{"href": u} }
	return map[string]any{
		"url": self, "id": cm.ID, "node_id": nodeID("PullRequestReviewComment", cm.ID),
		"pull_request_review_id": cm.ReviewID, "diff_hunk": hunk, "path": cm.Path,
		"position": cm.Line, "original_position": cm.Line, "line": cm.Line, "original_line": cm.Line,
		"start_line": nil, "original_start_line": nil, "start_side": nil, "side": "RIGHT", "subject_type": "line",
		"commit_id": cm.CommitID, "original_commit_id": cm.CommitID,
		"user": s.userJSON(cm.User), "body": cm.Body,
		"created_at": ts(cm.Created), "updated_at": ts(cm.Updated),
		"html_url": html, "pull_request_url": prURL,
		"author_association": s.associationLocked(repo, d, cm.User.Login),
		"_links":             map[string]any{"self": href(self), "html": href(html), "pull_request": href(prURL)},
		"reactions":          s.reactionRollup(self, d.reactions[commentReactionKey(cm.ID)]),
	}
}

// GET /repos/{owner}/{repo}/pulls/comments/{comment_id}
func (s *Server) getReviewComment(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "pull_requests", "read")
	if !ok {
		return
	}
	cm := d.reviewComment(pathInt(r, "comment_id"))
	if cm == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, s.reviewCommentJSONLocked(repo, d, cm))
}

// GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments, oldest first.
func (s *Server) listReviewComments(w http.ResponseWriter, r *http.Request, c *call) {
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
	reviewID := pathInt(r, "review_id")
	if !slices.ContainsFunc(d.reviews[pr.Number], func(rv *Review) bool { return rv.ID == reviewID }) {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	items := []any{}
	for _, cm := range d.pullReviewComments(pr.Number) {
		if cm.ReviewID == reviewID {
			items = append(items, s.reviewCommentJSONLocked(repo, d, cm))
		}
	}
	writeJSON(w, http.StatusOK, paginate(w, r, items))
}

// reactLocked adds the bot's reaction to a subject: 201 with a new reaction, 200 with the
// one it already had.
func (s *Server) reactLocked(w http.ResponseWriter, c *call, d *repoData, key string) {
	var req struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	bot := s.botLocked()
	status := http.StatusOK
	i := slices.IndexFunc(d.reactions[key], func(rc reaction) bool { return rc.user == bot && rc.content == req.Content })
	if i < 0 {
		status = http.StatusCreated
		d.reactions[key] = append(d.reactions[key], reaction{
			id: s.nextIDLocked(), user: bot, content: req.Content, created: s.now().UTC().Truncate(time.Second),
		})
		i = len(d.reactions[key]) - 1
	}
	rc := d.reactions[key][i]
	writeJSON(w, status, map[string]any{
		"id": rc.id, "node_id": nodeID("Reaction", rc.id), "user": s.userJSON(rc.user),
		"content": rc.content, "created_at": ts(rc.created),
	})
}

// POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions
func (s *Server) reactToIssueComment(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, cm, ok := s.issueCommentLocked(w, r, c, "write")
	if !ok {
		return
	}
	s.reactLocked(w, c, d, commentReactionKey(cm.ID))
}

// POST /repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions
func (s *Server) reactToReviewComment(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, ok := s.repoAccessLocked(w, r, c, "pull_requests", "write")
	if !ok {
		return
	}
	cm := d.reviewComment(pathInt(r, "comment_id"))
	if cm == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	s.reactLocked(w, c, d, commentReactionKey(cm.ID))
}

// POST /repos/{owner}/{repo}/issues/{issue_number}/reactions
func (s *Server) reactToIssue(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, x, ok := s.issueAccessLocked(w, r, c, "write")
	if !ok {
		return
	}
	s.reactLocked(w, c, d, issueReactionKey(x.number()))
}
