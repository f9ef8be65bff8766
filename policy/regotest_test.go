package policy

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	defaultpolicies "github.com/agentgate/agentgate/rego"
)

// TestRegoPolicies runs rego/*_test.rego (what `.ci/opa` runs with the OPA
// CLI) from go test, compiled as the engine compiles: strict, Rego v1, the
// restricted capabilities.
func TestRegoPolicies(t *testing.T) {
	caps := capabilities()
	modules := map[string]*ast.Module{}
	err := fs.WalkDir(defaultpolicies.FS, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".rego") {
			return err
		}
		src, err := fs.ReadFile(defaultpolicies.FS, name)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts("rego/"+name, string(src), parserOptions(caps))
		if err != nil {
			return err
		}
		modules["rego/"+name] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := inmem.New()
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Abort(ctx, txn)
	compiler := ast.NewCompiler().WithStrict(true).WithCapabilities(caps).WithEnablePrintStatements(true)
	ch, err := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetModules(modules).
		SetDefaultRegoVersion(ast.RegoV1).
		RaiseBuiltinErrors(true).
		CapturePrintOutput(true).
		RunTests(ctx, txn)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for r := range ch {
		n++
		if r.Pass() {
			continue
		}
		msg := r.Package + "." + r.Name
		switch {
		case r.Error != nil:
			msg += ": error: " + r.Error.Error()
		case r.Fail:
			msg += ": fail"
		case r.Skip:
			continue
		}
		if len(r.Output) > 0 {
			msg += "\n" + string(r.Output)
		}
		t.Errorf("%s (%s)", msg, r.Location)
	}
	if n < 50 {
		t.Errorf("ran %d Rego tests; rego/ has more", n)
	}
	t.Logf("%d Rego tests", n)
}
