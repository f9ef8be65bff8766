package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/provenance"
)

const gateRepo = "octo-org/hello-world"

// gateWorld is one agentgate serving one repository of the fake GitHub,
// whose base branch holds baseFiles (config and policies).
type gateWorld struct {
	t       *testing.T
	fake    *githubtest.Server
	p       *process
	baseSHA string
	nextSHA int
	dataDir string // agentgate's data dir: its SQLite store lives here
}

func newGateWorld(t *testing.T, baseFiles map[string]string, envOverrides ...map[string]string) *gateWorld {
	t.Helper()
	fake := githubtest.New(t)
	fake.AddInstallation(githubtest.Installation{ID: 1, Account: "octo-org", Repos: []githubtest.Repo{
		{ID: 1296269, FullName: gateRepo, DefaultBranch: "main"},
	}})
	w := &gateWorld{t: t, fake: fake, baseSHA: strings.Repeat("b", 40), nextSHA: 1, dataDir: t.TempDir()}
	files := map[string]string{"README.md": "hello\n"}
	for k, v := range baseFiles {
		files[k] = v
	}
	fake.SetFiles(gateRepo, w.baseSHA, files)
	fake.SetBranch(gateRepo, "main", w.baseSHA)
	env := appEnv(t, fake, w.dataDir, "")
	env["AGENTGATE_PUBLIC_URL"] = "http://agentgate.example"
	for _, o := range envOverrides {
		for k, v := range o {
			env[k] = v
		}
	}
	w.p = start(t, env)
	fake.SetWebhookURL(w.p.url + "/api/github/hook")
	return w
}

func (w *gateWorld) sha() string {
	w.nextSHA++
	return fmt.Sprintf("%040x", w.nextSHA)
}

// agentBody is a pull request body with a complete, valid provenance block.
func agentBody(headSHA string) string {
	return "Fixes #12\n\n" + provenance.Write(provenance.Fields{
		provenance.KeyTask: "task-1", provenance.KeyAgent: "claude-code", provenance.KeyModel: "claude-sonnet-4.5",
		provenance.KeyPromptSHA256: strings.Repeat("a", 64), provenance.KeyBaseSHA: strings.Repeat("b", 40),
		provenance.KeyHeadSHA: headSHA, provenance.KeyInvolvement: provenance.InvolvementAuthored,
		provenance.KeyTriggerActor: "alice",
	})
}

// open adds a pull request (head files on top of the base) and sends
// pull_request.opened for it.
func (w *gateWorld) open(number int, author string, bodyOf func(head string) string, files []githubtest.PullFile, headFiles map[string]string) string {
	w.t.Helper()
	head := w.sha()
	body := bodyOf(head)
	content := map[string]string{}
	for _, f := range files {
		content[f.Filename] = "x\n"
	}
	for k, v := range headFiles {
		content[k] = v
	}
	w.fake.SetFiles(gateRepo, head, content)
	message := "change\n"
	if author != "dave" { // dave is a person; everyone else here is an agent
		message += "\nAgent-Run: run-1\n"
	}
	w.fake.AddPullRequest(gateRepo, githubtest.PullRequest{
		Number: number, Title: fmt.Sprintf("PR %d", number), Body: body,
		User: githubtest.Account{Login: author}, Base: githubtest.PullRef{Ref: "main", SHA: w.baseSHA},
		Head: githubtest.PullRef{Ref: fmt.Sprintf("agent/issue-%d", number), SHA: head}, Files: files,
		Commits: []githubtest.Commit{{SHA: head, Message: message, Author: githubtest.Account{Login: author}}},
	})
	w.send("pull_request", map[string]any{
		"action": "opened", "number": number,
		"pull_request": map[string]any{
			"number": number, "state": "open", "body": body,
			"user": map[string]any{"login": author, "type": "Bot"},
			"head": map[string]any{"sha": head, "ref": fmt.Sprintf("agent/issue-%d", number)},
			"base": map[string]any{"sha": w.baseSHA, "ref": "main"},
		},
	})
	return head
}

func (w *gateWorld) send(event string, payload map[string]any) {
	w.t.Helper()
	payload["installation"] = map[string]any{"id": 1}
	payload["repository"] = map[string]any{"id": 1296269, "name": "hello-world", "full_name": gateRepo,
		"owner": map[string]any{"login": "octo-org", "type": "Organization"}}
	d, err := w.fake.SendWebhook(context.Background(), event, payload)
	if err != nil || d.StatusCode >= 300 {
		w.t.Fatalf("send %s: status %d err %v body %s", event, d.StatusCode, err, d.Body)
	}
}

