// Package config loads agentgate's server configuration: a YAML file, then
// AGENTGATE_* environment variables on top, then the GitHub App credentials
// that first-run setup saved in the data directory when nothing else names
// them.
//
// Every value remembers where it came from, so a bad value is reported as a
// single line naming the environment variable or the YAML key to fix,
// before anything listens. The package reads files and the environment; it
// never opens sockets or databases.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole server configuration after defaults, the file and the
// environment have been applied.
type Config struct {
	// Addr is the HTTP listen address, e.g. ":8080".
	Addr string `yaml:"addr"`
	// PublicURL is where GitHub and people reach this server; it becomes the
	// webhook URL and the base of links in check runs and comments.
	PublicURL string `yaml:"public_url"`
	// DataDir holds the default SQLite store, keys and saved app credentials.
	DataDir string `yaml:"data_dir"`
	// DatabaseURL is a SQLite path (or sqlite://path) or a postgres:// URL.
	// Empty means DataDir/agentgate.db.
	DatabaseURL string `yaml:"database_url"`

	GitHub    GitHub    `yaml:"github"`
	Queue     Queue     `yaml:"queue"`
	Reconcile Reconcile `yaml:"reconcile"`
	Log       Log       `yaml:"log"`
	Dispatch  Dispatch  `yaml:"dispatch"`

	Signing      Signing      `yaml:"signing"`
	Attestations Attestations `yaml:"attestations"`
	API          API          `yaml:"api"`

	// ConfigFile and Environ are what Load read, so the server can load the
	// same way again after first-run setup saved credentials.
	ConfigFile string   `yaml:"-"`
	Environ    []string `yaml:"-"`

	// sources maps a setting's YAML path ("github.app_id") to where its value
	// came from, for error messages.
	sources map[string]string
}

// GitHub holds the GitHub App's identity and the API it talks to.
type GitHub struct {
	AppID          int64  `yaml:"app_id"`
	PrivateKeyFile string `yaml:"private_key_file"`
	// PrivateKey is the PEM itself; takes precedence over PrivateKeyFile.
	PrivateKey    string `yaml:"private_key"`
	WebhookSecret string `yaml:"webhook_secret"`
	// APIURL is the REST API base: https://api.github.com/ or a GitHub
	// Enterprise Server's https://host/api/v3/.
	APIURL string `yaml:"api_url"`
	// WebURL is where people register apps (the manifest flow posts here).
	WebURL string `yaml:"web_url"`
	// Org, when set, makes first-run setup register the app on that
	// organisation rather than on the person's account.
	Org string `yaml:"org"`
}

