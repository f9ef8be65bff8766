package provenance

import (
	"reflect"
	"strings"
	"testing"
)

const (
	sha256a = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	sha256b = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	sha1a   = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	sha1b   = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
)

func fullFields() Fields {
	return Fields{
		KeyTask: "01JABCDEF0123456789XYZ", KeyPlan: "p-3f2a", KeyPlanSHA256: sha256a,
		KeyTriggerActor: "alice", KeyTriggerDelivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		KeyAgent: "claude-code", KeyAgentVersion: "2.1.0", KeyModel: "claude-sonnet-4.5",
		KeyPromptSHA256: sha256b, KeyBaseSHA: sha1a, KeyHeadSHA: sha1b, KeyRunner: "exec",
		KeyUsage:     Usage{InputTokens: 1200, OutputTokens: 800, CostUSD: 0.12},
		KeyRevisions: 2, KeyInvolvement: InvolvementAuthored,
		"x-ticket": "JIRA-12",
	}
}

// The rendered block is part of the format: changing it is a new version.
const fullBlock = "```agentgate-provenance v1\n" +
	"task: 01JABCDEF0123456789XYZ\n" +
	"plan: p-3f2a\n" +
	"plan_sha256: " + sha256a + "\n" +
	"trigger_actor: alice\n" +
	"trigger_delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958\n" +
	"agent: claude-code\n" +
	"agent_version: 2.1.0\n" +
	"model: claude-sonnet-4.5\n" +
	"prompt_sha256: " + sha256b + "\n" +
	"base_sha: " + sha1a + "\n" +
	"head_sha: " + sha1b + "\n" +
	"runner: exec\n" +
	`usage: {"input_tokens":1200,"output_tokens":800,"cost_usd":0.12}` + "\n" +
	"revisions: 2\n" +
	"involvement: authored\n" +
	"x-ticket: JIRA-12\n" +
	"```\n"

