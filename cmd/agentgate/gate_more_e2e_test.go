package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/policy"
	"github.com/agentgate/agentgate/store"
)

// newGateWorldEnv is newGateWorld with extra environment for agentgate, and the store it
// writes (opened beside it), for tests that look at evaluations or the reconciler.
func newGateWorldEnv(t *testing.T, baseFiles map[string]string, extra map[string]string) (*gateWorld, *store.Store) {
	t.Helper()
	w := newGateWorld(t, baseFiles, extra)
	return w, openStore(t, "sqlite", filepath.Join(w.dataDir, "agentgate.db"))
}

// addPR adds an agent's pull request to the fake without telling agentgate (no webhook) and
// returns its head SHA.
func (w *gateWorld) addPR(number int, files []githubtest.PullFile) string {
	w.t.Helper()
	head := w.sha()
	content := map[string]string{}
	for _, f := range files {
		content[f.Filename] = "x\n"
	}
	w.fake.SetFiles(gateRepo, head, content)
	w.fake.AddPullRequest(gateRepo, githubtest.PullRequest{
		Number: number, Title: fmt.Sprintf("PR %d", number), Body: agentBody(head),
		User: githubtest.Account{Login: "Copilot"}, Base: githubtest.PullRef{Ref: "main", SHA: w.baseSHA},
		Head: githubtest.PullRef{Ref: fmt.Sprintf("agent/issue-%d", number), SHA: head}, Files: files,
		Commits: []githubtest.Commit{{SHA: head, Message: "change\n\nAgent-Run: run-1\n", Author: githubtest.Account{Login: "Copilot"}}},
	})
	return head
}

// prEvent sends a pull_request event (action) about number at head.
func (w *gateWorld) prEvent(action string, number int, head string, extra map[string]any) {
	w.t.Helper()
	payload := map[string]any{
		"action": action, "number": number,
		"pull_request": map[string]any{
			"number": number, "state": "open", "body": agentBody(head),
			"user": map[string]any{"login": "Copilot", "type": "Bot"},
			"head": map[string]any{"sha": head, "ref": fmt.Sprintf("agent/issue-%d", number)},
			"base": map[string]any{"sha": w.baseSHA, "ref": "main"},
		},
	}
	for k, v := range extra {
		payload[k] = v
	}
	w.send("pull_request", payload)
}

// evaluationsOf counts the store's evaluations of number at head ("": at any head).
func evaluationsOf(t *testing.T, st *store.Store, number int, head string) int {
	t.Helper()
	evs, err := st.EvaluationsOf(context.Background(), gateRepo, number, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if head == "" || e.HeadSHA == head {
			n++
		}
	}
	return n
}

// waitRuns waits until head has n check runs of ours, the last completed, and returns it.
func (w *gateWorld) waitRuns(head string, n int) githubtest.CheckRun {
	w.t.Helper()
	var run githubtest.CheckRun
	waitFor(w.t, 30*time.Second, fmt.Sprintf("%d completed check runs on %s", n, head[:8]), func() bool {
		runs := w.ourRuns(head)
		if len(runs) < n || runs[len(runs)-1].Status != "completed" {
			return false
		}
		run = runs[len(runs)-1]
		return true
	})
	if got := len(w.ourRuns(head)); got != n {
		w.t.Fatalf("%d check runs on %s, want %d", got, head[:8], n)
	}
	return run
}

