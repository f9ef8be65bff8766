package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v89/github"
	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/ghapp"
	"github.com/agentgate/agentgate/policy"
	"github.com/agentgate/agentgate/policy/pull"
)

// Exit statuses of the policy commands (main's: 0 ok, 1 error, 2 config).
const (
	exitError      = 1 // could not evaluate / a Rego test failed
	exitUsage      = 2 // bad flags or arguments (and, through main, bad configuration)
	exitNotSuccess = 3 // policy eval: the conclusion is not success
)

// exit ends the process with a status main does not know (2 for usage, 3
// for a decision that is not success).
var exit = os.Exit

// statusError ends a policy command with a specific exit status; msg, when
// set, is printed first as main prints errors.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &statusError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

// withStatus runs f and turns a *statusError into its exit status. Every
// other error goes back to main (1, or 2 for a configuration error).
func withStatus(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := f(cmd, args)
		var st *statusError
		if errors.As(err, &st) {
			if st.msg != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "agentgate:", st.msg)
			}
			exit(st.code)
		}
		return err
	}
}

const policyEvalHelp = `Evaluate one pull request with the same evaluation path as the webhook and
print the decision. Nothing is posted to GitHub: no check run, no comment.

Two sources:

  --input FILE   an input document (policy.Input JSON; "-" reads stdin): what
                 the details page shows and agentgate stores. The default
                 policies judge it, plus --policies DIR if given (the input
                 does not carry the repository's own policies).
  --repo O/R --pr N
                 live from GitHub, like the webhook: config and policies from
                 the pull request's base commit. Authenticates with --token or
                 $GITHUB_TOKEN when set (on github.api_url /
                 AGENTGATE_GITHUB_API_URL), otherwise as the configured GitHub
                 App (finds the repository's installation). --policies DIR
                 replaces the base commit's .github/agentgate/policies, to try
                 policies before merging them.

--policies DIR reads DIR/*.rego (not *_test.rego) as the repository's own
policies, named .github/agentgate/policies/<file>.rego as on GitHub: load
errors name that path and line as the check run does. (The policy digest of
an --input evaluation covers the policies only: the input holds the parsed
config, not the file's bytes the check run's digest includes.)

--format table (default): one row per policy (policy, verdict, why), then the
violations (policy: file:line: message), the load errors (file:line: message),
the policy digest, and a last line "conclusion: success|failure|action_required|in_progress".
--format json: the decision (policy.Decision) as JSON, in both modes;
--save-input FILE (live) also writes the input document it was made on, which
--input replays.

Exit status: 0 the conclusion is success; 3 it is not (failure,
action_required or in_progress: the decision is printed either way); 1 could
not evaluate (unreadable input, GitHub error); 2 bad flags or configuration.`

const policyTestHelp = `Run the Rego tests (test_* rules) of the default policies and, given DIR
(a repository's .github/agentgate/policies), of DIR/*.rego and DIR/*_test.rego
with them, compiled as the gate compiles them: Rego v1, strict, without
http.send, opa.runtime and other I/O. Without DIR only the defaults' tests run.

Prints one line per test (PASS, FAIL, ERROR or SKIP, the rule, file:line; a
failing test's print() output below it), then "N passed, M failed".

Exit status: 0 every test passed; 1 a test failed or errored, or a module does
not parse or compile (file:line on stderr); 2 bad arguments.`

// newPolicyCommand is `agentgate policy`: eval and test.
func newPolicyCommand(load func() (*config.Config, *slog.Logger, error), environ []string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Evaluate pull requests and test Rego policies locally",
		RunE: withStatus(func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %s (eval or test)", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		}),
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withStatus(func(*cobra.Command, []string) error {
			return usageErrorf("%s: %v (see %s --help)", c.CommandPath(), err, c.CommandPath())
		})(c, nil)
	})
	cmd.AddCommand(newPolicyEvalCommand(load, environ), newPolicyTestCommand())
	return cmd
}

type evalFlags struct {
	input, policies   string
	repo              string
	pr                int
	token, appLogin   string
	format, saveInput string
}

