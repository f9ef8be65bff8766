package githubtest

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// Check runs (created and updated by the app, or added by tests for other apps) and commit
// statuses. GitHub's limits on check runs are enforced with its 422s: output.summary and
// output.text at most 65,535 characters, at most 50 annotations per request, at most three
// actions (label ≤ 20, description ≤ 40, identifier ≤ 20 characters), and a conclusion
// whenever the run is completed.

// checkRunRequest is the body of POST and PATCH .../check-runs.
type checkRunRequest struct {
	Name        *string `json:"name"`
	HeadSHA     *string `json:"head_sha"`
	DetailsURL  *string `json:"details_url"`
	ExternalID  *string `json:"external_id"`
	Status      *string `json:"status"`
	StartedAt   *string `json:"started_at"`
	Conclusion  *string `json:"conclusion"`
	CompletedAt *string `json:"completed_at"`
	Output      *struct {
		Title       *string              `json:"title"`
		Summary     *string              `json:"summary"`
		Text        *string              `json:"text"`
		Annotations []CheckRunAnnotation `json:"annotations"`
	} `json:"output"`
	Actions *[]CheckRunAction `json:"actions"`
}

// limits lists what GitHub refuses in the request.
func (req *checkRunRequest) limits() []ValidationDetail {
	var out []ValidationDetail
	tooLong := func(field string, v *string, limit int) {
		if v != nil && utf8.RuneCountInString(*v) > limit {
			out = append(out, ValidationDetail{Resource: "CheckRun", Field: field, Code: "custom",
				Message: "Only " + itoa(limit) + " characters are allowed; " + itoa(utf8.RuneCountInString(*v)) + " were supplied."})
		}
	}
	if o := req.Output; o != nil {
		tooLong("output.summary", o.Summary, maxCheckRunText)
		tooLong("output.text", o.Text, maxCheckRunText)
		if len(o.Annotations) > maxAnnotationsPerCall {
			out = append(out, ValidationDetail{Resource: "CheckRun", Field: "output.annotations", Code: "custom",
				Message: "Only " + itoa(maxAnnotationsPerCall) + " annotations are allowed per request; " + itoa(len(o.Annotations)) + " were supplied."})
		}
	}
	if req.Actions != nil {
		if len(*req.Actions) > maxCheckRunActions {
			out = append(out, ValidationDetail{Resource: "CheckRun", Field: "actions", Code: "custom",
				Message: "Only " + itoa(maxCheckRunActions) + " actions are allowed."})
		}
		for i := range *req.Actions {
			a := &(*req.Actions)[i]
			tooLong("actions.label", &a.Label, maxActionLabel)
			tooLong("actions.description", &a.Description, maxActionDescription)
			tooLong("actions.identifier", &a.Identifier, maxActionIdentifier)
		}
	}
	if req.Status != nil && *req.Status == "completed" && req.Conclusion == nil {
		out = append(out, ValidationDetail{Resource: "CheckRun", Field: "conclusion", Code: "missing_field",
			Message: "conclusion is required when status is completed."})
	}
	if req.CompletedAt != nil && req.Conclusion == nil {
		out = append(out, ValidationDetail{Resource: "CheckRun", Field: "conclusion", Code: "missing_field",
			Message: "conclusion is required when completed_at is given."})
	}
	return out
}

// apply writes the request into the run; annotations are appended, as on GitHub.
func (req *checkRunRequest) apply(cr *CheckRun, now time.Time) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&cr.Name, req.Name)
	set(&cr.DetailsURL, req.DetailsURL)
	set(&cr.ExternalID, req.ExternalID)
	set(&cr.Status, req.Status)
	if req.StartedAt != nil {
		if t, err := time.Parse(time.RFC3339, *req.StartedAt); err == nil {
			cr.StartedAt = t
		}
	}
	if req.Conclusion != nil {
		cr.Conclusion, cr.Status = *req.Conclusion, "completed"
		cr.CompletedAt = now
		if req.CompletedAt != nil {
			if t, err := time.Parse(time.RFC3339, *req.CompletedAt); err == nil {
				cr.CompletedAt = t
			}
		}
	}
	if o := req.Output; o != nil {
		set(&cr.Output.Title, o.Title)
		set(&cr.Output.Summary, o.Summary)
		set(&cr.Output.Text, o.Text)
		cr.Output.Annotations = append(cr.Output.Annotations, o.Annotations...)
	}
	if req.Actions != nil {
		cr.Actions = append([]CheckRunAction(nil), *req.Actions...)
	}
}

