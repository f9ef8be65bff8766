package githubtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Endpoints that change pull requests and branches: the app opens, edits and closes pull
// requests (as its bot) and deletes branches. A pull request's head must be a branch of the
// same repository; its commits and files come from the repository's git repository, computed
// the way GitHub does (commits of head that base lacks; the diff from their merge base).

// pullValidationFailed is GitHub's 422 for a pull request that cannot be made.
func pullValidationFailed(w http.ResponseWriter, field, code, message string) {
	writeValidationFailed(w, ValidationDetail{Resource: "PullRequest", Field: field, Code: code, Message: message})
}

// openPullWithHeadLocked is the open pull request from branch head, if any.
func (d *repoData) openPullWithHeadLocked(head string, except int) *PullRequest {
	for _, pr := range d.pulls {
		if pr.State == "open" && pr.Head.Ref == head && pr.Number != except {
			return pr
		}
	}
	return nil
}

// compareLocked computes a pull request's commits and files from base to head: from git if
// the repository has it; otherwise there are none, and base and head differ or not. It
// releases s.mu while git runs.
func (s *Server) compareLocked(d *repoData, baseSHA, headSHA string) (comparison, bool, error) {
	if d.git == nil {
		return comparison{}, baseSHA != headSHA, nil
	}
	g := d.git
	s.mu.Unlock()
	defer s.mu.Lock()
	cmp, err := g.compare(baseSHA, headSHA)
	return cmp, len(cmp.commits) > 0, err
}

// POST /repos/{owner}/{repo}/pulls
func (s *Server) createPull(w http.ResponseWriter, r *http.Request, c *call) {
	var req struct {
		Title *string `json:"title"`
		Head  string  `json:"head"`
		Base  string  `json:"base"`
		Body  string  `json:"body"`
		Draft bool    `json:"draft"`
		Issue *int64  `json:"issue"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "pull_requests", "write")
	if !ok {
		return
	}
	head := req.Head
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		if !strings.EqualFold(owner, repo.owner()) {
			pullValidationFailed(w, "head", "invalid", "")
			return
		}
		head = branch
	}
	switch {
	case req.Issue != nil:
		writeError(w, http.StatusUnprocessableEntity, "githubtest: converting an issue to a pull request is not supported")
		return
	case req.Title == nil || strings.TrimSpace(*req.Title) == "":
		pullValidationFailed(w, "title", "missing_field", "")
		return
	case req.Base == "":
		pullValidationFailed(w, "base", "missing_field", "")
		return
	}
	headSHA, ok := d.branches[head]
	if !ok {
		pullValidationFailed(w, "head", "invalid", "")
		return
	}
	baseSHA, ok := d.branches[req.Base]
	if !ok {
		pullValidationFailed(w, "base", "invalid", "")
		return
	}
	if d.openPullWithHeadLocked(head, 0) != nil {
		pullValidationFailed(w, "", "custom", "A pull request already exists for "+repo.owner()+":"+head+".")
		return
	}
	cmp, differ, err := s.compareLocked(d, baseSHA, headSHA)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !differ {
		pullValidationFailed(w, "", "custom", "No commits between "+req.Base+" and "+head)
		return
	}
	// s.mu was released while git ran: look again.
	if d.openPullWithHeadLocked(head, 0) != nil {
		pullValidationFailed(w, "", "custom", "A pull request already exists for "+repo.owner()+":"+head+".")
		return
	}
	pr := &PullRequest{
		Number: d.nextNumberLocked(), Title: *req.Title, Body: req.Body, Draft: req.Draft,
		User: s.botLocked(), State: "open",
		Base: PullRef{Ref: req.Base, SHA: baseSHA}, Head: PullRef{Ref: head, SHA: headSHA},
		Files: cmp.files, Commits: cmp.commits,
	}
	d.touchLocked(pr, s.now().UTC().Truncate(time.Second))
	d.pulls[pr.Number] = pr
	out := s.pullJSONLocked(c.inst, repo, pr, false)
	w.Header().Set("Location", out["url"].(string))
	writeJSON(w, http.StatusCreated, out)
}

// PATCH /repos/{owner}/{repo}/pulls/{pull_number}: title, body, state (closing; reopening
// if no other open pull request has the head) and base.
func (s *Server) updatePull(w http.ResponseWriter, r *http.Request, c *call) {
	var req struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "pull_requests", "write")
	if !ok {
		return
	}
	pr, ok := pullLocked(w, r, d)
	if !ok {
		return
	}
	if req.State != nil && *req.State == "open" && pr.State == "closed" {
		if pr.Merged {
			pullValidationFailed(w, "state", "invalid", "state cannot be changed. The pull request cannot be reopened.")
			return
		}
		if other := d.openPullWithHeadLocked(pr.Head.Ref, pr.Number); other != nil {
			pullValidationFailed(w, "", "custom", "A pull request already exists for "+repo.owner()+":"+pr.Head.Ref+".")
			return
		}
	}
	if req.Base != nil && *req.Base != pr.Base.Ref {
		baseSHA, ok := d.branches[*req.Base]
		if !ok {
			pullValidationFailed(w, "base", "invalid", "Proposed base branch '"+*req.Base+"' was not found")
			return
		}
		number := pr.Number
		cmp, _, err := s.compareLocked(d, baseSHA, pr.Head.SHA)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if pr = d.pulls[number]; pr == nil {
			writeError(w, http.StatusNotFound, "Not Found")
			return
		}
		pr.Base = PullRef{Ref: *req.Base, SHA: baseSHA}
		if d.git != nil {
			pr.Files, pr.Commits = cmp.files, cmp.commits
		}
	}
	if req.Title != nil {
		pr.Title = *req.Title
	}
	if req.Body != nil {
		pr.Body = *req.Body
	}
	if req.State != nil {
		pr.State = *req.State
	}
	d.touchLocked(pr, s.now().UTC().Truncate(time.Second))
	writeJSON(w, http.StatusOK, s.pullJSONLocked(c.inst, repo, pr, false))
}

// DELETE /repos/{owner}/{repo}/git/refs/{ref}: deletes a branch ("heads/x") or another ref
// of the git repository; 422 "Reference does not exist" if there is none, and for the
// default branch.
func (s *Server) deleteRef(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "contents", "write")
	if !ok {
		s.mu.Unlock()
		return
	}
	ref := strings.TrimPrefix(r.PathValue("ref"), "refs/")
	branch, isBranch := strings.CutPrefix(ref, "heads/")
	_, exists := d.branches[branch]
	exists = exists && isBranch
	g := d.git
	s.mu.Unlock()

	if isBranch && branch == repo.DefaultBranch {
		writeError(w, http.StatusUnprocessableEntity, "Cannot delete the default branch")
		return
	}
	if g != nil {
		g.mu.Lock()
		defer g.mu.Unlock()
		if old, inGit := g.resolve("refs/" + ref); inGit {
			if _, err := g.git("update-ref", "-d", "refs/"+ref); err != nil {
				writeError(w, http.StatusInternalServerError, err.Error())
				return
			}
			s.refsUpdated(repo.FullName, g, []refUpdate{{old: old, new: zeroSHA, ref: "refs/" + ref}})
			exists = true
		}
	}
	if !exists {
		writeError(w, http.StatusUnprocessableEntity, "Reference does not exist")
		return
	}
	if isBranch {
		s.mu.Lock()
		delete(d.branches, branch)
		s.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}
