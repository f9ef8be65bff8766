package publish

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestNotesPublishReadBackAndReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	token := f.token(t, "write")
	commit := f.commits[0]
	bundles := f.bundles(t, commit, "provenance", "test-result", "review", "vsa")

	var gn GitNotes
	var argvs [][]string
	var envs [][]string
	var mu sync.Mutex
	gn.trace = func(argv, env []string) {
		mu.Lock()
		defer mu.Unlock()
		argvs, envs = append(argvs, argv), append(envs, env)
	}
	added, err := gn.Publish(ctx, f.url(), token, commit, bundles)
	if err != nil {
		t.Fatal(err)
	}
	if added != 4 {
		t.Errorf("added = %d, want 4", added)
	}
	wantLines(t, f.note(t, token, commit), bundles)
	if n := f.notesPushes(); n != 1 {
		t.Errorf("%d pushes to %s, want 1", n, NotesRef)
	}

	// The token reached git only through its environment.
	basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
	for i, argv := range argvs {
		if strings.Contains(strings.Join(argv, " "), token) || strings.Contains(strings.Join(argv, " "), basic) {
			t.Errorf("token in argv: %q", argv)
		}
		for _, kv := range envs[i] {
			if strings.Contains(kv, basic) && kv != "GIT_CONFIG_VALUE_0=Authorization: Basic "+basic {
				t.Errorf("token in environment variable %q", kv)
			}
		}
	}

	// A replay (a redelivered merge) adds nothing and pushes nothing.
	added, err = gn.Publish(ctx, f.url(), token, commit, bundles)
	if err != nil || added != 0 {
		t.Fatalf("replay: added %d, err %v; want 0, nil", added, err)
	}
	// Nor do the same bundles re-indented, or one given twice.
	indented := slices.Clone(bundles)
	indented[1] = []byte(strings.ReplaceAll(string(bundles[1]), `,"`, ",\n  \""))
	added, err = gn.Publish(ctx, f.url(), token, commit, append(indented, bundles[0]))
	if err != nil || added != 0 {
		t.Fatalf("replay with reformatted bundles: added %d, err %v; want 0, nil", added, err)
	}
	if n := f.notesPushes(); n != 1 {
		t.Errorf("%d pushes to %s after replays, want still 1", n, NotesRef)
	}
	wantLines(t, f.note(t, token, commit), bundles)

	// A new bundle among old ones is appended; the old lines stay as they were.
	extra := f.bundle(t, commit, "https://agentgate.dev/test/late", "late")
	added, err = gn.Publish(ctx, f.url(), token, commit, [][]byte{bundles[2], extra, extra})
	if err != nil || added != 1 {
		t.Fatalf("added %d, err %v; want 1, nil", added, err)
	}
	wantLines(t, f.note(t, token, commit), append(slices.Clone(bundles), extra))
}

func TestNotesSecondCommitKeepsFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	token := f.token(t, "write")
	first := f.commits[0]
	second := f.landCommit(t, "feature.go")
	b1 := f.bundles(t, first, "provenance", "vsa")
	b2 := f.bundles(t, second, "provenance", "review", "vsa")

	gn := &GitNotes{Name: "agentgate-test[bot]", Email: "4242+agentgate-test[bot]@users.noreply.github.com"}
	if added, err := gn.Publish(ctx, f.url(), token, first, b1); err != nil || added != 2 {
		t.Fatalf("first commit: added %d, err %v", added, err)
	}
	if added, err := gn.Publish(ctx, f.url(), token, second, b2); err != nil || added != 3 {
		t.Fatalf("second commit: added %d, err %v", added, err)
	}
	wantLines(t, f.note(t, token, first), b1)
	wantLines(t, f.note(t, token, second), b2)

	// Two notes commits, the second on top of the first, by the bot.
	dir := f.cloneNotes(t, token)
	log := plainGit(t, dir, "log", "--format=%an <%ae>|%cn|%P", NotesRef)
	lines := strings.Split(log, "\n")
	if len(lines) != 2 {
		t.Fatalf("notes history:\n%s\nwant 2 commits", log)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "agentgate-test[bot] <4242+agentgate-test[bot]@users.noreply.github.com>|agentgate-test[bot]|") {
			t.Errorf("notes commit %q is not by the configured identity", l)
		}
	}
	if parents := strings.Fields(strings.SplitN(lines[0], "|", 3)[2]); len(parents) != 1 {
		t.Errorf("the second notes commit has parents %v, want the first", parents)
	}
	// The main branch is untouched.
	if sha, _ := f.s.Branch(testRepo, "main"); sha != second {
		t.Errorf("main = %s, want %s", sha, second)
	}
}

