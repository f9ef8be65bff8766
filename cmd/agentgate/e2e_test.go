package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/githubtest"
	"github.com/agentgate/agentgate/store"
	"github.com/agentgate/agentgate/store/storetest"
)

func repos(owner string, base int64, n int) []githubtest.Repo {
	var out []githubtest.Repo
	for i := 0; i < n; i++ {
		out = append(out, githubtest.Repo{ID: base + int64(i), FullName: fmt.Sprintf("%s/repo-%d", owner, i), DefaultBranch: "main"})
	}
	return out
}

func installationCreated(t *testing.T, id int64, login string) []byte {
	return githubtest.Payload(t, "installation.created", map[string]any{
		"installation.id": id, "installation.account.login": login,
	})
}

// post sends a webhook straight to agentgate (not through the fake), so a
// test controls the signature, headers and body.
func post(t *testing.T, url, event, delivery string, body []byte, signature string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/api/github/hook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post %s: %v", event, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func countDeliveries(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	c, err := st.DeliveryCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func jobStates(t *testing.T, st *store.Store, kind string) map[string]int {
	t.Helper()
	counts, err := st.JobCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range counts {
		if c.Kind == kind {
			out[c.State] += c.Count
		}
	}
	return out
}

func repoCount(t *testing.T, st *store.Store, installation int64) int {
	t.Helper()
	r, err := st.InstallationRepositories(context.Background(), installation)
	if err != nil {
		t.Fatal(err)
	}
	return len(r)
}

