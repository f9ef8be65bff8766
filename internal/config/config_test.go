package config_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
)

var testKeyPEM = sync.OnceValue(func() []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
})

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	t.Chdir(t.TempDir()) // no data/github-app.json lying around
	for _, environ := range [][]string{
		nil,
		{"PATH=/usr/bin", "HOME=/root"},
		// The test suite's own variables are not server settings.
		{"AGENTGATE_TEST_POSTGRES_URL=postgres://x@y/z"},
	} {
		cfg, err := config.Load("", environ)
		if err != nil {
			t.Fatalf("Load(%q): %v", environ, err)
		}
		if cfg.Addr != ":8080" || cfg.DataDir != "data" || cfg.GitHub.APIURL != "https://api.github.com/" || cfg.HasApp() {
			t.Errorf("Load(%q) = addr %q data %q api %q hasApp %v", environ, cfg.Addr, cfg.DataDir, cfg.GitHub.APIURL, cfg.HasApp())
		}
		want := config.Database{Driver: "sqlite", DSN: filepath.Join("data", "agentgate.db")}
		if db := cfg.Database(); db != want {
			t.Errorf("Database() = %+v, want %+v", db, want)
		}
		if cfg.Queue.BackoffBase != 2*time.Second || cfg.Log.Level != "info" {
			t.Errorf("queue/log defaults = %+v %+v", cfg.Queue, cfg.Log)
		}
	}
}

func TestLoadEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	keyFile := writeFile(t, dir, "app.pem", string(testKeyPEM()))
	app := []string{"AGENTGATE_GITHUB_APP_ID=12345", "AGENTGATE_WEBHOOK_SECRET=s3cret"}

	tests := []struct {
		name    string
		environ []string
		check   func(t *testing.T, c *config.Config)
	}{
		{"AGENTGATE_ADDR", []string{"AGENTGATE_ADDR=127.0.0.1:9090"}, func(t *testing.T, c *config.Config) {
			if c.Addr != "127.0.0.1:9090" {
				t.Errorf("Addr = %q", c.Addr)
			}
		}},
		{"AGENTGATE_DATA_DIR moves the default database", []string{"AGENTGATE_DATA_DIR=/srv/agentgate"}, func(t *testing.T, c *config.Config) {
			if c.DataDir != "/srv/agentgate" {
				t.Errorf("DataDir = %q", c.DataDir)
			}
			if db := c.Database(); db != (config.Database{Driver: "sqlite", DSN: "/srv/agentgate/agentgate.db"}) {
				t.Errorf("Database() = %+v", db)
			}
		}},
		{"AGENTGATE_DATABASE_URL plain path", []string{"AGENTGATE_DATABASE_URL=/var/lib/ag.db"}, wantDB("sqlite", "/var/lib/ag.db")},
		{"AGENTGATE_DATABASE_URL relative path", []string{"AGENTGATE_DATABASE_URL=ag.db"}, wantDB("sqlite", "ag.db")},
		{"AGENTGATE_DATABASE_URL sqlite:// absolute", []string{"AGENTGATE_DATABASE_URL=sqlite:///var/lib/ag.db"}, wantDB("sqlite", "/var/lib/ag.db")},
		{"AGENTGATE_DATABASE_URL sqlite:// relative", []string{"AGENTGATE_DATABASE_URL=sqlite://ag.db"}, wantDB("sqlite", "ag.db")},
		{"AGENTGATE_DATABASE_URL postgres://", []string{"AGENTGATE_DATABASE_URL=postgres://u:p@db:5432/ag?sslmode=disable"},
			wantDB("postgres", "postgres://u:p@db:5432/ag?sslmode=disable")},
		{"AGENTGATE_DATABASE_URL postgresql://", []string{"AGENTGATE_DATABASE_URL=postgresql://db/ag"}, wantDB("postgres", "postgresql://db/ag")},
		{"app from key file", append([]string{"AGENTGATE_GITHUB_PRIVATE_KEY_FILE=" + keyFile}, app...), func(t *testing.T, c *config.Config) {
			if !c.HasApp() || c.GitHub.AppID != 12345 || c.GitHub.WebhookSecret != "s3cret" {
				t.Errorf("GitHub = %+v", c.GitHub)
			}
			if c.GitHub.PrivateKeyFile != keyFile || c.GitHub.PrivateKey != string(testKeyPEM()) {
				t.Errorf("private key not loaded from %s (PrivateKeyFile %q, %d key bytes)", keyFile, c.GitHub.PrivateKeyFile, len(c.GitHub.PrivateKey))
			}
		}},
		{"app from inline key", append([]string{"AGENTGATE_GITHUB_PRIVATE_KEY=" + string(testKeyPEM())}, app...), func(t *testing.T, c *config.Config) {
			if !c.HasApp() || c.GitHub.PrivateKey != string(testKeyPEM()) {
				t.Errorf("inline key not used: HasApp %v, %d key bytes", c.HasApp(), len(c.GitHub.PrivateKey))
			}
		}},
		{"inline key wins over key file", append([]string{"AGENTGATE_GITHUB_PRIVATE_KEY=" + string(testKeyPEM()), "AGENTGATE_GITHUB_PRIVATE_KEY_FILE=/nonexistent.pem"}, app...),
			func(t *testing.T, c *config.Config) {
				if c.GitHub.PrivateKey != string(testKeyPEM()) {
					t.Errorf("PrivateKey not the inline key")
				}
			}},
		{"AGENTGATE_GITHUB_API_URL", []string{"AGENTGATE_GITHUB_API_URL=https://ghe.example.com/api/v3/"}, func(t *testing.T, c *config.Config) {
			if c.GitHub.APIURL != "https://ghe.example.com/api/v3/" {
				t.Errorf("APIURL = %q", c.GitHub.APIURL)
			}
		}},
		{"AGENTGATE_PUBLIC_URL", []string{"AGENTGATE_PUBLIC_URL=https://gate.example.com/"}, func(t *testing.T, c *config.Config) {
			if c.PublicURL != "https://gate.example.com/" || c.WebhookURL() != "https://gate.example.com/api/github/hook" {
				t.Errorf("PublicURL = %q, WebhookURL = %q", c.PublicURL, c.WebhookURL())
			}
		}},
		{"queue and log settings", []string{"AGENTGATE_QUEUE_WORKERS=3", "AGENTGATE_QUEUE_BACKOFF_BASE=500ms", "AGENTGATE_RECONCILE_INTERVAL=0s", "AGENTGATE_LOG_LEVEL=debug", "AGENTGATE_LOG_FORMAT=text"},
			func(t *testing.T, c *config.Config) {
				if c.Queue.Workers != 3 || c.Queue.BackoffBase != 500*time.Millisecond || c.Reconcile.Interval != 0 || c.Log != (config.Log{Level: "debug", Format: "text"}) {
					t.Errorf("Queue = %+v, Reconcile = %+v, Log = %+v", c.Queue, c.Reconcile, c.Log)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load("", tc.environ)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tc.check(t, cfg)
			if !equalStrings(cfg.Environ, tc.environ) || cfg.ConfigFile != "" {
				t.Errorf("Load did not remember its inputs: ConfigFile %q, Environ %q", cfg.ConfigFile, cfg.Environ)
			}
		})
	}
}

