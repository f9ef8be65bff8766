// Package rego holds agentgate's default gate policies, written in Rego
// (v1 syntax), and their tests. The policy engine (package policy) embeds
// them; `.ci/opa` checks and tests them with the OPA pinned in tools/.
//
// Each policy is a package agentgate.policies.<name> with the shape the
// engine reads: title, applies, violations, pending, action_required and
// summary (see README.md). agentgate.lib holds helpers they share.
package rego

import (
	"embed"
	"io/fs"
	"strings"
)

// FS holds every .rego file of this directory, tests included.
//
//go:embed *.rego
var FS embed.FS

// Modules returns the policy sources to evaluate, by file name (tests,
// *_test.rego, left out).
func Modules() map[string][]byte {
	out := map[string][]byte{}
	entries, err := fs.ReadDir(FS, ".")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, "_test.rego") {
			continue
		}
		data, err := fs.ReadFile(FS, name)
		if err != nil {
			panic(err)
		}
		out[name] = data
	}
	return out
}
