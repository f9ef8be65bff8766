package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/gitexec"
)

// NotesRef is the notes ref agentgate writes: one note per landed commit,
// one bundle per line.
const NotesRef = "refs/notes/agentgate"

// ErrNotesContended is wrapped by Publish's error when every attempt found
// that someone else had moved the notes ref between its fetch and its push.
var ErrNotesContended = errors.New("the notes ref kept moving under concurrent writers")

// errMoved is one push refused because the notes ref was no longer where
// this attempt read it.
var errMoved = errors.New("the notes ref moved")

// GitNotes publishes bundles as git notes under NotesRef. The zero value
// is ready to use; a GitNotes is safe for concurrent use.
type GitNotes struct {
	// Git is the git binary; "" means "git" found on PATH.
	Git string
	// TempDir is where each Publish makes its scratch repository; "" means
	// os.TempDir().
	TempDir string
	// Name and Email are the author and committer of notes commits; ""
	// means "agentgate" <agentgate@users.noreply.github.com>. The app's bot
	// identity ("<slug>[bot]", "<id>+<slug>[bot]@users.noreply.github.com")
	// is the natural choice.
	Name, Email string
	// Attempts bounds how often Publish reads and pushes again when other
	// writers move the notes ref meanwhile; 0 means 5. Each rejection means
	// another writer succeeded, so k writers racing need at most k attempts.
	Attempts int
	// Log receives what Publish does; nil discards it.
	Log *slog.Logger

	// trace sees every git command's argv and environment (a test seam).
	trace func(argv, env []string)
	// beforePush runs after a notes commit is made and before it is
	// pushed (a test seam: a competing writer pushes in between).
	beforePush func(attempt int)
}