// Queue tunes the durable job queue.
type Queue struct {
	// Workers is how many jobs this replica runs at once.
	Workers int `yaml:"workers"`
	// MaxAttempts is how often a failing job is tried before it is dead.
	MaxAttempts int `yaml:"max_attempts"`
	// BackoffBase and BackoffMax bound the exponential backoff (with full
	// jitter) between attempts.
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	// JobTimeout bounds one attempt of one job.
	JobTimeout time.Duration `yaml:"job_timeout"`
	// RescueAfter is when a job left running by a dead process is retried.
	RescueAfter time.Duration `yaml:"rescue_after"`
	// PollInterval is how often idle workers look for new jobs (SQLite has
	// no LISTEN/NOTIFY, and our Postgres path polls too).
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Reconcile tunes the periodic repair job.
type Reconcile struct {
	// Interval between runs; 0 disables the reconciler.
	Interval time.Duration `yaml:"interval"`
	// Lookback bounds how far back the first run looks for failed deliveries.
	Lookback time.Duration `yaml:"lookback"`
}

// Dispatch configures how agents run. Which agents exist, what they may
// read from the server's environment, and the limits are the operator's
// decision: a repository's .github/agentgate.yml may only choose among the
// agents its repository is allowed.
type Dispatch struct {
	// Enabled turns dispatch on (labels and /agent commands start tasks).
	Enabled bool `yaml:"enabled"`
	// Runner is the default runner: "exec" (agents run on this server) or
	// "actions" (a workflow in the repository runs the agent).
	Runner string `yaml:"runner"`
	// WorkDir holds the repository mirrors and one directory per run;
	// empty means DataDir/work.
	WorkDir string `yaml:"work_dir"`
	// DefaultAgent names the agent a repository gets when its config names none.
	DefaultAgent string `yaml:"default_agent"`
	// Agents are the agent commands this server may run.
	Agents []Agent `yaml:"agents"`
	// Sandbox runs exec agents under bubblewrap.
	Sandbox Sandbox `yaml:"sandbox"`
	// Limits apply to every repository unless Repos overrides them.
	Limits Limits `yaml:"limits"`
	// Repos overrides agents and limits per repository ("owner/name").
	Repos map[string]RepoDispatch `yaml:"repos"`
	// Actions configures the actions runner.
	Actions Actions `yaml:"actions"`
	// Heartbeat is how often a running run reports it is alive; a run
	// silent for three heartbeats is marked interrupted.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// SweepInterval is how often the leader looks for interrupted runs and
	// tasks stuck past their deadline.
	SweepInterval time.Duration `yaml:"sweep_interval"`
}

// Agent is one agent command the server may run.
type Agent struct {
	Name string `yaml:"name"`
	// Adapter is claude-code, codex, aider or generic (see dispatch/agent).
	Adapter string `yaml:"adapter"`
	// Command is the program and its fixed arguments. For the generic
	// adapter the arguments may use {prompt_file}, {task_dir},
	// {output_dir}, {workdir} and {model}.
	Command []string `yaml:"command"`
	Model   string   `yaml:"model"`
	// PassEnv names server environment variables the agent receives (its
	// own API key, say). AGENTGATE_* and GitHub tokens are never passed.
	PassEnv []string `yaml:"pass_env"`
	// Network lets the agent reach the network under the sandbox (a hosted
	// model needs it); the default is off.
	Network bool `yaml:"network"`
}

// Sandbox configures bubblewrap for exec agents.
type Sandbox struct {
	// Bwrap is the path of bwrap; empty runs agents without a sandbox
	// (still in a scrubbed environment and their own process group).
	Bwrap string `yaml:"bwrap"`
}

// Limits bound what agents may use.
type Limits struct {
	ConcurrentRuns int           `yaml:"concurrent_runs"` // per repository
	RunsPerTask    int           `yaml:"runs_per_task"`
	WallTime       time.Duration `yaml:"wall_time"` // per run
}

// RepoDispatch overrides dispatch settings for one repository.
type RepoDispatch struct {
	// Agents lists the agents the repository may use (default: all).
	Agents []string `yaml:"agents"`
	Runner string   `yaml:"runner"`
	Limits Limits   `yaml:"limits"` // zero fields keep the server's
}

// Actions configures the actions runner.
type Actions struct {
	// Workflow is the workflow file name in .github/workflows.
	Workflow string `yaml:"workflow"`
}

// Signing configures the key that signs attestations and the keys
// published to verify them.
type Signing struct {
	// KeyFile is the local ECDSA P-256 key (PKCS#8 PEM, mode 0600); empty
	// means DataDir/signing.key, generated on first start.
	KeyFile string `yaml:"key_file"`
	// KMS is a sigstore KMS key reference, e.g. "hashivault://agentgate";
	// when set the key file is not used.
	KMS string `yaml:"kms"`
	// ValidFrom (RFC 3339) is when the active key's validity window
	// starts; empty means unbounded.
	ValidFrom string `yaml:"valid_from"`
	// RekorURL, when set, uploads every envelope to that Rekor log.
	RekorURL string `yaml:"rekor_url"`
	// TimestampURL, when set, asks that RFC 3161 timestamp authority to
	// timestamp every signature.
	TimestampURL string `yaml:"timestamp_url"`
	// PreviousKeys are retired keys, still published so what they signed
	// keeps verifying.
	PreviousKeys []PreviousKey `yaml:"previous_keys"`
}

// PreviousKey is a retired signing key: its public half and the window in
// which it signed.
type PreviousKey struct {
	// PublicKeyFile is a PEM "PUBLIC KEY" file (what keygen writes as .pub).
	PublicKeyFile string `yaml:"public_key_file"`
	// ValidFrom and ValidUntil (RFC 3339) bound when it signed; ValidFrom
	// may be empty (unbounded), ValidUntil is required.
	ValidFrom  string `yaml:"valid_from"`
	ValidUntil string `yaml:"valid_until"`
}

// DefaultSigningKeyFile is the local signing key's name in the data
// directory.
const DefaultSigningKeyFile = "signing.key"

// SigningKeyFile is the local signing key's path: signing.key_file, or
// signing.key in the data directory.
func (c *Config) SigningKeyFile() string {
	if c.Signing.KeyFile != "" {
		return c.Signing.KeyFile
	}
	return filepath.Join(c.DataDir, DefaultSigningKeyFile)
}

// ValidFromTime is the active key's window start (zero when unbounded).
func (s Signing) ValidFromTime() time.Time { return parseTime(s.ValidFrom) }

// ValidFromTime is the key's window start (zero when unbounded).
func (k PreviousKey) ValidFromTime() time.Time { return parseTime(k.ValidFrom) }

// ValidUntilTime is the key's window end.
func (k PreviousKey) ValidUntilTime() time.Time { return parseTime(k.ValidUntil) }

// parseTime reads a validated RFC 3339 time; "" is the zero time.
func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s) // validated in Load
	return t
}

// Attestations says what happens when an agent-authored change merges.
type Attestations struct {
	// Enabled signs and stores the attestations (default true).
	Enabled bool `yaml:"enabled"`
	// GitNotes also writes them to refs/notes/agentgate on the repository.
	GitNotes bool `yaml:"git_notes"`
	// GitHubAPI also posts them to GitHub's artifact attestation API.
	GitHubAPI bool `yaml:"github_api"`
}

// API configures the read-only auditor API (/api/v1/attestations, /keys,
// /log/head).
type API struct {
	// Tokens may read it; without any, nobody can.
	Tokens []APIToken `yaml:"tokens"`
}

// APIToken is one API token, by its digest: the token itself is never
// stored (`agentgate api-token` makes one and prints this entry).
type APIToken struct {
	// Name says whose token it is, for logs.
	Name string `yaml:"name"`
	// SHA256 is the hex sha256 of the token.
	SHA256 string `yaml:"sha256"`
	// Repos are what it may read: "owner/name", "owner/*", or "*" for
	// every repository, spelt as GitHub spells them (compared exactly).
	Repos []string `yaml:"repos"`
}