// TestGateReconcilerRepairsMissingRuns: an open pull request whose opened webhook never
// arrived gets a completed check run from the reconciler's repair, and a head that already
// has our completed run is left alone on the following reconciles.
func TestGateReconcilerRepairsMissingRuns(t *testing.T) {
	w, st := newGateWorldEnv(t, nil, map[string]string{"AGENTGATE_RECONCILE_INTERVAL": "1s"})
	// agentgate learns the installation and its repositories as from GitHub.
	w.fake.AddPullRequest(gateRepo, githubtest.PullRequest{Number: 1, State: "closed",
		Base: githubtest.PullRef{SHA: w.baseSHA}, Head: githubtest.PullRef{SHA: w.sha()}}) // closed: never evaluated
	d, err := w.fake.SendWebhook(context.Background(), "installation", installationCreated(t, 1, "octo-org"))
	if err != nil || d.StatusCode >= 300 {
		t.Fatalf("installation.created: %d %v", d.StatusCode, err)
	}
	waitFor(t, 15*time.Second, "installation synced", func() bool { return repoCount(t, st, 1) == 1 })

	head := w.addPR(2, files(1, "src", 1)) // no webhook
	run := w.completed(head)
	if run.Conclusion != "success" {
		t.Errorf("repaired PR: conclusion %q\n%s", run.Conclusion, run.Output.Summary)
	}
	if ev := latestEvaluation(t, st, 2, 1); ev.Trigger != "reconcile" {
		t.Fatalf("evaluation of #2 triggered by %q, want the reconciler", ev.Trigger)
	}

	// Three more reconciles see our run and evaluate nothing.
	runs := func() float64 { return w.p.metric(`agentgate_reconcile_runs_total{outcome="ok"}`) }
	after := runs()
	waitFor(t, 30*time.Second, "three more reconciles", func() bool { return runs() >= after+3 })
	time.Sleep(2500 * time.Millisecond) // past a debounce window, in case one was queued
	if n := len(w.ourRuns(head)); n != 1 {
		t.Errorf("%d check runs of ours on the repaired head after more reconciles, want 1", n)
	}
	if n := evaluationsOf(t, st, 2, head); n != 1 {
		evs, _ := st.EvaluationsOf(context.Background(), gateRepo, 2, 10)
		for _, e := range evs {
			t.Logf("evaluation %s trigger %s started %s check run %d", e.ID, e.Trigger, e.StartedAt.Format("15:04:05.000"), e.CheckRunID)
		}
		t.Errorf("%d evaluations of the repaired head, want 1", n)
	}
	if n := evaluationsOf(t, st, 1, ""); n != 0 {
		t.Errorf("the closed PR was evaluated %d times", n)
	}
	lists := requestsTo(w.fake, "GET /repos/{owner}/{repo}/pulls")
	if len(lists) == 0 || lists[0].Query.Get("state") != "open" {
		t.Errorf("the repair did not list open pull requests: %+v", lists)
	}
}

// TestGateDebounce: a burst of 20 events about one head gives one evaluation and one check
// run; a push afterwards (a new head) is evaluated again.
func TestGateDebounce(t *testing.T) {
	w, st := newGateWorldEnv(t, nil, nil)
	head := w.addPR(10, files(2, "src", 3))

	// The debounce collapses events within one 2 s window, aligned to the clock (see
	// BENCHMARKS.md "Gate" on bursts that straddle two windows); start just after a window
	// opens so the whole burst lands in one.
	for time.Now().UnixMilli()%2000 > 100 {
		time.Sleep(10 * time.Millisecond)
	}
	began := time.Now()
	actions := []string{"edited", "labeled", "synchronize", "unlabeled"}
	for i := range 20 {
		extra := map[string]any{}
		if a := actions[i%len(actions)]; a == "labeled" || a == "unlabeled" {
			extra["label"] = map[string]any{"name": fmt.Sprintf("l%d", i)}
		}
		w.prEvent(actions[i%len(actions)], 10, head, extra)
	}
	t.Logf("20 webhooks sent in %s", time.Since(began).Round(time.Millisecond))
	run := w.completed(head)
	time.Sleep(3 * time.Second) // a second window's job, if any, would have run
	if n := len(w.ourRuns(head)); n != 1 {
		t.Errorf("%d check runs for a burst of 20 events, want 1", n)
	}
	if n := evaluationsOf(t, st, 10, head); n != 1 {
		t.Errorf("%d evaluations for a burst of 20 events, want 1", n)
	}
	if run.Conclusion != "success" {
		t.Errorf("conclusion %q\n%s", run.Conclusion, run.Output.Summary)
	}

	// A push: new head, synchronize → evaluated again.
	next := w.sha()
	w.fake.SetFiles(gateRepo, next, map[string]string{"src/file0.go": "y\n"})
	w.fake.AddCommit(gateRepo, 10, githubtest.Commit{SHA: next, Message: "more\n\nAgent-Run: run-1\n", Author: githubtest.Account{Login: "Copilot"}})
	w.fake.UpdatePullRequest(gateRepo, 10, func(pr *githubtest.PullRequest) { pr.Body = agentBody(next) })
	w.prEvent("synchronize", 10, next, nil)
	w.completed(next)
	// The evaluation is recorded just after the check run completes.
	waitFor(t, 10*time.Second, "the pushed head's evaluation", func() bool { return evaluationsOf(t, st, 10, next) >= 1 })
	time.Sleep(2500 * time.Millisecond)
	if n := evaluationsOf(t, st, 10, next); n != 1 {
		t.Errorf("%d evaluations of the pushed head, want 1", n)
	}
	if n := evaluationsOf(t, st, 10, head); n != 1 {
		t.Errorf("the old head was evaluated again: %d", n)
	}
}

