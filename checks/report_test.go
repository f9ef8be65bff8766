package checks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/policy"
)

// The fake GitHub (internal/githubtest) had no check-run endpoints when
// these tests were written, so they run against recorder: an httptest
// server that keeps every request's JSON and the state GitHub would hold
// (status, conclusion, appended annotations).

type recorded struct {
	Method, Path string
	Query        url.Values
	Body         map[string]any
}

type recorder struct {
	t        *testing.T
	mu       sync.Mutex
	requests []recorded
	// state of run 42 as GitHub would have it
	status, conclusion string
	annotations        []any
	// failPatch makes the nth PATCH (1-based) answer 500.
	failPatch int
	patches   int
	// runs answers GET .../commits/{ref}/check-runs, one slice per page.
	runs [][]map[string]any
}

func newRecorder(t *testing.T) (*recorder, *github.Client) {
	rec := &recorder{t: t}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	client, err := github.NewClient(github.WithHTTPClient(srv.Client()), github.WithURLs(github.Ptr(srv.URL+"/"), nil))
	if err != nil {
		t.Fatal(err)
	}
	return rec, client
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var body map[string]any
	if r.Body != nil && r.Method != http.MethodGet {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			rec.t.Errorf("%s %s: body is not JSON: %v", r.Method, r.URL.Path, err)
		}
	}
	rec.requests = append(rec.requests, recorded{r.Method, r.URL.Path, r.URL.Query(), body})
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/repos/o/r/check-runs":
		rec.status = body["status"].(string)
		json.NewEncoder(w).Encode(map[string]any{"id": 42, "name": body["name"], "head_sha": body["head_sha"],
			"status": rec.status, "details_url": body["details_url"], "external_id": body["external_id"],
			"html_url": "https://github.example/o/r/runs/42"})
	case r.Method == http.MethodPatch && r.URL.Path == "/repos/o/r/check-runs/42":
		rec.patches++
		if rec.patches == rec.failPatch {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"message":"boom"}`))
			return
		}
		if s, ok := body["status"].(string); ok {
			rec.status = s
		}
		if c, ok := body["conclusion"].(string); ok {
			rec.conclusion = c
		}
		if o, ok := body["output"].(map[string]any); ok {
			if as, ok := o["annotations"].([]any); ok {
				rec.annotations = append(rec.annotations, as...)
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"id": 42, "status": rec.status})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/repos/o/r/commits/") && strings.HasSuffix(r.URL.Path, "/check-runs"):
		page := 1
		fmt.Sscan(r.URL.Query().Get("page"), &page)
		if page < len(rec.runs) {
			w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d>; rel="next"`, r.URL.Path, page+1))
		}
		var runs []map[string]any
		if page <= len(rec.runs) {
			runs = rec.runs[page-1]
		}
		json.NewEncoder(w).Encode(map[string]any{"total_count": len(runs), "check_runs": runs})
	default:
		rec.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
	}
}

var clock = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func TestStart(t *testing.T) {
	rec, client := newRecorder(t)
	r := &Reporter{Now: func() time.Time { return clock }}
	run, err := r.Start(context.Background(), client, "o", "r", "abc123", "agentgate", detailsURL, "eval-9")
	if err != nil {
		t.Fatal(err)
	}
	want := CheckRun{ID: 42, Name: "agentgate", HeadSHA: "abc123", Status: "in_progress", DetailsURL: detailsURL, ExternalID: "eval-9", HTMLURL: "https://github.example/o/r/runs/42"}
	if run != want {
		t.Errorf("run = %+v, want %+v", run, want)
	}
	if len(rec.requests) != 1 {
		t.Fatalf("%d requests, want 1", len(rec.requests))
	}
	body := rec.requests[0].Body
	for k, v := range map[string]any{"name": "agentgate", "head_sha": "abc123", "status": "in_progress",
		"started_at": "2026-03-04T05:06:07Z", "details_url": detailsURL, "external_id": "eval-9"} {
		if body[k] != v {
			t.Errorf("create body %s = %v, want %v", k, body[k], v)
		}
	}
	for _, k := range []string{"conclusion", "completed_at"} {
		if _, ok := body[k]; ok {
			t.Errorf("create body has %s: %v", k, body)
		}
	}
}