func wantDB(driver, dsn string) func(*testing.T, *config.Config) {
	return func(t *testing.T, c *config.Config) {
		t.Helper()
		want := config.Database{Driver: driver, DSN: dsn}
		if got := c.Database(); got != want {
			t.Errorf("Database() = %+v, want %+v", got, want)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoadFileThenEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	keyFile := writeFile(t, dir, "app.pem", string(testKeyPEM()))
	file := writeFile(t, dir, "agentgate.yaml", `
addr: ":9000"
data_dir: yamldata
public_url: https://from-yaml.example.com
github:
  app_id: 77
  private_key_file: `+keyFile+`
  webhook_secret: from-yaml
queue:
  workers: 4
  backoff_base: 3s
reconcile:
  interval: 1m
`)
	tests := []struct {
		name    string
		environ []string
		want    func(*config.Config) []string // mismatches
	}{
		{"file alone", nil, func(c *config.Config) []string {
			return diffs(
				"addr", c.Addr, ":9000",
				"data_dir", c.DataDir, "yamldata",
				"public_url", c.PublicURL, "https://from-yaml.example.com",
				"secret", c.GitHub.WebhookSecret, "from-yaml",
				"workers", strconv.Itoa(c.Queue.Workers), "4",
				"backoff_base", c.Queue.BackoffBase.String(), "3s",
				"interval", c.Reconcile.Interval.String(), "1m0s",
				"database", c.Database().DSN, filepath.Join("yamldata", "agentgate.db"),
				"app id", strconv.Itoa(int(c.GitHub.AppID)), "77",
			)
		}},
		{"environment wins", []string{"AGENTGATE_ADDR=:7000", "AGENTGATE_WEBHOOK_SECRET=from-env", "AGENTGATE_GITHUB_APP_ID=88", "AGENTGATE_QUEUE_BACKOFF_BASE=1s"},
			func(c *config.Config) []string {
				return diffs(
					"addr", c.Addr, ":7000",
					"data_dir", c.DataDir, "yamldata", // untouched by the environment
					"secret", c.GitHub.WebhookSecret, "from-env",
					"app id", strconv.Itoa(int(c.GitHub.AppID)), "88",
					"backoff_base", c.Queue.BackoffBase.String(), "1s",
					"workers", strconv.Itoa(c.Queue.Workers), "4",
				)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load(file, tc.environ)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			for _, d := range tc.want(cfg) {
				t.Error(d)
			}
			if cfg.ConfigFile != file {
				t.Errorf("ConfigFile = %q, want %q", cfg.ConfigFile, file)
			}
		})
	}
}

func diffs(triples ...string) []string {
	var out []string
	for i := 0; i+2 < len(triples); i += 3 {
		if triples[i+1] != triples[i+2] {
			out = append(out, triples[i]+" = "+triples[i+1]+", want "+triples[i+2])
		}
	}
	return out
}

// loadErrorCase is a config that Load must refuse with a one-line
// *config.Error containing every want.
type loadErrorCase struct {
	name    string
	yaml    string // written to config.yaml when set
	environ []string
	want    []string // substrings of the error message
}

func checkLoadErrors(t *testing.T, tests []loadErrorCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = writeFile(t, t.TempDir(), "config.yaml", tc.yaml)
			}
			cfg, err := config.Load(path, tc.environ)
			if err == nil {
				t.Fatalf("Load succeeded (%+v), want an error naming %q", cfg, tc.want)
			}
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Errorf("error %q is a %T, want *config.Error", err, err)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error is not one line:\n%s", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	keyFile := writeFile(t, dir, "app.pem", string(testKeyPEM()))
	notPEM := writeFile(t, dir, "not.pem", "this is not a key\n")
	secret := "AGENTGATE_WEBHOOK_SECRET=s"

	tests := []loadErrorCase{
		{"app id not a number", "", []string{"AGENTGATE_GITHUB_APP_ID=abc"}, []string{"AGENTGATE_GITHUB_APP_ID", `"abc"`}},
		{"app id negative", "", []string{"AGENTGATE_GITHUB_APP_ID=-3"}, []string{"AGENTGATE_GITHUB_APP_ID", `"-3"`}},
		{"app id zero", "", []string{"AGENTGATE_GITHUB_APP_ID=0"}, []string{"AGENTGATE_GITHUB_APP_ID"}},
		{"app id empty", "", []string{"AGENTGATE_GITHUB_APP_ID="}, []string{"AGENTGATE_GITHUB_APP_ID"}},
		{"app id without key", "", []string{"AGENTGATE_GITHUB_APP_ID=1", secret}, []string{"AGENTGATE_GITHUB_PRIVATE_KEY_FILE", "required"}},
		{"unreadable key file", "", []string{"AGENTGATE_GITHUB_APP_ID=1", secret, "AGENTGATE_GITHUB_PRIVATE_KEY_FILE=" + filepath.Join(dir, "missing.pem")},
			[]string{"AGENTGATE_GITHUB_PRIVATE_KEY_FILE", "missing.pem"}},
		{"key file is a directory", "", []string{"AGENTGATE_GITHUB_APP_ID=1", secret, "AGENTGATE_GITHUB_PRIVATE_KEY_FILE=" + dir},
			[]string{"AGENTGATE_GITHUB_PRIVATE_KEY_FILE"}},
		{"key file not PEM", "", []string{"AGENTGATE_GITHUB_APP_ID=1", secret, "AGENTGATE_GITHUB_PRIVATE_KEY_FILE=" + notPEM},
			[]string{"AGENTGATE_GITHUB_PRIVATE_KEY_FILE", "PEM"}},
		{"inline key not PEM", "", []string{"AGENTGATE_GITHUB_APP_ID=1", secret, "AGENTGATE_GITHUB_PRIVATE_KEY=nope"},
			[]string{"AGENTGATE_GITHUB_PRIVATE_KEY", "PEM"}},
		{"app id without webhook secret", "", []string{"AGENTGATE_GITHUB_APP_ID=1", "AGENTGATE_GITHUB_PRIVATE_KEY_FILE=" + keyFile},
			[]string{"AGENTGATE_WEBHOOK_SECRET", "required"}},
		{"secret without app id", "", []string{secret}, []string{"AGENTGATE_GITHUB_APP_ID"}},
		{"database mysql", "", []string{"AGENTGATE_DATABASE_URL=mysql://x"}, []string{"AGENTGATE_DATABASE_URL", "mysql://x"}},
		{"database sqlite:// without file", "", []string{"AGENTGATE_DATABASE_URL=sqlite://"}, []string{"AGENTGATE_DATABASE_URL"}},
		{"api url ftp", "", []string{"AGENTGATE_GITHUB_API_URL=ftp://x"}, []string{"AGENTGATE_GITHUB_API_URL", "ftp://x"}},
		{"api url without host", "", []string{"AGENTGATE_GITHUB_API_URL=https://"}, []string{"AGENTGATE_GITHUB_API_URL"}},
		{"public url not http", "", []string{"AGENTGATE_PUBLIC_URL=gate.example.com"}, []string{"AGENTGATE_PUBLIC_URL"}},
		{"addr nonsense", "", []string{"AGENTGATE_ADDR=nonsense"}, []string{"AGENTGATE_ADDR", `"nonsense"`}},
		{"empty data dir", "", []string{"AGENTGATE_DATA_DIR="}, []string{"AGENTGATE_DATA_DIR"}},
		{"unknown variable", "", []string{"AGENTGATE_FOO=1"}, []string{"AGENTGATE_FOO", "unknown"}},
		{"misspelt variable", "", []string{"AGENTGATE_WEBHOOK_SECERT=s"}, []string{"AGENTGATE_WEBHOOK_SECERT"}},
		{"bad duration", "", []string{"AGENTGATE_QUEUE_JOB_TIMEOUT=ten minutes"}, []string{"AGENTGATE_QUEUE_JOB_TIMEOUT", "duration"}},
		{"zero duration", "", []string{"AGENTGATE_QUEUE_POLL_INTERVAL=0s"}, []string{"AGENTGATE_QUEUE_POLL_INTERVAL"}},
		{"bad integer", "", []string{"AGENTGATE_QUEUE_WORKERS=many"}, []string{"AGENTGATE_QUEUE_WORKERS"}},
		{"zero workers", "", []string{"AGENTGATE_QUEUE_WORKERS=0"}, []string{"AGENTGATE_QUEUE_WORKERS"}},
		{"backoff max below base", "", []string{"AGENTGATE_QUEUE_BACKOFF_BASE=1m", "AGENTGATE_QUEUE_BACKOFF_MAX=1s"}, []string{"AGENTGATE_QUEUE_BACKOFF_MAX"}},
		{"log level", "", []string{"AGENTGATE_LOG_LEVEL=loud"}, []string{"AGENTGATE_LOG_LEVEL", "loud"}},

		{"yaml unknown key", "addr: \":1\"\nbogus: 1\n", nil, []string{"config.yaml:2", "bogus"}},
		{"yaml unknown nested key", "github:\n  app_id: 1\n  secret: x\n", nil, []string{"config.yaml:3", "secret"}},
		{"yaml wrong type", "queue:\n  workers: abc\n", nil, []string{"config.yaml:2: queue.workers"}},
		{"yaml bad duration", "reconcile:\n  lookback: 5x\n", nil, []string{"config.yaml:2: reconcile.lookback"}},
		{"yaml bad addr", "log:\n  level: info\naddr: nonsense\n", nil, []string{"config.yaml:3: addr", `"nonsense"`}},
		{"yaml negative app id", "github:\n  app_id: -3\n", nil, []string{"config.yaml:2: github.app_id"}},
		{"yaml app id without secret", "github:\n  app_id: 5\n  private_key_file: " + keyFile + "\n", nil,
			[]string{"AGENTGATE_WEBHOOK_SECRET", "github.webhook_secret"}},
		{"yaml key file not PEM", "github:\n  app_id: 5\n  webhook_secret: s\n  private_key_file: " + notPEM + "\n", nil,
			[]string{"config.yaml:4: github.private_key_file", "PEM"}},
		{"yaml syntax", "addr: [\n", nil, []string{"config.yaml"}},
		{"dispatch enabled without agents", "dispatch:\n  enabled: true\n", nil, []string{"dispatch.agents", "no agent"}},
		{"dispatch agent without command", "dispatch:\n  agents:\n    - name: a\n      adapter: generic\n", nil, []string{"dispatch.agents[0].command"}},
		{"dispatch agent name twice", "dispatch:\n  agents:\n    - name: a\n      adapter: generic\n      command: [x]\n    - name: a\n      command: [y]\n", nil, []string{"dispatch.agents[1].name", "defined twice"}},
		{"dispatch pass_env agentgate secret", "dispatch:\n  agents:\n    - name: a\n      adapter: generic\n      command: [x]\n      pass_env: [AGENTGATE_GITHUB_PRIVATE_KEY]\n", nil, []string{"pass_env", "never reach an agent"}},
		{"dispatch pass_env github token", "dispatch:\n  agents:\n    - name: a\n      adapter: generic\n      command: [x]\n      pass_env: [GITHUB_TOKEN]\n", nil, []string{"pass_env", "GitHub credential"}},
		{"dispatch pass_env vault token", "dispatch:\n  agents:\n    - name: a\n      adapter: generic\n      command: [x]\n      pass_env: [VAULT_TOKEN]\n", nil, []string{"pass_env", "signing key"}},
		{"dispatch default agent unknown", "dispatch:\n  agents:\n    - name: a\n      adapter: generic\n      command: [x]\n  default_agent: b\n", nil, []string{"dispatch.default_agent", `"b"`}},
		{"dispatch runner unknown", "", []string{"AGENTGATE_DISPATCH_RUNNER=k8s"}, []string{"AGENTGATE_DISPATCH_RUNNER", "k8s"}},
		{"dispatch repo agent unknown", "dispatch:\n  agents:\n    - name: a\n      adapter: generic\n      command: [x]\n  repos:\n    o/r:\n      agents: [zz]\n", nil, []string{"dispatch.repos.o/r.agents", "zz"}},
		{"dispatch repo not owner/name", "dispatch:\n  agents:\n    - name: a\n      adapter: generic\n      command: [x]\n  repos:\n    justname: {}\n", nil, []string{"justname", "owner/name"}},
		{"dispatch wall time zero", "", []string{"AGENTGATE_DISPATCH_WALL_TIME=0s"}, []string{"AGENTGATE_DISPATCH_WALL_TIME"}},
		{"env value wrong, file fine", "addr: \":9000\"\n", []string{"AGENTGATE_ADDR=nonsense"}, []string{"AGENTGATE_ADDR"}},
	}
	checkLoadErrors(t, tests)
}

func TestLoadMissingConfigFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	var cerr *config.Error
	if !errors.As(err, &cerr) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("Load(missing file) error = %v, want a *config.Error naming the file", err)
	}
}