func (s *Server) decodeCheckRun(w http.ResponseWriter, c *call) (*checkRunRequest, bool) {
	var req checkRunRequest
	if err := json.Unmarshal(c.body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return nil, false
	}
	if details := req.limits(); len(details) > 0 {
		writeValidationFailed(w, details...)
		return nil, false
	}
	return &req, true
}

// knownSHA says whether the repository has the commit (content, a branch, a pull request's
// head, base or commits, statuses, or its git repository).
func (d *repoData) knownSHA(sha string) bool {
	if d.commits[sha] != nil || d.statuses[sha] != nil {
		return true
	}
	for _, pr := range d.pulls {
		if pr.Head.SHA == sha || pr.Base.SHA == sha {
			return true
		}
		for _, cm := range pr.Commits {
			if cm.SHA == sha {
				return true
			}
		}
	}
	for _, branchSHA := range d.branches {
		if branchSHA == sha {
			return true
		}
	}
	if d.git != nil && len(sha) == 40 {
		full, ok := d.git.resolve(sha)
		return ok && full == sha
	}
	return false
}

// POST /repos/{owner}/{repo}/check-runs
func (s *Server) createCheckRun(w http.ResponseWriter, r *http.Request, c *call) {
	req, ok := s.decodeCheckRun(w, c)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "checks", "write")
	if !ok {
		return
	}
	if !d.knownSHA(*req.HeadSHA) {
		writeValidationFailed(w, ValidationDetail{Resource: "CheckRun", Field: "head_sha", Code: "invalid",
			Message: "No commit found for SHA: " + *req.HeadSHA})
		return
	}
	now := s.now().UTC().Truncate(time.Second)
	cr := &CheckRun{ID: s.nextIDLocked(), HeadSHA: *req.HeadSHA, Status: "queued", App: s.app.slug, StartedAt: now}
	req.apply(cr, now)
	annotations := 0
	if req.Output != nil {
		annotations = len(req.Output.Annotations)
	}
	cr.History = []CheckRunUpdate{updateOf(cr, now, true, annotations)}
	d.checkRuns = append(d.checkRuns, cr)
	writeJSON(w, http.StatusCreated, s.checkRunJSONLocked(repo, cr))
}

// PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}: only the app that created a run
// may update it.
func (s *Server) updateCheckRun(w http.ResponseWriter, r *http.Request, c *call) {
	req, ok := s.decodeCheckRun(w, c)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "checks", "write")
	if !ok {
		return
	}
	cr := d.checkRun(pathInt(r, "check_run_id"))
	if cr == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	if cr.App != s.app.slug {
		writeError(w, http.StatusForbidden, "Invalid app_id `"+itoa(s.app.id)+"` - check run can only be modified by the GitHub App that created it.")
		return
	}
	now := s.now().UTC().Truncate(time.Second)
	req.apply(cr, now)
	annotations := 0
	if req.Output != nil {
		annotations = len(req.Output.Annotations)
	}
	cr.History = append(cr.History, updateOf(cr, now, false, annotations))
	writeJSON(w, http.StatusOK, s.checkRunJSONLocked(repo, cr))
}

// GET /repos/{owner}/{repo}/check-runs/{check_run_id}
func (s *Server) getCheckRun(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "checks", "read")
	if !ok {
		return
	}
	cr := d.checkRun(pathInt(r, "check_run_id"))
	if cr == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, s.checkRunJSONLocked(repo, cr))
}

// GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations
func (s *Server) listAnnotations(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "checks", "read")
	if !ok {
		s.mu.Unlock()
		return
	}
	cr := d.checkRun(pathInt(r, "check_run_id"))
	if cr == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	items := make([]any, 0, len(cr.Output.Annotations))
	for _, a := range cr.Output.Annotations {
		items = append(items, map[string]any{
			"path": a.Path, "blob_href": s.WebURL() + repo.FullName + "/blob/" + cr.HeadSHA + "/" + a.Path,
			"start_line": a.StartLine, "end_line": a.EndLine, "start_column": a.StartColumn, "end_column": a.EndColumn,
			"annotation_level": a.AnnotationLevel, "title": nilIfEmpty(a.Title), "message": a.Message,
			"raw_details": nilIfEmpty(a.RawDetails),
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, paginate(w, r, items))
}

// GET /repos/{owner}/{repo}/commits/{ref}/check-runs: filter=latest (default) keeps the
// newest run of each name per app; newest first.
func (s *Server) listCheckRunsForRef(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "checks", "read")
	if !ok {
		s.mu.Unlock()
		return
	}
	sha := r.PathValue("ref")
	if resolved, _ := d.resolve(sha, ""); resolved != "" {
		sha = resolved
	}
	q := r.URL.Query()
	latest := q.Get("filter") != "all"
	var appID int64
	if v := q.Get("app_id"); v != "" {
		appID, _ = strconv.ParseInt(v, 10, 64)
	}
	var runs []*CheckRun
	seen := map[string]bool{}
	for i := len(d.checkRuns) - 1; i >= 0; i-- {
		cr := d.checkRuns[i]
		switch {
		case cr.HeadSHA != sha,
			q.Get("check_name") != "" && cr.Name != q.Get("check_name"),
			q.Get("status") != "" && cr.Status != q.Get("status"),
			appID != 0 && s.appIDLocked(cr.App) != appID:
			continue
		}
		key := cr.App + "\x00" + cr.Name
		if latest && seen[key] {
			continue
		}
		seen[key] = true
		runs = append(runs, cr)
	}
	items := make([]any, 0, len(runs))
	for _, cr := range runs {
		items = append(items, s.checkRunJSONLocked(repo, cr))
	}
	s.mu.Unlock()
	page := paginate(w, r, items)
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(items), "check_runs": page})
}

func (s *Server) appIDLocked(slug string) int64 {
	if slug == s.app.slug {
		return s.app.id
	}
	if slug == githubActionsAppSlug {
		return githubActionsAppID
	}
	return derivedID("app:" + slug)
}

// integrationJSONLocked is the "integration" object of the app with this slug.
func (s *Server) integrationJSONLocked(slug string) map[string]any {
	if slug == s.app.slug {
		return s.appJSONLocked()
	}
	id := s.appIDLocked(slug)
	owner, name := slug, slug
	if slug == githubActionsAppSlug {
		owner, name = githubActionsAppOwner, githubActionsAppName
	}
	created := "2018-07-30T09:30:17Z"
	return map[string]any{
		"id": id, "slug": slug, "node_id": nodeID("App", id), "client_id": "Iv1." + itoa(id),
		"owner": s.accountJSON(owner, derivedID(owner), "Organization"), "name": name,
		"description": "", "external_url": "https://" + slug + ".example.com", "html_url": s.WebURL() + "apps/" + slug,
		"created_at": created, "updated_at": created,
		"permissions": map[string]string{"checks": "write", "contents": "read", "metadata": "read"},
		"events":      []string{"check_run", "check_suite"},
	}
}