// filed returns a failing decision with n violations that have files.
func filed(n int, verdict policy.Verdict) policy.Decision {
	vs := make([]policy.Violation, n)
	for i := range vs {
		vs[i] = policy.Violation{Message: fmt.Sprintf("m%d", i), File: fmt.Sprintf("f%d.go", i), Line: i + 1}
	}
	return decide([]policy.PolicyResult{result("size", verdict, "s", vs...)})
}

func TestComplete(t *testing.T) {
	tests := []struct {
		name       string
		d          policy.Decision
		conclusion string // "" while pending
		batches    []int  // annotations per PATCH
	}{
		{"120 annotations: 3 updates", filed(120, policy.VerdictFail), "failure", []int{50, 50, 20}},
		{"no annotations: 1 update", decide([]policy.PolicyResult{pass("size")}), "success", []int{0}},
		{"exactly 50: 1 update", filed(50, policy.VerdictFail), "failure", []int{50}},
		{"51: 2 updates", filed(51, policy.VerdictActionRequired), "action_required", []int{50, 1}},
		{"pending: 1 update, annotations held back", filed(120, policy.VerdictPending), "", []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.d.Conclusion != tt.conclusion {
				t.Fatalf("decision concludes %q, test expects %q", tt.d.Conclusion, tt.conclusion)
			}
			rec, client := newRecorder(t)
			r := &Reporter{Now: func() time.Time { return clock }}
			ctx := context.Background()
			run, err := r.Start(ctx, client, "o", "r", "abc123", "agentgate", detailsURL, "")
			if err != nil {
				t.Fatal(err)
			}
			out := Render(tt.d, RenderOptions{DetailsURL: detailsURL})
			if err := r.Complete(ctx, client, "o", "r", run, tt.d, out); err != nil {
				t.Fatal(err)
			}

			wantRequests := 1 + len(tt.batches)
			if tt.conclusion != "" {
				wantRequests = 1 + (max(1, len(out.Annotations))+AnnotationBatch-1)/AnnotationBatch
			}
			if len(rec.requests) != wantRequests || len(rec.requests) != 1+len(tt.batches) {
				t.Fatalf("%d requests, want %d", len(rec.requests), wantRequests)
			}
			for i, req := range rec.requests[1:] {
				if req.Method != http.MethodPatch || req.Path != "/repos/o/r/check-runs/42" {
					t.Fatalf("request %d: %s %s", i+2, req.Method, req.Path)
				}
				b := req.Body
				if b["name"] != "agentgate" {
					t.Errorf("PATCH %d name = %v", i+1, b["name"])
				}
				o, _ := b["output"].(map[string]any)
				if o["title"] != out.Title || o["summary"] != out.Summary || o["text"] != out.Text {
					t.Errorf("PATCH %d output title/summary/text not the rendered ones: %v", i+1, o["title"])
				}
				as, _ := o["annotations"].([]any)
				if len(as) != tt.batches[i] {
					t.Errorf("PATCH %d has %d annotations, want %d", i+1, len(as), tt.batches[i])
				}
				first := i == 0 && tt.conclusion != ""
				_, hasConclusion := b["conclusion"]
				_, hasCompletedAt := b["completed_at"]
				_, hasActions := b["actions"]
				if hasConclusion != first || hasCompletedAt != first || hasActions != first {
					t.Errorf("PATCH %d: conclusion %v, completed_at %v, actions %v; want all %v", i+1, hasConclusion, hasCompletedAt, hasActions, first)
				}
				if first {
					if b["status"] != "completed" || b["conclusion"] != tt.conclusion || b["completed_at"] != "2026-03-04T05:06:07Z" {
						t.Errorf("completing PATCH: status %v, conclusion %v, completed_at %v", b["status"], b["conclusion"], b["completed_at"])
					}
					want := []any{map[string]any{"label": "Re-evaluate", "description": "Evaluate this PR again", "identifier": "reevaluate"}}
					if got, _ := json.Marshal(b["actions"]); string(got) != mustJSON(want) {
						t.Errorf("actions = %s", got)
					}
				}
			}

			wantStatus, wantAnnotations := "completed", len(out.Annotations)
			if tt.conclusion == "" {
				wantStatus, wantAnnotations = "in_progress", 0
			}
			if rec.status != wantStatus || rec.conclusion != tt.conclusion {
				t.Errorf("final state %s/%s, want %s/%s", rec.status, rec.conclusion, wantStatus, tt.conclusion)
			}
			if rec.conclusion == "neutral" {
				t.Error("concluded neutral")
			}
			// GitHub appends: the batches together are every annotation once, in order.
			if len(rec.annotations) != wantAnnotations {
				t.Fatalf("GitHub holds %d annotations, want %d", len(rec.annotations), wantAnnotations)
			}
			for i, a := range rec.annotations {
				got, _ := json.Marshal(a)
				if want := mustJSON(out.Annotations[i]); string(got) != want {
					t.Fatalf("annotation %d = %s, want %s", i, got, want)
				}
			}
		})
	}
}