// ourRuns lists agentgate's check runs on a head SHA.
func (w *gateWorld) ourRuns(sha string) []githubtest.CheckRun {
	var out []githubtest.CheckRun
	for _, r := range w.fake.CheckRuns(gateRepo) {
		if r.HeadSHA == sha && r.Name == "agentgate" {
			out = append(out, r)
		}
	}
	return out
}

// completed waits for agentgate's check run on sha to complete and returns it.
func (w *gateWorld) completed(sha string) githubtest.CheckRun {
	w.t.Helper()
	var run githubtest.CheckRun
	waitFor(w.t, 30*time.Second, "completed check run on "+sha[:8], func() bool {
		runs := w.ourRuns(sha)
		if len(runs) == 0 || runs[len(runs)-1].Status != "completed" {
			return false
		}
		run = runs[len(runs)-1]
		return true
	})
	return run
}

func files(n int, prefix string, lines int) []githubtest.PullFile {
	var out []githubtest.PullFile
	for i := 0; i < n; i++ {
		out = append(out, githubtest.PullFile{Filename: fmt.Sprintf("%s/file%d.go", prefix, i), Status: "modified", Additions: lines,
			Patch: fmt.Sprintf("@@ -1,1 +1,%d @@\n+x", lines)})
	}
	return out
}

const gateConfig = `check_name: agentgate
size:
  max_lines: 50
  max_files: 10
protected_paths:
  agents_may_not_touch: [".github/workflows/**"]
  require_approval:
    - paths: ["policy/**"]
      owners: ["carol"]
`

// TestGatePolicies: for each default policy, a pull request that passes and
// one that fails get a completed check run with the right conclusion,
// summary and annotations.
func TestGatePolicies(t *testing.T) {
	w := newGateWorld(t, map[string]string{".github/agentgate.yml": gateConfig})

	cases := []struct {
		name       string
		author     string
		body       func(head string) string
		files      []githubtest.PullFile
		conclusion string
		summary    []string // substrings of the summary
		annotated  string   // a path that must carry an annotation
	}{
		{name: "small agent PR passes", author: "Copilot", body: agentBody, files: files(2, "src", 5), conclusion: "success"},
		{name: "size fails with the numbers", author: "Copilot", body: agentBody, files: files(3, "src", 40), conclusion: "failure", summary: []string{"size", "120"}},
		{name: "vendored files are excluded from size", author: "Copilot", body: agentBody,
			files: append(files(1, "src", 5), files(20, "vendor/x", 100)...), conclusion: "success"},
		{name: "missing provenance fails", author: "Copilot", body: func(string) string { return "no block here" }, files: files(1, "src", 5), conclusion: "failure", summary: []string{"provenance"}},
		{name: "human PR without provenance passes", author: "dave", body: func(string) string { return "a person's change" }, files: files(30, "src", 10), conclusion: "success"},
		{name: "agent touching workflows fails, annotated", author: "Copilot", body: agentBody,
			files:      []githubtest.PullFile{{Filename: ".github/workflows/ci.yml", Status: "modified", Additions: 1, Patch: "@@ -3,1 +3,2 @@\n+x"}},
			conclusion: "failure", summary: []string{"protected"}, annotated: ".github/workflows/ci.yml"},
		{name: "owner approval missing is action_required", author: "Copilot", body: agentBody,
			files:      []githubtest.PullFile{{Filename: "policy/rules.go", Status: "modified", Additions: 2, Patch: "@@ -1,1 +1,2 @@\n+x"}},
			conclusion: "action_required"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w.t = t
			head := w.open(100+i, tc.author, tc.body, tc.files, nil)
			run := w.completed(head)
			if run.Conclusion != tc.conclusion {
				t.Fatalf("conclusion %q, want %q\nsummary:\n%s\ntext:\n%s", run.Conclusion, tc.conclusion, run.Output.Summary, run.Output.Text)
			}
			for _, s := range tc.summary {
				if !strings.Contains(strings.ToLower(run.Output.Summary+run.Output.Text), strings.ToLower(s)) {
					t.Errorf("output lacks %q:\n%s\n%s", s, run.Output.Summary, run.Output.Text)
				}
			}
			if tc.annotated != "" {
				found := false
				for _, a := range run.Output.Annotations {
					found = found || a.Path == tc.annotated
				}
				if !found {
					t.Errorf("no annotation on %s: %+v", tc.annotated, run.Output.Annotations)
				}
			}
			if !strings.Contains(run.DetailsURL, "/gate/"+gateRepo+"/"+head+"?sig=") {
				t.Errorf("details_url %q", run.DetailsURL)
			}
		})
	}
}

