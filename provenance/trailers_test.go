package provenance

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTrailers(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want map[string]string
	}{
		{name: "agentgate commit",
			msg: "Fix the parser\n\nIt was wrong.\n\nAgent-Task: 01J\nAgent-Run: r-2\nAgent-Name: claude-code\nAgent-Model: claude-sonnet-4.5\n" +
				"Agent-Prompt-SHA256: " + sha256a + "\nCo-authored-by: Alice <alice@example.com>\nCo-authored-by: Bob <bob@example.com>\n",
			want: map[string]string{"Agent-Task": "01J", "Agent-Run": "r-2", "Agent-Name": "claude-code", "Agent-Model": "claude-sonnet-4.5",
				"Agent-Prompt-SHA256": sha256a, "Co-authored-by": "Alice <alice@example.com>\nBob <bob@example.com>"}},
		{name: "title only", msg: "Agent-Task: 01J", want: map[string]string{}},
		{name: "trailer in the title paragraph", msg: "Fix\nAgent-Task: 01J\n", want: map[string]string{}},
		{name: "not the last paragraph", msg: "Fix\n\nAgent-Task: 01J\n\nMore words.\n", want: map[string]string{}},
		{name: "mixed paragraph without a git trailer", msg: "Fix\n\nSome words here\nAgent-Task: 01J\n", want: map[string]string{}},
		{name: "mixed paragraph with Signed-off-by", msg: "Fix\n\nsome words\nmore words\nSigned-off-by: A <a@x>\nAgent-Task: 01J\n",
			want: map[string]string{"Signed-off-by": "A <a@x>", "Agent-Task": "01J"}},
		{name: "cherry-pick line counts but is no trailer", msg: "Fix\n\nwords\n(cherry picked from commit " + sha1a + ")\nAgent-Run: r",
			want: map[string]string{"Agent-Run": "r"}},
		{name: "continuation lines unfold", msg: "Fix\n\nAgent-Model: claude\n  sonnet\n\t4.5\nAgent-Run: r\n",
			want: map[string]string{"Agent-Model": "claude sonnet 4.5", "Agent-Run": "r"}},
		{name: "case, spaces before colon, trailing blank lines, CRLF", msg: "Fix\r\n\r\nagent-task : 01J\r\nAGENT-RUN:r\r\nX-Custom: v\r\n\r\n\r\n",
			want: map[string]string{"Agent-Task": "01J", "Agent-Run": "r", "X-Custom": "v"}},
		{name: "comment lines are ignored", msg: "Fix\n\nAgent-Run: r\n# a comment\n", want: map[string]string{"Agent-Run": "r"}},
		{name: "empty message", msg: "", want: map[string]string{}},
		{name: "blank key is no trailer", msg: "Fix\n\n: value\n", want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseTrailers(tt.msg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseTrailers = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAgentTrailers(t *testing.T) {
	got := AgentTrailers(map[string]string{"agent-run": "r", "Agent-Model": "m", "Agent-Other": "o", "Signed-off-by": "s"})
	want := map[string]string{"Agent-Run": "r", "Agent-Model": "m"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AgentTrailers = %q, want %q", got, want)
	}
}

func TestCoAuthors(t *testing.T) {
	msg := "Fix\n\nCo-authored-by: Alice <a@x>\nco-authored-by: Bob <b@x>\nAgent-Run: r\n"
	if got, want := CoAuthors(msg), []string{"Alice <a@x>", "Bob <b@x>"}; !reflect.DeepEqual(got, want) {
		t.Errorf("CoAuthors = %q, want %q", got, want)
	}
}

func TestAppendTrailers(t *testing.T) {
	ts := []Trailer{{TrailerTask, "01J"}, {TrailerModel, "m\nAgent-Run: forged"}, {TrailerCoAuthoredBy, "Alice <a@x>"}}
	tests := []struct{ msg, want string }{
		{"Fix\n", "Fix\n\nAgent-Task: 01J\nAgent-Model: m Agent-Run: forged\nCo-authored-by: Alice <a@x>\n"},
		{"Fix\n\nSigned-off-by: B <b@x>\n\n", "Fix\n\nSigned-off-by: B <b@x>\nAgent-Task: 01J\nAgent-Model: m Agent-Run: forged\nCo-authored-by: Alice <a@x>\n"},
	}
	for _, tt := range tests {
		got := AppendTrailers(tt.msg, ts)
		if got != tt.want {
			t.Errorf("AppendTrailers(%q) = %q, want %q", tt.msg, got, tt.want)
		}
		if tr := ParseTrailers(got); tr[TrailerModel] != "m Agent-Run: forged" || tr[TrailerRun] != "" {
			t.Errorf("ParseTrailers(AppendTrailers) = %q", tr)
		}
	}
}

func FuzzParseTrailers(f *testing.F) {
	f.Add("Fix\n\nAgent-Task: 01J\nCo-authored-by: A <a@x>\n")
	f.Add("Fix\r\n\r\nwords\r\nSigned-off-by: A\r\n  cont\r\n(cherry picked from commit abc)\r\n")
	f.Add("a\n\n: b\n c\n#d\n")
	f.Fuzz(func(t *testing.T, msg string) {
		m := ParseTrailers(msg)
		ts := Trailers(msg)
		if len(ts) < len(m) {
			t.Fatalf("%d trailers but %d keys", len(ts), len(m))
		}
		for _, tr := range ts {
			if tr.Key == "" || strings.ContainsAny(tr.Key, ":\r\n") || strings.Contains(tr.Value, "\n") {
				t.Fatalf("bad trailer %q", tr)
			}
		}
		// Appending trailers to any message keeps them readable.
		add := []Trailer{{TrailerRun, "r-1"}, {TrailerCoAuthoredBy, "Z <z@x>"}}
		got := ParseTrailers(AppendTrailers("Title\n\n"+msg, add))
		if !strings.HasSuffix(got[TrailerRun], "r-1") || !strings.HasSuffix(got[TrailerCoAuthoredBy], "Z <z@x>") {
			t.Fatalf("appended trailers lost: %q", got)
		}
	})
}
