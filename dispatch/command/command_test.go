package command

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		body string
		cmds []Command
		errs []string // "line: message"
	}{
		{name: "run", body: "/agent run", cmds: []Command{{Verb: VerbRun, Line: 1, Raw: "/agent run"}}},
		{name: "indented, any case, CRLF", body: "Thanks!\r\n\t  /AGENT Status  \r\n",
			cmds: []Command{{Verb: VerbStatus, Line: 2, Raw: "/AGENT Status"}}},
		{name: "every no-argument verb", body: "/agent run\n/agent plan\n/agent retry\n/agent cancel\n/agent status\n/agent help",
			cmds: []Command{{Verb: VerbRun, Line: 1, Raw: "/agent run"}, {Verb: VerbPlan, Line: 2, Raw: "/agent plan"},
				{Verb: VerbRetry, Line: 3, Raw: "/agent retry"}, {Verb: VerbCancel, Line: 4, Raw: "/agent cancel"},
				{Verb: VerbStatus, Line: 5, Raw: "/agent status"}, {Verb: VerbHelp, Line: 6, Raw: "/agent help"}}},
		{name: "approve", body: "LGTM\n/agent approve p-3fa9c2d1",
			cmds: []Command{{Verb: VerbApprove, Arg: "p-3fa9c2d1", Line: 2, Raw: "/agent approve p-3fa9c2d1"}}},
		{name: "approve copied with backticks and capitals", body: "/agent approve `P-3FA9C2D1`",
			cmds: []Command{{Verb: VerbApprove, Arg: "p-3fa9c2d1", Line: 1, Raw: "/agent approve `P-3FA9C2D1`"}}},
		{name: "approve without id", body: "/agent approve", errs: []string{"1: `/agent approve` needs the id of the plan to approve, as in `/agent approve p-3fa9c2d1`"}},
		{name: "approve with two ids", body: "/agent approve p-3fa9c2d1 p-00000000", errs: []string{"1: `/agent approve` takes one plan id, not more"}},
		{name: "approve with a bad id", body: "/agent approve 3fa9c2d1",
			errs: []string{"1: `3fa9c2d1` is not a plan id; plan ids look like `p-3fa9c2d1` and are in the plan comment"}},
		{name: "unknown verb", body: "/agent frobnicate now", errs: []string{"1: unknown command `frobnicate`; try `/agent help`"}},
		{name: "unknown verb cannot mention or break quoting", body: "/agent `@everyone`", errs: []string{"1: unknown command `everyone`; try `/agent help`"}},
		{name: "bare prefix", body: "/agent  ", errs: []string{"1: `/agent` needs a command; try `/agent help`"}},
		{name: "extra argument", body: "/agent run please", errs: []string{"1: `/agent run` takes no arguments; put anything else on another line"}},
		{name: "not the prefix", body: "/agents run\n/agentx run\n/agent-run\nplease /agent run\n`/agent run`"},
		{name: "block quotes are not commands", body: "> /agent run\n>/agent plan\n  > > /agent cancel"},
		{name: "fenced code is not a command",
			body: "```\n/agent run\n```\n~~~~\n/agent plan\n~~~\n/agent cancel\n~~~~\n/agent status",
			cmds: []Command{{Verb: VerbStatus, Line: 9, Raw: "/agent status"}}},
		{name: "unclosed fence runs to the end", body: "```sh\n/agent run"},
		{name: "html comments are not commands", body: "<!--\n/agent run\n-->\n<!-- x --> <!--\n/agent cancel\n--> /agent plan\n/agent status",
			cmds: []Command{{Verb: VerbStatus, Line: 7, Raw: "/agent status"}}},
		{name: "revise with multi-line instructions",
			body: "/agent revise use a table\n- and sort it\n\n```go\nx := 1   \n```\n\n/agent status",
			cmds: []Command{{Verb: VerbRevise, Arg: "use a table\n- and sort it\n\n```go\nx := 1\n```", Line: 1, Raw: "/agent revise use a table"},
				{Verb: VerbStatus, Line: 8, Raw: "/agent status"}}},
		{name: "revise on the next line", body: "/agent revise\n\n  fix the tests\n",
			cmds: []Command{{Verb: VerbRevise, Arg: "  fix the tests", Line: 1, Raw: "/agent revise"}}},
		{name: "revise instructions end at any /agent line", body: "/agent revise do x\n```\n/agent run\n```",
			cmds: []Command{{Verb: VerbRevise, Arg: "do x\n```", Line: 1, Raw: "/agent revise do x"}}},
		{name: "revise without instructions", body: "/agent revise\n\n/agent status",
			cmds: []Command{{Verb: VerbStatus, Line: 3, Raw: "/agent status"}},
			errs: []string{"1: `/agent revise` needs instructions, as in `/agent revise rename the flag to --dry-run and update the README`"}},
		{name: "revise with a command as instructions", body: "/agent revise /agent run", errs: []string{"1: put each command on its own line"}},
		{name: "errors do not stop parsing", body: "/agent nope\n/agent run",
			cmds: []Command{{Verb: VerbRun, Line: 2, Raw: "/agent run"}}, errs: []string{"1: unknown command `nope`; try `/agent help`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, errs := Parse(tt.body)
			if !reflect.DeepEqual(cmds, tt.cmds) {
				t.Errorf("commands = %+v\nwant %+v", cmds, tt.cmds)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error()[len("line "):])
			}
			if !reflect.DeepEqual(got, tt.errs) {
				t.Errorf("errors = %q\nwant %q", got, tt.errs)
			}
		})
	}
}

