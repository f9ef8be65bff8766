package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/gitexec"
)

// ErrNoChanges is Collect's answer when the agent's files are those of the
// base commit.
var ErrNoChanges = errors.New("the agent made no changes")

// Commit describes the commit Collect makes. Author and committer are both
// AuthorName <AuthorEmail> at When (now if zero).
type Commit struct {
	Subject string
	Body    string
	// Trailers close the message in this order, e.g.
	// {"Co-authored-by", "alice <1+alice@users.noreply.github.com>"},
	// {"Agent-Task", "t-..."}.
	Trailers    [][2]string
	AuthorName  string
	AuthorEmail string
	When        time.Time
}

// Message is the commit message: the subject, a blank line, the body, a
// blank line and the trailers, one per line.
func (c Commit) Message() string {
	var sb strings.Builder
	sb.WriteString(strings.TrimSpace(c.Subject))
	sb.WriteString("\n")
	if body := strings.TrimSpace(c.Body); body != "" {
		sb.WriteString("\n" + body + "\n")
	}
	if len(c.Trailers) > 0 {
		sb.WriteString("\n")
		for _, t := range c.Trailers {
			sb.WriteString(t[0] + ": " + t[1] + "\n")
		}
	}
	return sb.String()
}

func (c Commit) check() error {
	if strings.TrimSpace(c.Subject) == "" || strings.ContainsAny(strings.TrimSpace(c.Subject), "\r\n") {
		return errors.New("commit subject must be one non-empty line")
	}
	if strings.TrimSpace(c.AuthorName) == "" || strings.ContainsAny(c.AuthorName, "<>\r\n\x00") {
		return fmt.Errorf("commit author name %q is not usable", c.AuthorName)
	}
	if strings.TrimSpace(c.AuthorEmail) == "" || strings.ContainsAny(c.AuthorEmail, "<>\r\n\x00 ") {
		return fmt.Errorf("commit author email %q is not usable", c.AuthorEmail)
	}
	for _, t := range c.Trailers {
		if t[0] == "" || strings.ContainsFunc(t[0], func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
		}) {
			return fmt.Errorf("commit trailer key %q is not a token", t[0])
		}
		if strings.TrimSpace(t[1]) == "" || strings.ContainsAny(t[1], "\r\n\x00") {
			return fmt.Errorf("commit trailer %s has a value that is empty or spans lines", t[0])
		}
	}
	return nil
}

// Result is the commit Collect made.
type Result struct {
	// SHA is the new commit, Tree its tree.
	SHA, Tree string
	// Files are the files it changes from Base.
	Files []File
}

// File is one file the commit changes.
type File struct {
	Path string
	// OldPath is the path before a rename.
	OldPath string
	// Status is A (added), M (modified, or its type changed), D (deleted)
	// or R (renamed).
	Status string
	// Additions and Deletions are line counts (0 for binary files).
	Additions, Deletions int
	// Binary is set for files git does not count lines of.
	Binary bool
}

// Collect turns whatever the agent left in the worktree into one commit
// on top of Base, made by agentgate. The agent may have committed, staged,
// or written objects only its own git directory has; none of that
// matters: Collect starts from a fresh index holding Base's tree (what
// `git reset --mixed Base` would leave, without touching the agent's
// files), adds every file the way `git add -A` does (.gitignore applies),
// and commits the result with c's author, committer, date and message,
// without hooks or signing. It reads nothing from the worktree's .git (the
// agent controls it): git runs with the mirror as GIT_DIR and the
// worktree as GIT_WORK_TREE. If the files are Base's, it returns
// ErrNoChanges. The new commit is recorded as the worktree's HEAD in the
// mirror's registration, which keeps it from gc until it is pushed.
func (w *Worktree) Collect(ctx context.Context, c Commit) (Result, error) {
	if err := c.check(); err != nil {
		return Result{}, fmt.Errorf("collect the change in %s: %w", w.Path, err)
	}
	if c.When.IsZero() {
		c.When = time.Now()
	}
	tmp, err := os.MkdirTemp("", "agentgate-index-")
	if err != nil {
		return Result{}, fmt.Errorf("collect the change in %s: %w", w.Path, err)
	}
	defer os.RemoveAll(tmp)
	env := []string{"GIT_DIR=" + w.Mirror, "GIT_WORK_TREE=" + w.Path, "GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	steps := [][]string{
		{"read-tree", w.Base},
		{"add", "--all"},
	}
	for _, args := range steps {
		if _, err := w.g().Run(ctx, gitexec.Cmd{Dir: w.Path, Env: env, Args: args}); err != nil {
			return Result{}, fmt.Errorf("collect the change in %s: %w", w.Path, err)
		}
	}
	tree, err := w.g().Output(ctx, gitexec.Cmd{Dir: w.Path, Env: env, Args: []string{"write-tree"}})
	if err != nil {
		return Result{}, fmt.Errorf("collect the change in %s: %w", w.Path, err)
	}
	baseTree, err := w.g().Output(ctx, gitexec.Cmd{Env: env[:1], Args: []string{"rev-parse", "--verify", w.Base + "^{tree}"}})
	if err != nil {
		return Result{}, fmt.Errorf("collect the change in %s: %w", w.Path, err)
	}
	if tree == baseTree {
		return Result{}, ErrNoChanges
	}
	files, err := w.changes(ctx, w.Base, tree)
	if err != nil {
		return Result{}, fmt.Errorf("collect the change in %s: %w", w.Path, err)
	}
	date := gitDate(c.When)
	sha, err := w.g().Output(ctx, gitexec.Cmd{
		Env: []string{
			"GIT_DIR=" + w.Mirror,
			"GIT_AUTHOR_NAME=" + c.AuthorName, "GIT_AUTHOR_EMAIL=" + c.AuthorEmail, "GIT_AUTHOR_DATE=" + date,
			"GIT_COMMITTER_NAME=" + c.AuthorName, "GIT_COMMITTER_EMAIL=" + c.AuthorEmail, "GIT_COMMITTER_DATE=" + date,
		},
		Stdin: strings.NewReader(c.Message()),
		Args:  []string{"commit-tree", "--no-gpg-sign", "-p", w.Base, "-F", "-", tree},
	})
	if err != nil {
		return Result{}, fmt.Errorf("commit the change in %s: %w", w.Path, err)
	}
	if !isSHA(sha) {
		return Result{}, fmt.Errorf("commit the change in %s: git commit-tree printed %q", w.Path, sha)
	}
	if w.admin != "" {
		if _, err := w.g().Run(ctx, gitexec.Cmd{
			Env:  []string{"GIT_DIR=" + w.Mirror},
			Args: []string{"update-ref", "--no-deref", "worktrees/" + filepath.Base(w.admin) + "/HEAD", sha},
		}); err != nil {
			w.logger().Warn("cannot record the new commit in the worktree's registration", "repo", w.repo, "commit", sha, "err", err)
		}
	}
	return Result{SHA: sha, Tree: tree, Files: files}, nil
}