// A writer that pushes notes between our fetch and our push makes the push
// fail its lease; Publish reads again, keeps the other writer's notes, and
// lands its own.
func TestNotesConcurrentWriterBetweenFetchAndPush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	token := f.token(t, "write")
	first := f.commits[0]
	second := f.landCommit(t, "other.go")
	ours := f.bundles(t, first, "provenance", "vsa")
	seed := f.bundles(t, first, "seed")

	gn := &GitNotes{}
	if _, err := gn.Publish(ctx, f.url(), token, first, seed); err != nil {
		t.Fatal(err)
	}

	// The other writer, with plain git: a line on the same commit's note
	// and a note on another commit.
	theirs := `{"someone":"else"}`
	pushed := 0
	gn.beforePush = func(attempt int) {
		if attempt != 1 {
			return
		}
		dir := f.cloneNotes(t, token)
		plainGit(t, dir, "notes", "--ref=agentgate", "append", "-m", theirs, first)
		plainGit(t, dir, "notes", "--ref=agentgate", "add", "-m", "their note", second)
		plainGit(t, dir, "push", "--quiet", "origin", NotesRef+":"+NotesRef)
		pushed++
	}
	added, err := gn.Publish(ctx, f.url(), token, first, ours)
	if err != nil {
		t.Fatal(err)
	}
	if pushed != 1 || added != 2 {
		t.Errorf("the other writer pushed %d times, we added %d; want 1 and 2", pushed, added)
	}
	got := f.note(t, token, first)
	want := string(seed[0]) + "\n" + theirs + "\n" + string(ours[0]) + "\n" + string(ours[1]) + "\n"
	if got != want {
		t.Errorf("note on %s =\n%s\nwant\n%s", first, clip(got), clip(want))
	}
	if got := f.note(t, token, second); got != "their note\n" {
		t.Errorf("their note on %s = %q, want it kept", second, got)
	}
	// Ours, theirs, ours again: the rejected push changed nothing.
	if n := f.notesPushes(); n != 3 {
		t.Errorf("%d pushes to %s, want 3", n, NotesRef)
	}
}

// Publishers racing on the same ref (two on one commit, two on another)
// all land: each rejection means another one landed.
func TestNotesRacingPublishers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	token := f.token(t, "write")
	first := f.commits[0]
	second := f.landCommit(t, "race.go")
	jobs := []struct {
		commit  string
		bundles [][]byte
	}{
		{first, f.bundles(t, first, "a1", "a2")},
		{first, f.bundles(t, first, "a3")},
		{second, f.bundles(t, second, "b1")},
		{second, f.bundles(t, second, "b2", "b3")},
	}
	gn := &GitNotes{Attempts: len(jobs)}
	start := make(chan struct{})
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			<-start
			_, errs[i] = gn.Publish(ctx, f.url(), token, j.commit, j.bundles)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, commit := range []string{first, second} {
		var want []string
		for _, j := range jobs {
			if j.commit == commit {
				for _, b := range j.bundles {
					want = append(want, string(b))
				}
			}
		}
		got := strings.Split(strings.TrimSuffix(f.note(t, token, commit), "\n"), "\n")
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("note on %s has %d lines, want the %d bundles of its publishers", commit, len(got), len(want))
		}
	}
}

func TestNotesRefusedCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	commit := f.commits[0]
	bundles := f.bundles(t, commit, "provenance")
	gn := &GitNotes{}

	const wrong = "ghs_notAValidTokenAtAll0123456789"
	_, err := gn.Publish(ctx, f.url(), wrong, commit, bundles)
	if !errors.Is(err, ErrAuthentication) {
		t.Fatalf("wrong token: err = %v, want ErrAuthentication", err)
	}
	msg := err.Error()
	if strings.Contains(msg, wrong) || strings.Contains(msg, base64.StdEncoding.EncodeToString([]byte("x-access-token:"+wrong))) {
		t.Errorf("the error repeats the token: %s", msg)
	}
	if !strings.Contains(msg, NotesRef) || !strings.Contains(msg, f.url()) || !strings.Contains(msg, commit[:12]) {
		t.Errorf("error %q does not say what was published where", msg)
	}

	// A token that may read but not write fails at the push, as clearly.
	readOnly := f.token(t, "read")
	_, err = gn.Publish(ctx, f.url(), readOnly, commit, bundles)
	if !errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), "push") {
		t.Errorf("read-only token: err = %v, want a refused push", err)
	}
	if n := f.notesPushes(); n != 0 {
		t.Errorf("%d pushes landed", n)
	}
}

func TestNotesRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gn := &GitNotes{}
	commit := strings.Repeat("ab", 20)
	ok := [][]byte{[]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`)}
	for _, tc := range []struct {
		name, url, commit string
		bundles           [][]byte
		want              string
	}{
		{"credentials in the URL", "https://x-access-token:ghs_secret@github.com/o/r.git", commit, ok, "carries credentials"},
		{"option as URL", "--upload-pack=evil", commit, ok, "starts with '-'"},
		{"short commit", "https://github.com/o/r.git", "abc123", ok, "not a full commit id"},
		{"not JSON", "https://github.com/o/r.git", commit, [][]byte{[]byte("{nope")}, "bundle 1 of 1 is not JSON"},
		{"not an object", "https://github.com/o/r.git", commit, [][]byte{ok[0], []byte(`["x"]`)}, "bundle 2 of 2 is not a JSON object"},
	} {
		_, err := gn.Publish(ctx, tc.url, "ghs_tok", tc.commit, tc.bundles)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "ghs_secret") {
			t.Errorf("%s: the error repeats the URL's token: %v", tc.name, err)
		}
	}
	// Nothing to publish is no work (and no network).
	if added, err := gn.Publish(ctx, "https://github.invalid/o/r.git", "", commit, nil); added != 0 || err != nil {
		t.Errorf("no bundles: %d, %v", added, err)
	}
}
