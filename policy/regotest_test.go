package policy

import (
	"context"
	"strings"
	"testing"
)

// TestRegoPolicies runs rego/*_test.rego (what `.ci/opa` runs with the OPA
// CLI) from go test through RunRegoTests, compiled as the engine compiles:
// strict, Rego v1, the restricted capabilities.
func TestRegoPolicies(t *testing.T) {
	results, err := RunRegoTests(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Pass() || r.Skip {
			continue
		}
		msg := r.Name
		switch {
		case r.Err != nil:
			msg += ": error: " + r.Err.Error()
		case r.Fail:
			msg += ": fail"
		}
		if len(r.Output) > 0 {
			msg += "\n" + string(r.Output)
		}
		t.Errorf("%s (%s:%d)", msg, r.File, r.Line)
	}
	if n := len(results); n < 50 {
		t.Errorf("ran %d Rego tests; rego/ has more", n)
	}
	t.Logf("%d Rego tests", len(results))
}

// TestRunRegoTestsExtra: a repository's policies and tests run beside the
// defaults; failures are results, parse errors name file and line.
func TestRunRegoTestsExtra(t *testing.T) {
	ctx := context.Background()
	extra := map[string][]byte{
		"p/mine.rego": []byte("package agentgate.repo.mine\n\nviolations contains \"big\" if count(input.files) > 1\n"),
		"p/mine_test.rego": []byte("package agentgate.repo.mine_test\n\nimport data.agentgate.repo.mine\n\n" +
			"test_small if count(mine.violations) == 0 with input as {\"files\": []}\n\n" +
			"test_wrong if count(mine.violations) == 0 with input as {\"files\": [1, 2]}\n"),
	}
	results, err := RunRegoTests(ctx, extra)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]RegoTestResult{}
	for _, r := range results {
		if r.File == "p/mine_test.rego" {
			got[r.Name] = r
		}
	}
	if r := got["data.agentgate.repo.mine_test.test_small"]; !r.Pass() || r.Line != 5 {
		t.Errorf("test_small: %+v", r)
	}
	if r := got["data.agentgate.repo.mine_test.test_wrong"]; !r.Fail || r.Line != 7 {
		t.Errorf("test_wrong: %+v", r)
	}
	if len(got) != 2 {
		t.Errorf("got %d repo tests, want 2: %v", len(got), got)
	}

	_, err = RunRegoTests(ctx, map[string][]byte{"p/bad.rego": []byte("package agentgate.repo.bad\n\nviolations contains x if {\n")})
	if err == nil || !strings.Contains(err.Error(), "p/bad.rego:") {
		t.Errorf("parse error: %v, want one naming p/bad.rego:<line>", err)
	}
}