// Check says what is wrong with a token entry, or nil.
func (t APIToken) Check() error {
	if !agentName.MatchString(t.Name) {
		return fmt.Errorf("name %q is not a token name (letters, digits, - and _, up to 40)", t.Name)
	}
	if !sha256Hex.MatchString(t.SHA256) {
		return fmt.Errorf("token %s: sha256 %q is not 64 hex digits (the sha256 of the token, as `agentgate api-token` prints it)", t.Name, t.SHA256)
	}
	if len(t.Repos) == 0 {
		return fmt.Errorf("token %s: repos is empty (list owner/name, owner/* or \"*\" for every repository)", t.Name)
	}
	for _, r := range t.Repos {
		if err := CheckRepoPattern(r); err != nil {
			return fmt.Errorf("token %s: %w", t.Name, err)
		}
	}
	return nil
}

// CheckRepoPattern accepts "owner/name", "owner/*" and "*".
func CheckRepoPattern(p string) error {
	if p == "*" {
		return nil
	}
	owner, name, ok := strings.Cut(p, "/")
	if !ok || !repoPart.MatchString(owner) || (name != "*" && !repoPart.MatchString(name)) {
		return fmt.Errorf("%q is not owner/name, owner/* or *", p)
	}
	return nil
}

var (
	sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	repoPart  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// AllRepos reports whether the token may read every repository.
func (t APIToken) AllRepos() bool {
	for _, r := range t.Repos {
		if r == "*" {
			return true
		}
	}
	return false
}

// Allows reports whether the token may read repo ("owner/name"). Names
// are compared exactly, as the attestation store does: write them as
// GitHub spells them.
func (t APIToken) Allows(repo string) bool {
	owner, _, _ := strings.Cut(repo, "/")
	for _, p := range t.Repos {
		if p == "*" || p == repo {
			return true
		}
		if po, pn, _ := strings.Cut(p, "/"); pn == "*" && po == owner {
			return true
		}
	}
	return false
}

// ParseAPITokens reads AGENTGATE_API_TOKENS: entries separated by ";",
// each "name:sha256:repo,repo".
func ParseAPITokens(v string) ([]APIToken, error) {
	var out []APIToken
	for i, entry := range strings.Split(v, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.Split(entry, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("entry %d is not name:sha256:repo,repo", i+1)
		}
		t := APIToken{Name: parts[0], SHA256: parts[1]}
		for _, r := range strings.Split(parts[2], ",") {
			if r = strings.TrimSpace(r); r != "" {
				t.Repos = append(t.Repos, r)
			}
		}
		if err := t.Check(); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

// Error is a configuration problem tied to one key.
type Error struct {
	Key    string // environment variable or "file: yaml.path"
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("config: %s: %s", e.Key, e.Reason) }

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Addr:    ":8080",
		DataDir: "data",
		GitHub: GitHub{
			APIURL: "https://api.github.com/",
			WebURL: "https://github.com/",
		},
		Queue: Queue{
			Workers:      50,
			MaxAttempts:  12,
			BackoffBase:  2 * time.Second,
			BackoffMax:   10 * time.Minute,
			JobTimeout:   2 * time.Minute,
			RescueAfter:  5 * time.Minute,
			PollInterval: 200 * time.Millisecond,
		},
		Reconcile: Reconcile{Interval: 5 * time.Minute, Lookback: 24 * time.Hour},
		Log:       Log{Level: "info", Format: "json"},
		Dispatch: Dispatch{
			Runner:        "exec",
			Limits:        Limits{ConcurrentRuns: 2, RunsPerTask: 10, WallTime: 30 * time.Minute},
			Actions:       Actions{Workflow: "agentgate.yml"},
			Heartbeat:     2 * time.Second,
			SweepInterval: 10 * time.Second,
		},
		Attestations: Attestations{Enabled: true},
	}
}

// Load reads the YAML file at path (optional: "" skips it), applies the
// environment given as KEY=VALUE pairs (os.Environ() in production), fills
// app credentials from the data directory when none are configured, and
// validates the result.
func Load(path string, environ []string) (*Config, error) {
	cfg := Defaults()
	cfg.sources = map[string]string{}
	cfg.ConfigFile, cfg.Environ = path, environ
	if path != "" {
		if err := cfg.readFile(path); err != nil {
			return nil, err
		}
	}
	if err := cfg.applyEnv(environ); err != nil {
		return nil, err
	}
	if err := cfg.loadSavedCredentials(); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func (c *Config) readFile(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return &Error{Key: "--config", Reason: err.Error()}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err == nil {
		markSources(&doc, "", path, c.sources)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // a misspelt key is an error, not a silent default
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return c.yamlError(path, err)
	}
	return nil
}

var yamlLineError = regexp.MustCompile(`^line (\d+): (.*)$`)

// yamlError reports a decode error as one line, "file:line: key: reason",
// like every other config error. yaml.v3 gives "line N: ..." messages, one
// per line of a multi-line TypeError; the first is reported.
func (c *Config) yamlError(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	more := 0
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg, more = te.Errors[0], len(te.Errors)-1
	}
	reason := strings.Join(strings.Fields(msg), " ")
	key := path
	if m := yamlLineError.FindStringSubmatch(reason); m != nil {
		key, reason = path+":"+m[1], m[2]
		// Name the deepest setting on that line, as sources records it.
		best := ""
		for _, src := range c.sources {
			if strings.HasPrefix(src, key+": ") && len(src) > len(best) {
				best = src
			}
		}
		if best != "" {
			key = best
		}
	}
	if more > 0 {
		reason += fmt.Sprintf(" (and %d more)", more)
	}
	return &Error{Key: key, Reason: reason}
}

// markSources records "file:line" for every scalar in the YAML document.
func markSources(n *yaml.Node, prefix, file string, into map[string]string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, child := range n.Content {
			markSources(child, prefix, file, into)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if prefix != "" {
				key = prefix + "." + key
			}
			into[key] = fmt.Sprintf("%s:%d: %s", file, n.Content[i].Line, key)
			markSources(n.Content[i+1], key, file, into)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			key := fmt.Sprintf("%s[%d]", prefix, i)
			into[key] = fmt.Sprintf("%s:%d: %s", file, item.Line, key)
			markSources(item, key, file, into)
		}
	}
}

