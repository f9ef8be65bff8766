package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/store"
)

// Measurements of the gate against the real binary and the fake GitHub. They log numbers
// (for BENCHMARKS.md "Gate") and assert nothing about time; run them with
//
//	go test ./cmd/agentgate -run 'TestGateAPIRequests|TestGateBurstAcrossWindows' -v

// requestKind names what one GitHub API request of an evaluation was for.
func requestKind(r githubtest.Request) string {
	switch r.Operation {
	case "GET /repos/{owner}/{repo}/pulls/{pull_number}":
		return "pull request"
	case "GET /repos/{owner}/{repo}/pulls/{pull_number}/files":
		return "files pages"
	case "GET /repos/{owner}/{repo}/pulls/{pull_number}/commits":
		return "commits"
	case "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews":
		return "reviews"
	case "GET /repos/{owner}/{repo}/collaborators/{username}/permission":
		return "reviewer permissions"
	case "GET /repos/{owner}/{repo}/commits/{ref}/check-runs":
		if r.Query.Get("check_name") != "" {
			return "our check run (lookup)"
		}
		return "checks"
	case "GET /repos/{owner}/{repo}/commits/{ref}/status":
		return "statuses"
	case "GET /repos/{owner}/{repo}/contents/{path}":
		switch p := r.PathParams["path"]; {
		case p == ".github/agentgate.yml":
			return "config contents"
		case p == ".github/agentgate/policies":
			return "policies dir"
		default:
			return "contents " + p
		}
	case "GET /repos/{owner}/{repo}":
		return "repository"
	case "POST /repos/{owner}/{repo}/check-runs":
		return "check-run create"
	case "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}":
		return "check-run update"
	case "POST /app/installations/{installation_id}/access_tokens":
		return "installation token"
	case "GET /app":
		return "app (bot login)"
	}
	return r.Method + " " + r.Path
}

var kindOrder = []string{
	"pull request", "files pages", "commits", "reviews", "reviewer permissions", "checks", "statuses",
	"config contents", "policies dir", "repository", "our check run (lookup)", "check-run create",
	"check-run update", "installation token", "app (bot login)",
}

// tally counts requests by kind: all, and answered 304.
type tally struct {
	all, notModified map[string]int
	total, total304  int
}

func tallyOf(reqs []githubtest.Request) tally {
	t := tally{all: map[string]int{}, notModified: map[string]int{}}
	for _, r := range reqs {
		k := requestKind(r)
		t.all[k]++
		t.total++
		if r.NotModified {
			t.notModified[k]++
			t.total304++
		}
	}
	return t
}

