package store_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/store"
	"github.com/agentgate/agentgate/store/storetest"
)

func newTask(id string, issue int, now time.Time) store.Task {
	return store.Task{
		ID: id, InstallationID: 7, Repository: "o/r", RepositoryID: 99, IssueNumber: issue, IssueTitle: "Fix it",
		State: "queued", Requester: "alice", RequesterID: 11, TriggerKind: "label", TriggerDelivery: "d-1",
		Agent: "scripted", Runner: "exec", Branch: "agent/issue-1-" + id, CreatedAt: now, UpdatedAt: now,
	}
}

func insertTask(t *testing.T, st *store.Store, task store.Task) bool {
	t.Helper()
	var inserted bool
	err := st.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		inserted, err = tx.InsertTask(context.Background(), task, store.TaskEvent{At: task.CreatedAt, Actor: task.Requester, Reason: "label agent"})
		return err
	})
	if err != nil {
		t.Fatalf("InsertTask: %v", err)
	}
	return inserted
}

func TestOneActiveTaskPerIssue(t *testing.T) {
	now := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			// Racing inserts for one issue (a label and a command at once): one wins.
			var wg sync.WaitGroup
			wins := make(chan string, 8)
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := "t-race" + string(rune('a'+i))
					if insertTask(t, st, newTask(id, 1, now)) {
						wins <- id
					}
				}()
			}
			wg.Wait()
			close(wins)
			var winners []string
			for id := range wins {
				winners = append(winners, id)
			}
			if len(winners) != 1 {
				t.Fatalf("%d racing inserts won, want exactly 1: %v", len(winners), winners)
			}
			first := winners[0]
			// Another issue is independent.
			if !insertTask(t, st, newTask("t-other", 2, now)) {
				t.Fatal("a task for another issue was refused")
			}
			// Once the first task is finished, a new one may start.
			err := st.InTx(ctx, func(tx *store.Tx) error {
				return tx.TransitionTask(ctx, first, "queued", "failed", false, store.TaskEvent{At: now.Add(time.Minute), Actor: "agentgate", Reason: "agent exited 1"})
			})
			if err != nil {
				t.Fatalf("TransitionTask: %v", err)
			}
			if !insertTask(t, st, newTask("t-second", 1, now.Add(2*time.Minute))) {
				t.Fatal("a new task for an issue whose task failed was refused")
			}
			got, err := st.LatestTaskOfIssue(ctx, "o/r", 1)
			if err != nil || got.ID != "t-second" || !got.Active {
				t.Fatalf("LatestTaskOfIssue = %+v, %v; want active t-second", got, err)
			}
			old, err := st.GetTask(ctx, first)
			if err != nil || old.Active || old.State != "failed" || old.Reason != "agent exited 1" {
				t.Fatalf("finished task = %+v, %v", old, err)
			}
		})
	}
}

func TestTransitionsAreCompareAndSetAndAudited(t *testing.T) {
	now := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			insertTask(t, st, newTask("t-1", 5, now))
			step := func(from, to, actor string, at time.Time) error {
				return st.InTx(ctx, func(tx *store.Tx) error {
					return tx.TransitionTask(ctx, "t-1", from, to, true, store.TaskEvent{At: at, Actor: actor, Reason: from + "→" + to, DeliveryID: "d-" + to})
				})
			}
			if err := step("queued", "planning", "agentgate", now.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			// A second command that read the old state loses.
			if err := step("queued", "cancelled", "bob", now.Add(2*time.Second)); !errors.Is(err, store.ErrStale) {
				t.Fatalf("stale transition error = %v, want ErrStale", err)
			}
			if err := step("planning", "awaiting_approval", "agentgate", now.Add(3*time.Second)); err != nil {
				t.Fatal(err)
			}
			evs, err := st.TaskEvents(ctx, "t-1")
			if err != nil {
				t.Fatal(err)
			}
			var got [][3]string
			for i, ev := range evs {
				if ev.Seq != i+1 {
					t.Errorf("event %d has seq %d", i, ev.Seq)
				}
				got = append(got, [3]string{ev.FromState, ev.ToState, ev.Actor})
			}
			want := [][3]string{{"", "queued", "alice"}, {"queued", "planning", "agentgate"}, {"planning", "awaiting_approval", "agentgate"}}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("events = %v, want %v", got, want)
			}
			if !evs[2].At.Equal(now.Add(3*time.Second)) || evs[2].DeliveryID != "d-awaiting_approval" {
				t.Errorf("event 3 = %+v", evs[2])
			}
		})
	}
}

