package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/provenance/verify"
	"github.com/agentgate/agentgate/store"
)

// auditToken is the API token the attestation tests read with; agentgate's
// config holds only its sha256.
const auditToken = "agt_e2e-audit-token-0123456789abcdef"

func auditTokenSHA256() string {
	sum := sha256.Sum256([]byte(auditToken))
	return hex.EncodeToString(sum[:])
}

// newAttestWorld is dispatch with an agent that writes one file per issue
// (so its pull requests merge one after another without conflicts), a
// required "test" check, and an API token for the auditor.
func newAttestWorld(t *testing.T, env map[string]string) *dispatchWorld {
	all := map[string]string{
		"AGENTGATE_API_TOKENS":             "e2e:" + auditTokenSHA256() + ":*",
		"AGENTGATE_ATTESTATIONS_GIT_NOTES": "true",
	}
	for k, v := range env {
		all[k] = v
	}
	w := newDispatchWorld(t, agentSpec{script: "per-issue.sh",
		repoConfig: "test_evidence:\n  required_checks: [test]\n", env: all}, false)
	w.fake.SetPermission(dispatchRepo, "carol", "write")
	return w
}

// agentPR takes issue n from label to a pull request the gate passed: the
// agent's change, a green "test" check, and carol's approval of the head.
func (w *dispatchWorld) agentPR(st *store.Store, n int) (number int, head string) {
	w.t.Helper()
	w.addIssue(n, fmt.Sprintf("Change %d", n), fmt.Sprintf("Please make change %d.", n))
	w.label(n, "agent:quick", "alice")
	task := w.task(st, n, fmt.Sprintf("issue #%d's pull request", n), func(t store.Task) bool { return t.State == "pr_open" })
	pr, ok := w.fake.PullRequest(dispatchRepo, task.PullNumber)
	if !ok {
		w.t.Fatalf("no pull request #%d on the fake", task.PullNumber)
	}
	head = pr.Head.SHA
	run := w.fake.AddCheckRun(dispatchRepo, githubtest.CheckRun{Name: "test", HeadSHA: head, Status: "completed", Conclusion: "success"})
	w.send("check_run", map[string]any{"action": "completed", "check_run": map[string]any{
		"id": run, "name": "test", "head_sha": head, "status": "completed", "conclusion": "success",
		"app":           map[string]any{"id": 15368, "slug": "github-actions"},
		"pull_requests": []any{map[string]any{"number": task.PullNumber, "head": map[string]any{"sha": head}}},
	}})
	if _, err := w.fake.SubmitReview("octo-org", "hello-world", task.PullNumber, githubtest.Review{
		User: githubtest.Account{Login: "carol"}, State: "APPROVED", Body: "Looks right."}); err != nil {
		w.t.Fatalf("carol approves #%d: %v", task.PullNumber, err)
	}
	waitFor(w.t, 60*time.Second, fmt.Sprintf("the gate passing #%d", task.PullNumber), func() bool {
		for _, r := range w.fake.CheckRuns(dispatchRepo) {
			if r.HeadSHA == head && r.Name == "agentgate" && r.Status == "completed" && r.Conclusion == "success" {
				return true
			}
		}
		return false
	})
	return task.PullNumber, head
}