// Publish adds bundles (each a JSON object; they are written compact, one
// per line) to the note on commit in the repository at repoURL, and
// returns how many it added. A bundle already in the note, or given twice,
// is added once, so publishing the same bundles again adds nothing and
// pushes nothing. token is an installation token with contents:write
// ("" for a remote that needs none, e.g. a local path).
//
// The work happens in a scratch bare repository that is removed
// afterwards: fetch NotesRef (depth 1: the notes tree at its tip is all a
// new note needs), write the note, push with a lease on the fetched
// commit (or on the ref's absence), and on a rejection start over from the
// fetch. Notes of other commits, and lines other writers added to this
// commit's note, are kept.
func (n *GitNotes) Publish(ctx context.Context, repoURL, token, commit string, bundles [][]byte) (added int, err error) {
	r := gitexec.Remote{URL: repoURL, Token: token}
	where := fmt.Sprintf("%s of %s", NotesRef, r)
	if err := r.Check(); err != nil {
		return 0, fmt.Errorf("publish notes: %w", err)
	}
	if !objectID.MatchString(commit) {
		return 0, fmt.Errorf("publish notes to %s: %q is not a full commit id", where, commit)
	}
	lines, err := bundleLines(bundles)
	if err != nil {
		return 0, fmt.Errorf("publish notes on %s to %s: %w", short(commit), where, err)
	}
	if len(lines) == 0 {
		return 0, nil
	}

	dir, err := os.MkdirTemp(n.TempDir, "agentgate-notes-")
	if err != nil {
		return 0, fmt.Errorf("publish notes on %s to %s: %w", short(commit), where, err)
	}
	defer os.RemoveAll(dir)
	g := &scratch{git: &gitexec.Git{Path: n.Git, Trace: n.trace}, gitDir: dir}
	if _, err := g.run(ctx, gitexec.Cmd{Args: []string{"init", "--bare", "--quiet", "--template=", dir}}); err != nil {
		return 0, fmt.Errorf("publish notes on %s to %s: scratch repository: %w", short(commit), where, err)
	}

	attempts := n.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		added, err = n.attempt(ctx, g, r, commit, lines, attempt)
		if err == nil {
			n.log().Info("git notes published", "remote", r.String(), "ref", NotesRef,
				"commit", commit, "added", added, "attempts", attempt, "duration", time.Since(start).Round(time.Millisecond))
			return added, nil
		}
		if !errors.Is(err, errMoved) {
			return 0, fmt.Errorf("publish notes on %s to %s: %w", short(commit), where, err)
		}
		if attempt >= attempts {
			return 0, fmt.Errorf("publish notes on %s to %s: %w (%d attempts)", short(commit), where, ErrNotesContended, attempt)
		}
		n.log().Debug("notes ref moved before the push, reading it again", "remote", r.String(), "commit", commit, "attempt", attempt)
		// A little jitter keeps racing writers from meeting again at once.
		wait := time.Duration(attempt)*20*time.Millisecond + rand.N(30*time.Millisecond)
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("publish notes on %s to %s: %w", short(commit), where, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// attempt is one fetch, note, push. It returns an error wrapping errMoved
// when the push found the notes ref elsewhere than the fetch did.
func (n *GitNotes) attempt(ctx context.Context, g *scratch, r gitexec.Remote, commit string, lines []string, attempt int) (int, error) {
	old, err := fetchNotes(ctx, g, r)
	if err != nil {
		return 0, err
	}
	var existing string
	if old != "" {
		// "git notes list <object>" prints the note's blob, or exits 1 when
		// the object has none.
		blob, err := g.output(ctx, gitexec.Cmd{Args: []string{"notes", "--ref=" + NotesRef, "list", commit}})
		var gerr *gitexec.Error
		switch {
		case errors.As(err, &gerr) && gerr.ExitCode == 1:
			// No note on commit yet.
		case err != nil:
			return 0, fmt.Errorf("read the note: %w", err)
		default:
			b, err := g.run(ctx, gitexec.Cmd{Args: []string{"cat-file", "blob", blob}})
			if err != nil {
				return 0, fmt.Errorf("read the note: %w", err)
			}
			existing = string(b)
		}
	}
	note, added := mergeNote(existing, lines)
	if added == 0 {
		return 0, nil
	}

	// The note is written as a blob and attached with -C, which takes the
	// blob as it is: -m and -F would run git's message clean-up over it.
	//
	// The landed commit itself is never fetched: a note is a tree entry
	// named after the object id, and `git notes add` with a full object id
	// resolves it without reading the object (get_oid on 40 hex digits does
	// not look it up), so the cheapest correct scratch repository holds
	// only the notes ref's tip. Nor does the push need the commit: the
	// remote checks the connectivity of the notes commit, whose tree names
	// the annotated object by path only.
	blob, err := g.output(ctx, gitexec.Cmd{Args: []string{"hash-object", "-w", "--stdin"}, Stdin: strings.NewReader(note)})
	if err != nil {
		return 0, fmt.Errorf("write the note: %w", err)
	}
	if _, err := g.run(ctx, gitexec.Cmd{Env: n.identity(), Args: []string{"notes", "--ref=" + NotesRef, "add", "--force", "-C", blob, commit}}); err != nil {
		return 0, fmt.Errorf("write the note: %w", err)
	}
	if n.beforePush != nil {
		n.beforePush(attempt)
	}
	out, err := g.run(ctx, gitexec.Cmd{Token: r.Token, Args: []string{"push", "--porcelain", "--no-verify",
		"--force-with-lease=" + NotesRef + ":" + old, "--", r.URL, NotesRef + ":" + NotesRef}})
	if err != nil {
		var stderr string
		var gerr *gitexec.Error
		if errors.As(err, &gerr) {
			stderr = gerr.Stderr
		}
		if reason, ok := pushMoved(string(out), stderr); ok {
			return 0, fmt.Errorf("push: %w (%s)", errMoved, reason)
		}
		if reason := gitexec.PushRejection(string(out)); reason != "" {
			return 0, fmt.Errorf("push: rejected: %s: %w", gitexec.Redact(reason, r.Token), err)
		}
		return 0, fmt.Errorf("push: %w", err)
	}
	return added, nil
}

// fetchNotes fetches NotesRef's tip into the scratch repository (replacing
// what an earlier attempt fetched or wrote) and returns it, or "" when the
// remote has no notes yet.
func fetchNotes(ctx context.Context, g *scratch, r gitexec.Remote) (string, error) {
	_, err := g.run(ctx, gitexec.Cmd{Token: r.Token, Args: []string{"fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
		"--depth=1", "--", r.URL, "+" + NotesRef + ":" + NotesRef}})
	var gerr *gitexec.Error
	if errors.As(err, &gerr) && strings.Contains(gerr.Stderr, "couldn't find remote ref") {
		// No notes yet: start from nothing, even if an earlier attempt
		// wrote a local notes commit.
		if _, err := g.run(ctx, gitexec.Cmd{Args: []string{"update-ref", "-d", NotesRef}}); err != nil {
			return "", fmt.Errorf("reset the notes ref: %w", err)
		}
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("fetch: %w", err)
	}
	out, err := g.output(ctx, gitexec.Cmd{Args: []string{"rev-parse", "--verify", "--quiet", NotesRef + "^{commit}"}})
	if err != nil {
		return "", fmt.Errorf("fetch: %s is not a commit: %w", NotesRef, err)
	}
	return out, nil
}

// bundleLines renders each bundle as one line of compact JSON, dropping
// repeats. Compact JSON has no raw newline (JSON strings escape them).
func bundleLines(bundles [][]byte) ([]string, error) {
	var lines []string
	seen := map[string]bool{}
	for i, b := range bundles {
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return nil, fmt.Errorf("bundle %d of %d is not JSON: %w", i+1, len(bundles), err)
		}
		if buf.Len() == 0 || buf.Bytes()[0] != '{' {
			return nil, fmt.Errorf("bundle %d of %d is not a JSON object", i+1, len(bundles))
		}
		if line := buf.String(); !seen[line] {
			seen[line] = true
			lines = append(lines, line)
		}
	}
	return lines, nil
}

// mergeNote appends to an existing note the lines it lacks, and says how
// many that was. Blank lines are dropped; other lines, including ones that
// are not bundles (someone else's), are kept as they are. An existing line
// matches a new one if their compact forms are equal.
func mergeNote(existing string, lines []string) (string, int) {
	var out []string
	have := map[string]bool{}
	for _, l := range strings.Split(existing, "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, l)
		have[l] = true
		var buf bytes.Buffer
		if json.Compact(&buf, []byte(l)) == nil {
			have[buf.String()] = true
		}
	}
	added := 0
	for _, l := range lines {
		if !have[l] {
			have[l] = true
			out = append(out, l)
			added++
		}
	}
	return strings.Join(out, "\n") + "\n", added
}

// pushMoved finds, in `git push --porcelain` output, the ref rejected
// because it was not where the lease said: "(stale info)", or
// "(non-fast-forward)" / "(fetch first)" from a server that checks that
// instead, or a remote refusal because another push updated the ref
// between the advertisement and the update ("failed to update ref" with
// "cannot lock ref ...: is at X but expected Y" or "reference already
// exists" from the remote, which compares and swaps under a lock).
func pushMoved(out, stderr string) (string, bool) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "!") {
			continue
		}
		if strings.Contains(line, "[rejected]") {
			for _, r := range []string{"stale info", "non-fast-forward", "fetch first", "already exists"} {
				if strings.Contains(line, "("+r+")") {
					return r, true
				}
			}
		}
		if strings.Contains(line, "[remote rejected]") && strings.Contains(stderr, "cannot lock ref") &&
			(strings.Contains(stderr, "but expected") || strings.Contains(stderr, "reference already exists")) {
			return "updated by another push meanwhile", true
		}
	}
	return "", false
}

func (n *GitNotes) identity() []string {
	name, email := n.Name, n.Email
	if name == "" {
		name = "agentgate"
	}
	if email == "" {
		email = "agentgate@users.noreply.github.com"
	}
	return []string{
		"GIT_AUTHOR_NAME=" + name, "GIT_AUTHOR_EMAIL=" + email,
		"GIT_COMMITTER_NAME=" + name, "GIT_COMMITTER_EMAIL=" + email,
	}
}

func (n *GitNotes) log() *slog.Logger {
	if n.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return n.Log
}

// objectID is a full SHA-1 or SHA-256 object id.
var objectID = regexp.MustCompile(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