// TestWebhookIntake walks one agentgate on SQLite through what GitHub sends:
// ping, a real event, its redelivery, forgeries, junk, oversize bodies and
// events nobody handles, and checks what lands in the store, the fake and
// the metrics.
func TestWebhookIntake(t *testing.T) {
	fake := githubtest.New(t)
	fake.AddInstallation(githubtest.Installation{ID: 1, Account: "octo-org", Repos: repos("octo-org", 1000, 3)})
	dataDir := t.TempDir()
	p := start(t, appEnv(t, fake, dataDir, ""))
	fake.SetWebhookURL(p.url + "/api/github/hook")
	st := openStore(t, "sqlite", filepath.Join(dataDir, "agentgate.db"))
	ctx := context.Background()

	// ping is answered.
	d, err := fake.SendWebhook(ctx, "ping", githubtest.Payload(t, "ping", nil))
	if err != nil || d.StatusCode != http.StatusOK || !strings.Contains(string(d.Body), "pong") {
		t.Fatalf("ping: status %d body %s err %v", d.StatusCode, d.Body, err)
	}

	// A real event is queued, handled, and its effect lands in the store.
	created := installationCreated(t, 1, "octo-org")
	d, err = fake.SendWebhook(ctx, "installation", created)
	if err != nil || d.StatusCode != http.StatusAccepted {
		t.Fatalf("installation.created: status %d body %s err %v", d.StatusCode, d.Body, err)
	}
	waitFor(t, 15*time.Second, "installation 1 synced", func() bool { return repoCount(t, st, 1) == 3 })
	waitFor(t, 5*time.Second, "job completed", func() bool { return jobStates(t, st, "webhook_event")["completed"] == 1 })
	lists := len(requestsTo(fake, "GET /installation/repositories"))
	if lists != 1 {
		t.Errorf("GET /installation/repositories called %d times for one delivery, want 1", lists)
	}

	// The same delivery again (GitHub's redelivery keeps the GUID) does nothing twice.
	d2, err := fake.SendWebhookWithGUID(ctx, d.GUID, "installation", created)
	if err != nil || d2.StatusCode != http.StatusOK || !strings.Contains(string(d2.Body), "duplicate") {
		t.Fatalf("redelivery: status %d body %s err %v", d2.StatusCode, d2.Body, err)
	}
	if got := jobStates(t, st, "webhook_event"); got["completed"] != 1 || len(got) != 1 {
		t.Errorf("jobs after redelivery = %v, want exactly one completed", got)
	}

	before := countDeliveries(t, st)
	secret := []byte(fake.WebhookSecret())

	// A bad signature leaves no trace but a metric.
	for _, sig := range []string{"", "sha256=" + strings.Repeat("0", 64), githubtest.SignPayload([]byte("wrong secret"), created)} {
		status, _ := post(t, p.url, "installation", "forged-"+sig[:min(len(sig), 12)], created, sig)
		if status != http.StatusUnauthorized {
			t.Errorf("signature %q: status %d, want 401", sig, status)
		}
	}
	if got := countDeliveries(t, st); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("forged deliveries changed the store: %v → %v", before, got)
	}
	if got := p.metric("agentgate_webhook_bad_signatures_total"); got != 3 {
		t.Errorf("bad signature metric = %v, want 3", got)
	}

	// Signed but not JSON: 400 and recorded as rejected.
	junk := []byte("{not json")
	if status, _ := post(t, p.url, "issues", "junk-1", junk, githubtest.SignPayload(secret, junk)); status != http.StatusBadRequest {
		t.Errorf("junk body: status %d, want 400", status)
	}
	rejected, err := st.Delivery(ctx, "junk-1")
	if err != nil || rejected.Outcome != store.OutcomeRejected || rejected.Reason == "" {
		t.Errorf("junk delivery recorded as %+v (err %v), want rejected with a reason", rejected, err)
	}

	// An event no handler wants is acknowledged and ignored.
	star := []byte(`{"action":"created","installation":{"id":1}}`)
	if status, body := post(t, p.url, "star", "star-1", star, githubtest.SignPayload(secret, star)); status != http.StatusAccepted || body["outcome"] != "ignored" {
		t.Errorf("star: status %d body %v, want 202 ignored", status, body)
	}

	// Over GitHub's 25 MiB cap: 413, nothing stored.
	big := bytes.Repeat([]byte(" "), 25<<20+1)
	if status, _ := post(t, p.url, "issues", "big-1", big, githubtest.SignPayload(secret, big)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("26 MiB body: status %d, want 413", status)
	}
	if _, err := st.Delivery(ctx, "big-1"); err == nil {
		t.Error("oversize delivery was stored")
	}

	// The operations surface tells the same story.
	for series, want := range map[string]float64{
		`agentgate_webhook_deliveries_total{event="installation",outcome="queued"}`:                                                    1,
		`agentgate_webhook_deliveries_total{event="installation",outcome="duplicate"}`:                                                 1,
		`agentgate_webhook_deliveries_total{event="ping",outcome="ping"}`:                                                              1,
		`agentgate_webhook_deliveries_total{event="issues",outcome="rejected"}`:                                                        1,
		`agentgate_webhook_deliveries_total{event="star",outcome="ignored"}`:                                                           1,
		`agentgate_webhook_deliveries_total{event="unverified",outcome="too_large"}`:                                                   1,
		`agentgate_github_requests_total{endpoint="/installation/repositories",installation="1",method="GET",status="200"}`:            1,
		`agentgate_github_requests_total{endpoint="/app/installations/{n}/access_tokens",installation="1",method="POST",status="201"}`: 1,
		`agentgate_queue_jobs{kind="webhook_event",state="completed"}`:                                                                 1,
	} {
		if got := p.metric(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := p.metric(`agentgate_github_rate_limit_remaining{installation="1",resource="core"}`); got <= 0 {
		t.Errorf("rate limit remaining gauge = %v, want > 0", got)
	}
	if status, body := p.get("/healthz"); status != http.StatusOK || !strings.Contains(body, "ok") {
		t.Errorf("/healthz: %d %s", status, body)
	}
	// Logs are JSON and carry the delivery id and installation.
	if !strings.Contains(p.logs.String(), `"delivery":"`+d.GUID+`"`) || !strings.Contains(p.logs.String(), `"installation":1`) {
		t.Errorf("logs do not carry delivery id %s and installation:\n%s", d.GUID, tail(p.logs.String(), 20))
	}
}

// TestCrashRecovery kills agentgate with SIGKILL while jobs are queued and
// running; after a restart every job completes, and each once in effect.
func TestCrashRecovery(t *testing.T) {
	fake := githubtest.New(t)
	const n = 20
	for i := int64(0); i < n; i++ {
		fake.AddInstallation(githubtest.Installation{ID: 100 + i, Account: fmt.Sprintf("org-%d", i), Repos: repos(fmt.Sprintf("org-%d", i), 10000+i*10, 2)})
	}
	// Slow GitHub down so the kill lands while work is in flight.
	fake.AddFault(githubtest.Fault{Path: "/installation/repositories", Kind: githubtest.FaultTimeout, Delay: 400 * time.Millisecond, Times: n})
	dataDir := t.TempDir()
	env := appEnv(t, fake, dataDir, "")
	env["AGENTGATE_QUEUE_WORKERS"] = "2"
	p := start(t, env)
	fake.SetWebhookURL(p.url + "/api/github/hook")
	ctx := context.Background()
	for i := int64(0); i < n; i++ {
		d, err := fake.SendWebhook(ctx, "installation", installationCreated(t, 100+i, fmt.Sprintf("org-%d", i)))
		if err != nil || d.StatusCode != http.StatusAccepted {
			t.Fatalf("delivery %d: status %d err %v", i, d.StatusCode, err)
		}
	}
	p.kill9()

	st := openStore(t, "sqlite", filepath.Join(dataDir, "agentgate.db"))
	unfinished := 0
	for state, c := range jobStates(t, st, "webhook_event") {
		if state != "completed" {
			unfinished += c
		}
	}
	if unfinished == 0 {
		t.Fatal("every job finished before the kill; the test proves nothing")
	}
	t.Logf("%d of %d jobs unfinished at SIGKILL", unfinished, n)

	p2 := start(t, env)
	fake.SetWebhookURL(p2.url + "/api/github/hook")
	waitFor(t, 60*time.Second, "all jobs completed after restart", func() bool {
		return jobStates(t, st, "webhook_event")["completed"] == n
	})
	for i := int64(0); i < n; i++ {
		if got := repoCount(t, st, 100+i); got != 2 {
			t.Errorf("installation %d has %d repositories, want 2", 100+i, got)
		}
	}
	if got := jobStates(t, st, "webhook_event"); len(got) != 1 {
		t.Errorf("job states after recovery = %v, want only completed", got)
	}
	if got := countDeliveries(t, st)[store.OutcomeQueued]; got != n {
		t.Errorf("%d deliveries recorded, want %d", got, n)
	}
}

// TestFaultyGitHub has the fake fail 30% of calls with 5xx or secondary rate
// limits; every job still completes, and no request after a rate limit comes
// before its Retry-After.
func TestFaultyGitHub(t *testing.T) {
	fake := githubtest.New(t, githubtest.WithSeed(7))
	const n = 10
	for i := int64(0); i < n; i++ {
		fake.AddInstallation(githubtest.Installation{ID: 200 + i, Account: fmt.Sprintf("team-%d", i), Repos: repos(fmt.Sprintf("team-%d", i), 20000+i*10, 3)})
	}
	fake.AddFault(githubtest.Fault{Probability: 0.15, Kind: githubtest.FaultServerError, Status: 502})
	fake.AddFault(githubtest.Fault{Probability: 0.18, Kind: githubtest.FaultSecondaryRateLimit, RetryAfter: time.Second})
	dataDir := t.TempDir()
	env := appEnv(t, fake, dataDir, "")
	env["AGENTGATE_QUEUE_MAX_ATTEMPTS"] = "25"
	p := start(t, env)
	fake.SetWebhookURL(p.url + "/api/github/hook")
	st := openStore(t, "sqlite", filepath.Join(dataDir, "agentgate.db"))
	for i := int64(0); i < n; i++ {
		d, err := fake.SendWebhook(context.Background(), "installation", installationCreated(t, 200+i, fmt.Sprintf("team-%d", i)))
		if err != nil || d.StatusCode != http.StatusAccepted {
			t.Fatalf("delivery %d: status %d err %v", i, d.StatusCode, err)
		}
	}
	waitFor(t, 90*time.Second, "all jobs completed despite faults", func() bool {
		return jobStates(t, st, "webhook_event")["completed"] == n
	})
	for i := int64(0); i < n; i++ {
		if got := repoCount(t, st, 200+i); got != 3 {
			t.Errorf("installation %d has %d repositories, want 3", 200+i, got)
		}
	}

	// Group GitHub calls by what they ask for and whose they are; after a
	// secondary rate limit, the next call of the same kind waits Retry-After.
	type key struct {
		path string
		inst int64
	}
	last := map[key]githubtest.Request{}
	faults, rateLimited := 0, 0
	for _, r := range fake.Requests() {
		k := key{r.Path, r.InstallationID}
		if prev, ok := last[k]; ok && prev.Fault == githubtest.FaultSecondaryRateLimit {
			if gap := r.Time.Sub(prev.Time); gap < 950*time.Millisecond {
				t.Errorf("%s (installation %d) retried %s after a secondary rate limit with Retry-After: 1", r.Path, r.InstallationID, gap)
			}
		}
		if r.Fault != 0 {
			faults++
		}
		if r.Fault == githubtest.FaultSecondaryRateLimit {
			rateLimited++
		}
		last[k] = r
	}
	if faults == 0 || rateLimited == 0 {
		t.Fatalf("the fake injected %d faults (%d rate limits); the test proves nothing", faults, rateLimited)
	}
	t.Logf("%d requests, %d faults, %d secondary rate limits", len(fake.Requests()), faults, rateLimited)
	if got := p.metric(`agentgate_queue_jobs{kind="webhook_event",state="discarded"}`); got != 0 {
		t.Errorf("%v jobs dead", got)
	}
}

// TestReconcilerRedeliversFailedDeliveries: a delivery GitHub could not hand
// over (agentgate was down) is found in the app's delivery log and
// redelivered, once.
func TestReconcilerRedeliversFailedDeliveries(t *testing.T) {
	fake := githubtest.New(t)
	fake.AddInstallation(githubtest.Installation{ID: 7, Account: "late-org", Repos: repos("late-org", 7000, 2)})
	fake.SetWebhookURL("http://" + freeAddr(t) + "/api/github/hook") // nobody listens
	failed, _ := fake.SendWebhook(context.Background(), "installation", installationCreated(t, 7, "late-org"))
	if failed.StatusCode != 0 {
		t.Fatalf("delivery to a closed port answered %d", failed.StatusCode)
	}
	dataDir := t.TempDir()
	env := appEnv(t, fake, dataDir, "")
	env["AGENTGATE_RECONCILE_INTERVAL"] = "1s"
	// The fake must know where agentgate is before the first reconcile, so
	// start on a known address.
	p := start(t, env)
	fake.SetWebhookURL(p.url + "/api/github/hook")
	st := openStore(t, "sqlite", filepath.Join(dataDir, "agentgate.db"))
	waitFor(t, 20*time.Second, "redelivered installation synced", func() bool { return repoCount(t, st, 7) == 2 })
	if _, err := st.Delivery(context.Background(), failed.GUID); err != nil {
		t.Errorf("redelivered delivery %s not recorded: %v", failed.GUID, err)
	}
	time.Sleep(2500 * time.Millisecond) // two more reconciler runs
	if got := len(requestsTo(fake, "POST /app/hook/deliveries/{delivery_id}/attempts")); got != 1 {
		t.Errorf("asked for %d redeliveries, want exactly 1", got)
	}
	if got := p.metric(`agentgate_reconcile_redeliveries_total{outcome="requested"}`); got != 1 {
		t.Errorf("redelivery metric = %v, want 1", got)
	}
}

// TestReplicasSharePostgres runs two agentgates on one PostgreSQL database:
// the reconciler runs on one leader, not on both, and jobs accepted by one
// replica are worked by the other when the first dies.
func TestReplicasSharePostgres(t *testing.T) {
	dsn := storetest.DSN(t, store.Postgres)
	fake := githubtest.New(t)
	const n = 8
	for i := int64(0); i < n; i++ {
		fake.AddInstallation(githubtest.Installation{ID: 300 + i, Account: fmt.Sprintf("pg-%d", i), Repos: repos(fmt.Sprintf("pg-%d", i), 30000+i*10, 2)})
	}
	envA := appEnv(t, fake, t.TempDir(), dsn)
	envA["AGENTGATE_RECONCILE_INTERVAL"] = "1s"
	envB := appEnv(t, fake, t.TempDir(), dsn)
	envB["AGENTGATE_RECONCILE_INTERVAL"] = "1s"
	a := start(t, envA)
	start(t, envB)

	// One leader: with both replicas up, about one reconcile per interval.
	listings := func() int { return len(requestsTo(fake, "GET /app/hook/deliveries")) }
	waitFor(t, 30*time.Second, "a leader's first reconcile", func() bool { return listings() > 0 })
	first := listings()
	const window = 5 * time.Second
	time.Sleep(window)
	if runs := listings() - first; runs > int(window/time.Second)+2 || runs < 2 {
		t.Errorf("reconciler ran %d times in %s with two replicas; want 2 to %d (one leader, 1s interval)", runs, window, int(window/time.Second)+2)
	}

	// Hold A's jobs up so they are still unfinished when A dies.
	fake.AddFault(githubtest.Fault{Path: "/installation/repositories", Kind: githubtest.FaultTimeout, Delay: 300 * time.Millisecond, Times: n})
	secret := []byte(fake.WebhookSecret())
	for i := int64(0); i < n; i++ {
		body := installationCreated(t, 300+i, fmt.Sprintf("pg-%d", i))
		if status, resp := post(t, a.url, "installation", fmt.Sprintf("pg-delivery-%d", i), body, githubtest.SignPayload(secret, body)); status != http.StatusAccepted {
			t.Fatalf("delivery %d to A: %d %v", i, status, resp)
		}
	}
	a.kill9()
	st := openStore(t, "postgres", dsn)
	waitFor(t, 90*time.Second, "B completes the jobs A accepted", func() bool {
		return jobStates(t, st, "webhook_event")["completed"] == n
	})
	for i := int64(0); i < n; i++ {
		if got := repoCount(t, st, 300+i); got != 2 {
			t.Errorf("installation %d has %d repositories, want 2", 300+i, got)
		}
	}
}

// TestConfigErrorsNameTheKey: a bad setting stops agentgate before it
// listens, with one line naming the variable.
func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"AGENTGATE_GITHUB_APP_ID=abc"}, "AGENTGATE_GITHUB_APP_ID"},
		{[]string{"AGENTGATE_GITHUB_APP_ID=5"}, "AGENTGATE_GITHUB_PRIVATE_KEY_FILE"},
		{[]string{"AGENTGATE_DATABASE_URL=mysql://db/x"}, "AGENTGATE_DATABASE_URL"},
		{[]string{"AGENTGATE_GITHUB_API_URL=not a url"}, "AGENTGATE_GITHUB_API_URL"},
		{[]string{"AGENTGATE_ADDR=nowhere"}, "AGENTGATE_ADDR"},
		{[]string{"AGENTGATE_PUBLIC_URL=ftp://x"}, "AGENTGATE_PUBLIC_URL"},
		{[]string{"AGENTGATE_QUEUE_WORKERS=0"}, "AGENTGATE_QUEUE_WORKERS"},
		{[]string{"AGENTGATE_WEBHOOK_SECRTE=x"}, "AGENTGATE_WEBHOOK_SECRTE"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			cmd := exec.Command(binary, "serve")
			cmd.Env = append(minimalEnv(), append(tc.env, "AGENTGATE_DATA_DIR="+t.TempDir())...)
			out, err := cmd.CombinedOutput()
			exit, ok := err.(*exec.ExitError)
			if !ok || exit.ExitCode() != 2 {
				t.Fatalf("exit = %v, want status 2; output:\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("output %q: want one line naming %s", out, tc.want)
			}
		})
	}
}

