package githubtest

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Git objects read and written by the fake itself: GET .../git/commits/{commit_sha} reads a
// commit object; merging a pull request (merge.go) writes trees and commits with git's own
// merge machinery (git merge-tree --write-tree, git commit-tree), never through a work tree.

// gitIdent is a commit's author or committer.
type gitIdent struct {
	name, email string
	when        time.Time
	tz          string // "+0000", as git wrote it
}

// env is the identity as git's environment variables for role "AUTHOR" or "COMMITTER".
func (id gitIdent) env(role string) []string {
	tz := id.tz
	if tz == "" {
		tz = "+0000"
	}
	return []string{
		"GIT_" + role + "_NAME=" + id.name,
		"GIT_" + role + "_EMAIL=" + id.email,
		"GIT_" + role + "_DATE=" + strconv.FormatInt(id.when.Unix(), 10) + " " + tz,
	}
}

// gitCommitObject is a parsed commit object.
type gitCommitObject struct {
	sha, tree string
	parents   []string
	author    gitIdent
	committer gitIdent
	message   string
}

// readCommit parses `git cat-file commit`. ok is false when sha names no commit.
func (g *gitRepo) readCommit(sha string) (gitCommitObject, bool, error) {
	if !isFullSHA(sha) {
		return gitCommitObject{}, false, nil
	}
	typ, err := g.git("cat-file", "-t", sha)
	if err != nil || strings.TrimSpace(string(typ)) != "commit" {
		return gitCommitObject{}, false, nil // no such object, or not a commit
	}
	raw, err := g.git("cat-file", "commit", sha)
	if err != nil {
		return gitCommitObject{}, false, err
	}
	header, message, _ := strings.Cut(string(raw), "\n\n")
	c := gitCommitObject{sha: sha, message: message}
	for _, line := range strings.Split(header, "\n") {
		key, value, _ := strings.Cut(line, " ")
		switch key {
		case "tree":
			c.tree = value
		case "parent":
			c.parents = append(c.parents, value)
		case "author":
			c.author, err = parseIdent(value)
		case "committer":
			c.committer, err = parseIdent(value)
		}
		if err != nil {
			return gitCommitObject{}, false, fmt.Errorf("commit %s: %w", sha, err)
		}
	}
	return c, true, nil
}

// parseIdent reads "Name <email> 1700000000 +0000".
func parseIdent(v string) (gitIdent, error) {
	lt, gt := strings.IndexByte(v, '<'), strings.LastIndexByte(v, '>')
	if lt < 0 || gt < lt {
		return gitIdent{}, fmt.Errorf("bad identity %q", v)
	}
	f := strings.Fields(v[gt+1:])
	if len(f) != 2 {
		return gitIdent{}, fmt.Errorf("bad identity date %q", v)
	}
	secs, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return gitIdent{}, fmt.Errorf("bad identity date %q", v)
	}
	return gitIdent{name: strings.TrimSpace(v[:lt]), email: v[lt+1 : gt], when: time.Unix(secs, 0), tz: f[1]}, nil
}

// date is the identity's time in its own zone, RFC 3339, as GitHub shows commit dates.
func (id gitIdent) date() string {
	t := id.when.UTC()
	if len(id.tz) == 5 {
		h, err1 := strconv.Atoi(id.tz[1:3])
		m, err2 := strconv.Atoi(id.tz[3:5])
		if err1 == nil && err2 == nil {
			off := (h*60 + m) * 60
			if id.tz[0] == '-' {
				off = -off
			}
			t = id.when.In(time.FixedZone("", off))
		}
	}
	if t.Location() == time.UTC {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format(time.RFC3339)
}

func isFullSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// errConflict is a merge that git could not do cleanly.
var errConflict = errors.New("merge conflict")

// mergeTree merges two commits with their merge base(s) and writes the result's tree;
// errConflict if they conflict.
func (g *gitRepo) mergeTree(ours, theirs string) (string, error) {
	cmd := exec.Command("git", "--git-dir="+g.dir, "merge-tree", "--write-tree", "--no-messages", ours, theirs)
	cmd.Env = gitEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return "", errConflict // exit status 1: the merge has conflicts
	}
	if err != nil {
		return "", fmt.Errorf("git merge-tree %s %s: %w: %s", ours, theirs, err, strings.TrimSpace(stderr.String()))
	}
	tree, _, _ := strings.Cut(stdout.String(), "\n")
	return strings.TrimSpace(tree), nil
}