func newPolicyEvalCommand(load func() (*config.Config, *slog.Logger, error), environ []string) *cobra.Command {
	var f evalFlags
	cmd := &cobra.Command{
		Use:   "eval (--input FILE | --repo OWNER/REPO --pr N) [--policies DIR] [--format table|json]",
		Short: "Evaluate a pull request (an input document, or live) and print the decision; posts nothing",
		Long:  policyEvalHelp,
		RunE: withStatus(func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("policy eval takes no arguments, got %q", args)
			}
			if f.format != "table" && f.format != "json" {
				return usageErrorf("--format %q: want table or json", f.format)
			}
			var repoPolicies map[string][]byte
			if f.policies != "" {
				var err error
				if repoPolicies, err = readRepoPolicies(f.policies); err != nil {
					return err
				}
			}
			var (
				d  policy.Decision
				in policy.Input
			)
			switch {
			case f.input != "" && f.repo != "":
				return usageErrorf("--input and --repo are exclusive: evaluate an input document or a live pull request")
			case f.input != "":
				if f.pr != 0 || f.token != "" || f.saveInput != "" {
					return usageErrorf("--pr, --token and --save-input go with --repo, not --input")
				}
				var err error
				if in, err = readInput(cmd.InOrStdin(), f.input); err != nil {
					return err
				}
				if d, err = evaluateInput(cmd.Context(), &in, repoPolicies); err != nil {
					return err
				}
			case f.repo != "":
				ev, err := evaluateLive(cmd.Context(), cmd.ErrOrStderr(), load, environ, f, repoPolicies)
				if err != nil {
					return err
				}
				d, in = ev.Decision, ev.Input
				if f.saveInput != "" {
					if err := writeJSONFile(f.saveInput, ev.Input); err != nil {
						return err
					}
				}
			default:
				return usageErrorf("policy eval needs --input FILE or --repo OWNER/REPO --pr N")
			}
			out := cmd.OutOrStdout()
			if f.format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(d); err != nil {
					return err
				}
			} else {
				printDecisionTable(out, in, d, f.policies)
			}
			if d.Conclusion != "success" {
				return &statusError{code: exitNotSuccess}
			}
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.input, "input", "", `input document to evaluate (policy.Input JSON; "-" for stdin)`)
	fl.StringVar(&f.policies, "policies", "", "directory of the repository's own policies (*.rego; *_test.rego are skipped)")
	fl.StringVar(&f.repo, "repo", "", "repository OWNER/REPO of a live pull request")
	fl.IntVar(&f.pr, "pr", 0, "pull request number (with --repo)")
	fl.StringVar(&f.token, "token", "", "GitHub token for --repo (default $GITHUB_TOKEN; without either, the configured GitHub App)")
	fl.StringVar(&f.appLogin, "app-login", "", `agentgate's bot login, whose pull requests are agent-authored (default: learned from the app; with a token, none)`)
	fl.StringVar(&f.format, "format", "table", "output: table or json (the decision)")
	fl.StringVar(&f.saveInput, "save-input", "", "with --repo: also write the input document to this file (for --input)")
	return cmd
}

func newPolicyTestCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the Rego tests of the default policies and of a repository's own (DIR)",
		Long:  policyTestHelp,
		RunE: withStatus(func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("policy test takes at most one directory, got %d arguments", len(args))
			}
			extra := map[string][]byte{}
			if len(args) == 1 {
				var err error
				if extra, err = readRegoDir(args[0], true, func(name string) string {
					return filepath.ToSlash(filepath.Join(args[0], name))
				}); err != nil {
					return err
				}
			}
			results, err := policy.RunRegoTests(cmd.Context(), extra)
			if err != nil {
				return fmt.Errorf("policy test: %w", err)
			}
			out := cmd.OutOrStdout()
			var passed, failed, skipped int
			for _, r := range results {
				where := fmt.Sprintf("%s:%d", r.File, r.Line)
				switch {
				case r.Err != nil:
					failed++
					fmt.Fprintf(out, "ERROR %s (%s): %s\n", r.Name, where, oneLine(r.Err.Error()))
				case r.Fail:
					failed++
					fmt.Fprintf(out, "FAIL  %s (%s)\n", r.Name, where)
				case r.Skip:
					skipped++
					fmt.Fprintf(out, "SKIP  %s (%s)\n", r.Name, where)
					continue
				default:
					passed++
					fmt.Fprintf(out, "PASS  %s (%s)\n", r.Name, where)
					continue
				}
				if len(r.Output) > 0 {
					for _, line := range strings.Split(strings.TrimRight(string(r.Output), "\n"), "\n") {
						fmt.Fprintln(out, "      "+line)
					}
				}
			}
			summary := fmt.Sprintf("%d passed, %d failed", passed, failed)
			if skipped > 0 {
				summary += fmt.Sprintf(", %d skipped", skipped)
			}
			fmt.Fprintln(out, summary)
			if failed > 0 {
				return &statusError{code: exitError}
			}
			return nil
		}),
	}
}

// readRepoPolicies reads DIR/*.rego (not tests) keyed as on GitHub.
func readRepoPolicies(dir string) (map[string][]byte, error) {
	return readRegoDir(dir, false, func(name string) string { return path.Join(policy.PoliciesDir, name) })
}