func TestPlansBindApprovalToDigest(t *testing.T) {
	now := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			insertTask(t, st, newTask("t-1", 5, now))
			p := store.Plan{TaskID: "t-1", ID: "p-0123abcd", SHA256: "0123abcd" + "00", Body: "# Plan\n", Paths: []string{"a/**"},
				Acceptance: []string{"go test ./..."}, RunID: "r-1", CreatedAt: now}
			if err := st.InsertPlan(ctx, p); err != nil {
				t.Fatal(err)
			}
			if err := st.InsertPlan(ctx, p); err != nil {
				t.Fatalf("inserting the same plan again: %v", err)
			}
			other := p
			other.SHA256, other.Body = "0123abcd"+"11", "# Another plan\n"
			if err := st.InsertPlan(ctx, other); !errors.Is(err, store.ErrPlanIDCollision) {
				t.Fatalf("a different plan under the same id: %v, want ErrPlanIDCollision", err)
			}
			if err := st.ApprovePlan(ctx, "t-1", p.ID, "ffff", "bob", now); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("approval with another digest = %v, want ErrNotFound", err)
			}
			if err := st.ApprovePlan(ctx, "t-1", p.ID, p.SHA256, "bob", now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			got, err := st.GetPlan(ctx, "t-1", p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.ApprovedBy != "bob" || !got.ApprovedAt.Equal(now.Add(time.Minute)) || !reflect.DeepEqual(got.Paths, p.Paths) || got.Body != p.Body {
				t.Fatalf("plan = %+v", got)
			}
		})
	}
}

func TestRunsClaimHeartbeatAndStaleness(t *testing.T) {
	now := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			insertTask(t, st, newTask("t-1", 5, now))
			r1, err := st.InsertRun(ctx, store.Run{ID: "r-1", TaskID: "t-1", Kind: "plan", State: "queued", CreatedAt: now})
			if err != nil || r1.Seq != 1 {
				t.Fatalf("InsertRun = %+v, %v", r1, err)
			}
			r2, err := st.InsertRun(ctx, store.Run{ID: "r-2", TaskID: "t-1", Kind: "implement", State: "queued", CreatedAt: now})
			if err != nil || r2.Seq != 2 {
				t.Fatalf("second InsertRun = %+v, %v", r2, err)
			}
			ok, err := st.ClaimRun(ctx, "r-1", "replica-a", now, now.Add(time.Hour))
			if err != nil || !ok {
				t.Fatalf("ClaimRun = %v, %v", ok, err)
			}
			if ok, _ := st.ClaimRun(ctx, "r-1", "replica-b", now, now.Add(time.Hour)); ok {
				t.Fatal("a running run was claimed twice")
			}
			if n, err := st.RunningInRepository(ctx, "o/r", ""); err != nil || n != 1 {
				t.Fatalf("RunningInRepository = %d, %v; want 1", n, err)
			}
			if state, err := st.HeartbeatRun(ctx, "r-1", "replica-a", now.Add(10*time.Second)); err != nil || state != "running" {
				t.Fatalf("HeartbeatRun = %q, %v", state, err)
			}
			stale, err := st.StaleRuns(ctx, now.Add(5*time.Second))
			if err != nil || len(stale) != 0 {
				t.Fatalf("StaleRuns after a heartbeat = %v, %v; want none", stale, err)
			}
			stale, err = st.StaleRuns(ctx, now.Add(time.Minute))
			if err != nil || len(stale) != 1 || stale[0].ID != "r-1" {
				t.Fatalf("StaleRuns = %v, %v; want r-1", stale, err)
			}
			log := "line 1\nline 2\n"
			err = st.FinishRun(ctx, "r-1", store.RunUpdate{State: "interrupted", Error: "agentgate restarted", Log: &log, FinishedAt: now.Add(time.Minute)}, "running")
			if err != nil {
				t.Fatal(err)
			}
			// A worker that comes back late cannot overwrite the verdict.
			err = st.FinishRun(ctx, "r-1", store.RunUpdate{State: "succeeded", FinishedAt: now.Add(2 * time.Minute)}, "running")
			if !errors.Is(err, store.ErrStale) {
				t.Fatalf("late FinishRun = %v, want ErrStale", err)
			}
			// Recording the log of an interrupted run keeps its reason.
			if err := st.FinishRun(ctx, "r-1", store.RunUpdate{Log: &log, FinishedAt: now.Add(2 * time.Minute)}, "interrupted"); err != nil {
				t.Fatal(err)
			}
			if state, _ := st.HeartbeatRun(ctx, "r-1", "replica-a", now.Add(2*time.Minute)); state != "interrupted" {
				t.Fatalf("heartbeat after interruption reports %q", state)
			}
			got, err := st.GetRun(ctx, "r-1")
			if err != nil || got.State != "interrupted" || got.Log != log || got.Error != "agentgate restarted" || got.Owner != "replica-a" {
				t.Fatalf("run = %+v, %v", got, err)
			}
			runs, err := st.RunsOfTask(ctx, "t-1")
			if err != nil || len(runs) != 2 || runs[1].ID != "r-2" {
				t.Fatalf("RunsOfTask = %v, %v", runs, err)
			}
		})
	}
}
