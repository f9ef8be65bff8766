package policy

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigReferenceIsDefault(t *testing.T) {
	data, err := os.ReadFile("testdata/repoconfig/reference.yml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig(ConfigPath, data, nil)
	if err != nil {
		t.Fatalf("ParseConfig(reference.yml): %v", err)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("reference.yml parses to\n%+v\nwant DefaultConfig()\n%+v", got, want)
	}
}

func TestConfigEmptyIsDefault(t *testing.T) {
	for _, data := range []string{"", "# nothing yet\n", "---\n", "~\n", "size:\n  # max_lines: 10\n"} {
		got, err := ParseConfig(ConfigPath, []byte(data), nil)
		if err != nil || !reflect.DeepEqual(got, DefaultConfig()) {
			t.Errorf("ParseConfig(%q) = %+v, %v; want defaults", data, got, err)
		}
	}
	if got, err := ParseConfig(ConfigPath, nil, nil); err != nil || !reflect.DeepEqual(got, DefaultConfig()) {
		t.Errorf("ParseConfig(nil) = %+v, %v; want defaults", got, err)
	}
}

func TestConfigMergesOverBase(t *testing.T) {
	org := DefaultConfig()
	org.CheckName = "org-gate"
	org.Size.MaxLines = 500
	org.Size.Exclude = []string{"third_party/**"}
	org.Protected.RequireApproval = []ApprovalRule{{Paths: []string{"db/**"}, Owners: []string{"org/dba"}}}
	before := org.clone()

	data := "size:\n  max_files: 10\n  exclude: [gen/**]\ntest_evidence:\n  required_checks: [test]\n  timeout: 30m\nprotected_paths:\n  agents_may_not_touch: []\n"
	got, err := ParseConfig(ConfigPath, []byte(data), &org)
	if err != nil {
		t.Fatal(err)
	}
	want := org.clone()
	want.Size.MaxFiles = 10                // set in the file
	want.Size.Exclude = []string{"gen/**"} // lists replace
	want.TestEvidence.RequiredChecks = []string{"test"}
	want.TestEvidence.Timeout = Duration{30 * time.Minute}
	want.Protected.AgentsMayNotTouch = []string{} // [] empties
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged\n%+v\nwant\n%+v", got, want)
	}
	if !reflect.DeepEqual(org, before) {
		t.Errorf("ParseConfig changed its base: %+v", org)
	}
	got.Protected.RequireApproval[0].Owners[0] = "changed"
	if org.Protected.RequireApproval[0].Owners[0] != "org/dba" {
		t.Error("the result shares memory with the base")
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"wrong type", "size:\n  max_lines: lots\n",
			`.github/agentgate.yml:2: size.max_lines: cannot unmarshal !!str "lots" into int`},
		{"unknown key", "check_name: gate\nchek_name: x\n",
			".github/agentgate.yml:2: chek_name: unknown key (known here: check_name, agents, size, provenance, test_evidence, protected_paths, plan_scope, dispatch, disabled_policies)"},
		{"unknown nested key", "size:\n  max_line: 3\n",
			".github/agentgate.yml:2: size.max_line: unknown key (known here: max_lines, max_files, exclude, applies_to)"},
		{"duplicate key", "size:\n  max_lines: 3\n  max_lines: 4\n",
			".github/agentgate.yml:3: size.max_lines: duplicate key (first at line 2)"},
		{"syntax", "size:\n  max_lines: 3\n bad\n",
			".github/agentgate.yml:2: YAML syntax: did not find expected key"},
		{"tab indentation", "size:\n\tmax_lines: 3\n",
			".github/agentgate.yml:2: YAML syntax: found character that cannot start any token"},
		{"negative limit", "size:\n  max_files: -1\n",
			".github/agentgate.yml:2: size.max_files: must not be negative (0 turns the limit off)"},
		{"empty check name", "check_name: \"\"\n",
			".github/agentgate.yml:1: check_name: must not be empty"},
		{"glob with partial **", "size:\n  exclude:\n    - vendor/**\n    - \"a/**b\"\n",
			`.github/agentgate.yml:4: size.exclude[1]: "**" must be a whole path segment, as in "**/x" or "x/**"`},
		{"malformed glob", "test_evidence:\n  test_globs: [\"t/[a-\"]\n",
			".github/agentgate.yml:2: test_evidence.test_globs[0]: malformed glob: syntax error in pattern"},
		{"glob with unbalanced braces", "protected_paths:\n  agents_may_not_touch: [\"*.{yml,yaml\"]\n",
			".github/agentgate.yml:2: protected_paths.agents_may_not_touch[0]: unbalanced braces in glob"},
		{"glob with ** in braces", "protected_paths:\n  agents_may_not_touch: [\"{a,b**}/c\"]\n",
			`.github/agentgate.yml:2: protected_paths.agents_may_not_touch[0]: "**" must be a whole path segment, as in "**/x" or "x/**"`},
		{"absolute glob", "test_evidence:\n  code_globs:\n    - /src/**\n",
			".github/agentgate.yml:3: test_evidence.code_globs[0]: globs are relative to the repository root: remove the leading /"},
		{"bad duration", "test_evidence:\n  timeout: soon\n",
			`.github/agentgate.yml:2: test_evidence.timeout: bad duration "soon": want e.g. "30m" or "1h"`},
		{"duration as a number", "test_evidence:\n  timeout: 30\n",
			`.github/agentgate.yml:2: test_evidence.timeout: cannot unmarshal !!int "30" into a duration`},
		{"zero duration", "test_evidence:\n  timeout: 0s\n",
			".github/agentgate.yml:2: test_evidence.timeout: must be positive"},
		{"applies_to", "size:\n  applies_to: humans\n",
			`.github/agentgate.yml:2: size.applies_to: want agents or all, got "humans"`},
		{"scalar for a list", "agents:\n  logins: Copilot\n",
			`.github/agentgate.yml:2: agents.logins: cannot unmarshal !!str "Copilot" into a list`},
		{"yes is no bool", "agents:\n  all_bots: yes\n",
			`.github/agentgate.yml:2: agents.all_bots: cannot unmarshal !!str "yes" into bool`},
		{"mapping for a string", "check_name:\n  name: x\n",
			".github/agentgate.yml:2: check_name: cannot unmarshal a mapping into string"},
		{"list for a mapping", "size: [1]\n",
			".github/agentgate.yml:1: size: cannot unmarshal a list into a mapping"},
		{"empty list item", "agents:\n  logins:\n    - Copilot\n    -\n",
			".github/agentgate.yml:4: agents.logins[1]: empty list item"},
		{"blank login", "agents:\n  logins: [\" \"]\n",
			".github/agentgate.yml:2: agents.logins[0]: must not be empty"},
		{"empty check name in required_checks", "test_evidence:\n  required_checks: [test, \"\"]\n",
			".github/agentgate.yml:2: test_evidence.required_checks[1]: must not be empty"},
		{"unknown provenance field", "provenance:\n  required_fields:\n    - task\n    - modle\n",
			`.github/agentgate.yml:4: provenance.required_fields[1]: unknown provenance field "modle" (known: task, plan, plan_sha256, trigger_actor, trigger_delivery, agent, agent_version, model, prompt_sha256, base_sha, head_sha, runner, usage, revisions, involvement)`},
		{"approval rule without owners", "protected_paths:\n  require_approval:\n    - paths: [db/**]\n",
			".github/agentgate.yml:3: protected_paths.require_approval[0]: owners: list at least one login or org/team"},
		{"approval owner", "protected_paths:\n  require_approval:\n    - paths: [db/**]\n      owners: [\"@org/dba\"]\n",
			`.github/agentgate.yml:4: protected_paths.require_approval[0].owners[0]: want a login or org/team, got "@org/dba"`},
		{"unknown approval key", "protected_paths:\n  require_approval:\n    - paths: [db/**]\n      owner: [bob]\n",
			".github/agentgate.yml:4: protected_paths.require_approval[0].owner: unknown key (known here: paths, owners)"},
		{"unknown disabled policy", "disabled_policies: [size, sizes]\n",
			`.github/agentgate.yml:1: disabled_policies[1]: unknown policy "sizes" (known: size, provenance, test_evidence, protected_paths, plan_scope)`},
		{"alias", "size:\n  exclude: &ex [a/**]\ntest_evidence:\n  code_globs: *ex\n",
			".github/agentgate.yml:4: test_evidence.code_globs: YAML aliases are not supported; write the value out"},
		{"merge key", "size: &s\n  max_lines: 1\nplan_scope:\n  <<: *s\n",
			".github/agentgate.yml:4: plan_scope.<<: unknown key (known here: enabled)"},
		{"two documents", "check_name: a\n---\ncheck_name: b\n",
			".github/agentgate.yml:2: more than one YAML document; the file must hold one"},
		{"not a mapping", "- size\n",
			".github/agentgate.yml:1: want a mapping of settings, got a list"},
		{"first problem in file order", "size:\n  max_files: -1\ncheck_name: \"\"\nagents:\n  logins: [\"\"]\n",
			".github/agentgate.yml:2: size.max_files: must not be negative (0 turns the limit off)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(ConfigPath, []byte(tt.data), nil)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseConfig(%q) = %v, want a *ConfigError", tt.data, err)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseConfig(%q):\n got %s\nwant %s", tt.data, err, tt.want)
			}
		})
	}
}

