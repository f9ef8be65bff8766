package githubtest_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/githubtest"
)

// fakeT records what the fake reports at cleanup, to prove that violations fail a test.
type fakeT struct {
	testing.TB
	cleanups []func()
	errors   []string
	fatals   []string
}

func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
	panic(errFatal)
}

var errFatal = errors.New("Fatalf")

func (f *fakeT) finish() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestOpenAPIValidation(t *testing.T) {
	s := newFake(t, 1, githubtest.AllowViolations())
	jwt := "Bearer " + s.SignAppJWT()
	tests := []struct {
		name      string
		method    string
		path      string
		body      string
		status    int
		violation string // part of the recorded reason; "" for a valid request
	}{
		{"valid token request", "POST", "/app/installations/1/access_tokens", `{"repository_ids":[1000]}`, 201, ""},
		{"valid without body", "POST", "/app/installations/1/access_tokens", ``, 201, ""},
		{"valid but not served yet", "GET", "/rate_limit", ``, 404, ""},
		{"unknown path", "GET", "/app/nonsense", ``, 404, "no such operation"},
		{"wrong method", "DELETE", "/app/hook/deliveries/1", ``, 404, "no such operation"},
		{"body of the wrong type", "POST", "/app/installations/1/access_tokens", `{"repositories":"notalist"}`, 422, "repositories"},
		{"bad permission level", "POST", "/app/installations/1/access_tokens", `{"permissions":{"issues":"owner"}}`, 422, "permissions"},
		{"path parameter not an integer", "GET", "/app/installations/abc", ``, 422, "installation_id"},
		{"query parameter of the wrong type", "GET", "/app/installations?per_page=many", ``, 422, "per_page"},
		{"bad enum in query", "GET", "/app/hook/deliveries?status=maybe", ``, 422, "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.Violations())
			req, _ := http.NewRequest(tt.method, strings.TrimSuffix(s.URL(), "/")+tt.path, bytes.NewBufferString(tt.body))
			req.Header.Set("Authorization", jwt)
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			vs := s.Violations()[before:]
			switch {
			case tt.violation == "" && len(vs) > 0:
				t.Errorf("valid request recorded violations: %v", vs)
			case tt.violation != "" && (len(vs) != 1 || !strings.Contains(vs[0].Reason, tt.violation)):
				t.Errorf("violations = %v, want one mentioning %q", vs, tt.violation)
			}
		})
	}

	t.Run("violations fail the test at cleanup", func(t *testing.T) {
		ft := &fakeT{TB: t}
		s := githubtest.New(ft)
		resp, err := s.Client().Get(s.URL() + "app/nonsense")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ft.finish()
		if len(ft.errors) != 1 || !strings.Contains(ft.errors[0], "GET /app/nonsense") {
			t.Errorf("cleanup reported %q, want one violation for GET /app/nonsense", ft.errors)
		}
	})
	t.Run("a clean run reports nothing", func(t *testing.T) {
		ft := &fakeT{TB: t}
		s := githubtest.New(ft)
		resp, err := s.Client().Get(s.URL() + "app")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ft.finish()
		if len(ft.errors) != 0 {
			t.Errorf("cleanup reported %q", ft.errors)
		}
	})
}

func TestNewIsFast(t *testing.T) {
	githubtest.New(t) // the first loads the description
	start := time.Now()
	for range 10 {
		githubtest.New(t)
	}
	per := time.Since(start) / 10
	t.Logf("New takes %v after the first", per)
	if per > 100*time.Millisecond {
		t.Errorf("New takes %v, want < 100ms", per)
	}
}

func TestPayloads(t *testing.T) {
	for _, name := range githubtest.PayloadNames() {
		t.Run(name, func(t *testing.T) {
			b := githubtest.Payload(t, name, map[string]any{"installation.id": 99, "sender.login": "someone"})
			var p struct {
				Installation struct{ ID int64 }
				Sender       struct{ Login string }
			}
			if err := jsonUnmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			if name != "ping" && p.Installation.ID != 99 {
				t.Errorf("installation.id = %d", p.Installation.ID)
			}
			if p.Sender.Login != "someone" {
				t.Errorf("sender.login = %q", p.Sender.Login)
			}
		})
	}
	t.Run("vars that break the schema fail the test", func(t *testing.T) {
		ft := &fakeT{TB: t}
		defer func() {
			// Payload calls Fatalf, which our fakeT passes to the real t unless caught.
			if r := recover(); r != nil && r != errFatal {
				panic(r)
			}
			if len(ft.fatals) != 1 || !strings.Contains(ft.fatals[0], "installation/id") {
				t.Errorf("fatals = %q", ft.fatals)
			}
		}()
		githubtest.Payload(ft, "issues.labeled", map[string]any{"installation.id": "not-a-number"})
	})
	if n := len(githubtest.PayloadNames()); n < 6 {
		t.Errorf("%d payloads", n)
	}
}