// TestGateOwnerApproval: a pull request touching a require_approval path waits for an
// owner (action_required); the requester's own approval does not count; an owner's
// approval of the head commit turns it into success on the review's evaluation.
func TestGateOwnerApproval(t *testing.T) {
	config := "check_name: agentgate\nprotected_paths:\n  require_approval:\n    - paths: [\"policy/**\"]\n      owners: [\"carol\", \"alice\"]\n"
	w, _ := newGateWorldEnv(t, map[string]string{".github/agentgate.yml": config}, nil)
	changed := []githubtest.PullFile{{Filename: "policy/rules.go", Status: "modified", Additions: 2, Patch: "@@ -1,1 +1,2 @@\n+x"}}
	head := w.open(20, "Copilot", agentBody, changed, nil)
	if run := w.completed(head); run.Conclusion != "action_required" {
		t.Fatalf("before any review: %q\n%s", run.Conclusion, run.Output.Summary)
	}
	review := func(login string, n int) githubtest.CheckRun {
		t.Helper()
		w.fake.SetPermission(gateRepo, login, "write")
		id := w.fake.AddReview(gateRepo, 20, githubtest.Review{User: githubtest.Account{Login: login}, State: "APPROVED", CommitID: head})
		w.send("pull_request_review", map[string]any{
			"action": "submitted",
			"review": map[string]any{"id": id, "state": "approved", "commit_id": head, "user": map[string]any{"login": login}},
			"pull_request": map[string]any{
				"number": 20, "state": "open", "user": map[string]any{"login": "Copilot", "type": "Bot"},
				"head": map[string]any{"sha": head, "ref": "agent/issue-20"}, "base": map[string]any{"sha": w.baseSHA, "ref": "main"},
			},
		})
		return w.waitRuns(head, n)
	}
	// alice asked the agent (the provenance block's trigger_actor): her approval is no
	// owner's approval even though she is listed as one.
	if run := review("alice", 2); run.Conclusion != "action_required" {
		t.Errorf("after the requester's approval: %q, want action_required\n%s", run.Conclusion, run.Output.Summary)
	}
	if run := review("carol", 3); run.Conclusion != "success" {
		t.Errorf("after the owner's approval: %q, want success\n%s\n%s", run.Conclusion, run.Output.Summary, run.Output.Text)
	}
}