func TestSavedAppCredentials(t *testing.T) {
	app := config.SavedApp{AppID: 4242, Slug: "agentgate-test", HTMLURL: "https://github.com/apps/agentgate-test",
		ClientID: "Iv1.abc", ClientSecret: "cs", WebhookSecret: "whs"}
	key := testKeyPEM()

	t.Run("saved owner-only and loaded", func(t *testing.T) {
		dataDir := filepath.Join(t.TempDir(), "new", "data") // created on save
		if err := config.SaveAppCredentials(dataDir, app, key); err != nil {
			t.Fatalf("SaveAppCredentials: %v", err)
		}
		for _, name := range []string{config.AppCredentialsFile, config.AppPrivateKeyFile} {
			fi, err := os.Stat(filepath.Join(dataDir, name))
			if err != nil {
				t.Fatalf("%s not written: %v", name, err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s mode = %o, want 600", name, perm)
			}
		}
		if got, _ := os.ReadFile(filepath.Join(dataDir, config.AppPrivateKeyFile)); string(got) != string(key) {
			t.Error("saved key differs from the key given")
		}

		cfg, err := config.Load("", []string{"AGENTGATE_DATA_DIR=" + dataDir})
		if err != nil {
			t.Fatalf("Load with saved credentials: %v", err)
		}
		if !cfg.HasApp() || cfg.GitHub.AppID != app.AppID || cfg.GitHub.WebhookSecret != app.WebhookSecret {
			t.Errorf("saved app not picked up: %+v", cfg.GitHub)
		}
		if cfg.GitHub.PrivateKey != string(key) || cfg.GitHub.PrivateKeyFile != filepath.Join(dataDir, config.AppPrivateKeyFile) {
			t.Errorf("saved key not loaded: file %q, %d key bytes", cfg.GitHub.PrivateKeyFile, len(cfg.GitHub.PrivateKey))
		}

		// Configured credentials win over saved ones.
		cfg, err = config.Load("", []string{"AGENTGATE_DATA_DIR=" + dataDir, "AGENTGATE_GITHUB_APP_ID=1", "AGENTGATE_WEBHOOK_SECRET=mine",
			"AGENTGATE_GITHUB_PRIVATE_KEY=" + string(key)})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.GitHub.AppID != 1 || cfg.GitHub.WebhookSecret != "mine" {
			t.Errorf("environment did not win over saved credentials: %+v", cfg.GitHub)
		}
	})

	t.Run("refuses to overwrite", func(t *testing.T) {
		dataDir := t.TempDir()
		if err := config.SaveAppCredentials(dataDir, app, key); err != nil {
			t.Fatal(err)
		}
		other := app
		other.AppID, other.WebhookSecret = 9999, "other"
		if err := config.SaveAppCredentials(dataDir, other, []byte("-----BEGIN RSA PRIVATE KEY-----\nother\n-----END RSA PRIVATE KEY-----\n")); err == nil {
			t.Fatal("second SaveAppCredentials succeeded, want a refusal")
		}
		cfg, err := config.Load("", []string{"AGENTGATE_DATA_DIR=" + dataDir})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.GitHub.AppID != app.AppID || cfg.GitHub.PrivateKey != string(key) {
			t.Errorf("first credentials were replaced: app id %d", cfg.GitHub.AppID)
		}
	})

	t.Run("saved credentials without secret", func(t *testing.T) {
		dataDir := t.TempDir()
		bad := app
		bad.WebhookSecret = ""
		if err := config.SaveAppCredentials(dataDir, bad, key); err != nil {
			t.Fatal(err)
		}
		_, err := config.Load("", []string{"AGENTGATE_DATA_DIR=" + dataDir})
		var cerr *config.Error
		if !errors.As(err, &cerr) || !strings.Contains(err.Error(), config.AppCredentialsFile) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Load error = %v, want a one-line *config.Error naming %s", err, config.AppCredentialsFile)
		}
	})

	t.Run("saved key missing", func(t *testing.T) {
		dataDir := t.TempDir()
		if err := config.SaveAppCredentials(dataDir, app, key); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dataDir, config.AppPrivateKeyFile)); err != nil {
			t.Fatal(err)
		}
		_, err := config.Load("", []string{"AGENTGATE_DATA_DIR=" + dataDir})
		if err == nil || !strings.Contains(err.Error(), config.AppPrivateKeyFile) {
			t.Errorf("Load error = %v, want one naming %s", err, config.AppPrivateKeyFile)
		}
	})
}

