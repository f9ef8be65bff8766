package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	defaultpolicies "github.com/agentgate/agentgate/rego"
)

// RegoTestResult is the outcome of one Rego test rule (test_*).
type RegoTestResult struct {
	// Name is the rule's full name, e.g. "data.agentgate.policies.size_test.test_small_passes".
	Name string
	// File and Line locate the test rule.
	File string
	Line int
	// Fail: the test rule was undefined or false. Err: evaluating it failed
	// (a built-in error, a conflict). Skip: a todo_test_ rule.
	Fail     bool
	Err      error
	Skip     bool
	Output   []byte // what the test printed
	Duration time.Duration
}

// Pass reports whether the test passed.
func (r RegoTestResult) Pass() bool { return !r.Fail && !r.Skip && r.Err == nil }

// RunRegoTests runs the Rego tests (test_* rules) of the embedded default
// policies (rego/*.rego, tests included, named "rego/<file>") together with
// extra modules (name -> source: a repository's policies and their
// *_test.rego), compiled as the engine compiles them: Rego v1, strict, the
// restricted capabilities (no http.send, opa.runtime, ...). print() output
// is captured. An extra module named like a default ("rego/size.rego")
// replaces it, so a checkout of rego/ tests its working copy.
//
// The error is for modules that do not parse or compile (it names file and
// line) and a cancelled context; failing tests are results. Results are
// sorted by file, line and name.
func RunRegoTests(ctx context.Context, extra map[string][]byte) ([]RegoTestResult, error) {
	sources := map[string][]byte{}
	err := fs.WalkDir(defaultpolicies.FS, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".rego") {
			return err
		}
		src, err := fs.ReadFile(defaultpolicies.FS, name)
		if err != nil {
			return err
		}
		sources[defaultsDir+name] = src
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read default policies: %w", err)
	}
	for name, src := range extra {
		sources[name] = src
	}

	caps := capabilities()
	modules := make(map[string]*ast.Module, len(sources))
	var parseErrs ast.Errors
	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m, err := ast.ParseModuleWithOpts(name, string(sources[name]), parserOptions(caps))
		if err != nil {
			var errs ast.Errors
			if errors.As(err, &errs) {
				parseErrs = append(parseErrs, errs...)
				continue
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if m == nil {
			parseErrs = append(parseErrs, ast.NewError(ast.ParseErr, &ast.Location{File: name, Row: 1}, "empty module"))
			continue
		}
		modules[name] = m
	}
	if len(parseErrs) > 0 {
		return nil, parseErrs
	}

	store := inmem.New()
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	compiler := ast.NewCompiler().
		WithStrict(true).
		WithCapabilities(caps).
		WithDefaultRegoVersion(ast.RegoV1).
		WithEnablePrintStatements(true)
	ch, err := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetModules(modules).
		SetDefaultRegoVersion(ast.RegoV1).
		RaiseBuiltinErrors(true).
		CapturePrintOutput(true).
		RunTests(ctx, txn)
	if err != nil {
		return nil, err
	}
	var out []RegoTestResult
	for r := range ch {
		res := RegoTestResult{
			Name: r.Package + "." + r.Name, Fail: r.Fail, Err: r.Error, Skip: r.Skip,
			Output: r.Output, Duration: r.Duration,
		}
		if r.Location != nil {
			res.File, res.Line = r.Location.File, r.Location.Row
		}
		out = append(out, res)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Name < b.Name
	})
	return out, nil
}