// envVar binds one environment variable to one setting.
type envVar struct {
	name string
	key  string // YAML path of the setting
	set  func(c *Config, v string) error
}

func envVars() []envVar {
	str := func(f func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *f(c) = v; return nil }
	}
	dur := func(f func(*Config) *time.Duration) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q is not a duration like 30s or 5m", v)
			}
			*f(c) = d
			return nil
		}
	}
	boolean := func(f func(*Config) *bool) func(*Config, string) error {
		return func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			*f(c) = b
			return nil
		}
	}
	integer := func(f func(*Config) *int) func(*Config, string) error {
		return func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%q is not an integer", v)
			}
			*f(c) = n
			return nil
		}
	}
	return []envVar{
		{"AGENTGATE_ADDR", "addr", str(func(c *Config) *string { return &c.Addr })},
		{"AGENTGATE_PUBLIC_URL", "public_url", str(func(c *Config) *string { return &c.PublicURL })},
		{"AGENTGATE_DATA_DIR", "data_dir", str(func(c *Config) *string { return &c.DataDir })},
		{"AGENTGATE_DATABASE_URL", "database_url", str(func(c *Config) *string { return &c.DatabaseURL })},
		{"AGENTGATE_GITHUB_APP_ID", "github.app_id", func(c *Config, v string) error {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("%q is not a positive integer (the App ID from the app's settings page)", v)
			}
			c.GitHub.AppID = id
			return nil
		}},
		{"AGENTGATE_GITHUB_PRIVATE_KEY_FILE", "github.private_key_file", str(func(c *Config) *string { return &c.GitHub.PrivateKeyFile })},
		{"AGENTGATE_GITHUB_PRIVATE_KEY", "github.private_key", str(func(c *Config) *string { return &c.GitHub.PrivateKey })},
		{"AGENTGATE_WEBHOOK_SECRET", "github.webhook_secret", str(func(c *Config) *string { return &c.GitHub.WebhookSecret })},
		{"AGENTGATE_GITHUB_API_URL", "github.api_url", str(func(c *Config) *string { return &c.GitHub.APIURL })},
		{"AGENTGATE_GITHUB_WEB_URL", "github.web_url", str(func(c *Config) *string { return &c.GitHub.WebURL })},
		{"AGENTGATE_GITHUB_ORG", "github.org", str(func(c *Config) *string { return &c.GitHub.Org })},
		{"AGENTGATE_QUEUE_WORKERS", "queue.workers", integer(func(c *Config) *int { return &c.Queue.Workers })},
		{"AGENTGATE_QUEUE_MAX_ATTEMPTS", "queue.max_attempts", integer(func(c *Config) *int { return &c.Queue.MaxAttempts })},
		{"AGENTGATE_QUEUE_BACKOFF_BASE", "queue.backoff_base", dur(func(c *Config) *time.Duration { return &c.Queue.BackoffBase })},
		{"AGENTGATE_QUEUE_BACKOFF_MAX", "queue.backoff_max", dur(func(c *Config) *time.Duration { return &c.Queue.BackoffMax })},
		{"AGENTGATE_QUEUE_JOB_TIMEOUT", "queue.job_timeout", dur(func(c *Config) *time.Duration { return &c.Queue.JobTimeout })},
		{"AGENTGATE_QUEUE_RESCUE_AFTER", "queue.rescue_after", dur(func(c *Config) *time.Duration { return &c.Queue.RescueAfter })},
		{"AGENTGATE_QUEUE_POLL_INTERVAL", "queue.poll_interval", dur(func(c *Config) *time.Duration { return &c.Queue.PollInterval })},
		{"AGENTGATE_RECONCILE_INTERVAL", "reconcile.interval", dur(func(c *Config) *time.Duration { return &c.Reconcile.Interval })},
		{"AGENTGATE_RECONCILE_LOOKBACK", "reconcile.lookback", dur(func(c *Config) *time.Duration { return &c.Reconcile.Lookback })},
		{"AGENTGATE_LOG_LEVEL", "log.level", str(func(c *Config) *string { return &c.Log.Level })},
		{"AGENTGATE_LOG_FORMAT", "log.format", str(func(c *Config) *string { return &c.Log.Format })},
		{"AGENTGATE_DISPATCH_ENABLED", "dispatch.enabled", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			c.Dispatch.Enabled = b
			return nil
		}},
		{"AGENTGATE_DISPATCH_RUNNER", "dispatch.runner", str(func(c *Config) *string { return &c.Dispatch.Runner })},
		{"AGENTGATE_DISPATCH_WORK_DIR", "dispatch.work_dir", str(func(c *Config) *string { return &c.Dispatch.WorkDir })},
		{"AGENTGATE_DISPATCH_DEFAULT_AGENT", "dispatch.default_agent", str(func(c *Config) *string { return &c.Dispatch.DefaultAgent })},
		{"AGENTGATE_DISPATCH_SANDBOX_BWRAP", "dispatch.sandbox.bwrap", str(func(c *Config) *string { return &c.Dispatch.Sandbox.Bwrap })},
		{"AGENTGATE_DISPATCH_CONCURRENT_RUNS", "dispatch.limits.concurrent_runs", integer(func(c *Config) *int { return &c.Dispatch.Limits.ConcurrentRuns })},
		{"AGENTGATE_DISPATCH_RUNS_PER_TASK", "dispatch.limits.runs_per_task", integer(func(c *Config) *int { return &c.Dispatch.Limits.RunsPerTask })},
		{"AGENTGATE_DISPATCH_WALL_TIME", "dispatch.limits.wall_time", dur(func(c *Config) *time.Duration { return &c.Dispatch.Limits.WallTime })},
		{"AGENTGATE_DISPATCH_HEARTBEAT", "dispatch.heartbeat", dur(func(c *Config) *time.Duration { return &c.Dispatch.Heartbeat })},
		{"AGENTGATE_DISPATCH_SWEEP_INTERVAL", "dispatch.sweep_interval", dur(func(c *Config) *time.Duration { return &c.Dispatch.SweepInterval })},
		{"AGENTGATE_DISPATCH_ACTIONS_WORKFLOW", "dispatch.actions.workflow", str(func(c *Config) *string { return &c.Dispatch.Actions.Workflow })},
		{"AGENTGATE_SIGNING_KEY_FILE", "signing.key_file", str(func(c *Config) *string { return &c.Signing.KeyFile })},
		{"AGENTGATE_SIGNING_KMS", "signing.kms", str(func(c *Config) *string { return &c.Signing.KMS })},
		{"AGENTGATE_SIGNING_VALID_FROM", "signing.valid_from", str(func(c *Config) *string { return &c.Signing.ValidFrom })},
		{"AGENTGATE_SIGNING_REKOR_URL", "signing.rekor_url", str(func(c *Config) *string { return &c.Signing.RekorURL })},
		{"AGENTGATE_SIGNING_TIMESTAMP_URL", "signing.timestamp_url", str(func(c *Config) *string { return &c.Signing.TimestampURL })},
		{"AGENTGATE_ATTESTATIONS_ENABLED", "attestations.enabled", boolean(func(c *Config) *bool { return &c.Attestations.Enabled })},
		{"AGENTGATE_ATTESTATIONS_GIT_NOTES", "attestations.git_notes", boolean(func(c *Config) *bool { return &c.Attestations.GitNotes })},
		{"AGENTGATE_ATTESTATIONS_GITHUB_API", "attestations.github_api", boolean(func(c *Config) *bool { return &c.Attestations.GitHubAPI })},
		// Replaces api.tokens from the file.
		{"AGENTGATE_API_TOKENS", "api.tokens", func(c *Config, v string) error {
			tokens, err := ParseAPITokens(v)
			if err != nil {
				return err
			}
			c.API.Tokens = tokens
			return nil
		}},
	}
}