func TestConfigErrorFromBase(t *testing.T) {
	org := DefaultConfig()
	org.Size.MaxLines = -5
	_, err := ParseConfig(ConfigPath, []byte("check_name: gate\n"), &org)
	want := ".github/agentgate.yml: size.max_lines: must not be negative (0 turns the limit off)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	var ce *ConfigError
	if errors.As(err, &ce); ce.LoadError() != (LoadError{File: ConfigPath, Message: "size.max_lines: must not be negative (0 turns the limit off)"}) {
		t.Errorf("LoadError = %+v", ce.LoadError())
	}
}

func TestConfigDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		text string
	}{{time.Hour, "1h"}, {30 * time.Minute, "30m"}, {90 * time.Minute, "90m"}, {45 * time.Second, "45s"}, {1500 * time.Millisecond, "1.5s"}, {0, "0s"}} {
		d := Duration{tt.d}
		if d.String() != tt.text {
			t.Errorf("String(%v) = %q, want %q", tt.d, d.String(), tt.text)
		}
		j, err := json.Marshal(d)
		if err != nil || string(j) != `"`+tt.text+`"` {
			t.Errorf("MarshalJSON(%v) = %s, %v", tt.d, j, err)
		}
		var back Duration
		if err := json.Unmarshal(j, &back); err != nil || back != d {
			t.Errorf("UnmarshalJSON(%s) = %v, %v", j, back, err)
		}
		y, err := yaml.Marshal(struct{ T Duration }{d})
		if err != nil || string(y) != "t: "+tt.text+"\n" {
			t.Errorf("MarshalYAML(%v) = %q, %v", tt.d, y, err)
		}
		var yback struct{ T Duration }
		if err := yaml.Unmarshal(y, &yback); err != nil || yback.T != d {
			t.Errorf("UnmarshalYAML(%q) = %v, %v", y, yback.T, err)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`3600`), &d); err == nil {
		t.Error("UnmarshalJSON accepted a number")
	}
	if err := yaml.Unmarshal([]byte(`t: soon`), &struct{ T *Duration }{&d}); err == nil || !strings.Contains(err.Error(), `bad duration "soon"`) {
		t.Errorf("UnmarshalYAML(soon) = %v", err)
	}
	// The whole config round-trips through JSON (what Rego sees) and YAML.
	cfg := DefaultConfig()
	j, _ := json.Marshal(cfg)
	if !strings.Contains(string(j), `"timeout":"1h"`) {
		t.Errorf("config JSON lacks \"timeout\":\"1h\": %s", j)
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := ParseConfig(ConfigPath, y, nil); err != nil || !reflect.DeepEqual(back, cfg) {
		t.Errorf("YAML round trip: %v\n%s", err, y)
	}
}