// commitTree writes a commit object (it does not move any ref).
func (g *gitRepo) commitTree(tree string, parents []string, author, committer gitIdent, message string) (string, error) {
	args := []string{"--git-dir=" + g.dir, "commit-tree", tree}
	for _, p := range parents {
		args = append(args, "-p", p)
	}
	cmd := exec.Command("git", args...)
	cmd.Env = append(append(gitEnv(), author.env("AUTHOR")...), committer.env("COMMITTER")...)
	cmd.Stdin = strings.NewReader(message)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git commit-tree: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// cherryPick replays commit c (one parent) onto onto and returns the new tree: a three-way
// merge of c's parent, onto and c. git 2.39's merge-tree takes no explicit merge base, so a
// throwaway commit with onto's tree and c's parent as its only parent makes that parent the
// merge base of the two (the object stays unreferenced).
func (g *gitRepo) cherryPickTree(c gitCommitObject, onto string) (string, error) {
	ontoCommit, ok, err := g.readCommit(onto)
	if err != nil || !ok {
		return "", fmt.Errorf("read %s: %v", onto, err)
	}
	stand, err := g.commitTree(ontoCommit.tree, c.parents, c.author, c.committer, "githubtest: rebase stand-in\n")
	if err != nil {
		return "", err
	}
	return g.mergeTree(stand, c.sha)
}

// GET /repos/{owner}/{repo}/git/commits/{commit_sha}: a commit object of the repository's
// git repository. An unknown SHA, or one that is not a full 40-hex commit SHA, is 404 (the
// description lists no 422 here); a repository without git is GitHub's 409 for an empty
// repository.
func (s *Server) getGitCommit(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	repo, d, ok := s.repoAccessLocked(w, r, c, "contents", "read")
	g := d.gitOrNil()
	s.mu.Unlock()
	if !ok {
		return
	}
	if g == nil {
		writeError(w, http.StatusConflict, "Git Repository is empty.")
		return
	}
	cm, found, err := g.readCommit(strings.ToLower(r.PathValue("commit_sha")))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, s.gitCommitJSON(repo, cm))
}

func (d *repoData) gitOrNil() *gitRepo {
	if d == nil {
		return nil
	}
	return d.git
}

// gitCommitJSON is a "git-commit" object.
func (s *Server) gitCommitJSON(repo Repo, cm gitCommitObject) map[string]any {
	api := s.srv.URL + "/repos/" + repo.FullName
	html := s.WebURL() + repo.FullName
	parents := make([]any, 0, len(cm.parents))
	for _, p := range cm.parents {
		parents = append(parents, map[string]any{"sha": p, "url": api + "/git/commits/" + p, "html_url": html + "/commit/" + p})
	}
	ident := func(id gitIdent) map[string]any {
		return map[string]any{"name": id.name, "email": id.email, "date": id.date()}
	}
	return map[string]any{
		"sha": cm.sha, "node_id": nodeID("Commit", derivedID(cm.sha)),
		"url": api + "/git/commits/" + cm.sha, "html_url": html + "/commit/" + cm.sha,
		"author": ident(cm.author), "committer": ident(cm.committer),
		"tree":    map[string]any{"sha": cm.tree, "url": api + "/git/trees/" + cm.tree},
		"message": strings.TrimRight(cm.message, "\n"), "parents": parents,
		"verification": map[string]any{
			"verified": false, "reason": "unsigned", "signature": nil, "payload": nil, "verified_at": nil,
		},
	}
}