// readRegoDir reads the .rego files of dir (not its subdirectories), with or
// without *_test.rego, keyed by key(file name). A missing dir is a usage
// error.
func readRegoDir(dir string, tests bool, key func(name string) string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, usageErrorf("policies directory: %v", err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".rego") || (!tests && strings.HasSuffix(name, "_test.rego")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out[key(name)] = data
	}
	return out, nil
}

// readInput decodes an input document strictly: a misspelt field is an
// error, not a silently empty one. Config settings the document leaves out
// keep their defaults (a stored document has them all).
func readInput(stdin io.Reader, file string) (policy.Input, error) {
	var r io.Reader = stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return policy.Input{}, err
		}
		defer f.Close()
		r = f
	}
	in := policy.Input{Config: policy.DefaultConfig()}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return policy.Input{}, fmt.Errorf("input %s: %w", file, err)
	}
	return in, nil
}

// evaluateInput judges an input document through the same path as the
// webhook (policy.Evaluator.Judge). The policy digest covers the policies
// only (the config's bytes are not in the input).
func evaluateInput(ctx context.Context, in *policy.Input, repoPolicies map[string][]byte) (policy.Decision, error) {
	engine, err := policy.NewEngine(policy.WithCacheSize(1))
	if err != nil {
		return policy.Decision{}, err
	}
	return (&policy.Evaluator{Engine: engine}).Judge(ctx, in, repoPolicies)
}

// evaluateLive evaluates owner/repo#pr from GitHub through
// policy.Evaluator, as the webhook's task does, and writes nothing.
func evaluateLive(ctx context.Context, stderr io.Writer, load func() (*config.Config, *slog.Logger, error), environ []string, f evalFlags, repoPolicies map[string][]byte) (*policy.Evaluation, error) {
	owner, name, ok := strings.Cut(f.repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, usageErrorf("--repo %q: want OWNER/REPO", f.repo)
	}
	if f.pr <= 0 {
		return nil, usageErrorf("--repo needs --pr N (a pull request number)")
	}
	cfg, _, err := load()
	if err != nil {
		return nil, err
	}
	token := f.token
	if token == "" {
		token = envValue(environ, "GITHUB_TOKEN")
	}
	apiURL := cfg.GitHub.APIURL
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	var client *github.Client
	appLogin := f.appLogin
	switch {
	case token != "":
		client, err = github.NewClient(github.WithURLs(&apiURL, nil), github.WithAuthToken(token),
			github.WithUserAgent("agentgate/"+version), github.WithTimeout(30*time.Second))
		if err != nil {
			return nil, err
		}
	case cfg.HasApp():
		if client, appLogin, err = installationClient(ctx, cfg, owner, name, appLogin); err != nil {
			return nil, err
		}
	default:
		return nil, &config.Error{Key: "AGENTGATE_GITHUB_APP_ID (or github.app_id in the config file)",
			Reason: "policy eval --repo needs credentials: pass --token, set GITHUB_TOKEN, or configure the GitHub App"}
	}

	engine, err := policy.NewEngine(policy.WithCacheSize(1))
	if err != nil {
		return nil, err
	}
	src := &liveSource{
		Context:  pull.New(client, owner, name, f.pr, pull.WithCheckName(policy.DefaultConfig().CheckName)),
		policies: repoPolicies,
	}
	ev, err := (&policy.Evaluator{Engine: engine, AppLogin: appLogin}).Evaluate(ctx, src)
	if err != nil {
		return nil, err
	}
	if appLogin == "" && ev.Input.PullRequest.Author.Type == "Bot" && !ev.Input.AgentAuthored {
		fmt.Fprintf(stderr, "agentgate: note: %s is a bot not counted as agent-authored; if it is agentgate's app, pass --app-login %s\n",
			ev.Input.PullRequest.Author.Login, ev.Input.PullRequest.Author.Login)
	}
	return ev, nil
}

// installationClient is a client for the app's installation on owner/repo,
// and the app's bot login (unless given).
func installationClient(ctx context.Context, cfg *config.Config, owner, repo, appLogin string) (*github.Client, string, error) {
	clients, err := ghapp.New(ghapp.Config{
		AppID: cfg.GitHub.AppID, PrivateKeyPEM: []byte(cfg.GitHub.PrivateKey),
		APIURL: cfg.GitHub.APIURL, UserAgent: "agentgate/" + version,
	}, nil)
	if err != nil {
		return nil, "", err
	}
	app, err := clients.App()
	if err != nil {
		return nil, "", err
	}
	inst, resp, err := app.Apps.GetRepositoryInstallation(ctx, owner, repo)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return nil, "", fmt.Errorf("the GitHub App (id %d) is not installed on %s/%s", cfg.GitHub.AppID, owner, repo)
		}
		return nil, "", fmt.Errorf("find the app's installation on %s/%s: %w", owner, repo, err)
	}
	if appLogin == "" {
		a, _, err := app.Apps.Get(ctx, "")
		if err != nil {
			return nil, "", fmt.Errorf("get app: %w", err)
		}
		appLogin = a.GetSlug() + "[bot]"
	}
	client, err := clients.Installation(inst.GetID())
	if err != nil {
		return nil, "", err
	}
	return client, appLogin, nil
}