// ClientEnvVarNames are variables the command-line clients read (`agentgate
// audit`), not server settings; Load ignores them rather than refuse them
// as unknown, so one shell can run both.
func ClientEnvVarNames() []string {
	return []string{"AGENTGATE_API_TOKEN", "AGENTGATE_SERVER"}
}

// EnvVarNames lists every environment variable Load understands, for docs
// and for rejecting typos.
func EnvVarNames() []string {
	var names []string
	for _, v := range envVars() {
		names = append(names, v.name)
	}
	return names
}

func (c *Config) applyEnv(environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "AGENTGATE_") {
			env[k] = v
		}
	}
	known := map[string]bool{}
	for _, ev := range envVars() {
		known[ev.name] = true
		v, ok := env[ev.name]
		if !ok {
			continue
		}
		if err := ev.set(c, v); err != nil {
			return &Error{Key: ev.name, Reason: err.Error()}
		}
		// The variable replaces the setting, list items and all.
		for k := range c.sources {
			if strings.HasPrefix(k, ev.key+"[") || strings.HasPrefix(k, ev.key+".") {
				delete(c.sources, k)
			}
		}
		c.sources[ev.key] = ev.name
	}
	for _, name := range ClientEnvVarNames() {
		known[name] = true
	}
	for k := range env {
		// AGENTGATE_TEST_* belong to the test suite, not the server.
		if !known[k] && !strings.HasPrefix(k, "AGENTGATE_TEST_") {
			return &Error{Key: k, Reason: "unknown setting (known: " + strings.Join(EnvVarNames(), ", ") + ")"}
		}
	}
	return nil
}