// TestGateDetailsPage: the check run's details_url serves every policy's title and verdict
// and the input document; a forged or borrowed signature is refused.
func TestGateDetailsPage(t *testing.T) {
	w, st := newGateWorldEnv(t, map[string]string{".github/agentgate.yml": gateConfig}, nil)
	head := w.open(30, "Copilot", agentBody, files(3, "src", 40), nil) // fails size
	run := w.completed(head)
	if !strings.HasPrefix(run.DetailsURL, "http://agentgate.example/") {
		t.Fatalf("details_url %q", run.DetailsURL)
	}
	path := strings.TrimPrefix(run.DetailsURL, "http://agentgate.example")
	latestEvaluation(t, st, 30, 1) // recorded just after the check run completes
	status, body := w.p.get(path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	ev, err := st.LatestEvaluation(context.Background(), gateRepo, head)
	if err != nil {
		t.Fatal(err)
	}
	var d policy.Decision
	if err := json.Unmarshal(ev.Decision, &d); err != nil || len(d.Policies) < 5 {
		t.Fatalf("decision: %d policies, %v", len(d.Policies), err)
	}
	for _, p := range d.Policies {
		row := template.HTMLEscapeString(p.Title) + ` <small><code>` + template.HTMLEscapeString(p.Name) + `</code></small></td><td class="` + string(p.Verdict) + `">` + string(p.Verdict) + `</td>`
		if !strings.Contains(body, row) {
			t.Errorf("page lacks %s's row (%s)", p.Name, row)
		}
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, ev.Input, "", "  "); err != nil {
		t.Fatal(err)
	}
	body = strings.ReplaceAll(body, "&#43;", "+") // html/template escapes + too
	if !strings.Contains(body, template.HTMLEscapeString(pretty.String())) || !strings.Contains(body, "src/file2.go") {
		t.Errorf("page lacks the input document")
	}
	if !strings.Contains(body, "failure") {
		t.Errorf("page lacks the conclusion")
	}

	forged := path[:strings.Index(path, "sig=")+4] + strings.Repeat("0", 32)
	if status, _ := w.p.get(forged); status != http.StatusForbidden {
		t.Errorf("forged sig: %d, want 403", status)
	}
	other := strings.Replace(path, head, w.baseSHA, 1) // a valid sig for another commit
	if status, _ := w.p.get(other); status != http.StatusForbidden {
		t.Errorf("another commit's sig: %d, want 403", status)
	}
	if status, _ := w.p.get(strings.Split(path, "?")[0]); status != http.StatusForbidden {
		t.Errorf("no sig: %d, want 403", status)
	}
}

// TestGateStatusEvent: a commit status on a head (the payload names no pull request) is
// mapped to its pull request with one GET .../commits/{sha}/pulls, never a listing of every
// open pull request, and the pull request is evaluated again.
func TestGateStatusEvent(t *testing.T) {
	w, st := newGateWorldEnv(t, map[string]string{".github/agentgate.yml": "test_evidence:\n  required_checks: [ci/legacy]\n"}, nil)
	w.addPR(41, files(1, "other", 1))                                               // another open pull request, not this commit's
	w.fake.SetStatus(gateRepo, strings.Repeat("0", 39)+"3", "ci/legacy", "pending") // #40's head, below
	head := w.open(40, "Copilot", agentBody, files(1, "src", 1), nil)
	if head != strings.Repeat("0", 39)+"3" {
		t.Fatalf("head %s: the test's SHA guess is wrong", head)
	}
	// ci/legacy is pending: the gate's run waits in progress.
	waitFor(t, 30*time.Second, "an in-progress gate run", func() bool {
		runs := w.ourRuns(head)
		return len(runs) == 1 && len(runs[0].History) >= 2 && runs[0].Status == "in_progress"
	})
	mark := len(w.fake.Requests())

	w.fake.SetStatus(gateRepo, head, "ci/legacy", "success")
	w.send("status", map[string]any{
		"id": 1, "sha": head, "name": gateRepo, "state": "success", "context": "ci/legacy",
		"description": nil, "target_url": nil, "branches": []any{},
		"commit": map[string]any{"sha": head},
	})
	waitFor(t, 30*time.Second, "re-evaluation after the status", func() bool {
		runs := w.ourRuns(head)
		return len(runs) > 0 && runs[len(runs)-1].Conclusion == "success"
	})
	if ev := latestEvaluation(t, st, 40, 2); ev.Trigger != "status." {
		t.Errorf("latest evaluation triggered by %q, want the status event", ev.Trigger)
	}
	if n := evaluationsOf(t, st, 41, ""); n != 0 {
		t.Errorf("the other pull request was evaluated")
	}
	var mapped, listed int
	for _, r := range w.fake.Requests()[mark:] {
		switch r.Operation {
		case "GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls":
			mapped++
			if r.PathParams["commit_sha"] != head {
				t.Errorf("mapped %s, want %s", r.PathParams["commit_sha"], head)
			}
		case "GET /repos/{owner}/{repo}/pulls":
			listed++
		}
	}
	if mapped != 1 || listed != 0 {
		t.Errorf("%d commit→pull mappings and %d listings of open pull requests, want 1 and 0", mapped, listed)
	}
}
