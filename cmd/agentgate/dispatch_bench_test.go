package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/store"
)

// How long it takes from an "agent:quick" label to the agent's process
// running, on a repository with benchRepoFiles files and benchRepoCommits
// commits, and the disk a run uses; BenchmarkFullClone is the yardstick (a
// plain clone of the same repository from the same fake). Results and the
// command that produces them are in BENCHMARKS.md ("Dispatch: label to agent
// start"):
//
//	go test ./cmd/agentgate -run '^$' -bench 'BenchmarkDispatchLabelToAgent|BenchmarkFullClone' -benchtime 5x
//
// The agent is testdata/agents/stamp.sh. agentgate runs with the production
// queue settings (benchEnv), SQLite and no sandbox.

const (
	benchRepoFiles   = 5000 // files on main, InitGitRepo's two included
	benchRepoCommits = 2000 // commits on main, InitGitRepo's one included
	benchRepoSeed    = 1    // the same repository in every run
)

// BenchmarkDispatchLabelToAgent times label → agent process started.
//
//   - cold: every iteration is the first task of a new agentgate on an empty
//     data directory, so the mirror is cloned (starting agentgate is not
//     timed);
//   - warm: one agentgate, one untimed task first to make the mirror, then
//     a task per iteration, each on a new issue, after one new commit on
//     main (so the mirror's fetch has something to fetch).
//
// ns/op is label → pull request opened and run directory removed: the whole
// quick task, with an agent that takes no time. The other metrics are means
// over the iterations (max-: the slowest); the five steps add up to
// ms/label-to-agent (see dispatchSteps).
func BenchmarkDispatchLabelToAgent(b *testing.B) {
	world := newDispatchBench(b)
	b.Run("cold", func(b *testing.B) {
		var m dispatchBenchMetrics
		for b.Loop() {
			b.StopTimer()
			ag := world.start(b)
			b.StartTimer()
			m.samples = append(m.samples, world.dispatch(b, ag))
			b.StopTimer()
			m.mirrorKB = append(m.mirrorKB, float64(duKB(b, filepath.Join(ag.workDir, "mirrors"))))
			ag.p.stop()
			b.StartTimer()
		}
		m.report(b)
	})
	b.Run("warm", func(b *testing.B) {
		var m dispatchBenchMetrics
		ag := world.start(b)
		world.dispatch(b, ag) // makes the mirror
		for b.Loop() {
			b.StopTimer()
			change := fmt.Sprintf("upstream/change-%d.txt", world.issue)
			world.fake.CommitFiles(dispatchRepo, "main", "Change upstream", map[string]string{change: "a change\n"})
			b.StartTimer()
			m.samples = append(m.samples, world.dispatch(b, ag))
		}
		m.report(b)
	})
}

// BenchmarkFullClone times a plain `git clone` of the benchmark repository
// from the fake over HTTP, with an installation token, and reports the
// clone's size on disk (KB/clone, du -sk).
func BenchmarkFullClone(b *testing.B) {
	fake := newBenchRepo(b)
	u, err := url.Parse(fake.GitURL(dispatchRepo))
	if err != nil {
		b.Fatal(err)
	}
	u.User = url.UserPassword("x-access-token", fake.InstallationToken(1))
	root := b.TempDir()
	var kb []float64
	for b.Loop() {
		dir := filepath.Join(root, strconv.Itoa(len(kb)))
		cmd := exec.Command("git", "clone", "--quiet", u.String(), dir)
		cmd.Env = benchGitEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git clone: %v\n%s", err, out)
		}
		b.StopTimer()
		kb = append(kb, float64(duKB(b, dir)))
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(benchMean(kb), "KB/clone")
}

// dispatchBench is the fake GitHub with the benchmark repository and the
// agent's configuration, shared by agentgates started on it one at a time.
type dispatchBench struct {
	fake    *githubtest.Server
	cfgFile string
	stamps  string // where stamp.sh writes
	issue   int    // the last issue number used
}