// mustJSON is v as JSON with object keys sorted, as the recorder's decoded
// bodies marshal.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		panic(err)
	}
	b, _ = json.Marshal(generic)
	return string(b)
}

func TestCompleteRefusesOtherConclusions(t *testing.T) {
	for _, c := range []string{"neutral", "skipped", "cancelled", "Success", "bogus"} {
		t.Run(c, func(t *testing.T) {
			rec, client := newRecorder(t)
			d := filed(3, policy.VerdictFail)
			d.Conclusion = c
			err := (&Reporter{}).Complete(context.Background(), client, "o", "r", CheckRun{ID: 42, Name: "agentgate"}, d, Render(d, RenderOptions{}))
			if !errors.Is(err, ErrConclusion) {
				t.Errorf("err = %v, want ErrConclusion", err)
			}
			if len(rec.requests) != 0 {
				t.Errorf("%d requests sent for conclusion %q", len(rec.requests), c)
			}
		})
	}
}

func TestCompleteBatchFails(t *testing.T) {
	rec, client := newRecorder(t)
	rec.failPatch = 2
	d := filed(120, policy.VerdictFail)
	err := (&Reporter{}).Complete(context.Background(), client, "o", "r", CheckRun{ID: 42, Name: "agentgate"}, d, Render(d, RenderOptions{}))
	if err == nil || !strings.Contains(err.Error(), "annotations 51-100 of 120") {
		t.Fatalf("err = %v", err)
	}
	if rec.status != "completed" || rec.conclusion != "failure" {
		t.Errorf("the conclusion should already be posted: %s/%s", rec.status, rec.conclusion)
	}
	if len(rec.requests) != 2 {
		t.Errorf("%d requests; the batches after a failure should not be sent", len(rec.requests))
	}
}

func TestFindRun(t *testing.T) {
	run := func(id, app int64, name string) map[string]any {
		return map[string]any{"id": id, "name": name, "head_sha": "abc123", "status": "completed", "conclusion": "success", "app": map[string]any{"id": app}}
	}
	tests := []struct {
		name   string
		pages  [][]map[string]any
		want   int64 // 0: ErrNoRun
		nPages int
	}{
		{"none", [][]map[string]any{{}}, 0, 1},
		{"one", [][]map[string]any{{run(5, 7, "agentgate")}}, 5, 1},
		{"latest of ours across pages, not another app's", [][]map[string]any{{run(5, 7, "agentgate"), run(99, 8, "agentgate")}, {run(9, 7, "agentgate"), run(6, 7, "agentgate")}}, 9, 2},
		{"only another app's", [][]map[string]any{{run(99, 8, "agentgate")}}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, client := newRecorder(t)
			rec.runs = tt.pages
			got, err := FindRun(context.Background(), client, "o", "r", "abc123", "agentgate", 7)
			if tt.want == 0 {
				if !errors.Is(err, ErrNoRun) || got != nil {
					t.Fatalf("got %+v, %v; want ErrNoRun", got, err)
				}
			} else if err != nil || got.ID != tt.want || got.Name != "agentgate" || got.HeadSHA != "abc123" {
				t.Fatalf("got %+v, %v; want run %d", got, err, tt.want)
			}
			if len(rec.requests) != tt.nPages {
				t.Errorf("%d requests, want %d", len(rec.requests), tt.nPages)
			}
			q := rec.requests[0].Query
			if rec.requests[0].Path != "/repos/o/r/commits/abc123/check-runs" || q.Get("check_name") != "agentgate" || q.Get("filter") != "latest" || q.Get("app_id") != "7" {
				t.Errorf("request %s?%s", rec.requests[0].Path, q.Encode())
			}
		})
	}
}
