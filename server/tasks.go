package server

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"

	"github.com/agentgate/agentgate/store"
)

// TaskLinks are the capability links to task pages and run logs that the
// sticky comment carries: a log holds a private repository's code, so the
// link is signed like the gate's details link and handed out only on the
// issue.
type TaskLinks struct{ DetailsLinks }

// Task is the task page.
func (l TaskLinks) Task(taskID string) string {
	return l.publicURL + "/tasks/" + url.PathEscape(taskID) + "?sig=" + l.sign("task", taskID)
}

// RunLog is a run's log.
func (l TaskLinks) RunLog(taskID, runID string) string {
	return l.publicURL + "/tasks/" + url.PathEscape(taskID) + "/runs/" + url.PathEscape(runID) + "/log?sig=" + l.sign("task", taskID)
}

func (l TaskLinks) validTask(taskID, sig string) bool { return l.valid("task", taskID, sig) }

var taskPage = template.Must(template.New("task").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentgate task {{.Task.ID}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
pre{background:#f6f8fa;padding:1rem;overflow:auto;font-size:.85rem}code{background:#f6f8fa}</style></head>
<body><h1>Task <code>{{.Task.ID}}</code>: {{.Task.Repository}}#{{.Task.IssueNumber}}</h1>
<p>{{.Task.IssueTitle}}</p>
<p>State: <strong>{{.Task.State}}</strong>{{if .Task.Reason}} ({{.Task.Reason}}){{end}} · requested by @{{.Task.Requester}} ({{.Task.TriggerKind}}) ·
agent <code>{{.Task.Agent}}</code> · runner <code>{{.Task.Runner}}</code> · branch <code>{{.Task.Branch}}</code>
{{if .Task.PullNumber}} · pull request #{{.Task.PullNumber}}{{end}}</p>
<h2>Audit trail</h2><table><tr><th>#</th><th>When</th><th>Who</th><th>From</th><th>To</th><th>Why</th><th>Delivery</th></tr>
{{range .Events}}<tr><td>{{.Seq}}</td><td>{{.At.Format "2006-01-02 15:04:05 MST"}}</td><td>{{.Actor}}</td><td>{{.FromState}}</td><td>{{.ToState}}</td><td>{{.Reason}}</td><td><code>{{.DeliveryID}}</code></td></tr>{{end}}
</table>
<h2>Runs</h2><table><tr><th>Run</th><th>Kind</th><th>State</th><th>Agent</th><th>Model</th><th>Tokens in/out</th><th>Prompt sha256</th><th>Head</th><th>Error</th><th>Log</th></tr>
{{range .Runs}}<tr><td><code>{{.Run.ID}}</code></td><td>{{.Run.Kind}}</td><td>{{.Run.State}}</td><td>{{.Run.Agent}}</td><td>{{.Run.Model}}</td>
<td>{{.Run.InputTokens}}/{{.Run.OutputTokens}}</td><td><code>{{.Run.PromptSHA256}}</code></td><td><code>{{.Run.HeadSHA}}</code></td><td>{{.Run.Error}}</td><td><a href="{{.LogURL}}">log</a></td></tr>{{end}}
</table>
{{if .Plan}}<h2>Plan <code>{{.Plan.ID}}</code></h2><p>sha256 <code>{{.Plan.SHA256}}</code>{{if .Plan.ApprovedBy}} · approved by @{{.Plan.ApprovedBy}}{{end}}</p><pre>{{.Plan.Body}}</pre>{{end}}
</body></html>`))

// taskPageHandler serves GET /tasks/{id}.
func (a *App) taskPageHandler(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !a.taskLinks.validTask(id, r.URL.Query().Get("sig")) {
		http.Error(w, "this link is not valid: open it from the task's comment on GitHub", http.StatusForbidden)
		return
	}
	ctx := r.Context()
	t, err := a.store.GetTask(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "no task "+id, http.StatusNotFound)
		return
	}
	if err != nil {
		a.log.Error("load task page", "task", id, "err", err)
		http.Error(w, "could not load the task", http.StatusInternalServerError)
		return
	}
	events, err1 := a.store.TaskEvents(ctx, id)
	runs, err2 := a.store.RunsOfTask(ctx, id)
	if err := errors.Join(err1, err2); err != nil {
		a.log.Error("load task page", "task", id, "err", err)
		http.Error(w, "could not load the task", http.StatusInternalServerError)
		return
	}
	type runRow struct {
		Run    store.Run
		LogURL string
	}
	var rows []runRow
	for _, run := range runs {
		rows = append(rows, runRow{run, a.taskLinks.RunLog(id, run.ID)})
	}
	var plan *store.Plan
	if t.PlanID != "" {
		if p, err := a.store.GetPlan(ctx, id, t.PlanID); err == nil {
			plan = &p
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_ = taskPage.Execute(w, map[string]any{"Task": t, "Events": events, "Runs": rows, "Plan": plan})
}

// runLogHandler serves GET /tasks/{id}/runs/{run}/log as plain text.
func (a *App) runLogHandler(w http.ResponseWriter, r *http.Request) {
	id, runID := r.PathValue("id"), r.PathValue("run")
	if !a.taskLinks.validTask(id, r.URL.Query().Get("sig")) {
		http.Error(w, "this link is not valid: open it from the task's comment on GitHub", http.StatusForbidden)
		return
	}
	run, err := a.store.GetRun(r.Context(), runID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && run.TaskID != id) {
		http.Error(w, "no run "+runID+" in task "+id, http.StatusNotFound)
		return
	}
	if err != nil {
		a.log.Error("load run log", "run", runID, "err", err)
		http.Error(w, "could not load the log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if run.Log == "" && run.State == "running" {
		_, _ = w.Write([]byte("(the run is in progress; its log is stored when it ends)\n"))
		return
	}
	_, _ = w.Write([]byte(run.Log))
}
