package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/policy"
	"github.com/agentgate/agentgate/store"
)

// RunTask is the queue task that executes one run (payload: RunJob).
const RunTask = "dispatch.run"

// RunJob is the payload of a RunTask job.
type RunJob struct {
	RunID string `json:"run_id"`
}

// GitHub is what dispatch needs from the one place that builds GitHub
// clients.
type GitHub interface {
	App() (*github.Client, error)
	Installation(id int64) (*github.Client, error)
	// RepoToken mints a token for one repository with only perms.
	RepoToken(ctx context.Context, installationID, repositoryID int64, perms *github.InstallationPermissions) (string, time.Time, error)
}

// Queue queues run jobs in the same transaction as the run rows.
type Queue interface {
	EnqueueTx(ctx context.Context, tx *store.Tx, name, key string, payload any, maxAttempts int) error
}

// Links makes the capability links to task pages and run logs that the
// sticky comment carries (the server signs them).
type Links interface {
	Task(taskID string) string
	RunLog(taskID, runID string) string
}

// Runner executes an agent for one run. The exec runner does it on this
// machine and returns when the agent has exited; the actions runner starts
// a workflow and returns Pending, and the workflow reports back through the
// API.
type Runner interface {
	Name() string
	Run(ctx context.Context, job *Job) (*Outcome, error)
}

// Options configure a Dispatcher.
type Options struct {
	Store  *store.Store
	GitHub GitHub
	Queue  Queue
	Links  Links
	Config config.Dispatch
	// WebURL is GitHub's web base ("https://github.com/"); repositories are
	// cloned from WebURL + "owner/name.git".
	WebURL string
	// DataDir is the server's data directory (mirrors and runs live under
	// Config.Dir(DataDir)).
	DataDir string
	// Environ is the server's environment, from which agents get only the
	// variables their configuration passes.
	Environ []string
	Log     *slog.Logger
	Now     func() time.Time
	// Replica names this process in runs it owns.
	Replica string
}

// Dispatcher runs tasks.
type Dispatcher struct {
	opts    Options
	store   *store.Store
	gh      GitHub
	runners map[string]Runner
	log     *slog.Logger
	now     func() time.Time

	identityMu sync.Mutex
	identity   *botIdentity

	// stickyMu keeps two syncs of this replica from both creating a
	// task's progress comment.
	stickyMu sync.Mutex
}

// botIdentity is the app's bot account: commits are authored by it and its
// own comments are ignored.
type botIdentity struct {
	Login string // e.g. "agentgate[bot]"
	ID    int64
}

// New builds a Dispatcher. Runners are added with AddRunner.
func New(opts Options) *Dispatcher {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Replica == "" {
		opts.Replica = newID("replica-")
	}
	if !strings.HasSuffix(opts.WebURL, "/") {
		opts.WebURL += "/"
	}
	return &Dispatcher{
		opts: opts, store: opts.Store, gh: opts.GitHub, runners: map[string]Runner{},
		log: opts.Log, now: opts.Now,
	}
}

// AddRunner makes a runner available by its name.
func (d *Dispatcher) AddRunner(r Runner) { d.runners[r.Name()] = r }

// Repo is the repository an event is about.
type Repo struct {
	FullName      string
	ID            int64
	DefaultBranch string
}

func (r Repo) split() (owner, name string) {
	owner, name, _ = strings.Cut(r.FullName, "/")
	return owner, name
}

// Person is a GitHub account.
type Person struct {
	Login string
	ID    int64
	Type  string // User or Bot
}

// Origin is where a webhook event came from.
type Origin struct {
	DeliveryID     string
	InstallationID int64
	Repo           Repo
	Sender         Person
}

// Issue is the issue (or pull request) an event is about.
type Issue struct {
	Number        int
	Title         string
	Body          string
	Author        string
	IsPullRequest bool
}

func newID(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// self returns the app's bot account, asking GitHub once: the app's slug
// (GET /app, as the app) and the bot user's id (GET /users/{slug}[bot],
// through an installation client; the id makes the commit email, and the
// app's id is not it).
func (d *Dispatcher) self(ctx context.Context, client *github.Client) (botIdentity, error) {
	d.identityMu.Lock()
	defer d.identityMu.Unlock()
	if d.identity != nil {
		return *d.identity, nil
	}
	app, err := d.gh.App()
	if err != nil {
		return botIdentity{}, err
	}
	a, _, err := app.Apps.Get(ctx, "")
	if err != nil {
		return botIdentity{}, fmt.Errorf("look up the app: %w", err)
	}
	login := a.GetSlug() + "[bot]"
	u, _, err := client.Users.Get(ctx, login)
	if err != nil {
		return botIdentity{}, fmt.Errorf("look up %s: %w", login, err)
	}
	d.identity = &botIdentity{Login: login, ID: u.GetID()}
	return *d.identity, nil
}

// repoConfig reads .github/agentgate.yml from the default branch: what a
// pull request proposes never applies to dispatch.
func (d *Dispatcher) repoConfig(ctx context.Context, client *github.Client, repo Repo) (policy.Config, error) {
	owner, name := repo.split()
	ref := repo.DefaultBranch
	file, _, resp, err := client.Repositories.GetContents(ctx, owner, name, policy.ConfigPath, &github.RepositoryContentGetOptions{Ref: ref})
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return policy.DefaultConfig(), nil
	}
	if err != nil {
		return policy.Config{}, fmt.Errorf("read %s of %s: %w", policy.ConfigPath, repo.FullName, err)
	}
	content, err := file.GetContent()
	if err != nil {
		return policy.Config{}, fmt.Errorf("decode %s of %s: %w", policy.ConfigPath, repo.FullName, err)
	}
	cfg, err := policy.ParseConfig(policy.ConfigPath, []byte(content), nil)
	if err != nil {
		return policy.Config{}, err
	}
	return cfg, nil
}

// isNotFound reports whether err is GitHub's 404.
func isNotFound(err error) bool {
	var ge *github.ErrorResponse
	return errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == http.StatusNotFound
}

// isUnprocessable reports whether err is GitHub's 422.
func isUnprocessable(err error) bool {
	var ge *github.ErrorResponse
	return errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == http.StatusUnprocessableEntity
}