// keyFor names the setting at a YAML path the way the user set it.
func (c *Config) keyFor(path string) string {
	if src, ok := c.sources[path]; ok {
		return src
	}
	for _, ev := range envVars() {
		if ev.key == path {
			return ev.name + " (or " + path + " in the config file)"
		}
	}
	// A setting missing from a list item or section: name the line of the
	// nearest enclosing one that is there.
	for parent := path; ; {
		i := strings.LastIndexAny(parent, ".[")
		if i <= 0 {
			break
		}
		parent = parent[:i]
		if src, ok := c.sources[parent]; ok && !strings.HasPrefix(src, "AGENTGATE_") {
			return src + path[len(parent):]
		}
	}
	return path
}

func (c *Config) fail(path, format string, args ...any) error {
	return &Error{Key: c.keyFor(path), Reason: fmt.Sprintf(format, args...)}
}

func (c *Config) validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return c.fail("addr", "%q is not a listen address like :8080 or 127.0.0.1:8080", c.Addr)
	}
	if c.PublicURL != "" {
		if err := checkHTTPURL(c.PublicURL); err != nil {
			return c.fail("public_url", "%v", err)
		}
	}
	if c.DataDir == "" {
		return c.fail("data_dir", "must not be empty")
	}
	if _, err := ParseDatabaseURL(c.DatabaseURL, c.DataDir); err != nil {
		return c.fail("database_url", "%v", err)
	}
	if err := checkHTTPURL(c.GitHub.APIURL); err != nil {
		return c.fail("github.api_url", "%v", err)
	}
	if err := checkHTTPURL(c.GitHub.WebURL); err != nil {
		return c.fail("github.web_url", "%v", err)
	}
	if c.GitHub.AppID < 0 {
		return c.fail("github.app_id", "must be a positive integer")
	}
	if c.GitHub.AppID > 0 {
		if c.GitHub.PrivateKey == "" && c.GitHub.PrivateKeyFile == "" {
			return c.fail("github.private_key_file", "is required when the app id is set (the .pem GitHub gave you)")
		}
		if c.GitHub.PrivateKey == "" {
			pem, err := os.ReadFile(c.GitHub.PrivateKeyFile)
			if err != nil {
				return c.fail("github.private_key_file", "cannot read: %v", err)
			}
			c.GitHub.PrivateKey = string(pem)
		}
		if !strings.Contains(c.GitHub.PrivateKey, "PRIVATE KEY-----") {
			return c.fail(c.keyPathOfPrivateKey(), "is not a PEM private key")
		}
		if c.GitHub.WebhookSecret == "" {
			return c.fail("github.webhook_secret", "is required when the app id is set (without it any caller could forge webhooks)")
		}
	} else if c.GitHub.PrivateKey != "" || c.GitHub.PrivateKeyFile != "" || c.GitHub.WebhookSecret != "" {
		return c.fail("github.app_id", "is required when a private key or webhook secret is set")
	}
	if c.Queue.Workers < 1 {
		return c.fail("queue.workers", "must be at least 1, got %d", c.Queue.Workers)
	}
	if c.Queue.MaxAttempts < 1 {
		return c.fail("queue.max_attempts", "must be at least 1, got %d", c.Queue.MaxAttempts)
	}
	for path, d := range map[string]time.Duration{
		"queue.backoff_base": c.Queue.BackoffBase, "queue.backoff_max": c.Queue.BackoffMax,
		"queue.job_timeout": c.Queue.JobTimeout, "queue.rescue_after": c.Queue.RescueAfter,
		"queue.poll_interval": c.Queue.PollInterval,
	} {
		if d <= 0 {
			return c.fail(path, "must be a positive duration, got %s", d)
		}
	}
	if c.Queue.BackoffMax < c.Queue.BackoffBase {
		return c.fail("queue.backoff_max", "%s is below queue.backoff_base %s", c.Queue.BackoffMax, c.Queue.BackoffBase)
	}
	if c.Reconcile.Interval < 0 {
		return c.fail("reconcile.interval", "must not be negative")
	}
	if err := c.validateDispatch(); err != nil {
		return err
	}
	if err := c.validateSigning(); err != nil {
		return err
	}
	if err := c.validateAPI(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return c.fail("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		return c.fail("log.format", "%q is not json or text", c.Log.Format)
	}
	return nil
}

