package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/agentgate/agentgate/dispatch"
)

// maxResultBody bounds what an actions workflow may post back.
const maxResultBody = 25 << 20

// bearer is the token of an "Authorization: Bearer ..." header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

// runTaskHandler serves GET /api/v1/runs/{id}/task to the workflow holding
// the run's one-time task token.
func (a *App) runTaskHandler(w http.ResponseWriter, r *http.Request) {
	if a.dispatcher == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "dispatch is not enabled on this server"})
		return
	}
	task, err := a.dispatcher.ExternalTaskFor(r.Context(), r.PathValue("id"), bearer(r))
	if errors.Is(err, dispatch.ErrBadToken) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": err.Error()})
		return
	}
	if err != nil {
		a.log.Error("serve a task to a workflow", "run", r.PathValue("id"), "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not prepare the task"})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, task)
}

// runResultHandler serves POST /api/v1/runs/{id}/result: the workflow's
// plan or patch. The token is spent by the first valid post.
func (a *App) runResultHandler(w http.ResponseWriter, r *http.Request) {
	if a.dispatcher == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "dispatch is not enabled on this server"})
		return
	}
	var res dispatch.ExternalResult
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxResultBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body is not a result: " + err.Error()})
		return
	}
	err := a.dispatcher.CompleteExternal(r.Context(), r.PathValue("id"), bearer(r), res)
	if errors.Is(err, dispatch.ErrBadToken) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": err.Error()})
		return
	}
	if err != nil {
		a.log.Error("take a workflow's result", "run", r.PathValue("id"), "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not record the result"})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted"})
}