// liveSource is the pull request's view, with the repository's policies
// replaced by local ones when given, and our own check run (by the name the
// base commit's config gives it) left out of the checks, as the webhook does.
type liveSource struct {
	pull.Context
	policies map[string][]byte // nil: the base commit's
}

func (s *liveSource) ListDir(ctx context.Context, ref, dir string) ([]string, error) {
	if s.policies != nil && dir == policy.PoliciesDir {
		names := make([]string, 0, len(s.policies))
		for p := range s.policies {
			names = append(names, path.Base(p))
		}
		sort.Strings(names)
		return names, nil
	}
	return s.Context.ListDir(ctx, ref, dir)
}

func (s *liveSource) FileAt(ctx context.Context, ref, p string) ([]byte, bool, error) {
	if s.policies != nil && path.Dir(p) == policy.PoliciesDir {
		data, ok := s.policies[p]
		return data, ok, nil
	}
	return s.Context.FileAt(ctx, ref, p)
}

func (s *liveSource) Checks(ctx context.Context) ([]policy.Check, error) {
	checks, err := s.Context.Checks(ctx)
	if err != nil {
		return nil, err
	}
	pr, err := s.Context.PullRequest(ctx)
	if err != nil {
		return nil, err
	}
	data, _, err := s.Context.FileAt(ctx, pr.Base.SHA, policy.ConfigPath) // memoised: Evaluate read it
	if err != nil {
		return nil, err
	}
	cfg, err := policy.ParseConfig(policy.ConfigPath, data, nil)
	if err != nil || cfg.CheckName == policy.DefaultConfig().CheckName {
		return checks, nil
	}
	out := checks[:0:0]
	for _, c := range checks {
		if c.Kind == "check_run" && c.Name == cfg.CheckName {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

func envValue(environ []string, key string) string {
	v := ""
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

func writeJSONFile(file string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o600)
}

// printDecisionTable writes the decision for a terminal; the last line is
// always "conclusion: <conclusion>".
func printDecisionTable(w io.Writer, in policy.Input, d policy.Decision, policiesDir string) {
	pr := in.PullRequest
	if in.Repository.FullName != "" || pr.Number != 0 {
		head := fmt.Sprintf("%s#%d", in.Repository.FullName, pr.Number)
		if pr.Head.SHA != "" {
			head += " head " + short(pr.Head.SHA)
		}
		if pr.Base.SHA != "" {
			head += " base " + short(pr.Base.SHA)
		}
		if in.AgentAuthored {
			head += " (agent-authored)"
		}
		fmt.Fprintln(w, head)
	}
	if policiesDir != "" {
		fmt.Fprintf(w, "repository policies: %s/*.rego as %s/\n", filepath.Clean(policiesDir), policy.PoliciesDir)
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POLICY\tVERDICT\tWHY")
	for _, p := range d.Policies {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Verdict, clip(oneLine(p.Summary), 160))
	}
	tw.Flush()

	var violations []policy.Violation
	for _, p := range d.Policies {
		violations = append(violations, p.Violations...)
	}
	if len(violations) > 0 {
		fmt.Fprintln(w, "\nviolations:")
		for _, v := range violations {
			fmt.Fprintf(w, "  %s: %s%s\n", v.Policy, location(v.File, v.Line), oneLine(v.Message))
		}
	}
	if len(d.LoadErrors) > 0 {
		fmt.Fprintln(w, "\nload errors:")
		for _, e := range d.LoadErrors {
			fmt.Fprintf(w, "  %s%s\n", location(e.File, e.Line), oneLine(e.Message))
		}
	}
	fmt.Fprintln(w)
	if d.PolicyDigest != "" {
		fmt.Fprintln(w, "policy digest:", d.PolicyDigest)
	}
	conclusion := d.Conclusion
	if conclusion == "" {
		conclusion = "in_progress"
	}
	fmt.Fprintln(w, "conclusion:", conclusion)
}

// location is "file:line: ", "file: " or "".
func location(file string, line int) string {
	switch {
	case file == "":
		return ""
	case line > 0:
		return fmt.Sprintf("%s:%d: ", file, line)
	}
	return file + ": "
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