// errNestedRepository is the agent leaving a git repository inside the
// worktree: git would commit a pointer to a commit nobody can fetch.
var errNestedRepository = errors.New("the agent left a nested git repository, which cannot be committed as files; remove its .git")

// changes lists the files that differ between two trees, with renames.
func (w *Worktree) changes(ctx context.Context, from, to string) ([]File, error) {
	env := []string{"GIT_DIR=" + w.Mirror}
	raw, err := w.g().Run(ctx, gitexec.Cmd{Env: env, Args: []string{"diff-tree", "-r", "-M", "--no-commit-id", "--raw", "-z", from, to}})
	if err != nil {
		return nil, err
	}
	numstat, err := w.g().Run(ctx, gitexec.Cmd{Env: env, Args: []string{"diff-tree", "-r", "-M", "--no-commit-id", "--numstat", "-z", from, to}})
	if err != nil {
		return nil, err
	}
	files, gitlinks, err := parseRaw(string(raw))
	if err != nil {
		return nil, err
	}
	if len(gitlinks) > 0 {
		return nil, fmt.Errorf("%w: %s", errNestedRepository, strings.Join(gitlinks, ", "))
	}
	counts, err := parseNumstat(string(numstat))
	if err != nil {
		return nil, err
	}
	for i := range files {
		if n, ok := counts[files[i].Path]; ok {
			files[i].Additions, files[i].Deletions, files[i].Binary = n.Additions, n.Deletions, n.Binary
		}
	}
	return files, nil
}

// parseRaw reads `git diff-tree --raw -z`: for each file
// ":<old mode> <new mode> <old sha> <new sha> <status>", then one path, or
// two for a rename or copy. It also returns the paths that became
// gitlinks (mode 160000), which is what `git add` makes of a repository
// nested in the worktree.
func parseRaw(out string) (files []File, gitlinks []string, err error) {
	fields := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
	for i := 0; i < len(fields); i++ {
		head := fields[i]
		if head == "" {
			continue
		}
		meta := strings.Fields(strings.TrimPrefix(head, ":"))
		if !strings.HasPrefix(head, ":") || len(meta) != 5 || meta[4] == "" {
			return nil, nil, fmt.Errorf("unexpected diff-tree line %q", head)
		}
		next := func() (string, error) {
			i++
			if i >= len(fields) {
				return "", fmt.Errorf("truncated diff-tree output after %q", head)
			}
			return fields[i], nil
		}
		p, err := next()
		if err != nil {
			return nil, nil, err
		}
		f := File{Path: p, Status: meta[4][:1]}
		switch f.Status {
		case "R", "C":
			f.OldPath = p
			if f.Path, err = next(); err != nil {
				return nil, nil, err
			}
			if f.Status == "C" {
				f.Status, f.OldPath = "A", ""
			}
		case "T":
			f.Status = "M"
		case "A", "M", "D":
		default:
			return nil, nil, fmt.Errorf("unexpected diff-tree status %q for %s", meta[4], p)
		}
		if meta[1] == "160000" && meta[0] != "160000" {
			gitlinks = append(gitlinks, f.Path)
		}
		files = append(files, f)
	}
	return files, gitlinks, nil
}

// parseNumstat reads `git diff-tree --numstat -z` into counts by (new)
// path: "add\tdel\tpath\0", or "add\tdel\t\0old\0new\0" for a rename.
func parseNumstat(out string) (map[string]File, error) {
	fields := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
	counts := map[string]File{}
	for i := 0; i < len(fields); i++ {
		line := fields[i]
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("unexpected numstat line %q", line)
		}
		path := parts[2]
		if path == "" { // a rename: old and new path follow
			if i+2 >= len(fields) {
				return nil, errors.New("truncated numstat output")
			}
			path = fields[i+2]
			i += 2
		}
		var f File
		if parts[0] == "-" && parts[1] == "-" {
			f.Binary = true
		} else {
			a, err1 := strconv.Atoi(parts[0])
			d, err2 := strconv.Atoi(parts[1])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("unexpected numstat line %q", line)
			}
			f.Additions, f.Deletions = a, d
		}
		counts[path] = f
	}
	return counts, nil
}