func TestErrorUsage(t *testing.T) {
	_, errs := Parse("/agent approve nope\n/agent frobnicate")
	if len(errs) != 2 {
		t.Fatalf("errors = %v", errs)
	}
	if errs[0].Verb != VerbApprove || errs[0].Usage != "/agent approve <plan-id>" || errs[0].Raw != "/agent approve nope" {
		t.Errorf("approve error = %+v", errs[0])
	}
	// An unknown verb gets the whole list, so the reply can show it.
	if errs[1].Verb != "" || errs[1].Usage != "/agent run | plan | approve <plan-id> | revise <instructions> | retry | cancel | status | help" {
		t.Errorf("unknown verb error = %+v", errs[1])
	}
}

func TestSpecs(t *testing.T) {
	var verbs []Verb
	for _, s := range Specs() {
		verbs = append(verbs, s.Verb)
		if s.Summary == "" || s.MinPermission == "" || len(s.Examples) == 0 || !(s.OnIssue || s.OnPullRequest) {
			t.Errorf("incomplete spec %+v", s)
		}
		// Every example is itself a valid command.
		for _, e := range s.Examples {
			cmds, errs := Parse(e)
			if len(errs) != 0 || len(cmds) != 1 || cmds[0].Verb != s.Verb {
				t.Errorf("example %q parses as %+v %+v", e, cmds, errs)
			}
		}
	}
	want := []Verb{VerbRun, VerbPlan, VerbApprove, VerbRevise, VerbRetry, VerbCancel, VerbStatus, VerbHelp}
	if !reflect.DeepEqual(verbs, want) {
		t.Errorf("Specs order = %v, want %v", verbs, want)
	}
	Specs()[0].Examples[0] = "changed"
	if Specs()[0].Examples[0] != "/agent run" {
		t.Error("Specs returned shared state")
	}
	if s, ok := Lookup("APPROVE"); !ok || s.Usage() != "/agent approve <plan-id>" || s.AllowedOn(true) || !s.AllowedOn(false) {
		t.Errorf("Lookup(APPROVE) = %+v %v", s, ok)
	}
	if s, _ := Lookup(VerbRevise); !s.AllowedOn(true) || s.AllowedOn(false) {
		t.Errorf("revise should be for pull requests only: %+v", s)
	}
	if _, ok := Lookup("frobnicate"); ok {
		t.Error("Lookup found an unknown verb")
	}
}