// checkRunJSONLocked is a "check-run" object.
func (s *Server) checkRunJSONLocked(repo Repo, cr *CheckRun) map[string]any {
	api := s.srv.URL + "/repos/" + repo.FullName + "/check-runs/" + itoa(cr.ID)
	html := s.WebURL() + repo.FullName + "/runs/" + itoa(cr.ID)
	timeOrNil := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return ts(t)
	}
	var conclusion any
	if cr.Status == "completed" {
		conclusion = cr.Conclusion
	}
	details := cr.DetailsURL
	if details == "" {
		details = "https://" + cr.App + ".example.com"
	}
	return map[string]any{
		"id": cr.ID, "node_id": nodeID("CheckRun", cr.ID), "head_sha": cr.HeadSHA, "name": cr.Name,
		"external_id": cr.ExternalID, "url": api, "html_url": html, "details_url": details,
		"status": cr.Status, "conclusion": conclusion,
		"started_at": timeOrNil(cr.StartedAt), "completed_at": timeOrNil(cr.CompletedAt),
		"output": map[string]any{
			"title": nilIfEmpty(cr.Output.Title), "summary": nilIfEmpty(cr.Output.Summary), "text": nilIfEmpty(cr.Output.Text),
			"annotations_count": len(cr.Output.Annotations), "annotations_url": api + "/annotations",
		},
		"check_suite":   map[string]any{"id": derivedID("suite:" + cr.App + ":" + cr.HeadSHA)},
		"app":           s.integrationJSONLocked(cr.App),
		"pull_requests": []any{},
	}
}

// statusJSON is a "status" object.
func (s *Server) statusJSON(repo Repo, sha string, st *Status) map[string]any {
	creator := "octocat"
	return map[string]any{
		"url": s.srv.URL + "/repos/" + repo.FullName + "/statuses/" + sha, "avatar_url": nil,
		"id": st.ID, "node_id": nodeID("StatusContext", st.ID), "state": st.State,
		"description": nilIfEmpty(st.Description), "target_url": nilIfEmpty(st.TargetURL), "context": st.Context,
		"created_at": ts(st.CreatedAt), "updated_at": ts(st.CreatedAt),
		"creator": s.accountJSON(creator, derivedID(creator), "User"),
	}
}

// statusesLocked resolves {ref} and returns its statuses, oldest first.
func statusesLocked(r *http.Request, d *repoData) (string, []*Status) {
	sha := r.PathValue("ref")
	if resolved, _ := d.resolve(sha, ""); resolved != "" {
		sha = resolved
	}
	return sha, d.statuses[sha]
}

// GET /repos/{owner}/{repo}/commits/{ref}/status: the latest status per context, combined
// (failure if any failed or errored, pending if any is pending or there are none).
func (s *Server) getCombinedStatus(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "statuses", "read")
	if !ok {
		return
	}
	sha, all := statusesLocked(r, d)
	latest := map[string]*Status{}
	for _, st := range all {
		latest[st.Context] = st
	}
	contexts := make([]string, 0, len(latest))
	for ctx := range latest {
		contexts = append(contexts, ctx)
	}
	sort.Strings(contexts)
	state := "success"
	if len(contexts) == 0 {
		state = "pending"
	}
	statuses := []any{}
	for _, ctx := range contexts {
		st := latest[ctx]
		switch {
		case st.State == "failure" || st.State == "error":
			state = "failure"
		case st.State == "pending" && state != "failure":
			state = "pending"
		}
		statuses = append(statuses, s.statusJSON(repo, sha, st))
	}
	api := s.srv.URL + "/repos/" + repo.FullName
	repoJSON := s.repositoryJSONLocked(c.inst, repo)
	writeJSON(w, http.StatusOK, map[string]any{
		"state": state, "statuses": paginate(w, r, statuses), "sha": sha, "total_count": len(statuses),
		"repository": repoJSON, "commit_url": api + "/commits/" + sha, "url": api + "/commits/" + sha + "/status",
	})
}

// GET /repos/{owner}/{repo}/commits/{ref}/statuses, newest first.
func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "statuses", "read")
	if !ok {
		s.mu.Unlock()
		return
	}
	sha, all := statusesLocked(r, d)
	items := make([]any, 0, len(all))
	for i := len(all) - 1; i >= 0; i-- {
		items = append(items, s.statusJSON(repo, sha, all[i]))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, paginate(w, r, items))
}