func (c *Config) validateDispatch() error {
	d := &c.Dispatch
	runners := func(path, r string) error {
		if r != "exec" && r != "actions" {
			return c.fail(path, "%q is not a runner (exec or actions)", r)
		}
		return nil
	}
	if err := runners("dispatch.runner", d.Runner); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, a := range d.Agents {
		path := fmt.Sprintf("dispatch.agents[%d]", i)
		if !agentName.MatchString(a.Name) {
			return c.fail(path+".name", "%q is not an agent name (letters, digits, - and _)", a.Name)
		}
		if names[a.Name] {
			return c.fail(path+".name", "agent %q is defined twice", a.Name)
		}
		names[a.Name] = true
		if len(a.Command) == 0 || a.Command[0] == "" {
			return c.fail(path+".command", "agent %q has no command", a.Name)
		}
		for _, e := range a.PassEnv {
			if reason := forbiddenPassEnv(e); reason != "" {
				return c.fail(path+".pass_env", "%s: %s", e, reason)
			}
		}
	}
	if d.DefaultAgent != "" && !names[d.DefaultAgent] {
		return c.fail("dispatch.default_agent", "%q is not one of dispatch.agents", d.DefaultAgent)
	}
	if d.Enabled && d.Runner == "exec" && len(d.Agents) == 0 {
		return c.fail("dispatch.agents", "dispatch is enabled with the exec runner but no agent is configured")
	}
	check := func(path string, l Limits, base bool) error {
		if (base && l.ConcurrentRuns < 1) || l.ConcurrentRuns < 0 {
			return c.fail(path+".concurrent_runs", "must be at least 1, got %d", l.ConcurrentRuns)
		}
		if (base && l.RunsPerTask < 1) || l.RunsPerTask < 0 {
			return c.fail(path+".runs_per_task", "must be at least 1, got %d", l.RunsPerTask)
		}
		if (base && l.WallTime <= 0) || l.WallTime < 0 {
			return c.fail(path+".wall_time", "must be a positive duration, got %s", l.WallTime)
		}
		return nil
	}
	if err := check("dispatch.limits", d.Limits, true); err != nil {
		return err
	}
	for repo, rd := range d.Repos {
		path := "dispatch.repos." + repo
		if owner, name, ok := strings.Cut(repo, "/"); !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			return c.fail(path, "%q is not owner/name", repo)
		}
		for _, a := range rd.Agents {
			if !names[a] {
				return c.fail(path+".agents", "%q is not one of dispatch.agents", a)
			}
		}
		if rd.Runner != "" {
			if err := runners(path+".runner", rd.Runner); err != nil {
				return err
			}
		}
		if err := check(path+".limits", rd.Limits, false); err != nil {
			return err
		}
	}
	if d.Heartbeat <= 0 {
		return c.fail("dispatch.heartbeat", "must be a positive duration, got %s", d.Heartbeat)
	}
	if d.SweepInterval <= 0 {
		return c.fail("dispatch.sweep_interval", "must be a positive duration, got %s", d.SweepInterval)
	}
	return nil
}

func (c *Config) validateSigning() error {
	s := &c.Signing
	if s.KMS != "" {
		if _, ok := c.sources["signing.key_file"]; ok && s.KeyFile != "" {
			return c.fail("signing.kms", "is set together with signing.key_file; a server signs with one key: remove one of them")
		}
		if !kmsRef.MatchString(s.KMS) {
			return c.fail("signing.kms", "%q is not a KMS key reference like hashivault://agentgate", s.KMS)
		}
	}
	if s.ValidFrom != "" {
		if _, err := time.Parse(time.RFC3339, s.ValidFrom); err != nil {
			return c.fail("signing.valid_from", "%q is not an RFC 3339 time like 2026-01-01T00:00:00Z", s.ValidFrom)
		}
	}
	for path, u := range map[string]string{"signing.rekor_url": s.RekorURL, "signing.timestamp_url": s.TimestampURL} {
		if u != "" {
			if err := checkHTTPURL(u); err != nil {
				return c.fail(path, "%v", err)
			}
		}
	}
	for i, k := range s.PreviousKeys {
		path := fmt.Sprintf("signing.previous_keys[%d]", i)
		if k.PublicKeyFile == "" {
			return c.fail(path+".public_key_file", "is required (the retired key's PEM public key)")
		}
		raw, err := os.ReadFile(k.PublicKeyFile)
		if err != nil {
			return c.fail(path+".public_key_file", "cannot read: %v", err)
		}
		if !strings.Contains(string(raw), "-----BEGIN PUBLIC KEY-----") {
			return c.fail(path+".public_key_file", "%s is not a PEM public key (-----BEGIN PUBLIC KEY-----)", k.PublicKeyFile)
		}
		if k.ValidFrom != "" {
			if _, err := time.Parse(time.RFC3339, k.ValidFrom); err != nil {
				return c.fail(path+".valid_from", "%q is not an RFC 3339 time like 2026-01-01T00:00:00Z", k.ValidFrom)
			}
		}
		if k.ValidUntil == "" {
			return c.fail(path+".valid_until", "is required: when the retired key stopped signing (RFC 3339)")
		}
		until, err := time.Parse(time.RFC3339, k.ValidUntil)
		if err != nil {
			return c.fail(path+".valid_until", "%q is not an RFC 3339 time like 2026-06-01T00:00:00Z", k.ValidUntil)
		}
		if from := k.ValidFromTime(); !from.IsZero() && !until.After(from) {
			return c.fail(path+".valid_until", "%s is not after valid_from %s", k.ValidUntil, k.ValidFrom)
		}
	}
	return nil
}

var kmsRef = regexp.MustCompile(`^[a-z][a-z0-9]*://\S+$`)

func (c *Config) validateAPI() error {
	names, digests := map[string]bool{}, map[string]string{}
	for i := range c.API.Tokens {
		t := &c.API.Tokens[i]
		path := fmt.Sprintf("api.tokens[%d]", i)
		if _, ok := c.sources[path]; !ok {
			path = "api.tokens" // from AGENTGATE_API_TOKENS, or a flow list
		}
		if err := t.Check(); err != nil {
			return c.fail(path, "%v", err)
		}
		t.SHA256 = strings.ToLower(t.SHA256)
		if names[t.Name] {
			return c.fail(path, "token name %q is used twice", t.Name)
		}
		names[t.Name] = true
		if other, ok := digests[t.SHA256]; ok {
			return c.fail(path, "tokens %s and %s have the same sha256 (one token, two scopes)", other, t.Name)
		}
		digests[t.SHA256] = t.Name
	}
	return nil
}

