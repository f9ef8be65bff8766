package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// ConfigPath is where a repository configures its gate, read from the base
// branch at the pull request's base SHA.
const ConfigPath = ".github/agentgate.yml"

// Config is a repository's gate configuration after defaults are filled in.
// Rego sees it as input.config (JSON names below); YAML uses the same names.
type Config struct {
	// CheckName is the check run's name, the one branch protection requires.
	CheckName    string             `json:"check_name" yaml:"check_name"`
	Agents       AgentsConfig       `json:"agents" yaml:"agents"`
	Size         SizeConfig         `json:"size" yaml:"size"`
	Provenance   ProvenanceConfig   `json:"provenance" yaml:"provenance"`
	TestEvidence TestEvidenceConfig `json:"test_evidence" yaml:"test_evidence"`
	Protected    ProtectedConfig    `json:"protected_paths" yaml:"protected_paths"`
	PlanScope    PlanScopeConfig    `json:"plan_scope" yaml:"plan_scope"`
	// Dispatch says how issues are handed to agents in this repository.
	Dispatch DispatchConfig `json:"dispatch" yaml:"dispatch"`
	// Policies turns individual policies off by name (size, provenance,
	// test_evidence, protected_paths, plan_scope); all are on by default.
	Disabled []string `json:"disabled_policies" yaml:"disabled_policies"`
}

// AgentsConfig says which authors count as agents.
type AgentsConfig struct {
	// Logins of agent accounts (e.g. "Copilot", "devin-ai-integration[bot]").
	Logins []string `json:"logins" yaml:"logins"`
	// AllBots counts every Bot account as an agent.
	AllBots bool `json:"all_bots" yaml:"all_bots"`
}

// SizeConfig bounds agent pull requests.
type SizeConfig struct {
	MaxLines int      `json:"max_lines" yaml:"max_lines"` // additions + deletions
	MaxFiles int      `json:"max_files" yaml:"max_files"`
	Exclude  []string `json:"exclude" yaml:"exclude"` // globs of generated and vendored paths
	// AppliesTo is "agents" (default) or "all".
	AppliesTo string `json:"applies_to" yaml:"applies_to"`
}

// ProvenanceConfig lists the provenance fields agent pull requests must carry.
type ProvenanceConfig struct {
	RequiredFields []string `json:"required_fields" yaml:"required_fields"`
}

// TestEvidenceConfig names the checks that must pass on the head SHA.
type TestEvidenceConfig struct {
	RequiredChecks []string `json:"required_checks" yaml:"required_checks"`
	// RequireTestChanges flags code changes without test changes.
	RequireTestChanges bool     `json:"require_test_changes" yaml:"require_test_changes"`
	TestGlobs          []string `json:"test_globs" yaml:"test_globs"`
	CodeGlobs          []string `json:"code_globs" yaml:"code_globs"`
	// Timeout is how long the gate waits for required checks before failing.
	Timeout Duration `json:"timeout" yaml:"timeout"`
}

// ProtectedConfig guards paths.
type ProtectedConfig struct {
	// AgentsMayNotTouch lists globs agent pull requests must not change.
	AgentsMayNotTouch []string `json:"agents_may_not_touch" yaml:"agents_may_not_touch"`
	// RequireApproval lists globs that need an approving review from one of
	// the owners (logins or org/team) who is not the requester.
	RequireApproval []ApprovalRule `json:"require_approval" yaml:"require_approval"`
}

// ApprovalRule is one protected set of paths and its owners.
type ApprovalRule struct {
	Paths  []string `json:"paths" yaml:"paths"`
	Owners []string `json:"owners" yaml:"owners"`
}

// PlanScopeConfig turns the plan-scope policy on or off.
type PlanScopeConfig struct {
	Enabled bool `json:"enabled" yaml:"enabled"`
}

// DispatchConfig is the repository's side of dispatch. Which agents exist
// and the limits are the server's decision; a repository chooses among the
// agents the server allows it.
type DispatchConfig struct {
	// Label on an issue hands it to an agent.
	Label string `json:"label" yaml:"label"`
	// QuickLabel hands an issue to an agent without plan approval.
	QuickLabel string `json:"quick_label" yaml:"quick_label"`
	// RequirePlanApproval makes every task wait for a person to approve its
	// plan (except those labelled QuickLabel); false skips approval always.
	RequirePlanApproval bool `json:"require_plan_approval" yaml:"require_plan_approval"`
	// Agent names one of the server's agents; "" is the server's default.
	Agent string `json:"agent" yaml:"agent"`
	// AllowBots lists bot logins that may command the agent (with the
	// repository permission check skipped: bots have none to ask about).
	AllowBots []string `json:"allow_bots" yaml:"allow_bots"`
	// ReviseOnChangesRequested starts a revision when a person with write
	// access requests changes on the agent's pull request.
	ReviseOnChangesRequested bool `json:"revise_on_changes_requested" yaml:"revise_on_changes_requested"`
}

// Duration is a time.Duration written as "30m" in YAML and JSON.
type Duration struct{ time.Duration }

// String writes d in the largest whole unit: "1h", "30m", "45s"; other
// values as time.Duration does ("1m30.5s").
func (d Duration) String() string {
	switch v := d.Duration; {
	case v == 0:
		return "0s"
	case v%time.Hour == 0:
		return strconv.FormatInt(int64(v/time.Hour), 10) + "h"
	case v%time.Minute == 0:
		return strconv.FormatInt(int64(v/time.Minute), 10) + "m"
	case v%time.Second == 0:
		return strconv.FormatInt(int64(v/time.Second), 10) + "s"
	default:
		return v.String()
	}
}

func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return Duration{}, fmt.Errorf("bad duration %q: want e.g. \"30m\" or \"1h\"", s)
	}
	return Duration{v}, nil
}

// MarshalYAML writes d as a string, e.g. "30m".
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a string such as "30m" or "1h30m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return fmt.Errorf("line %d: want a duration such as \"30m\"", n.Line)
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalJSON writes d as a string, e.g. "30m".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a string such as "30m" or "1h30m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"30m\": %w", err)
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