// TestGateJudgesByTheBaseBranch: a pull request that loosens the config or
// adds a permissive policy is still judged by the base branch's; a broken
// policy on the base branch fails the check naming file and line.
func TestGateJudgesByTheBaseBranch(t *testing.T) {
	broken := "package agentgate.repo.broken\n\nviolations contains msg if {\n\tmsg := \"x\"\n\tinput.files[_\n}\n"
	w := newGateWorld(t, map[string]string{
		".github/agentgate.yml":                  gateConfig,
		".github/agentgate/policies/no_tmp.rego": "package agentgate.repo.no_tmp\n\ntitle := \"No tmp files\"\n\nviolations contains {\"message\": \"no tmp files\", \"file\": f.path} if {\n\tsome f in input.files\n\tendswith(f.path, \".tmp\")\n}\n",
	})

	// Head raises the size limit and adds an allow-everything policy: ignored.
	loosen := map[string]string{
		".github/agentgate.yml":                  "size:\n  max_lines: 100000\n  max_files: 1000\n",
		".github/agentgate/policies/allow.rego":  "package agentgate.repo.allow\n\ntitle := \"Allow\"\n",
		".github/agentgate/policies/no_tmp.rego": "package agentgate.repo.no_tmp\n\ntitle := \"No tmp files\"\n",
	}
	changed := append(files(3, "src", 40),
		githubtest.PullFile{Filename: ".github/agentgate.yml", Status: "modified", Additions: 2},
		githubtest.PullFile{Filename: "scratch.tmp", Status: "added", Additions: 1, Patch: "@@ -0,0 +1,1 @@\n+x"})
	head := w.open(200, "dave", func(string) string { return "human change" }, changed, loosen)
	run := w.completed(head)
	if run.Conclusion != "failure" {
		t.Fatalf("conclusion %q, want failure (base config and policies)\n%s", run.Conclusion, run.Output.Summary)
	}
	if !strings.Contains(run.Output.Summary+run.Output.Text, "no tmp files") {
		t.Errorf("the base branch's own policy did not run:\n%s\n%s", run.Output.Summary, run.Output.Text)
	}
	if strings.Contains(run.Output.Summary, "Allow") {
		t.Errorf("the head's policy ran:\n%s", run.Output.Summary)
	}

	// A syntax error in a base-branch policy fails the check, naming it.
	w2 := newGateWorld(t, map[string]string{".github/agentgate/policies/broken.rego": broken})
	head2 := w2.open(201, "dave", func(string) string { return "x" }, files(1, "src", 1), nil)
	run2 := w2.completed(head2)
	if run2.Conclusion != "failure" || !strings.Contains(run2.Output.Summary, ".github/agentgate/policies/broken.rego:") {
		t.Errorf("broken policy: conclusion %q, summary:\n%s", run2.Conclusion, run2.Output.Summary)
	}
}

// TestGateFailsClosedPastTheListingLimit: GitHub lists at most 3,000 files.
func TestGateFailsClosedPastTheListingLimit(t *testing.T) {
	w := newGateWorld(t, nil)
	head := w.open(300, "dave", func(string) string { return "huge" }, files(3001, "gen", 1), nil)
	run := w.completed(head)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary+run.Output.Text, "3,000") {
		t.Errorf("3,001 files: conclusion %q\n%s\n%s", run.Conclusion, run.Output.Summary, run.Output.Text)
	}
}