var agentName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$`)

// forbiddenPassEnv says why a variable may not be passed to agents, or "".
func forbiddenPassEnv(name string) string {
	upper := strings.ToUpper(name)
	switch {
	case strings.HasPrefix(upper, "AGENTGATE_"):
		return "agentgate's own settings (its keys and secrets) never reach an agent"
	case upper == "GITHUB_TOKEN" || upper == "GH_TOKEN" || strings.Contains(upper, "PRIVATE_KEY"):
		return "an agent never holds a GitHub credential or private key"
	case strings.HasPrefix(upper, "VAULT_"):
		// The hashivault KMS signer reads VAULT_TOKEN: with it an agent
		// could sign attestations.
		return "Vault's settings may hold the token of the signing key, which never reaches an agent"
	}
	return ""
}

// Dir is where dispatch keeps mirrors and run directories.
func (d Dispatch) Dir(dataDir string) string {
	if d.WorkDir != "" {
		return d.WorkDir
	}
	return filepath.Join(dataDir, "work")
}

// RepoLimits are the limits for one repository.
func (d Dispatch) RepoLimits(repo string) Limits {
	l := d.Limits
	if rd, ok := d.lookupRepo(repo); ok {
		if rd.Limits.ConcurrentRuns > 0 {
			l.ConcurrentRuns = rd.Limits.ConcurrentRuns
		}
		if rd.Limits.RunsPerTask > 0 {
			l.RunsPerTask = rd.Limits.RunsPerTask
		}
		if rd.Limits.WallTime > 0 {
			l.WallTime = rd.Limits.WallTime
		}
	}
	return l
}

// RepoRunner is the runner for one repository.
func (d Dispatch) RepoRunner(repo string) string {
	if rd, ok := d.lookupRepo(repo); ok && rd.Runner != "" {
		return rd.Runner
	}
	return d.Runner
}

// AgentFor picks the agent for a repository: the one its config asks for
// (requested, "" for the default) if the repository may use it.
func (d Dispatch) AgentFor(repo, requested string) (Agent, error) {
	allowed := map[string]bool{}
	if rd, ok := d.lookupRepo(repo); ok && len(rd.Agents) > 0 {
		for _, a := range rd.Agents {
			allowed[a] = true
		}
	} else {
		for _, a := range d.Agents {
			allowed[a.Name] = true
		}
	}
	name := requested
	if name == "" {
		name = d.DefaultAgent
		if rd, ok := d.lookupRepo(repo); ok && len(rd.Agents) > 0 && !allowed[name] {
			name = rd.Agents[0]
		}
		if name == "" && len(d.Agents) > 0 {
			name = d.Agents[0].Name
		}
	}
	if !allowed[name] {
		var names []string
		for a := range allowed {
			names = append(names, a)
		}
		sort.Strings(names)
		return Agent{}, fmt.Errorf("agent %q is not allowed for %s by this server (allowed: %s)", name, repo, strings.Join(names, ", "))
	}
	for _, a := range d.Agents {
		if a.Name == name {
			return a, nil
		}
	}
	return Agent{}, fmt.Errorf("agent %q is not configured on this server", name)
}

func (d Dispatch) lookupRepo(repo string) (RepoDispatch, bool) {
	for k, v := range d.Repos {
		if strings.EqualFold(k, repo) {
			return v, true
		}
	}
	return RepoDispatch{}, false
}

func (c *Config) keyPathOfPrivateKey() string {
	if _, ok := c.sources["github.private_key"]; ok {
		return "github.private_key"
	}
	return "github.private_key_file"
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", raw)
	}
	return nil
}

// HasApp reports whether GitHub App credentials are configured; without
// them the server runs first-run setup instead.
func (c *Config) HasApp() bool { return c.GitHub.AppID > 0 }

// WebhookURL is where GitHub should send webhooks.
func (c *Config) WebhookURL() string {
	return strings.TrimSuffix(c.PublicURL, "/") + "/api/github/hook"
}

// Database says which store to open.
type Database struct {
	Driver string // "sqlite" or "postgres"
	DSN    string // file path for sqlite, the URL for postgres
}

// ParseDatabaseURL interprets database_url; empty means a SQLite file in the
// data directory.
func ParseDatabaseURL(raw, dataDir string) (Database, error) {
	switch {
	case raw == "":
		return Database{Driver: "sqlite", DSN: filepath.Join(dataDir, "agentgate.db")}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return Database{}, fmt.Errorf("not a valid postgres URL: %v", err)
		}
		return Database{Driver: "postgres", DSN: raw}, nil
	case strings.HasPrefix(raw, "sqlite://"):
		p := strings.TrimPrefix(raw, "sqlite://")
		if p == "" {
			return Database{}, fmt.Errorf("%q names no file", raw)
		}
		return Database{Driver: "sqlite", DSN: p}, nil
	case strings.Contains(raw, "://"):
		return Database{}, fmt.Errorf("%q: unsupported scheme (use a file path, sqlite://path or postgres://...)", raw)
	default:
		return Database{Driver: "sqlite", DSN: raw}, nil
	}
}

// Database returns the parsed database setting.
func (c *Config) Database() Database {
	db, _ := ParseDatabaseURL(c.DatabaseURL, c.DataDir) // validated in Load
	return db
}