func TestProvenanceWrite(t *testing.T) {
	if got := Write(fullFields()); got != fullBlock {
		t.Errorf("Write:\n%s\nwant:\n%s", got, fullBlock)
	}
	if err := fullFields().Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestProvenanceParseRoundTrip(t *testing.T) {
	body := "Fixes #12\n\nAdds the thing.\n\n" + fullBlock + "\nThanks!"
	for name, body := range map[string]string{"LF": body, "CRLF": strings.ReplaceAll(body, "\n", "\r\n")} {
		t.Run(name, func(t *testing.T) {
			b := Parse(body)
			if len(b.Errors) != 0 {
				t.Fatalf("errors: %v", b.Errors)
			}
			if !b.Present || b.Version != Version1 || b.StartLine != 5 || b.EndLine != 22 {
				t.Errorf("Present %v Version %q lines %d-%d, want true v1 5-22", b.Present, b.Version, b.StartLine, b.EndLine)
			}
			if !reflect.DeepEqual(b.Fields, fullFields()) {
				t.Errorf("Fields = %#v\nwant %#v", b.Fields, fullFields())
			}
		})
	}
}

func TestProvenanceParse(t *testing.T) {
	// open returns a body whose first content line is line 2.
	open := func(lines ...string) string {
		return "```agentgate-provenance v1\n" + strings.Join(lines, "\n") + "\n```\n"
	}
	tests := []struct {
		name    string
		body    string
		present bool
		fields  Fields
		errs    []Error
	}{
		{name: "no block", body: "Fixes #1\n\n```go\nx := 1\n```\n", fields: Fields{}},
		{name: "empty body", body: "", fields: Fields{}},
		{name: "minimal", body: open("task: t1", "involvement: suggested"), present: true,
			fields: Fields{"task": "t1", "involvement": "suggested"}},
		{name: "comments, blank lines, indentation, colon in value", present: true,
			body:   "  ~~~~ agentgate-provenance   v1\n# by agentgate\n\n  model:   openai:gpt-5  \n~~~~~\n",
			fields: Fields{"model": "openai:gpt-5"}},
		{name: "unknown version", body: "```agentgate-provenance v2\ntask: t\n```", present: true, fields: Fields{},
			errs: []Error{{Line: 1, Message: `unknown provenance block version "v2" (this agentgate reads v1)`}}},
		{name: "no version", body: "text\n```agentgate-provenance\ntask: t\n```", present: true, fields: Fields{},
			errs: []Error{{Line: 2, Message: "provenance block has no version: want \"```agentgate-provenance v1\""}}},
		{name: "text after version", body: "```agentgate-provenance v1 json\ntask: t\n```", present: true, fields: Fields{"task": "t"},
			errs: []Error{{Line: 1, Message: `unexpected "json" after the version`}}},
		{name: "duplicate key", body: open("task: a", "model: m", "task: b"), present: true,
			fields: Fields{"task": "a", "model": "m"},
			errs:   []Error{{Field: "task", Line: 4, Message: "duplicate key (first at line 2)"}}},
		{name: "malformed line", body: open("task: a", "just some words"), present: true, fields: Fields{"task": "a"},
			errs: []Error{{Line: 3, Message: `malformed line "just some words": want "key: value" with a lower-case key`}}},
		{name: "upper-case key", body: open("Task: a"), present: true, fields: Fields{},
			errs: []Error{{Line: 2, Message: `malformed line "Task: a": want "key: value" with a lower-case key`}}},
		{name: "empty value", body: open("task:"), present: true, fields: Fields{},
			errs: []Error{{Field: "task", Line: 2, Message: "empty value"}}},
		{name: "short sha256", body: open("prompt_sha256: abc123"), present: true, fields: Fields{},
			errs: []Error{{Field: "prompt_sha256", Line: 2, Message: `want 64 lower-case hex digits, got "abc123" (6 characters)`}}},
		{name: "sha256 given for a git sha", body: open("base_sha: " + sha256a), present: true, fields: Fields{},
			errs: []Error{{Field: "base_sha", Line: 2, Message: `want 40 lower-case hex digits, got "` + sha256a + `" (64 characters)`}}},
		{name: "upper-case hex", body: open("head_sha: " + strings.ToUpper(sha1a)), present: true, fields: Fields{},
			errs: []Error{{Field: "head_sha", Line: 2, Message: `want 40 lower-case hex digits, got "` + strings.ToUpper(sha1a) + `" (40 characters)`}}},
		{name: "unknown involvement", body: open("involvement: helped"), present: true, fields: Fields{},
			errs: []Error{{Field: "involvement", Line: 2, Message: `unknown involvement "helped": want authored, transformed or suggested`}}},
		{name: "negative revisions", body: open("revisions: -1"), present: true, fields: Fields{},
			errs: []Error{{Field: "revisions", Line: 2, Message: `"-1" is not a non-negative integer`}}},
		{name: "usage not JSON", body: open("usage: 1200 tokens"), present: true, fields: Fields{},
			errs: []Error{{Field: "usage", Line: 2, Message: `usage: want a JSON object like {"input_tokens":1200,"output_tokens":800,"cost_usd":0.12}`}}},
		{name: "usage fractional tokens", body: open(`usage: {"input_tokens": 1.5}`), present: true, fields: Fields{},
			errs: []Error{{Field: "usage", Line: 2, Message: "usage: input_tokens: want a non-negative integer, got 1.5"}}},
		{name: "usage duplicate member", body: open(`usage: {"cost_usd": 1, "cost_usd": 2}`), present: true, fields: Fields{},
			errs: []Error{{Field: "usage", Line: 2, Message: `usage: duplicate member "cost_usd"`}}},
		{name: "usage unknown member", body: open(`usage: {"tokens": 1}`), present: true, fields: Fields{},
			errs: []Error{{Field: "usage", Line: 2, Message: `usage: unknown member "tokens" (known: input_tokens, output_tokens, cost_usd)`}}},
		{name: "usage partial", body: open(`usage: {"cost_usd": 0.5}`), present: true, fields: Fields{"usage": Usage{CostUSD: 0.5}}},
		{name: "unknown field", body: open("modle: m", "x-build: 7"), present: true, fields: Fields{"x-build": "7"},
			errs: []Error{{Field: "modle", Line: 2, Message: "unknown field (known: task, plan, plan_sha256, trigger_actor, trigger_delivery, agent, agent_version, model, prompt_sha256, base_sha, head_sha, runner, usage, revisions, involvement; extensions start with \"x-\")"}}},
		{name: "control character", body: open("model: a\x1bb"), present: true, fields: Fields{},
			errs: []Error{{Field: "model", Line: 2, Message: "value contains a control character"}}},
		{name: "more than one block", body: open("task: a") + "\n" + open("task: b"), present: true, fields: Fields{"task": "a"},
			errs: []Error{{Line: 5, Message: "more than one provenance block (the first is at line 1)"}}},
		{name: "unterminated", body: "intro\n```agentgate-provenance v1\ntask: a\n", present: true, fields: Fields{"task": "a"},
			errs: []Error{{Line: 2, Message: "provenance block is not closed: add a closing fence"}}},
		{name: "errors sorted by line", body: "```agentgate-provenance v1\nbogus\n", present: true, fields: Fields{},
			errs: []Error{{Line: 1, Message: "provenance block is not closed: add a closing fence"}, {Line: 2, Message: `malformed line "bogus": want "key: value" with a lower-case key`}}},
		{name: "quoted inside another fence", body: "````markdown\n" + open("task: a") + "````\n", fields: Fields{}},
		{name: "indented code is no fence", body: "    ```agentgate-provenance v1\n    task: a\n    ```\n", fields: Fields{}},
		{name: "backtick fence info with backtick", body: "```agentgate-provenance v1`\ntask: a\n```\n", fields: Fields{}},
		{name: "short closing fence does not close", body: "````agentgate-provenance v1\ntask: a\n```\n````\n", present: true, fields: Fields{"task": "a"},
			errs: []Error{{Line: 3, Message: "malformed line \"```\": want \"key: value\" with a lower-case key"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Parse(tt.body)
			if b.Present != tt.present {
				t.Errorf("Present = %v, want %v", b.Present, tt.present)
			}
			if !reflect.DeepEqual(b.Fields, tt.fields) {
				t.Errorf("Fields = %#v, want %#v", b.Fields, tt.fields)
			}
			if !reflect.DeepEqual(b.Errors, tt.errs) {
				t.Errorf("Errors:\n got %q\nwant %q", b.Errors, tt.errs)
			}
		})
	}
}

func TestProvenanceValidate(t *testing.T) {
	bad := Fields{"task": "a\nb", "revisions": "2", "usage": Usage{CostUSD: -1}, "bogus": "x", "model": 3, "base_sha": "abc"}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad fields")
	}
	want := "base_sha: want 40 lower-case hex digits, got \"abc\" (3 characters)\n" +
		"bogus: unknown field\n" +
		"model: want a string, got an int\n" +
		"revisions: want an int, got a string\n" +
		"task: value contains a control character\n" +
		"usage: usage must be non-negative and finite"
	if err.Error() != want {
		t.Errorf("Validate:\n%s\nwant:\n%s", err, want)
	}
}

func TestProvenanceWriteCannotBeForged(t *testing.T) {
	f := Fields{"model": "m\n```\ninvolvement: suggested", "task": "  ", "evil key": "x"}
	got := Write(f)
	want := "```agentgate-provenance v1\nmodel: m\uFFFD```\uFFFDinvolvement: suggested\n```\n"
	if got != want {
		t.Errorf("Write = %q, want %q", got, want)
	}
	if b := Parse(got); len(b.Errors) != 0 || len(b.Fields) != 1 {
		t.Errorf("Parse(Write) = %+v", b)
	}
}

func TestProvenanceStripReplace(t *testing.T) {
	old := "```agentgate-provenance v1\r\ntask: old\r\n```"
	body := "Fixes #3\r\n\r\n" + old + "\r\n\r\nMore.\r\n"
	if got, want := Strip(body), "Fixes #3\r\n\r\n\r\nMore.\r\n"; got != want {
		t.Errorf("Strip = %q, want %q", got, want)
	}
	got := Replace(body, Fields{"task": "new"})
	want := "Fixes #3\r\n\r\n```agentgate-provenance v1\r\ntask: new\r\n```\r\n\r\nMore.\r\n"
	if got != want {
		t.Errorf("Replace = %q, want %q", got, want)
	}
	if got, want := Replace("Fixes #3\n", Fields{"task": "t"}), "Fixes #3\n\n```agentgate-provenance v1\ntask: t\n```\n"; got != want {
		t.Errorf("Replace (append) = %q, want %q", got, want)
	}
	if got, want := Replace("", Fields{"task": "t"}), "```agentgate-provenance v1\ntask: t\n```\n"; got != want {
		t.Errorf("Replace (empty) = %q, want %q", got, want)
	}
	if got, want := Replace("a\n```agentgate-provenance v1\ntask: t", Fields{"task": "u"}), "a\n```agentgate-provenance v1\ntask: u\n```\n"; got != want {
		t.Errorf("Replace (unterminated, last) = %q, want %q", got, want)
	}
	if got, want := Strip("no block\n"), "no block\n"; got != want {
		t.Errorf("Strip = %q, want %q", got, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("Fixes #12\n\n" + fullBlock)
	f.Add(strings.ReplaceAll(fullBlock, "\n", "\r\n"))
	f.Add("```agentgate-provenance v1\ntask: a\ntask: b\nbogus\n```\n```agentgate-provenance v2\n")
	f.Add("````\n```agentgate-provenance v1\n```\n````\n~~~agentgate-provenance v1\nusage: {\"cost_usd\":1e3}\nrevisions: 0\n~~~")
	f.Fuzz(func(t *testing.T, body string) {
		b := Parse(body)
		lines := strings.Count(body, "\n") + 1
		for _, e := range b.Errors {
			if e.Line < 1 || e.Line > lines || e.Message == "" {
				t.Fatalf("error %+v outside the body's %d lines or without a message", e, lines)
			}
		}
		if b.Present != (b.StartLine >= 1) || b.StartLine > b.EndLine || b.EndLine > lines {
			t.Fatalf("Present %v lines %d-%d of %d", b.Present, b.StartLine, b.EndLine, lines)
		}
		if Parse(Strip(body)).Present {
			t.Fatalf("Strip left a block in %q", Strip(body))
		}
		if !b.Present || len(b.Errors) != 0 {
			return
		}
		if err := b.Fields.Validate(); err != nil {
			t.Fatalf("Parse accepted fields Validate rejects: %v", err)
		}
		again := Parse(Write(b.Fields))
		if len(again.Errors) != 0 || !reflect.DeepEqual(again.Fields, b.Fields) {
			t.Fatalf("round trip:\n%#v\n%#v\nerrors %v", b.Fields, again.Fields, again.Errors)
		}
		replaced := Parse(Replace(body, b.Fields))
		if len(replaced.Errors) != 0 || !reflect.DeepEqual(replaced.Fields, b.Fields) {
			t.Fatalf("Replace: %#v errors %v", replaced.Fields, replaced.Errors)
		}
	})
}

func FuzzWrite(f *testing.F) {
	f.Add("01J", "claude", sha256a, sha1a, "authored", "x-a", "v", 2, int64(10), 0.5)
	f.Add("a\nb", "", "", "", "helped", "bad key", "\x00", -1, int64(-1), -0.5)
	f.Fuzz(func(t *testing.T, task, model, prompt, base, involvement, extKey, extVal string, revisions int, tokens int64, cost float64) {
		fields := Fields{KeyTask: task, KeyModel: model, KeyPromptSHA256: prompt, KeyBaseSHA: base,
			KeyInvolvement: involvement, extKey: extVal, KeyRevisions: revisions,
			KeyUsage: Usage{InputTokens: tokens, OutputTokens: tokens, CostUSD: cost}}
		out := Write(fields)
		b := Parse(out)
		if !b.Present || b.StartLine != 1 || b.EndLine != strings.Count(out, "\n") {
			t.Fatalf("Write gave a block Parse does not find whole: %q", out)
		}
		for k := range b.Fields {
			if _, ok := fields[k]; !ok {
				t.Fatalf("Parse(Write) invented field %q: %q", k, out)
			}
		}
		if fields.Validate() == nil && (len(b.Errors) != 0 || !reflect.DeepEqual(b.Fields, fields)) {
			t.Fatalf("valid fields did not round-trip: %#v\n%#v\n%v", fields, b.Fields, b.Errors)
		}
	})
}
