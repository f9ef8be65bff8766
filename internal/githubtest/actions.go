package githubtest

import (
	"encoding/json"
	"maps"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// GitHub Actions' workflow_dispatch. A workflow is a file .github/workflows/<name> at the ref:
// read from the repository's content (SetFiles or git) when it has some there, so its
// triggers and inputs are checked as GitHub checks them, or registered with AddWorkflow. The
// fake runs nothing: it records the dispatch ([Server.WorkflowDispatches]); a test sends the
// workflow_run webhook it wants.

// WorkflowDispatch is one workflow_dispatch event the app created.
type WorkflowDispatch struct {
	Time     time.Time
	Workflow string // the workflow file's name, e.g. "agent.yml"
	Ref      string // as the app gave it
	Inputs   map[string]any
	RunID    int64 // the run's ID, answered when the app asked for return_run_details
}

// workflowID is the ID of a workflow file of a repository, the same however it is found.
func workflowID(repo, file string) int64 {
	return derivedID("workflow:"+strings.ToLower(repo)+":"+file) + 3_000_000_000
}

// AddWorkflow registers a workflow file (the name in .github/workflows/) that accepts
// workflow_dispatch with any inputs, for repositories whose content does not have it, and
// returns its ID. The dispatch's ref must still be a branch or commit of the repository.
func (s *Server) AddWorkflow(repo, file string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := workflowID(repo, file)
	s.repoLocked(repo).workflows[file] = id
	return id
}

// WorkflowDispatches lists the workflow_dispatch events the app created, oldest first.
func (s *Server) WorkflowDispatches(repo string) []WorkflowDispatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.repoLocked(repo).dispatches)
}

// POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches: 204, or 200 with the
// run's ID and URLs if return_run_details; 404 for an unknown workflow, 422 for an unknown
// ref, a workflow without the workflow_dispatch trigger, or inputs it does not declare or
// requires.
func (s *Server) dispatchWorkflow(w http.ResponseWriter, r *http.Request, c *call) {
	var req struct {
		Ref              string         `json:"ref"`
		Inputs           map[string]any `json:"inputs"`
		ReturnRunDetails bool           `json:"return_run_details"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	s.mu.Lock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "actions", "write")
	if !ok {
		s.mu.Unlock()
		return
	}
	sha, commit := d.resolve(req.Ref, "")
	g := d.git
	registered := maps.Clone(d.workflows)
	s.mu.Unlock()

	// The workflow files at the ref, name → content.
	files := map[string]string{}
	readable := false
	const dir = ".github/workflows/"
	switch {
	case commit != nil:
		readable = true
		for p, content := range commit.files {
			if path.Dir(p)+"/" == dir {
				files[path.Base(p)] = content
			}
		}
	case g != nil:
		rev := sha
		if rev == "" {
			rev = req.Ref
		}
		if full, ok := g.resolve(rev); ok {
			readable = true
			tree, err := g.tree(full)
			if err != nil {
				writeError(w, http.StatusInternalServerError, err.Error())
				return
			}
			for p, e := range tree {
				if !e.dir && path.Dir(p)+"/" == dir {
					b, err := g.git("cat-file", "blob", e.sha)
					if err != nil {
						writeError(w, http.StatusInternalServerError, err.Error())
						return
					}
					files[path.Base(p)] = string(b)
				}
			}
		}
	}
	if sha == "" && !readable {
		writeError(w, http.StatusUnprocessableEntity, "No ref found for: "+req.Ref)
		return
	}

	want := r.PathValue("workflow_id")
	matches := func(file string) bool { return file == want || itoa(workflowID(repo.FullName, file)) == want }
	var name, content string
	found, checkable := false, false
	for _, file := range slices.Sorted(maps.Keys(files)) {
		if matches(file) {
			name, content, found, checkable = file, files[file], true, true
			break
		}
	}
	if !found {
		for file := range registered {
			if matches(file) {
				name, found = file, true
			}
		}
	}
	if !found {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	if checkable {
		if msg := checkDispatch(content, req.Inputs); msg != "" {
			writeError(w, http.StatusUnprocessableEntity, msg)
			return
		}
	}

	s.mu.Lock()
	dispatch := WorkflowDispatch{Time: s.now(), Workflow: name, Ref: req.Ref, Inputs: req.Inputs}
	if req.ReturnRunDetails {
		dispatch.RunID = s.nextIDLocked()
	}
	d.dispatches = append(d.dispatches, dispatch)
	s.mu.Unlock()
	if !req.ReturnRunDetails {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	run := itoa(dispatch.RunID)
	writeJSON(w, http.StatusOK, map[string]any{
		"workflow_run_id": dispatch.RunID,
		"run_url":         s.srv.URL + "/repos/" + repo.FullName + "/actions/runs/" + run,
		"html_url":        s.WebURL() + repo.FullName + "/actions/runs/" + run,
	})
}

// checkDispatch says what GitHub would refuse about dispatching the workflow with inputs:
// a workflow without the workflow_dispatch trigger, inputs it does not declare, or required
// inputs (without a default) left out. "" if nothing.
func checkDispatch(content string, inputs map[string]any) string {
	var wf struct {
		On yaml.Node `yaml:"on"`
	}
	if err := yaml.Unmarshal([]byte(content), &wf); err != nil {
		return "Invalid workflow file: " + err.Error()
	}
	var trigger *yaml.Node
	found := false
	switch on := &wf.On; on.Kind {
	case yaml.ScalarNode:
		found = on.Value == "workflow_dispatch"
	case yaml.SequenceNode:
		found = slices.ContainsFunc(on.Content, func(n *yaml.Node) bool { return n.Value == "workflow_dispatch" })
	case yaml.MappingNode:
		for i := 0; i+1 < len(on.Content); i += 2 {
			if on.Content[i].Value == "workflow_dispatch" {
				found, trigger = true, on.Content[i+1]
			}
		}
	}
	if !found {
		return "Workflow does not have 'workflow_dispatch' trigger"
	}
	var declared struct {
		Inputs map[string]struct {
			Required bool `yaml:"required"`
			Default  any  `yaml:"default"`
		} `yaml:"inputs"`
	}
	if trigger != nil && trigger.Kind == yaml.MappingNode {
		if err := trigger.Decode(&declared); err != nil {
			return "Invalid workflow file: " + err.Error()
		}
	}
	var unexpected []string
	for k := range inputs {
		if _, ok := declared.Inputs[k]; !ok {
			unexpected = append(unexpected, `"`+k+`"`)
		}
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		return "Unexpected inputs provided: [" + strings.Join(unexpected, ", ") + "]"
	}
	for _, k := range slices.Sorted(maps.Keys(declared.Inputs)) {
		in := declared.Inputs[k]
		if _, given := inputs[k]; in.Required && in.Default == nil && !given {
			return "Required input '" + k + "' not provided"
		}
	}
	return ""
}