func TestConfigGlobs(t *testing.T) {
	for _, tt := range []struct {
		pattern, name string
		match         bool
	}{
		{"**/*_test.go", "a_test.go", true},
		{"**/*_test.go", "x/y/a_test.go", true},
		{"**/*_test.go", "x/y/a.go", false},
		{"vendor/**", "vendor/a/b.go", true},
		{"vendor/**", "vendor", true},
		{"vendor/**", "x/vendor/a.go", false},
		{"**/vendor/**", "x/vendor/a.go", true},
		{".github/workflows/**", ".github/workflows/ci.yml", true},
		{"go.sum", "sub/go.sum", false},
		{"**/zz_generated*", "pkg/zz_generated.deepcopy.go", true},
		{"**/*.spec.*", "web/a.spec.ts", true},
		{"a/**/**/b", "a/b", true},
		{"a/*/b", "a/x/y/b", false},
		{"a/**b", "a/xb", false}, // invalid: matches nothing
		{"{*.md,**/*.md}", "README.md", true},
		{"{*.md,**/*.md}", "docs/a.md", true},
		{"src/{a,b{c,d}}/*", "src/bd/x", true},
		{"src/{a,b{c,d}}/*", "src/b/x", false},
	} {
		if got := MatchGlob(tt.pattern, tt.name); got != tt.match {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.match)
		}
	}
	for _, bad := range []string{"", "/a", "a//b", "a/", "a**", "[", "{a,b", "a}", "{a,{b}", "{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}"} {
		if ValidGlob(bad) == nil {
			t.Errorf("ValidGlob(%q) accepted it", bad)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	if data, err := os.ReadFile("testdata/repoconfig/reference.yml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("size:\n  max_lines: lots\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("protected_paths:\n  require_approval:\n    - paths: [db/**]\n      owners: [o/t]\n"))
	f.Add([]byte("test_evidence: {timeout: 1h, test_globs: ['**/x']}\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(ConfigPath, data, nil)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Line < 0 || ce.Message == "" || ce.File != ConfigPath {
				t.Fatalf("ParseConfig(%q) = %#v", data, err)
			}
			return
		}
		// A valid config survives JSON (what Rego sees).
		j, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal %+v: %v", cfg, err)
		}
		var back Config
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", j, err)
		}
	})
}

func FuzzConfigGlob(f *testing.F) {
	f.Add("src/{a,b{c,d}}/**/*.go", "src/bc/x/y.go")
	f.Add("{a,{b}", "a")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if MatchGlob(pattern, name) && ValidGlob(pattern) != nil {
			t.Fatalf("invalid glob %q matched %q", pattern, name)
		}
	})
}
