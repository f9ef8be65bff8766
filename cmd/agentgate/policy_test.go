package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/policy"
)

// agentgateRun is one finished run of the binary.
type agentgateRun struct {
	stdout, stderr string
	code           int
}

func (r agentgateRun) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runAgentgate runs the binary to completion with env on top of a minimal
// environment (no AGENTGATE_* or GITHUB_TOKEN of the test's own).
func runAgentgate(t *testing.T, env map[string]string, args ...string) agentgateRun {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	for _, kv := range minimalEnv() {
		if !strings.HasPrefix(kv, "GITHUB_TOKEN=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run agentgate %v: %v", args, err)
	}
	return agentgateRun{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

func writeInput(t *testing.T, in policy.Input) string {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "pr.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// conclusionLine is the table's last line.
func conclusionLine(stdout string) string {
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	return lines[len(lines)-1]
}

func inputFor(author policy.Person, agent bool, body string, files ...policy.File) policy.Input {
	return policy.Input{
		Repository: policy.Repository{FullName: "octo-org/hello-world", DefaultBranch: "main"},
		PullRequest: policy.PullRequest{Number: 7, Title: "change", Body: body, Author: author,
			Base: policy.Ref{Ref: "main", SHA: strings.Repeat("b", 40)}, Head: policy.Ref{Ref: "topic", SHA: strings.Repeat("c", 40)},
			ChangedFiles: len(files)},
		Files:         files,
		AgentAuthored: agent,
		Config:        policy.DefaultConfig(),
	}
}

func decisionVerdicts(d policy.Decision) map[string]policy.Verdict {
	out := map[string]policy.Verdict{}
	for _, p := range d.Policies {
		out[p.Name] = p.Verdict
	}
	return out
}

// TestPolicyEvalInput: an input document is judged by the default
// policies; the table ends in the conclusion, JSON is a policy.Decision, and
// the exit status says whether it is success.
func TestPolicyEvalInput(t *testing.T) {
	passing := writeInput(t, inputFor(policy.Person{Login: "dave", Type: "User"}, false, "a person's change",
		policy.File{Path: "src/a.go", Status: "modified", Additions: 3, FirstLine: 1}))
	r := runAgentgate(t, nil, "policy", "eval", "--input", passing)
	if r.code != 0 || conclusionLine(r.stdout) != "conclusion: success" {
		t.Fatalf("passing input: %s", r)
	}
	for _, want := range []string{"octo-org/hello-world#7", "POLICY", "VERDICT", "WHY", "size", "skipped", "policy digest: sha256:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}

	var big []policy.File
	for i := range 3 {
		big = append(big, policy.File{Path: fmt.Sprintf("src/f%d.go", i), Status: "modified", Additions: 400, FirstLine: 10})
	}
	failing := writeInput(t, inputFor(policy.Person{Login: "Copilot", Type: "Bot"}, true, "no provenance", big...))
	r = runAgentgate(t, nil, "policy", "eval", "--input", failing)
	if r.code != exitNotSuccess || conclusionLine(r.stdout) != "conclusion: failure" {
		t.Fatalf("failing input: want exit 3 and conclusion failure: %s", r)
	}
	for _, want := range []string{"violations:", "provenance: ", "size"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runAgentgate(t, nil, "policy", "eval", "--input", failing, "--format", "json")
	if r.code != exitNotSuccess {
		t.Fatalf("json: %s", r)
	}
	var d policy.Decision
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("--format json is not a policy.Decision: %v\n%s", err, r.stdout)
	}
	v := decisionVerdicts(d)
	if d.Conclusion != "failure" || v["size"] != policy.VerdictFail || v["provenance"] != policy.VerdictFail || !strings.HasPrefix(d.PolicyDigest, "sha256:") {
		t.Errorf("decision: %+v", d)
	}

	// stdin, and usage errors.
	cmd := exec.Command(binary, "policy", "eval", "--input", "-", "--format", "json")
	cmd.Stdin, _ = os.Open(passing)
	if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), `"conclusion": "success"`) {
		t.Errorf("--input -: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"policy", "eval"}, exitUsage},
		{[]string{"policy", "bogus"}, exitUsage},
		{[]string{"policy", "eval", "--input", passing, "--repo", "o/r", "--pr", "1"}, exitUsage},
		{[]string{"policy", "eval", "--input", passing, "--format", "yaml"}, exitUsage},
		{[]string{"policy", "eval", "--input", passing, "--no-such-flag"}, exitUsage},
		{[]string{"policy", "eval", "--input", passing, "--policies", filepath.Join(t.TempDir(), "missing")}, exitUsage},
		{[]string{"policy", "eval", "--repo", "no-slash", "--pr", "1"}, exitUsage},
		{[]string{"policy", "eval", "--repo", "o/r", "--pr", "1"}, exitUsage}, // no credentials: a configuration error
		{[]string{"policy", "eval", "--input", filepath.Join(t.TempDir(), "missing.json")}, exitError},
		{[]string{"policy", "eval", "--input", writeDir(t, map[string]string{"x.json": `{"files": [], "typo": 1}`}) + "/x.json"}, exitError},
	} {
		if r := runAgentgate(t, nil, tc.args...); r.code != tc.code || r.stdout != "" || !strings.HasPrefix(r.stderr, "agentgate: ") {
			t.Errorf("%v: want exit %d, an error on stderr and nothing on stdout: %s", tc.args[2:], tc.code, r)
		}
	}
}

// TestPolicyEvalRepoPolicies: --policies adds a directory's policies as the
// repository's own; one that does not parse is a load error naming the
// file (as on GitHub) and line, and fails the decision.
func TestPolicyEvalRepoPolicies(t *testing.T) {
	in := writeInput(t, inputFor(policy.Person{Login: "dave", Type: "User"}, false, "a person's change",
		policy.File{Path: "docs/TODO.md", Status: "added", Additions: 2, FirstLine: 1}))
	good := writeDir(t, map[string]string{
		"no_todo.rego": `package agentgate.repo.no_todo

title := "No TODO files"

violations contains {"message": "TODO files belong in issues", "file": f.path, "line": 1} if {
	some f in input.files
	endswith(f.path, "TODO.md")
}
`,
		"no_todo_test.rego": "this is not Rego, and tests are not policies\n",
	})
	r := runAgentgate(t, nil, "policy", "eval", "--input", in, "--policies", good)
	if r.code != exitNotSuccess || !strings.Contains(r.stdout, "repo.no_todo") ||
		!strings.Contains(r.stdout, "repo.no_todo: docs/TODO.md:1: TODO files belong in issues") || strings.Contains(r.stdout, "load errors") {
		t.Fatalf("repository policy: %s", r)
	}

	broken := writeDir(t, map[string]string{"broken.rego": "package agentgate.repo.broken\n\nviolations contains m if {\n\tm := \"x\"\n"})
	r = runAgentgate(t, nil, "policy", "eval", "--input", in, "--policies", broken)
	if r.code != exitNotSuccess || conclusionLine(r.stdout) != "conclusion: failure" || !strings.Contains(r.stdout, "load errors:") {
		t.Fatalf("broken policy: %s", r)
	}
	if !regexp.MustCompile(`\.github/agentgate/policies/broken\.rego:\d+: rego_parse_error`).MatchString(r.stdout) {
		t.Errorf("load error does not name the file and line:\n%s", r.stdout)
	}

	r = runAgentgate(t, nil, "policy", "eval", "--input", in, "--policies", broken, "--format", "json")
	var d policy.Decision
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || len(d.LoadErrors) == 0 {
		t.Fatalf("json: %v %s", err, r)
	}
	if le := d.LoadErrors[0]; le.File != ".github/agentgate/policies/broken.rego" || le.Line == 0 {
		t.Errorf("load error %+v", le)
	}
}

// TestPolicyEvalLive: --repo --pr evaluates a pull request of the fake
// GitHub through the app (and through a token), base-branch config and
// policies included, and writes nothing to GitHub.
func TestPolicyEvalLive(t *testing.T) {
	fake := githubtest.New(t)
	fake.AddInstallation(githubtest.Installation{ID: 1, Account: "octo-org", Repos: []githubtest.Repo{
		{ID: 1296269, FullName: gateRepo, DefaultBranch: "main"},
	}})
	base := strings.Repeat("b", 40)
	fake.SetFiles(gateRepo, base, map[string]string{
		"README.md":             "hello\n",
		".github/agentgate.yml": gateConfig,
		".github/agentgate/policies/title.rego": `package agentgate.repo.title

title := "Title names an issue"

violations contains "the title must name an issue (#N)" if not regex.match("#[0-9]+", input.pull_request.title)
`,
	})
	fake.SetBranch(gateRepo, "main", base)
	addPR := func(number int, title string, body func(head string) string, files []githubtest.PullFile) {
		head := fmt.Sprintf("%040x", number)
		content := map[string]string{}
		for _, f := range files {
			content[f.Filename] = "x\n"
		}
		fake.SetFiles(gateRepo, head, content)
		fake.AddPullRequest(gateRepo, githubtest.PullRequest{
			Number: number, Title: title, Body: body(head),
			User: githubtest.Account{Login: "Copilot", Type: "Bot"}, Base: githubtest.PullRef{Ref: "main", SHA: base},
			Head: githubtest.PullRef{Ref: fmt.Sprintf("agent/%d", number), SHA: head}, Files: files,
			Commits: []githubtest.Commit{{SHA: head, Message: "change\n\nAgent-Run: run-1\n", Author: githubtest.Account{Login: "Copilot"}}},
		})
	}
	addPR(7, "Fix #12", agentBody, files(2, "src", 5))
	addPR(8, "Fix it", func(string) string { return "no block" }, files(3, "src", 40))

	env := appEnv(t, fake, t.TempDir(), "")
	r := runAgentgate(t, env, "policy", "eval", "--repo", gateRepo, "--pr", "7")
	if r.code != 0 || conclusionLine(r.stdout) != "conclusion: success" {
		t.Fatalf("PR 7 through the app: %s", r)
	}
	for _, want := range []string{gateRepo + "#7", "(agent-authored)", "repo.title", "provenance"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}

	saved := filepath.Join(t.TempDir(), "input.json")
	r = runAgentgate(t, env, "policy", "eval", "--repo", gateRepo, "--pr", "8", "--format", "json", "--save-input", saved)
	if r.code != exitNotSuccess {
		t.Fatalf("PR 8 through the app: %s", r)
	}
	var live policy.Decision
	if err := json.Unmarshal([]byte(r.stdout), &live); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	v := decisionVerdicts(live)
	if live.Conclusion != "failure" || v["size"] != policy.VerdictFail || v["provenance"] != policy.VerdictFail || v["repo.title"] != policy.VerdictFail {
		t.Errorf("PR 8 decision: %+v", live)
	}

	// The saved input replays to the same verdicts, given the same policies.
	policies := writeDir(t, map[string]string{"title.rego": `package agentgate.repo.title

title := "Title names an issue"

violations contains "the title must name an issue (#N)" if not regex.match("#[0-9]+", input.pull_request.title)
`})
	r = runAgentgate(t, nil, "policy", "eval", "--input", saved, "--policies", policies, "--format", "json")
	var replay policy.Decision
	if err := json.Unmarshal([]byte(r.stdout), &replay); err != nil || r.code != exitNotSuccess {
		t.Fatalf("replay: %v %s", err, r)
	}
	if fmt.Sprint(replay.Policies) != fmt.Sprint(live.Policies) || replay.Conclusion != live.Conclusion {
		t.Errorf("replay differs:\nlive   %+v\nreplay %+v", live, replay)
	}

	// Local policies replace the base branch's.
	r = runAgentgate(t, env, "policy", "eval", "--repo", gateRepo, "--pr", "8", "--policies", writeDir(t, nil))
	if strings.Contains(r.stdout, "repo.title") || r.code != exitNotSuccess {
		t.Errorf("--policies with an empty directory still ran the base branch's: %s", r)
	}

	// Through a token: no app needed.
	r = runAgentgate(t, map[string]string{"AGENTGATE_GITHUB_API_URL": fake.URL(), "GITHUB_TOKEN": fake.InstallationToken(1)},
		"policy", "eval", "--repo", gateRepo, "--pr", "7", "--format", "json")
	var byToken policy.Decision
	if err := json.Unmarshal([]byte(r.stdout), &byToken); err != nil || r.code != 0 || byToken.Conclusion != "success" {
		t.Fatalf("PR 7 through a token: %v %s", err, r)
	}

	// The app is not installed on another repository.
	r = runAgentgate(t, env, "policy", "eval", "--repo", "someone/else", "--pr", "1")
	if r.code != exitError || !strings.Contains(r.stderr, "not installed on someone/else") {
		t.Errorf("uninstalled repository: %s", r)
	}

	// Nothing was written: every request read, except minting installation tokens.
	var reads int
	for _, req := range fake.Requests() {
		switch {
		case req.Method == "GET":
			reads++
		case req.Method == "POST" && req.Operation == "POST /app/installations/{installation_id}/access_tokens":
		default:
			t.Errorf("policy eval wrote to GitHub: %s %s", req.Method, req.Path)
		}
	}
	if reads == 0 {
		t.Error("the fake saw no reads")
	}
	if runs := fake.CheckRuns(gateRepo); len(runs) != 0 {
		t.Errorf("check runs created: %+v", runs)
	}
	if vs := fake.Violations(); len(vs) != 0 {
		t.Errorf("requests the real GitHub would refuse: %+v", vs)
	}
}

var summaryLine = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

func testCounts(t *testing.T, r agentgateRun) (passed, failed int) {
	t.Helper()
	m := summaryLine.FindStringSubmatch(r.stdout)
	if m == nil || conclusionLine(r.stdout) != m[0] {
		t.Fatalf("no summary line last: %s", r)
	}
	passed, _ = strconv.Atoi(m[1])
	failed, _ = strconv.Atoi(m[2])
	return passed, failed
}

// TestPolicyTest: `policy test` runs the defaults' Rego tests, and a
// directory's tests with them; a failing test fails the command.
func TestPolicyTest(t *testing.T) {
	r := runAgentgate(t, nil, "policy", "test")
	defaults, failed := testCounts(t, r)
	if r.code != 0 || failed != 0 || defaults < 50 || !strings.Contains(r.stdout, "PASS  data.agentgate.policies.") {
		t.Fatalf("defaults: %s", r)
	}

	const mine = `package agentgate.repo.mine

violations contains "too many files" if count(input.files) > 1
`
	const passingTest = `package agentgate.repo.mine_test

import data.agentgate.repo.mine

test_one_file_passes if count(mine.violations) == 0 with input as {"files": [{"path": "a"}]}
`
	dir := writeDir(t, map[string]string{"mine.rego": mine, "mine_test.rego": passingTest})
	r = runAgentgate(t, nil, "policy", "test", dir)
	if p, f := testCounts(t, r); r.code != 0 || p != defaults+1 || f != 0 {
		t.Fatalf("passing repo test: want %d passed, 0 failed: %s", defaults+1, r)
	}
	if !strings.Contains(r.stdout, "PASS  data.agentgate.repo.mine_test.test_one_file_passes ("+filepath.ToSlash(dir)+"/mine_test.rego:5)") {
		t.Errorf("no PASS line naming the test and where it is:\n%s", r.stdout)
	}

	dir = writeDir(t, map[string]string{"mine.rego": mine, "mine_test.rego": passingTest + `
test_two_files_pass if {
	print("violations:", mine.violations)
	count(mine.violations) == 0 with input as {"files": [{"path": "a"}, {"path": "b"}]}
}
`})
	r = runAgentgate(t, nil, "policy", "test", dir)
	if p, f := testCounts(t, r); r.code != exitError || p != defaults+1 || f != 1 {
		t.Fatalf("failing repo test: want exit 1 and %d passed, 1 failed: %s", defaults+1, r)
	}
	if !strings.Contains(r.stdout, "FAIL  data.agentgate.repo.mine_test.test_two_files_pass (") {
		t.Errorf("no FAIL line:\n%s", r.stdout)
	}

	broken := writeDir(t, map[string]string{"mine.rego": "package agentgate.repo.mine\n\nviolations contains x if {\n"})
	r = runAgentgate(t, nil, "policy", "test", broken)
	if r.code != exitError || !strings.Contains(r.stderr, filepath.ToSlash(broken)+"/mine.rego:") {
		t.Errorf("broken module: want exit 1 naming the file and line on stderr: %s", r)
	}
	if r := runAgentgate(t, nil, "policy", "test", filepath.Join(broken, "missing")); r.code != exitUsage {
		t.Errorf("missing directory: %s", r)
	}
	if r := runAgentgate(t, nil, "policy", "test", broken, broken); r.code != exitUsage {
		t.Errorf("two directories: %s", r)
	}
}