func newDispatchBench(b *testing.B) *dispatchBench {
	b.Helper()
	w := &dispatchBench{fake: newBenchRepo(b), stamps: b.TempDir()}
	w.fake.SetPermission(dispatchRepo, "alice", "write")
	script, err := filepath.Abs(filepath.Join("..", "..", "testdata", "agents", "stamp.sh"))
	if err != nil {
		b.Fatal(err)
	}
	cfg := "dispatch:\n  enabled: true\n  default_agent: stamp\n  agents:\n" +
		"    - name: stamp\n      adapter: generic\n      model: stamp-1\n" +
		"      command: [" + strconv.Quote(script) + ", " + strconv.Quote(w.stamps) + "]\n"
	w.cfgFile = filepath.Join(b.TempDir(), "agentgate.yml")
	if err := os.WriteFile(w.cfgFile, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	return w
}

// benchAgentgate is one agentgate serving the benchmark repository.
type benchAgentgate struct {
	p       *process
	dataDir string
	workDir string // mirrors and runs
	st      *store.Store
}

// start runs agentgate on a new data directory and points the fake's
// webhooks at it.
func (w *dispatchBench) start(b *testing.B) *benchAgentgate {
	b.Helper()
	ag := &benchAgentgate{dataDir: b.TempDir()}
	ag.workDir = filepath.Join(ag.dataDir, "work")
	env := benchEnv(b, w.fake, ag.dataDir, "")
	env["AGENTGATE_PUBLIC_URL"] = "http://agentgate.example"
	env["AGENTGATE_GITHUB_WEB_URL"] = w.fake.WebURL()
	// AGENTGATE_TEST_WORK_DIR puts mirrors and runs elsewhere, e.g. on a
	// tmpfs, to measure what the checkout costs on another filesystem.
	if dir := os.Getenv("AGENTGATE_TEST_WORK_DIR"); dir != "" {
		ag.workDir = filepath.Join(dir, filepath.Base(filepath.Dir(ag.dataDir))+filepath.Base(ag.dataDir))
		env["AGENTGATE_DISPATCH_WORK_DIR"] = ag.workDir
		b.Cleanup(func() { _ = os.RemoveAll(ag.workDir) })
	}
	ag.p = startWith(b, env, "--config", w.cfgFile)
	w.fake.SetWebhookURL(ag.p.url + "/api/github/hook")
	ag.st = openStore(b, "sqlite", filepath.Join(ag.dataDir, "agentgate.db"))
	return ag
}

// dispatchSteps are the parts of label → agent, as metric units. The first
// two come from the run's timestamps in the store (milliseconds); the
// other ends are what stamp.sh read: when agentgate made the run
// directory's scratch/ (right after the mirror sync) and last wrote its
// task/ (right after the checkout), and when the agent started.
var dispatchSteps = [...]string{
	"ms/label-to-queued",       // intake, a queue poll, the label handler (task and run rows)
	"ms/queued-to-claimed",     // a queue poll
	"ms/claimed-to-synced",     // issue and repository reads, a token, the mirror's clone or fetch
	"ms/synced-to-checked-out", // git worktree add (the checkout), the task files
	"ms/checked-out-to-agent",  // starting the agent's process
}

// dispatchSample is what one label measured.
type dispatchSample struct {
	toAgent time.Duration // label sent → the agent's first instruction
	steps   [len(dispatchSteps)]time.Duration
	runKB   int64 // du -sk of the run directory as the agent starts
}

// dispatch opens a new issue, labels it agent:quick and waits until the
// task's pull request is open and its run directory is gone.
func (w *dispatchBench) dispatch(b *testing.B, ag *benchAgentgate) dispatchSample {
	b.Helper()
	w.issue++
	for _, isPull := w.fake.PullRequest(dispatchRepo, w.issue); isPull; _, isPull = w.fake.PullRequest(dispatchRepo, w.issue) {
		w.issue++ // issues and pull requests share numbers
	}
	n := w.issue
	w.fake.AddIssue(dispatchRepo, githubtest.Issue{Number: n, Title: "Stamp", Body: "Write STAMP.txt.", User: githubtest.Account{Login: "alice"}})
	before, _ := filepath.Glob(filepath.Join(w.stamps, "*.start"))
	payload := map[string]any{
		"action": "labeled", "label": map[string]any{"name": "agent:quick"},
		"issue":        map[string]any{"number": n, "title": "Stamp", "body": "Write STAMP.txt.", "user": user("alice", 11)},
		"sender":       user("alice", 11),
		"installation": map[string]any{"id": 1},
		"repository": map[string]any{"id": dispatchRepoID, "name": "hello-world", "full_name": dispatchRepo,
			"default_branch": "main", "owner": map[string]any{"login": "octo-org", "type": "Organization"}},
	}

	sent := time.Now()
	d, err := w.fake.SendWebhook(context.Background(), "issues", payload)
	if err != nil || d.StatusCode >= 300 {
		b.Fatalf("send issues.labeled: status %d err %v body %s", d.StatusCode, err, d.Body)
	}
	var runID string
	ag.wait(b, "the agent of #"+strconv.Itoa(n)+" to start", func() bool {
		now, _ := filepath.Glob(filepath.Join(w.stamps, "*.start"))
		for _, f := range now {
			if !slices.Contains(before, f) {
				runID = strings.TrimSuffix(filepath.Base(f), ".start")
				return true
			}
		}
		return false
	})
	var task store.Task
	ag.wait(b, "the pull request of #"+strconv.Itoa(n), func() bool {
		var err error
		task, err = ag.st.LatestTaskOfIssue(context.Background(), dispatchRepo, n)
		if err == nil && task.State == "failed" {
			runs, _ := ag.st.RunsOfTask(context.Background(), task.ID)
			for _, r := range runs {
				b.Logf("run %s: %s %s\n%s", r.ID, r.State, r.Error, r.Log)
			}
			b.Fatalf("task %s of #%d failed", task.ID, n)
		}
		return err == nil && task.State == "pr_open"
	})
	ag.wait(b, "the run directory to be removed", func() bool {
		_, err := os.Lstat(filepath.Join(ag.workDir, "runs", runID))
		return os.IsNotExist(err)
	})

	runs, err := ag.st.RunsOfTask(context.Background(), task.ID)
	if err != nil || len(runs) != 1 || runs[0].ID != runID {
		b.Fatalf("runs of task %s: %+v, %v; want one, %s", task.ID, runs, err, runID)
	}
	queued, claimed := runs[0].CreatedAt, runs[0].StartedAt
	started := time.Unix(0, readStamp(b, filepath.Join(w.stamps, runID+".start")))
	var synced, checkedOut int64
	steps := filepath.Join(w.stamps, runID+".steps")
	if data, err := os.ReadFile(steps); err != nil {
		b.Fatal(err)
	} else if _, err := fmt.Sscanf(string(data), "synced %d\nchecked-out %d\n", &synced, &checkedOut); err != nil {
		b.Fatalf("%s: %v:\n%s", steps, err, data)
	}
	return dispatchSample{
		toAgent: started.Sub(sent),
		steps: [...]time.Duration{
			queued.Sub(sent),
			claimed.Sub(queued),
			time.Unix(0, synced).Sub(claimed),
			time.Unix(0, checkedOut).Sub(time.Unix(0, synced)),
			started.Sub(time.Unix(0, checkedOut)),
		},
		runKB: readStamp(b, filepath.Join(w.stamps, runID+".du")),
	}
}

// wait is waitFor with a finer poll, so ns/op is not rounded up to 25 ms
// steps, and with agentgate's log when it times out.
func (ag *benchAgentgate) wait(b *testing.B, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s; agentgate's log:\n%s", what, tail(ag.p.logs.String(), 40))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dispatchBenchMetrics collects a sub-benchmark's samples.
type dispatchBenchMetrics struct {
	samples  []dispatchSample
	mirrorKB []float64 // du -sk of the mirrors after a cold run
}

func (m *dispatchBenchMetrics) report(b *testing.B) {
	ms := func(f func(dispatchSample) time.Duration) []float64 {
		var out []float64
		for _, s := range m.samples {
			out = append(out, float64(f(s).Microseconds())/1000)
		}
		return out
	}
	toAgent := ms(func(s dispatchSample) time.Duration { return s.toAgent })
	b.ReportMetric(benchMean(toAgent), "ms/label-to-agent")
	b.ReportMetric(slices.Max(toAgent), "max-ms/label-to-agent")
	for i, unit := range dispatchSteps {
		b.ReportMetric(benchMean(ms(func(s dispatchSample) time.Duration { return s.steps[i] })), unit)
	}
	var kb []float64
	for _, s := range m.samples {
		kb = append(kb, float64(s.runKB))
	}
	b.ReportMetric(benchMean(kb), "KB/run")
	if len(m.mirrorKB) > 0 {
		b.ReportMetric(benchMean(m.mirrorKB), "KB/mirror")
	}
}

func benchMean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// readStamp reads the number stamp.sh wrote to a file.
func readStamp(tb testing.TB, path string) int64 {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return n
}

// duKB is `du -sk dir`: the KB dir's files take on disk.
func duKB(tb testing.TB, dir string) int64 {
	tb.Helper()
	out, err := exec.Command("du", "-sk", dir).Output()
	if err != nil {
		tb.Fatalf("du -sk %s: %v", dir, err)
	}
	kb, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	if err != nil {
		tb.Fatalf("du -sk %s: %q", dir, out)
	}
	return kb
}

// newBenchRepo is a fake GitHub whose octo-org/hello-world has
// benchRepoFiles files on main and benchRepoCommits commits of history.
func newBenchRepo(tb testing.TB) *githubtest.Server {
	tb.Helper()
	fake := githubtest.New(tb, githubtest.WithRateLimit(1<<30, time.Hour), githubtest.WithoutResponseValidation())
	fake.AddInstallation(githubtest.Installation{ID: 1, Account: "octo-org", Repos: []githubtest.Repo{
		{ID: dispatchRepoID, FullName: dispatchRepo, DefaultBranch: "main"},
	}})
	root := fake.InitGitRepo(dispatchRepo, "main", map[string]string{"README.md": "hello\n", "docs/index.md": "# docs\n"})
	head := writeBenchHistory(tb, fake.GitDir(dispatchRepo), root)
	fake.SetBranch(dispatchRepo, "main", head)
	return fake
}

// writeBenchHistory adds benchRepoCommits-1 commits on top of parent on
// refs/heads/main of the bare repository gitDir with git fast-import: the
// first adds benchRepoFiles-2 files of 0.2–4 KB of Go-like text in 200
// directories, each later one appends a line to three of them. Then it
// repacks the repository as a server keeps it (one pack, deltas
// recomputed) and returns main's new head.
func writeBenchHistory(tb testing.TB, gitDir, parent string) string {
	tb.Helper()
	rng := rand.New(rand.NewPCG(benchRepoSeed, 0))
	words := strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon " +
		"phi chi psi omega request response handler config store queue token branch commit mirror worktree issue label agent plan " +
		"review check policy gate run task state event webhook delivery install repository owner name path file size count index")
	word := func() string { return words[rng.IntN(len(words))] }
	line := func(sb *strings.Builder) {
		switch rng.IntN(4) {
		case 0:
			fmt.Fprintf(sb, "\t// %s %s %s %s.\n", word(), word(), word(), word())
		case 1:
			fmt.Fprintf(sb, "\t%s := %s(%s, %d)\n", word(), word(), word(), rng.IntN(1000))
		case 2:
			fmt.Fprintf(sb, "\tif %s != nil {\n\t\treturn %s\n\t}\n", word(), word())
		default:
			fmt.Fprintf(sb, "\t%s.%s = %q\n", word(), word(), word())
		}
	}
	n := benchRepoFiles - 2
	paths := make([]string, n)
	contents := make([]string, n)
	for i := range n {
		paths[i] = fmt.Sprintf("pkg%02d/part%d/file%04d.go", i%50, (i/50)%4, i)
		var sb strings.Builder
		fmt.Fprintf(&sb, "package pkg%02d\n\n", i%50)
		for f := range 2 + rng.IntN(8) {
			fmt.Fprintf(&sb, "func %s%d_%d() error {\n", word(), i, f)
			for range 3 + rng.IntN(10) {
				line(&sb)
			}
			sb.WriteString("\treturn nil\n}\n\n")
		}
		contents[i] = sb.String()
	}

	cmd := exec.Command("git", "--git-dir="+gitDir, "fast-import", "--quiet", "--date-format=raw")
	cmd.Env = benchGitEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	out := bufio.NewWriterSize(stdin, 1<<20)
	data := func(s string) { fmt.Fprintf(out, "data %d\n%s\n", len(s), s) }
	when := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for c := 1; c < benchRepoCommits; c++ {
		when += 3600
		fmt.Fprintf(out, "commit refs/heads/main\n")
		fmt.Fprintf(out, "author Dev %d <dev%d@example.com> %d +0000\n", c%17, c%17, when)
		fmt.Fprintf(out, "committer Dev %d <dev%d@example.com> %d +0000\n", c%17, c%17, when)
		if c == 1 {
			data("Add the code")
			fmt.Fprintf(out, "from %s\n", parent)
			for i := range n {
				fmt.Fprintf(out, "M 100644 inline %s\n", paths[i])
				data(contents[i])
			}
			continue
		}
		data(fmt.Sprintf("Change %d", c))
		for range 3 {
			i := rng.IntN(n)
			var sb strings.Builder
			sb.WriteString(contents[i])
			line(&sb)
			contents[i] = sb.String()
			fmt.Fprintf(out, "M 100644 inline %s\n", paths[i])
			data(contents[i])
		}
	}
	if err := out.Flush(); err != nil {
		tb.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		tb.Fatalf("git fast-import: %v: %s", err, stderr.String())
	}
	benchGit(tb, gitDir, "repack", "-a", "-d", "-f", "-q")
	return benchGit(tb, gitDir, "rev-parse", "refs/heads/main")
}

// benchGit runs git on the bare repository gitDir and returns its output.
func benchGit(tb testing.TB, gitDir string, args ...string) string {
	tb.Helper()
	cmd := exec.Command("git", append([]string{"--git-dir=" + gitDir}, args...)...)
	cmd.Env = benchGitEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// benchGitEnv is the environment of git commands the benchmark runs: no
// user or system configuration, no prompts.
func benchGitEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GIT_") })
	return append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
}
