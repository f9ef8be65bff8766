package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/agentgate/agentgate/provenance"
)

// Policy names, as disabled_policies lists them.
var policyNames = []string{"size", "provenance", "test_evidence", "protected_paths", "plan_scope"}

// DefaultConfig is the configuration of a repository without
// .github/agentgate.yml (and the base of one with it). The commented
// reference, policy/testdata/repoconfig/reference.yml, spells out the same
// values; a test keeps the two equal.
func DefaultConfig() Config {
	return Config{
		CheckName: "agentgate",
		Agents: AgentsConfig{
			// Examples of other agents' accounts; agentgate's own app always counts.
			Logins:  []string{"Copilot", "copilot-swe-agent[bot]", "devin-ai-integration[bot]"},
			AllBots: false,
		},
		Size: SizeConfig{
			MaxLines: 800,
			MaxFiles: 40,
			Exclude: []string{"vendor/**", "**/vendor/**", "**/*.pb.go", "**/*_generated.go",
				"**/zz_generated*", "**/*.lock", "package-lock.json", "go.sum"},
			AppliesTo: "agents",
		},
		Provenance: ProvenanceConfig{
			RequiredFields: []string{provenance.KeyTask, provenance.KeyAgent, provenance.KeyModel,
				provenance.KeyPromptSHA256, provenance.KeyBaseSHA, provenance.KeyInvolvement},
		},
		TestEvidence: TestEvidenceConfig{
			RequiredChecks:     []string{},
			RequireTestChanges: false,
			TestGlobs:          []string{"**/*_test.go", "**/test/**", "**/tests/**", "**/*.test.*", "**/*.spec.*"},
			CodeGlobs:          []string{}, // none: every file that is not a test
			Timeout:            Duration{time.Hour},
		},
		Protected: ProtectedConfig{
			AgentsMayNotTouch: []string{".github/workflows/**", ".github/agentgate.yml", ".github/agentgate/**"},
			RequireApproval:   []ApprovalRule{},
		},
		PlanScope: PlanScopeConfig{Enabled: true},
		Dispatch: DispatchConfig{
			Label:               "agent",
			QuickLabel:          "agent:quick",
			RequirePlanApproval: true,
			AllowBots:           []string{},
		},
		Disabled: []string{},
	}
}

// ConfigError is a problem with a configuration file, precise enough to be
// an annotation on the failing check: the file, the line (0 when the value
// came from the defaults or the organisation's config), and the setting.
type ConfigError struct {
	File    string
	Line    int
	Key     string // dotted path, e.g. "size.max_lines" or "size.exclude[2]"; "" for the whole file
	Message string
}

func (e *ConfigError) Error() string {
	var sb strings.Builder
	sb.WriteString(e.File)
	if e.Line > 0 {
		sb.WriteString(":" + strconv.Itoa(e.Line))
	}
	sb.WriteString(": ")
	if e.Key != "" {
		sb.WriteString(e.Key + ": ")
	}
	sb.WriteString(e.Message)
	return sb.String()
}

// LoadError is the error as the gate reports it.
func (e *ConfigError) LoadError() LoadError {
	msg := e.Message
	if e.Key != "" {
		msg = e.Key + ": " + msg
	}
	return LoadError{File: e.File, Line: e.Line, Message: msg}
}