func (t tally) kinds() []string {
	out := append([]string(nil), kindOrder...)
	var extra []string
	for k := range t.all {
		known := false
		for _, o := range kindOrder {
			known = known || o == k
		}
		if !known {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// latestEvaluation waits until number has n evaluations and returns the newest.
func latestEvaluation(t *testing.T, st *store.Store, number, n int) store.Evaluation {
	t.Helper()
	var evs []store.Evaluation
	waitFor(t, 60*time.Second, fmt.Sprintf("%d evaluations of #%d", n, number), func() bool {
		var err error
		evs, err = st.EvaluationsOf(context.Background(), gateRepo, number, 100)
		return err == nil && len(evs) >= n
	})
	return evs[0]
}

// TestGateAPIRequests records the GitHub API requests of a first evaluation of pull
// requests with 1, 100, 1,000 and 3,000 files, by endpoint, and of a re-evaluation of the
// unchanged pull request (how many GitHub answered 304 from agentgate's ETag cache), and
// the evaluation wall time from the store and the agentgate_gate_evaluation_seconds
// histogram.
func TestGateAPIRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	config := "check_name: agentgate\nsize:\n  max_files: 5000\n  max_lines: 100000\n"
	w, st := newGateWorldEnv(t, map[string]string{".github/agentgate.yml": config}, nil)

	sizes := []int{1, 100, 1000, 3000}
	type result struct {
		size               int
		first, again       tally
		firstMS, againMS   int64
		histFirst, histAgn float64
		apiFirst, apiAgain int
		conclusion         string
	}
	var results []result
	seconds := func() float64 { return w.p.metric("agentgate_gate_evaluation_seconds_sum") }
	for i, n := range sizes {
		number := 500 + i
		mark, h0 := len(w.fake.Requests()), seconds()
		head := w.open(number, "Copilot", agentBody, files(n, "src", 1), nil)
		w.waitRuns(head, 1)
		first := latestEvaluation(t, st, number, 1)
		r := result{size: n, conclusion: first.Conclusion, apiFirst: first.APIRequests,
			firstMS: first.FinishedAt.Sub(first.StartedAt).Milliseconds()}
		r.first = tallyOf(w.fake.Requests()[mark:])
		r.histFirst = seconds() - h0

		// Re-evaluation of the unchanged pull request (an edit that changed nothing).
		time.Sleep(2100 * time.Millisecond) // into the next debounce window
		mark, h0 = len(w.fake.Requests()), seconds()
		w.prEvent("edited", number, head, nil)
		w.waitRuns(head, 2)
		again := latestEvaluation(t, st, number, 2)
		r.again = tallyOf(w.fake.Requests()[mark:])
		r.againMS = again.FinishedAt.Sub(again.StartedAt).Milliseconds()
		r.histAgn = seconds() - h0
		r.apiAgain = again.APIRequests
		results = append(results, r)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\n| endpoint |")
	for _, r := range results {
		fmt.Fprintf(&b, " %d files | re-eval (304) |", r.size)
	}
	b.WriteString("\n|---|")
	for range results {
		b.WriteString("---|---|")
	}
	all := tally{all: map[string]int{}}
	for _, r := range results {
		for k, v := range r.first.all {
			all.all[k] += v
		}
		for k, v := range r.again.all {
			all.all[k] += v
		}
	}
	for _, k := range all.kinds() {
		if all.all[k] == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n| %s |", k)
		for _, r := range results {
			fmt.Fprintf(&b, " %d | %d (%d) |", r.first.all[k], r.again.all[k], r.again.notModified[k])
		}
	}
	b.WriteString("\n| **total** |")
	for _, r := range results {
		fmt.Fprintf(&b, " **%d** | **%d (%d)** |", r.first.total, r.again.total, r.again.total304)
	}
	b.WriteString("\n| counted by agentgate (api_requests) |")
	for _, r := range results {
		fmt.Fprintf(&b, " %d | %d |", r.apiFirst, r.apiAgain)
	}
	b.WriteString("\n| evaluation ms (store started→finished) |")
	for _, r := range results {
		fmt.Fprintf(&b, " %d | %d |", r.firstMS, r.againMS)
	}
	b.WriteString("\n| evaluation ms (histogram sum delta) |")
	for _, r := range results {
		fmt.Fprintf(&b, " %.0f | %.0f |", r.histFirst*1000, r.histAgn*1000)
	}
	b.WriteString("\n| conclusion |")
	for _, r := range results {
		fmt.Fprintf(&b, " %s | |", r.conclusion)
	}
	t.Log(b.String())
}

// TestGateBurstAcrossWindows measures what the debounce does with a burst that straddles
// two of its clock-aligned 2 s windows: 10 events just before a window closes and 10 just
// after. It logs the evaluations and check runs; it asserts nothing (see BENCHMARKS.md).
func TestGateBurstAcrossWindows(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	w, st := newGateWorldEnv(t, nil, nil)
	head := w.addPR(600, files(1, "src", 1))
	// Wait until 300 ms before a window boundary (windows are aligned to even Unix seconds).
	for ms := time.Now().UnixMilli() % 2000; ms < 1600 || ms > 1700; ms = time.Now().UnixMilli() % 2000 {
		time.Sleep(5 * time.Millisecond)
	}
	began := time.Now()
	boundary := began.Truncate(2 * time.Second).Add(2 * time.Second)
	for i := range 20 {
		if i == 10 {
			time.Sleep(time.Until(boundary.Add(300 * time.Millisecond)))
		}
		w.prEvent("edited", 600, head, nil)
	}
	t.Logf("20 webhooks in %s (10 before a window boundary, 10 after)", time.Since(began).Round(time.Millisecond))
	w.completed(head)
	time.Sleep(4500 * time.Millisecond)
	t.Logf("burst straddling two debounce windows: %d evaluations, %d check runs of ours",
		evaluationsOf(t, st, 600, head), len(w.ourRuns(head)))
}