func TestHelp(t *testing.T) {
	h := Help("agentgate")
	for _, want := range []string{
		"### agentgate commands",
		"| Command | What it does | Who may use it | Where |",
		"| `/agent approve <plan-id>` | Approve exactly this plan and let the agent implement it in a pull request. | people with write, maintain or admin access | issues |",
		"| `/agent revise <instructions>` |",
		"| pull requests |",
		"| `/agent help` | Reply with this list of commands. | people with write, maintain or admin access | issues and pull requests |",
		"/agent approve p-3fa9c2d1\n",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("Help lacks %q:\n%s", want, h)
		}
	}
	if got := Help(" "); !strings.HasPrefix(got, "### agentgate commands") {
		t.Errorf("Help with no name = %q", got[:40])
	}
	if got := Help("my|bot"); !strings.HasPrefix(got, `### my\|bot commands`) {
		t.Errorf("Help did not escape the name: %q", got[:40])
	}
}

func TestComment(t *testing.T) {
	c := Comment{Source: ReviewComment, AuthorType: "Bot", Body: "nit\n/agent revise rename x"}
	cmds, _ := c.Commands()
	if !c.IsBot() || len(cmds) != 1 || cmds[0].Arg != "rename x" {
		t.Errorf("Comment.Commands = %+v, IsBot = %v", cmds, c.IsBot())
	}
}

// startsWithPrefix is the fuzz test's own statement of "a line that starts
// with /agent".
func startsWithPrefix(line string) bool {
	t := strings.TrimLeft(line, " \t")
	if len(t) < len(Prefix) || !strings.EqualFold(t[:len(Prefix)], Prefix) {
		return false
	}
	return len(t) == len(Prefix) || t[len(Prefix)] == ' ' || t[len(Prefix)] == '\t'
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/agent run", "/agent revise a\nb\n/agent status", "```\n/agent run\n```\n/agent plan",
		"<!--\n/agent run -->\n/agent cancel", "> /agent run", "/agent approve p-3fa9c2d1",
		"/agent revise\r\nx\r\n/AGENT help\r\n", "/agent frobnicate", "/agent revise x\n  /agent run",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		cmds, errs := Parse(body)
		lines := strings.Split(body, "\n")
		checkLine := func(line int, raw string) {
			if line < 1 || line > len(lines) {
				t.Fatalf("line %d outside a body of %d lines", line, len(lines))
			}
			if want := strings.Trim(strings.TrimSuffix(lines[line-1], "\r"), " \t"); raw != want {
				t.Fatalf("Raw %q is not line %d %q", raw, line, want)
			}
			if !startsWithPrefix(raw) {
				t.Fatalf("Raw %q does not start with /agent", raw)
			}
		}
		last := 0
		for _, c := range cmds {
			checkLine(c.Line, c.Raw)
			if c.Line <= last {
				t.Fatalf("commands out of order or on one line: %+v", cmds)
			}
			last = c.Line
			if _, ok := Lookup(c.Verb); !ok {
				t.Fatalf("unknown verb %q", c.Verb)
			}
			switch c.Verb {
			case VerbRevise:
				if strings.TrimSpace(c.Arg) == "" {
					t.Fatalf("revise without instructions")
				}
				for _, l := range strings.Split(c.Arg, "\n") {
					if startsWithPrefix(l) {
						t.Fatalf("instructions %q contain the command line %q", c.Arg, l)
					}
				}
			case VerbApprove:
				if len(c.Arg) != 10 || !strings.HasPrefix(c.Arg, "p-") {
					t.Fatalf("approve with %q", c.Arg)
				}
			default:
				if c.Arg != "" {
					t.Fatalf("%s with argument %q", c.Verb, c.Arg)
				}
			}
		}
		for _, e := range errs {
			checkLine(e.Line, e.Raw)
			if e.Message == "" || e.Usage == "" {
				t.Fatalf("error without message or usage: %+v", e)
			}
		}
	})
}