// TestGateWaitsForTestEvidence: while the required "test" check runs, the
// gate's check stays in progress; when it completes, the gate succeeds.
// Also: a re-run request and the Re-evaluate button evaluate again, and a
// merge group is evaluated on its own head.
func TestGateWaitsForTestEvidence(t *testing.T) {
	w := newGateWorld(t, map[string]string{".github/agentgate.yml": "test_evidence:\n  required_checks: [test]\n"})
	head := w.sha()
	w.nextSHA--
	testRun := w.fake.AddCheckRun(gateRepo, githubtest.CheckRun{Name: "test", HeadSHA: head, Status: "in_progress"})
	head = w.open(400, "Copilot", agentBody, files(1, "src", 1), nil)
	waitFor(t, 30*time.Second, "an in-progress gate run", func() bool {
		runs := w.ourRuns(head)
		return len(runs) > 0 && len(runs[0].History) >= 2 && runs[0].Status == "in_progress"
	})
	time.Sleep(500 * time.Millisecond)
	if runs := w.ourRuns(head); runs[0].Status != "in_progress" || runs[0].Conclusion != "" {
		t.Fatalf("gate run while tests run: %s/%s", runs[0].Status, runs[0].Conclusion)
	}

	w.fake.CompleteCheckRun(gateRepo, testRun, "success")
	w.send("check_run", map[string]any{"action": "completed", "check_run": map[string]any{
		"id": testRun, "name": "test", "head_sha": head, "status": "completed", "conclusion": "success",
		"app":           map[string]any{"id": 15368, "slug": "github-actions"},
		"pull_requests": []any{map[string]any{"number": 400, "head": map[string]any{"sha": head}}},
	}})
	run := w.completed(head)
	if run.Conclusion != "success" {
		t.Fatalf("after tests passed: %q\n%s", run.Conclusion, run.Output.Summary)
	}
	if n := len(w.ourRuns(head)); n != 1 {
		t.Errorf("%d gate check runs on one head, want the pending one completed", n)
	}

	// Re-run: GitHub sends check_run.rerequested for our run.
	before := len(w.ourRuns(head)[0].History)
	w.send("check_run", map[string]any{"action": "rerequested", "check_run": map[string]any{
		"id": run.ID, "name": "agentgate", "head_sha": head, "status": "completed", "conclusion": "success",
		"app":           map[string]any{"id": w.fake.AppID()},
		"pull_requests": []any{map[string]any{"number": 400, "head": map[string]any{"sha": head}}},
	}})
	waitFor(t, 30*time.Second, "re-evaluation", func() bool {
		runs := w.ourRuns(head)
		return len(runs) == 2 && runs[1].Status == "completed" || len(runs[0].History) > before
	})

	// Merge group: evaluated on the group's head, where the check run goes.
	mgHead := w.sha()
	w.fake.SetFiles(gateRepo, mgHead, map[string]string{"src/file0.go": "x\n"})
	w.fake.AddCheckRun(gateRepo, githubtest.CheckRun{Name: "test", HeadSHA: mgHead, Status: "completed", Conclusion: "success"})
	w.send("merge_group", map[string]any{"action": "checks_requested", "merge_group": map[string]any{
		"head_sha": mgHead, "head_ref": "refs/heads/gh-readonly-queue/main/pr-400-" + head,
		"base_sha": w.baseSHA, "base_ref": "refs/heads/main",
	}})
	mg := w.completed(mgHead)
	if mg.Conclusion != "success" {
		t.Errorf("merge group: %q\n%s", mg.Conclusion, mg.Output.Summary)
	}
	if status, _ := w.p.get("/gate/" + gateRepo + "/" + head + "?sig=forged"); status != http.StatusForbidden {
		t.Errorf("details page with a forged signature: %d, want 403", status)
	}
}

// TestGateFailsClosedWhenItCannotEvaluate: when GitHub keeps failing the
// config read, the check is in progress while retries run (never the old
// verdict), then fails with the reason; it never goes missing.
func TestGateFailsClosedWhenItCannotEvaluate(t *testing.T) {
	w := newGateWorld(t, map[string]string{".github/agentgate.yml": gateConfig},
		map[string]string{"AGENTGATE_QUEUE_MAX_ATTEMPTS": "3"})
	w.fake.AddFault(githubtest.Fault{Path: "/repos/octo-org/hello-world/contents/*", Kind: githubtest.FaultServerError, Status: 502})
	head := w.open(500, "Copilot", agentBody, files(1, "src", 1), nil)
	waitFor(t, 30*time.Second, "an in-progress run during retries", func() bool {
		runs := w.ourRuns(head)
		return len(runs) == 1 && runs[0].Status == "in_progress"
	})
	run := w.completed(head)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary, "could not evaluate") {
		t.Fatalf("after retries: %q\n%s", run.Conclusion, run.Output.Summary)
	}
	if n := len(w.ourRuns(head)); n != 1 {
		t.Errorf("%d check runs, want the one that was in progress", n)
	}
}

// TestGateTestEvidenceTimesOut: a required check that never reports fails
// the gate after test_evidence.timeout, with no further event needed.
func TestGateTestEvidenceTimesOut(t *testing.T) {
	w := newGateWorld(t, map[string]string{".github/agentgate.yml": "test_evidence:\n  required_checks: [test]\n  timeout: 3s\n"})
	head := w.sha()
	w.nextSHA--
	w.fake.AddCheckRun(gateRepo, githubtest.CheckRun{Name: "test", HeadSHA: head, Status: "in_progress"})
	head = w.open(600, "Copilot", agentBody, files(1, "src", 1), nil)
	run := w.completed(head)
	if run.Conclusion != "failure" || !strings.Contains(run.Output.Summary+run.Output.Text, "did not finish within 3s") {
		t.Fatalf("after the timeout: %q\n%s", run.Conclusion, run.Output.Summary)
	}
}