func TestDispatchAgentChoice(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config.yaml", `dispatch:
  default_agent: claude
  agents:
    - {name: claude, adapter: claude-code, command: [claude]}
    - {name: codex, adapter: codex, command: [codex]}
  limits: {concurrent_runs: 3, runs_per_task: 5, wall_time: 20m}
  repos:
    o/locked: {agents: [codex], runner: actions, limits: {wall_time: 5m}}
`)
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Dispatch
	tests := []struct {
		repo, requested, want, wantErr string
	}{
		{"o/any", "", "claude", ""},
		{"o/any", "codex", "codex", ""},
		{"o/locked", "", "codex", ""}, // the default is not allowed there: the repo's first allowed agent
		{"o/locked", "claude", "", "not allowed for o/locked"},
		{"O/Locked", "claude", "", "not allowed"}, // repository names are case-insensitive
		{"o/any", "gpt", "", "not allowed"},
	}
	for _, tc := range tests {
		a, err := d.AgentFor(tc.repo, tc.requested)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("AgentFor(%s, %q) error %v, want %q", tc.repo, tc.requested, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || a.Name != tc.want):
			t.Errorf("AgentFor(%s, %q) = %q, %v; want %q", tc.repo, tc.requested, a.Name, err, tc.want)
		}
	}
	if l := d.RepoLimits("o/locked"); l.WallTime != 5*time.Minute || l.ConcurrentRuns != 3 || l.RunsPerTask != 5 {
		t.Errorf("limits of o/locked = %+v", l)
	}
	if d.RepoRunner("o/locked") != "actions" || d.RepoRunner("o/any") != "exec" {
		t.Errorf("runners %q %q", d.RepoRunner("o/locked"), d.RepoRunner("o/any"))
	}
}

const pubPEM = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"

var (
	digestA = strings.Repeat("ab", 32)
	digestB = strings.Repeat("CD", 32)
)

func TestLoadSigningAttestationsAPI(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	oldPub := writeFile(t, dir, "old.pub", pubPEM)

	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Attestations.Enabled || cfg.Attestations.GitNotes || cfg.Attestations.GitHubAPI || len(cfg.API.Tokens) != 0 {
		t.Errorf("defaults: attestations %+v, tokens %+v", cfg.Attestations, cfg.API.Tokens)
	}
	if got := cfg.SigningKeyFile(); got != filepath.Join("data", "signing.key") {
		t.Errorf("default signing key file %q", got)
	}

	yaml := `data_dir: /srv/ag
signing:
  valid_from: 2026-06-01T00:00:00Z
  rekor_url: https://rekor.example.com
  timestamp_url: https://tsa.example.com/api/v1/timestamp
  previous_keys:
    - public_key_file: ` + oldPub + `
      valid_from: 2026-01-01T00:00:00Z
      valid_until: 2026-06-01T00:00:00Z
attestations:
  enabled: false
  git_notes: true
api:
  tokens:
    - name: audit-team
      sha256: ` + digestA + `
      repos: ["acme/*"]
    - name: everything
      sha256: ` + digestB + `
      repos: ["*"]
`
	cfg, err = config.Load(writeFile(t, dir, "config.yaml", yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Signing
	if cfg.SigningKeyFile() != filepath.Join("/srv/ag", "signing.key") || s.RekorURL == "" || s.TimestampURL == "" ||
		!s.ValidFromTime().Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) || len(s.PreviousKeys) != 1 ||
		!s.PreviousKeys[0].ValidUntilTime().Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) ||
		!s.PreviousKeys[0].ValidFromTime().Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("signing %+v (key file %s)", s, cfg.SigningKeyFile())
	}
	if cfg.Attestations.Enabled || !cfg.Attestations.GitNotes || cfg.Attestations.GitHubAPI {
		t.Errorf("attestations %+v", cfg.Attestations)
	}
	if len(cfg.API.Tokens) != 2 || cfg.API.Tokens[1].SHA256 != strings.ToLower(digestB) {
		t.Fatalf("tokens %+v (digests are kept lower-case)", cfg.API.Tokens)
	}
	team, all := cfg.API.Tokens[0], cfg.API.Tokens[1]
	for repo, want := range map[string]bool{"acme/web": true, "ACME/Web": false, "other/x": false, "acmeco/x": false} {
		if team.Allows(repo) != want {
			t.Errorf("acme/* allows %s = %v", repo, !want)
		}
	}
	if team.AllRepos() || !all.AllRepos() || !all.Allows("other/x") {
		t.Error("scope of * wrong")
	}

	// The environment overrides the file; AGENTGATE_API_TOKENS replaces
	// the file's list.
	cfg, err = config.Load(writeFile(t, dir, "config.yaml", yaml), []string{
		"AGENTGATE_SIGNING_KMS=hashivault://agentgate",
		"AGENTGATE_ATTESTATIONS_ENABLED=true",
		"AGENTGATE_ATTESTATIONS_GITHUB_API=1",
		"AGENTGATE_ATTESTATIONS_GIT_NOTES=false",
		"AGENTGATE_API_TOKENS=ci:" + digestB + ":acme/web,acme/api; ops:" + digestA + ":*",
		// What the CLI reads is not refused as an unknown server setting.
		"AGENTGATE_API_TOKEN=agt_secret", "AGENTGATE_SERVER=https://gate.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Signing.KMS != "hashivault://agentgate" || !cfg.Attestations.Enabled || !cfg.Attestations.GitHubAPI || cfg.Attestations.GitNotes {
		t.Errorf("env: signing %+v attestations %+v", cfg.Signing, cfg.Attestations)
	}
	if len(cfg.API.Tokens) != 2 || cfg.API.Tokens[0].Name != "ci" || !equalStrings(cfg.API.Tokens[0].Repos, []string{"acme/web", "acme/api"}) ||
		cfg.API.Tokens[1].Name != "ops" || !cfg.API.Tokens[1].AllRepos() {
		t.Errorf("env tokens %+v", cfg.API.Tokens)
	}
	for _, name := range []string{"AGENTGATE_SIGNING_KEY_FILE", "AGENTGATE_SIGNING_KMS", "AGENTGATE_ATTESTATIONS_GIT_NOTES", "AGENTGATE_ATTESTATIONS_GITHUB_API", "AGENTGATE_API_TOKENS"} {
		found := false
		for _, n := range config.EnvVarNames() {
			found = found || n == name
		}
		if !found {
			t.Errorf("%s is not a known variable", name)
		}
	}
}

func TestLoadSigningAPIErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	pub := writeFile(t, dir, "old.pub", pubPEM)
	notPub := writeFile(t, dir, "not.pub", "hello\n")
	tok := func(name, digest, repos string) string {
		return "api:\n  tokens:\n    - name: " + name + "\n      sha256: " + digest + "\n      repos: " + repos + "\n"
	}
	prev := func(file, from, until string) string {
		return "signing:\n  previous_keys:\n    - public_key_file: " + file + "\n      valid_from: " + from + "\n      valid_until: " + until + "\n"
	}
	tests := []loadErrorCase{
		{"kms and key file", "", []string{"AGENTGATE_SIGNING_KMS=hashivault://k", "AGENTGATE_SIGNING_KEY_FILE=/k"}, []string{"AGENTGATE_SIGNING_KMS", "signing.key_file"}},
		{"kms not a reference", "signing:\n  kms: agentgate\n", nil, []string{"config.yaml:2: signing.kms", "hashivault://"}},
		{"valid_from not RFC 3339", "", []string{"AGENTGATE_SIGNING_VALID_FROM=yesterday"}, []string{"AGENTGATE_SIGNING_VALID_FROM", "RFC 3339"}},
		{"rekor url", "signing:\n  rekor_url: rekor\n", nil, []string{"config.yaml:2: signing.rekor_url"}},
		{"timestamp url", "", []string{"AGENTGATE_SIGNING_TIMESTAMP_URL=ftp://tsa"}, []string{"AGENTGATE_SIGNING_TIMESTAMP_URL"}},
		{"previous key without file", "signing:\n  previous_keys:\n    - valid_until: 2026-06-01T00:00:00Z\n", nil, []string{"config.yaml:3: signing.previous_keys[0].public_key_file", "required"}},
		{"previous key missing file", prev(filepath.Join(dir, "gone.pub"), "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"), nil, []string{"config.yaml:3: signing.previous_keys[0].public_key_file", "gone.pub"}},
		{"previous key not a public key", prev(notPub, "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"), nil, []string{"signing.previous_keys[0].public_key_file", "PUBLIC KEY"}},
		{"previous key without end", "signing:\n  previous_keys:\n    - public_key_file: " + pub + "\n", nil, []string{"signing.previous_keys[0].valid_until", "required"}},
		{"previous key bad start", prev(pub, "soon", "2026-06-01T00:00:00Z"), nil, []string{"config.yaml:4: signing.previous_keys[0].valid_from", `"soon"`}},
		{"previous key window backwards", prev(pub, "2026-06-01T00:00:00Z", "2026-01-01T00:00:00Z"), nil, []string{"config.yaml:5: signing.previous_keys[0].valid_until", "not after"}},
		{"attestations bool", "", []string{"AGENTGATE_ATTESTATIONS_GIT_NOTES=maybe"}, []string{"AGENTGATE_ATTESTATIONS_GIT_NOTES", "true or false"}},
		{"yaml attestations not bool", "attestations:\n  github_api: sometimes\n", nil, []string{"config.yaml:2: attestations.github_api"}},
		{"token digest short", tok("a", "abc", "[\"*\"]"), nil, []string{"config.yaml:3: api.tokens[0]", "64 hex"}},
		{"token without repos", tok("a", digestA, "[]"), nil, []string{"api.tokens[0]", "repos is empty"}},
		{"token repo pattern", tok("a", digestA, "[\"acme\"]"), nil, []string{"api.tokens[0]", `"acme"`, "owner/name"}},
		{"token repo glob in name", tok("a", digestA, "[\"acme/we*\"]"), nil, []string{"api.tokens[0]", `"acme/we*"`}},
		{"token bad name", tok("has space", digestA, "[\"*\"]"), nil, []string{"api.tokens[0]", "token name"}},
		{"token names twice", "api:\n  tokens:\n    - {name: a, sha256: " + digestA + ", repos: [\"*\"]}\n    - {name: a, sha256: " + digestB + ", repos: [\"*\"]}\n", nil, []string{"config.yaml:4: api.tokens[1]", "twice"}},
		{"token digest twice", "api:\n  tokens:\n    - {name: a, sha256: " + digestA + ", repos: [\"*\"]}\n    - {name: b, sha256: " + strings.ToUpper(digestA) + ", repos: [x/y]}\n", nil, []string{"api.tokens[1]", "same sha256"}},
		{"env tokens malformed", "", []string{"AGENTGATE_API_TOKENS=a:" + digestA}, []string{"AGENTGATE_API_TOKENS", "name:sha256:repo"}},
		{"env tokens bad repo", "", []string{"AGENTGATE_API_TOKENS=a:" + digestA + ":nope"}, []string{"AGENTGATE_API_TOKENS", `"nope"`}},
		{"env tokens twice", "", []string{"AGENTGATE_API_TOKENS=a:" + digestA + ":*;a:" + digestB + ":*"}, []string{"AGENTGATE_API_TOKENS", "twice"}},
	}
	checkLoadErrors(t, tests)
}