// TestFirstRunSetup registers the app through the manifest flow against the
// fake's web pages and API, then serves webhooks with what it saved.
func TestFirstRunSetup(t *testing.T) {
	fake := githubtest.New(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	publicURL := "http://" + addr
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(minimalEnv(),
		"AGENTGATE_ADDR="+addr, "AGENTGATE_DATA_DIR="+dataDir, "AGENTGATE_PUBLIC_URL="+publicURL,
		"AGENTGATE_GITHUB_API_URL="+fake.URL(), "AGENTGATE_GITHUB_WEB_URL="+fake.WebURL())
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, cmd: cmd, url: publicURL, logs: logs, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	var setupPath string
	waitFor(t, 20*time.Second, "setup link in the log", func() bool {
		_, after, ok := strings.Cut(logs.String(), `"setup_path":"`)
		if ok {
			setupPath, _, _ = strings.Cut(after, `"`)
			setupPath = strings.ReplaceAll(setupPath, `\u0026`, "&")
		}
		return ok
	})
	// Without the one-time token the page refuses: whoever reaches a fresh
	// server first must not register their app on it.
	if status, _ := p.get("/"); status != http.StatusForbidden {
		t.Errorf("setup page without token: %d, want 403", status)
	}
	if status, body := p.get(setupPath); status != http.StatusOK || !strings.Contains(body, "Register agentgate") {
		t.Fatalf("setup page with token: %d\n%s", status, body)
	}
	token := strings.TrimPrefix(setupPath, "/setup?token=")
	if resp, err := http.PostForm(publicURL+"/setup/start", map[string][]string{"name": {"x"}}); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("start without token: %v %v, want 403", resp.StatusCode, err)
	}
	if status, _ := p.get("/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz during setup = %d, want 503", status)
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := http.PostForm(publicURL+"/setup/start", map[string][]string{"name": {"agentgate-test"}, "org": {"octo-org"}, "token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action, manifest := formField(t, string(page), "action"), formField(t, string(page), "manifest")
	if !strings.HasPrefix(action, fake.WebURL()+"organizations/octo-org/settings/apps/new?state=") {
		t.Fatalf("form posts to %q", action)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(manifest), &m); err != nil {
		t.Fatalf("manifest is not JSON: %v\n%s", err, manifest)
	}
	if hook := m["hook_attributes"].(map[string]any)["url"]; hook != publicURL+"/api/github/hook" {
		t.Errorf("manifest webhook url = %v", hook)
	}
	perms := m["default_permissions"].(map[string]any)
	for _, p := range []string{"checks", "contents", "issues", "pull_requests", "statuses", "actions", "metadata", "members"} {
		if perms[p] == nil {
			t.Errorf("manifest lacks permission %s", p)
		}
	}
	if len(perms) != 8 {
		t.Errorf("manifest asks for %d permissions, want exactly the 8 the product needs: %v", len(perms), perms)
	}

	// The person's browser posts the manifest to GitHub, which redirects back.
	resp, err = noRedirect.PostForm(action, map[string][]string{"manifest": {manifest}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back := resp.Header.Get("Location")
	if !strings.HasPrefix(back, publicURL+"/setup/callback?") {
		t.Fatalf("GitHub redirected to %q", back)
	}
	// A forged state is refused and saves nothing.
	forged := strings.Replace(back, "state=", "state=x", 1)
	if status, _ := p.get(strings.TrimPrefix(forged, publicURL)); status != http.StatusBadRequest {
		t.Errorf("forged state: status %d, want 400", status)
	}
	if status, body := p.get(strings.TrimPrefix(back, publicURL)); status != http.StatusOK || !strings.Contains(body, "registered") {
		t.Fatalf("callback: %d %s", status, body)
	}
	for _, f := range []string{"github-app.json", "github-app.pem"} {
		info, err := os.Stat(filepath.Join(dataDir, f))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v mode %v, want 0600", f, err, info.Mode().Perm())
		}
	}
	// The same process now serves the app.
	waitFor(t, 20*time.Second, "ready after setup", func() bool { s, _ := p.get("/readyz"); return s == http.StatusOK })
	fake.SetWebhookURL(publicURL + "/api/github/hook")
	d, err := fake.SendWebhook(context.Background(), "ping", githubtest.Payload(t, "ping", nil))
	if err != nil || d.StatusCode != http.StatusOK {
		t.Errorf("ping after setup: %d %v %s", d.StatusCode, err, d.Body)
	}
}

// formField pulls an attribute or hidden input value out of the redirect page.
func formField(t *testing.T, page, name string) string {
	t.Helper()
	var marker string
	if name == "action" {
		marker = `action="`
	} else {
		marker = `name="` + name + `" value="`
	}
	i := strings.Index(page, marker)
	if i < 0 {
		t.Fatalf("no %s in page:\n%s", name, page)
	}
	rest := page[i+len(marker):]
	return html.UnescapeString(rest[:strings.Index(rest, `"`)])
}