// ParseConfig reads a repository's .github/agentgate.yml (path names it in
// errors) over base, the organisation's default configuration, or over
// DefaultConfig when base is nil. Nil or empty data (no file) gives base.
//
// Decoding is strict: unknown keys, wrong types, duplicate keys, aliases and
// more than one YAML document are errors, and so are values that fail
// validation. Every error is a *ConfigError.
//
// Merging: a setting present in the file replaces the base's; a mapping
// merges key by key; a list replaces the whole list (write [] to empty it);
// a key with no value (null) leaves the base's value, so a section whose
// keys are all commented out changes nothing.
func ParseConfig(path string, data []byte, base *Config) (cfg Config, err error) {
	if base != nil {
		cfg = base.clone()
	} else {
		cfg = DefaultConfig()
	}
	defer func() { // fail closed, never crash the gate, on a YAML library bug
		if r := recover(); r != nil {
			err = &ConfigError{File: path, Message: fmt.Sprintf("cannot read the file: %v", r)}
		}
	}()
	d := decoder{file: path, lines: map[string]int{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case err == io.EOF:
		return cfg, nil
	case err != nil:
		return Config{}, d.syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		if err != nil {
			return Config{}, d.syntaxError(err)
		}
		return Config{}, &ConfigError{File: path, Line: extra.Line, Message: "more than one YAML document; the file must hold one"}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return cfg, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return Config{}, &ConfigError{File: path, Line: root.Line, Message: "want a mapping of settings, got " + describe(root)}
	}
	if err := d.decode(root, reflect.ValueOf(&cfg).Elem(), ""); err != nil {
		return Config{}, err
	}
	if err := d.validate(&cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

var agentNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$`)

// labelName reports whether GitHub would take s as a label name.
func labelName(s string) bool {
	return strings.TrimSpace(s) == s && s != "" && utf8.RuneCountInString(s) <= 50 && !strings.Contains(s, ",")
}

// clone copies c deeply, so decoding over it never touches the original.
func (c Config) clone() Config {
	out := c
	out.Agents.Logins = slices.Clone(c.Agents.Logins)
	out.Size.Exclude = slices.Clone(c.Size.Exclude)
	out.Provenance.RequiredFields = slices.Clone(c.Provenance.RequiredFields)
	out.TestEvidence.RequiredChecks = slices.Clone(c.TestEvidence.RequiredChecks)
	out.TestEvidence.TestGlobs = slices.Clone(c.TestEvidence.TestGlobs)
	out.TestEvidence.CodeGlobs = slices.Clone(c.TestEvidence.CodeGlobs)
	out.Protected.AgentsMayNotTouch = slices.Clone(c.Protected.AgentsMayNotTouch)
	out.Protected.RequireApproval = make([]ApprovalRule, len(c.Protected.RequireApproval))
	for i, r := range c.Protected.RequireApproval {
		out.Protected.RequireApproval[i] = ApprovalRule{Paths: slices.Clone(r.Paths), Owners: slices.Clone(r.Owners)}
	}
	out.Disabled = slices.Clone(c.Disabled)
	out.Dispatch.AllowBots = slices.Clone(c.Dispatch.AllowBots)
	return out
}

type decoder struct {
	file  string
	lines map[string]int // key path → line of the key (or list item) in the file
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) syntaxError(err error) *ConfigError {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ConfigError{File: d.file, Line: line, Message: "YAML syntax: " + m[2]}
	}
	return &ConfigError{File: d.file, Message: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) *ConfigError {
	return &ConfigError{File: d.file, Line: n.Line, Key: key, Message: fmt.Sprintf(format, args...)}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return fmt.Sprintf("%s %q", n.ShortTag(), n.Value)
}

var durationType = reflect.TypeFor[Duration]()

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Struct:
		return "a mapping"
	}
	return t.Kind().String()
}

// decode sets v from n, strictly; key is v's dotted path for errors.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, key string) error {
	if n.Kind == yaml.AliasNode {
		return d.errorf(n, key, "YAML aliases are not supported; write the value out")
	}
	if isNull(n) {
		return nil // keep the base's value
	}
	t := v.Type()
	mismatch := func() error {
		return d.errorf(n, key, "cannot unmarshal %s into %s", describe(n), typeName(t))
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			return mismatch()
		}
		dur, err := parseDuration(n.Value)
		if err != nil {
			return d.errorf(n, key, "%v", err)
		}
		v.Set(reflect.ValueOf(dur))
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return mismatch()
		}
		return d.mapping(n, v, key)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return mismatch()
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			k := fmt.Sprintf("%s[%d]", key, i)
			d.lines[k] = item.Line
			if isNull(item) {
				return d.errorf(item, k, "empty list item")
			}
			if err := d.decode(item, s.Index(i), k); err != nil {
				return err
			}
		}
		v.Set(s)
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			return mismatch()
		}
		v.SetString(n.Value)
	case t.Kind() == reflect.Int || t.Kind() == reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != map[reflect.Kind]string{reflect.Int: "!!int", reflect.Bool: "!!bool"}[t.Kind()] {
			return mismatch()
		}
		p := reflect.New(t)
		if err := n.Decode(p.Interface()); err != nil {
			return d.errorf(n, key, "%s %q is out of range", n.ShortTag(), n.Value)
		}
		v.Set(p.Elem())
	default:
		return mismatch() // a Config field of a type this decoder does not know
	}
	return nil
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, prefix string) error {
	t := v.Type()
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = i
			names = append(names, name)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode || isNull(kn) {
			return d.errorf(kn, prefix, "keys must be plain names, got %s", describe(kn))
		}
		key := kn.Value
		if prefix != "" {
			key = prefix + "." + kn.Value
		}
		if first, dup := seen[kn.Value]; dup {
			return d.errorf(kn, key, "duplicate key (first at line %d)", first)
		}
		seen[kn.Value] = kn.Line
		fi, ok := fields[kn.Value]
		if !ok {
			return d.errorf(kn, key, "unknown key (known here: %s)", strings.Join(names, ", "))
		}
		d.lines[key] = kn.Line
		if err := d.decode(vn, v.Field(fi), key); err != nil {
			return err
		}
	}
	return nil
}

// check reports a validation problem at key's line (0 when the value came
// from the base, not the file).
func (d *decoder) check(ok bool, key, format string, args ...any) error {
	if ok {
		return nil
	}
	return &ConfigError{File: d.file, Line: d.lines[key], Key: key, Message: fmt.Sprintf(format, args...)}
}

func (d *decoder) validate(c *Config) error {
	errs := []error{
		d.check(strings.TrimSpace(c.CheckName) != "", "check_name", "must not be empty"),
		d.nonEmpty("agents.logins", c.Agents.Logins),
		d.check(c.Size.MaxLines >= 0, "size.max_lines", "must not be negative (0 turns the limit off)"),
		d.check(c.Size.MaxFiles >= 0, "size.max_files", "must not be negative (0 turns the limit off)"),
		d.globs("size.exclude", c.Size.Exclude),
		d.check(c.Size.AppliesTo == "agents" || c.Size.AppliesTo == "all", "size.applies_to", "want agents or all, got %q", c.Size.AppliesTo),
		d.requiredFields(c.Provenance.RequiredFields),
		d.nonEmpty("test_evidence.required_checks", c.TestEvidence.RequiredChecks),
		d.globs("test_evidence.test_globs", c.TestEvidence.TestGlobs),
		d.globs("test_evidence.code_globs", c.TestEvidence.CodeGlobs),
		d.check(c.TestEvidence.Timeout.Duration > 0, "test_evidence.timeout", "must be positive"),
		d.check(labelName(c.Dispatch.Label), "dispatch.label", "%q is not a usable label name (1 to 50 characters, no commas)", c.Dispatch.Label),
		d.check(labelName(c.Dispatch.QuickLabel), "dispatch.quick_label", "%q is not a usable label name (1 to 50 characters, no commas)", c.Dispatch.QuickLabel),
		d.check(!strings.EqualFold(c.Dispatch.Label, c.Dispatch.QuickLabel), "dispatch.quick_label", "must differ from dispatch.label"),
		d.check(c.Dispatch.Agent == "" || agentNamePattern.MatchString(c.Dispatch.Agent), "dispatch.agent", "%q is not an agent name", c.Dispatch.Agent),
		d.nonEmpty("dispatch.allow_bots", c.Dispatch.AllowBots),
		d.globs("protected_paths.agents_may_not_touch", c.Protected.AgentsMayNotTouch),
	}
	for i, r := range c.Protected.RequireApproval {
		key := fmt.Sprintf("protected_paths.require_approval[%d]", i)
		errs = append(errs,
			d.check(len(r.Paths) > 0, key, "paths: list at least one glob"),
			d.globs(key+".paths", r.Paths),
			d.check(len(r.Owners) > 0, key, "owners: list at least one login or org/team"),
			d.owners(key+".owners", r.Owners))
	}
	for i, p := range c.Disabled {
		errs = append(errs, d.check(slices.Contains(policyNames, p), fmt.Sprintf("disabled_policies[%d]", i),
			"unknown policy %q (known: %s)", p, strings.Join(policyNames, ", ")))
	}
	// Report the problem nearest the top of the file first; ones from the
	// base (line 0) after those of the file.
	var first *ConfigError
	for _, err := range errs {
		var ce *ConfigError
		if !errors.As(err, &ce) {
			continue
		}
		if first == nil || (ce.Line > 0 && (first.Line == 0 || ce.Line < first.Line)) {
			first = ce
		}
	}
	if first == nil {
		return nil
	}
	return first
}

func (d *decoder) nonEmpty(key string, list []string) error {
	for i, s := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		if err := d.check(strings.TrimSpace(s) != "", k, "must not be empty"); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) globs(key string, list []string) error {
	for i, g := range list {
		if err := ValidGlob(g); err != nil {
			return d.check(false, fmt.Sprintf("%s[%d]", key, i), "%v", err)
		}
	}
	return nil
}

func (d *decoder) requiredFields(list []string) error {
	for i, f := range list {
		ok := provenance.KnownKey(f) || strings.HasPrefix(f, provenance.ExtensionPrefix) && len(f) > len(provenance.ExtensionPrefix)
		if err := d.check(ok, fmt.Sprintf("provenance.required_fields[%d]", i),
			"unknown provenance field %q (known: %s)", f, strings.Join(provenance.Keys(), ", ")); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) owners(key string, list []string) error {
	for i, o := range list {
		org, team, isTeam := strings.Cut(o, "/")
		ok := strings.TrimSpace(o) == o && o != "" && !strings.ContainsAny(o, " \t@") &&
			(!isTeam || org != "" && team != "" && !strings.Contains(team, "/"))
		if err := d.check(ok, fmt.Sprintf("%s[%d]", key, i), "want a login or org/team, got %q", o); err != nil {
			return err
		}
	}
	return nil
}