// apiGet calls agentgate's API with the audit token (or another).
func (w *dispatchWorld) apiGet(path, token string) (int, http.Header, []byte) {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.p.url+path, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

type apiAttestation struct {
	ID            string `json:"id"`
	Commit        string `json:"commit"`
	PullRequest   int    `json:"pull_request"`
	PredicateType string `json:"predicate_type"`
	Name          string `json:"name"`
	Agent         string `json:"agent"`
	Model         string `json:"model"`
	SignerKeyID   string `json:"signer_key_id"`
}

// attestationsOf lists the attestations of a landed commit through the API.
func (w *dispatchWorld) attestationsOf(commit string) []apiAttestation {
	w.t.Helper()
	status, _, body := w.apiGet("/api/v1/attestations?commit="+commit, auditToken)
	if status != http.StatusOK {
		w.t.Fatalf("list attestations of %s: %d %s", commit, status, body)
	}
	var page struct {
		Attestations []apiAttestation `json:"attestations"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		w.t.Fatalf("list attestations: %v\n%s", err, body)
	}
	return page.Attestations
}

// publicKeys are the PEM keys GET /api/v1/keys publishes.
func (w *dispatchWorld) publicKeys() [][]byte {
	w.t.Helper()
	status, _, body := w.apiGet("/api/v1/keys", auditToken)
	if status != http.StatusOK {
		w.t.Fatalf("keys: %d %s", status, body)
	}
	var doc struct {
		Keys []struct {
			PublicKey string `json:"public_key"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Keys) == 0 {
		w.t.Fatalf("keys: %v\n%s", err, body)
	}
	var out [][]byte
	for _, k := range doc.Keys {
		out = append(out, []byte(k.PublicKey))
	}
	return out
}

// wantPredicates are the four statements of an agent merge with one
// required check, sorted.
var wantPredicates = []string{statement.PredicateReview, statement.PredicateTestResult, statement.PredicateProvenance, statement.PredicateVSA}

// TestAttestOnMerge merges three agent pull requests, one per merge method,
// and a person's pull request, with the real binary and real git: each
// agent merge gets four signed statements about the commit that landed,
// which verify with sigstore-go given only the published key and the
// commit; the person's gets none; a second delivery of a merge adds
// nothing.
func TestAttestOnMerge(t *testing.T) {
	w := newAttestWorld(t, nil)
	st := w.store()

	// A person's change merges first: not agent-authored, no attestations.
	humanHead := w.fake.CommitFiles(dispatchRepo, "docs-fix", "Fix the docs\n", map[string]string{"docs/index.md": "# Docs\n"})
	base, _ := w.fake.Branch(dispatchRepo, "main")
	w.fake.AddPullRequest(dispatchRepo, githubtest.PullRequest{Number: 90, Title: "Fix the docs", Body: "Typo.",
		User: githubtest.Account{Login: "dave"}, Base: githubtest.PullRef{Ref: "main", SHA: base},
		Head: githubtest.PullRef{Ref: "docs-fix", SHA: humanHead}})
	w.fake.SetPermission(dispatchRepo, "dave", "write")
	humanLanded, err := w.fake.MergePull("octo-org", "hello-world", 90, "merge", "dave")
	if err != nil {
		t.Fatalf("merge the person's pull request: %v", err)
	}
	waitFor(t, 30*time.Second, "the person's merge judged", func() bool {
		return strings.Contains(w.p.logs.String(), "not agent-authored; no attestations")
	})
	if got := w.attestationsOf(humanLanded); len(got) != 0 {
		t.Fatalf("a person's pull request got %d attestations", len(got))
	}

	keys := w.publicKeys()
	verifier, err := verify.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	for i, method := range []string{"merge", "squash", "rebase"} {
		t.Run(method, func(t *testing.T) {
			w.t = t
			number, head := w.agentPR(st, 10+i)
			landed, err := w.fake.MergePull("octo-org", "hello-world", number, method, "alice")
			if err != nil {
				t.Fatalf("merge #%d by %s: %v", number, method, err)
			}
			if tip, _ := w.fake.Branch(dispatchRepo, "main"); tip != landed {
				t.Fatalf("main is at %s, the merge reported %s", tip, landed)
			}
			var rows []apiAttestation
			waitFor(t, 60*time.Second, "four attestations of "+landed[:8], func() bool {
				rows = w.attestationsOf(landed)
				return len(rows) >= 4
			})
			var types []string
			for _, r := range rows {
				types = append(types, r.PredicateType)
				if r.Commit != landed || r.PullRequest != number || r.Agent != "scripted" || r.Model != "per-issue-model-1" {
					t.Errorf("row %+v: want commit %s, PR #%d, agent scripted (the configured agent, not the name it reports), model per-issue-model-1", r, landed, number)
				}
			}
			slices.Sort(types)
			if !slices.Equal(types, wantPredicates) {
				t.Fatalf("predicate types %v, want %v", types, wantPredicates)
			}
			tree := w.git("rev-parse", landed+"^{tree}")
			for _, r := range rows {
				bundle := w.bundle(r.ID)
				res, err := verifier.Verify(bundle, verify.Expect{Commit: landed, PredicateType: r.PredicateType})
				if err != nil {
					t.Fatalf("%s (%s) does not verify: %v", r.ID, r.PredicateType, err)
				}
				if res.Subjects[0].Digest["gitTree"] != tree {
					t.Errorf("%s: subject tree %s, the landed commit's is %s", r.ID, res.Subjects[0].Digest["gitTree"], tree)
				}
				checkStatement(t, r.PredicateType, res.Statement, head)
			}
			waitFor(t, 30*time.Second, "the attestation comment on the pull request", func() bool {
				return w.countComments(number, "cosign verify-blob-attestation --key agentgate.pub") == 1
			})
			w.waitComment(10+i, "Shipped in "+landed)

			// The same bundles, one per line, in refs/notes/agentgate
			// (published before the comments are posted).
			notes := strings.Split(w.git("notes", "--ref", "agentgate", "show", landed), "\n")
			if len(notes) != len(rows) {
				t.Fatalf("%d lines in the git note of %s, want %d", len(notes), landed[:8], len(rows))
			}
			for _, r := range rows {
				if !slices.Contains(notes, string(w.bundle(r.ID))) {
					t.Errorf("bundle %s is not a line of the git note", r.ID)
				}
			}
		})
	}
	w.t = t

	// A merge queue landing a group: only the push to main arrives (the
	// pull_request event is lost here), and it is enough.
	t.Run("push only", func(t *testing.T) {
		w.t = t
		number, _ := w.agentPR(st, 13)
		hook := w.fake.WebhookURL()
		w.fake.SetWebhookURL("http://127.0.0.1:1/unreachable")
		landed, err := w.fake.MergePull("octo-org", "hello-world", number, "squash", "alice")
		w.fake.SetWebhookURL(hook)
		if landed == "" {
			t.Fatalf("merge #%d: %v", number, err)
		}
		var push githubtest.HookDelivery
		for _, d := range w.fake.Deliveries() {
			if d.Event == "push" {
				push = d
			}
		}
		var payload map[string]any
		if err := json.Unmarshal(push.RequestBody, &payload); err != nil || payload["after"] != landed {
			t.Fatalf("the push delivery for %s: %v %v", landed, err, payload["after"])
		}
		if d, err := w.fake.SendWebhook(context.Background(), "push", payload); err != nil || d.StatusCode >= 300 {
			t.Fatalf("deliver the push: %v %d", err, d.StatusCode)
		}
		waitFor(t, 60*time.Second, "attestations from the push alone", func() bool { return len(w.attestationsOf(landed)) == 4 })
		waitFor(t, 30*time.Second, "the attestation comment", func() bool {
			return w.countComments(number, "cosign verify-blob-attestation --key agentgate.pub") == 1
		})
	})
	w.t = t

	// Merged past a gate that did not pass (the required check never
	// reported): still attested, and the VSA says FAILED and why.
	t.Run("gate not passed", func(t *testing.T) {
		w.t = t
		w.addIssue(14, "Change 14", "Please make change 14.")
		w.label(14, "agent:quick", "alice")
		task := w.task(st, 14, "issue #14's pull request", func(t store.Task) bool { return t.State == "pr_open" })
		pr, _ := w.fake.PullRequest(dispatchRepo, task.PullNumber)
		// Another check reporting wakes the gate, which waits for "test".
		lint := w.fake.AddCheckRun(dispatchRepo, githubtest.CheckRun{Name: "lint", HeadSHA: pr.Head.SHA, Status: "completed", Conclusion: "success"})
		w.send("check_run", map[string]any{"action": "completed", "check_run": map[string]any{
			"id": lint, "name": "lint", "head_sha": pr.Head.SHA, "status": "completed", "conclusion": "success",
			"app":           map[string]any{"id": 15368, "slug": "github-actions"},
			"pull_requests": []any{map[string]any{"number": task.PullNumber, "head": map[string]any{"sha": pr.Head.SHA}}},
		}})
		waitFor(t, 30*time.Second, "the gate's evaluation of the head", func() bool {
			_, err := st.LatestEvaluation(context.Background(), dispatchRepo, pr.Head.SHA)
			return err == nil
		})
		landed, err := w.fake.MergePull("octo-org", "hello-world", task.PullNumber, "merge", "alice")
		if err != nil {
			t.Fatal(err)
		}
		var rows []apiAttestation
		waitFor(t, 60*time.Second, "attestations of a merge the gate did not pass", func() bool {
			rows = w.attestationsOf(landed)
			return len(rows) == 3 // no test result: the required check never reported
		})
		waitFor(t, 30*time.Second, "the attestation comment", func() bool {
			return w.countComments(task.PullNumber, "cosign verify-blob-attestation --key agentgate.pub") == 1
		})
		for _, r := range rows {
			if r.PredicateType != statement.PredicateVSA {
				continue
			}
			res, err := verifier.Verify(w.bundle(r.ID), verify.Expect{Commit: landed, PredicateType: statement.PredicateVSA})
			if err != nil {
				t.Fatal(err)
			}
			text := string(res.Statement)
			if !strings.Contains(text, `"verificationResult":"FAILED"`) || !strings.Contains(text, "test") || strings.Contains(text, "ORG_SOURCE_") {
				t.Errorf("VSA of a merge past a waiting gate: want FAILED, the reason, no levels:\n%s", text)
			}
			return
		}
		t.Errorf("no VSA among %+v", rows)
	})
	w.t = t

	// The failures an auditor must see: a changed commit, a tampered
	// payload, a key that did not sign.
	landed, _ := w.fake.Branch(dispatchRepo, "main")
	rows := w.attestationsOf(landed)
	bundle := w.bundle(rows[0].ID)
	if _, err := verifier.Verify(bundle, verify.Expect{Commit: humanLanded}); err == nil {
		t.Error("a bundle verified for a commit it is not about")
	}
	if _, err := verifier.Verify(tamperPayload(t, bundle), verify.Expect{Commit: landed}); err == nil {
		t.Error("a bundle with an edited payload verified")
	}
	other, err := sign.Generate(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	otherPEM, _ := sign.PublicKeyPEM(other)
	wrong, _ := verify.New(otherPEM)
	if _, err := wrong.Verify(bundle, verify.Expect{Commit: landed}); err == nil {
		t.Error("a bundle verified with a key that did not sign it")
	}

	// A second delivery of the last merge event (a new delivery id, as a
	// redelivery from GitHub's UI has) adds nothing.
	before := len(rows)
	comments := w.countComments(rows[0].PullRequest, "cosign verify-blob-attestation")
	var closed githubtest.HookDelivery
	for _, d := range w.fake.Deliveries() {
		if d.Event == "pull_request" && d.Action == "closed" {
			closed = d
		}
	}
	if closed.GUID == "" {
		t.Fatal("no pull_request closed delivery recorded")
	}
	var payload map[string]any
	if err := json.Unmarshal(closed.RequestBody, &payload); err != nil {
		t.Fatal(err)
	}
	again, err := w.fake.SendWebhook(context.Background(), "pull_request", payload)
	if err != nil || again.StatusCode >= 300 {
		t.Fatalf("redeliver: %v %d", err, again.StatusCode)
	}
	// The queue knows the job (one per pull request and landed commit) and
	// adds none; were it long gone, the job would find the rows stored and
	// the store would refuse a second pass (TestAppendCommitsKeepsOnePassPerCommit).
	waitFor(t, 30*time.Second, "the second delivery to be taken as a duplicate", func() bool {
		for _, line := range strings.Split(w.p.logs.String(), "\n") {
			if strings.Contains(line, "attestation requested") && strings.Contains(line, again.GUID) && strings.Contains(line, `"duplicate":true`) {
				return true
			}
		}
		return false
	})
	time.Sleep(500 * time.Millisecond) // what a job would have done by now
	if after := len(w.attestationsOf(landed)); after != before {
		t.Errorf("a second delivery changed the attestations: %d → %d", before, after)
	}
	if c := w.countComments(rows[0].PullRequest, "cosign verify-blob-attestation"); c != comments {
		t.Errorf("a second delivery posted another comment: %d → %d", comments, c)
	}

	// No token, no data.
	if status, h, _ := w.apiGet("/api/v1/attestations?commit="+landed, ""); status != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
		t.Errorf("without a token: %d, WWW-Authenticate %q", status, h.Get("WWW-Authenticate"))
	}
	if status, _, _ := w.apiGet("/api/v1/attestations/"+rows[0].ID, "agt_wrong"); status != http.StatusUnauthorized {
		t.Errorf("with a wrong token: %d", status)
	}
	if _, err := os.Stat(filepath.Join(w.dataDir, "signing.key")); err != nil {
		t.Errorf("the signing key was not made on first start in the data dir: %v", err)
	}
	if pub, err := os.ReadFile(filepath.Join(w.dataDir, "signing.pub")); err != nil || !slices.ContainsFunc(keys, func(k []byte) bool { return string(k) == string(pub) }) {
		t.Errorf("signing.pub beside the key is not the published key: %v\n%s", err, pub)
	}
}

// bundle fetches one bundle and checks its media type.
func (w *dispatchWorld) bundle(id string) []byte {
	w.t.Helper()
	status, h, body := w.apiGet("/api/v1/attestations/"+id, auditToken)
	if status != http.StatusOK || h.Get("Content-Type") != "application/vnd.dev.sigstore.bundle.v0.3+json" {
		w.t.Fatalf("bundle %s: %d %s\n%s", id, status, h.Get("Content-Type"), body)
	}
	return body
}

// checkStatement checks what each statement says that the user would
// look for: the VSA passed, the test result is the test check's, the
// review names carol's approval of the head.
func checkStatement(t *testing.T, predicateType string, payload []byte, head string) {
	t.Helper()
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate map[string]any `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	text := string(payload)
	switch predicateType {
	case statement.PredicateVSA:
		if st.Predicate["verificationResult"] != statement.ResultPassed {
			t.Errorf("VSA: %v, want PASSED\n%s", st.Predicate["verificationResult"], text)
		}
		if !strings.Contains(text, statement.PropertyHumanReviewed) || !strings.Contains(text, statement.PropertyTestsPassed) {
			t.Errorf("VSA lacks the human review or tests property:\n%s", text)
		}
	case statement.PredicateTestResult:
		if st.Predicate["result"] != "PASSED" || !strings.Contains(text, `"name":"test"`) {
			t.Errorf("test result:\n%s", text)
		}
		if len(st.Subject) != 2 || st.Subject[1].Digest["gitCommit"] != head {
			t.Errorf("test result's second subject is not the head %s:\n%s", head, text)
		}
	case statement.PredicateReview:
		if !strings.Contains(text, `"login":"carol"`) || !strings.Contains(text, head) || !strings.Contains(text, `"requester":"alice"`) {
			t.Errorf("review predicate lacks carol's approval of %s or the requester:\n%s", head, text)
		}
	case statement.PredicateProvenance:
		if !strings.Contains(text, `"model":"per-issue-model-1"`) || !strings.Contains(text, `"name":"prompt"`) || !strings.Contains(text, `"factsFrom":"agentgate"`) {
			t.Errorf("provenance lacks the model, the prompt digest or that agentgate recorded them:\n%s", text)
		}
	}
}

// tamperPayload flips one character of the DSSE payload inside a bundle.
func tamperPayload(t *testing.T, bundle []byte) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(bundle, &doc); err != nil {
		t.Fatal(err)
	}
	env := doc["dsseEnvelope"].(map[string]any)
	raw, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	raw = []byte(strings.Replace(string(raw), "per-issue-model-1", "per-issue-model-2", 1))
	env["payload"] = base64.StdEncoding.EncodeToString(raw)
	out, _ := json.Marshal(doc)
	return out
}
