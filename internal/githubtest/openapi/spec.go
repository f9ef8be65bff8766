// Package openapi holds the part of GitHub's REST API description that the fake GitHub in
// package githubtest serves, cut from the npm package @octokit/openapi by ./gen (see
// operations.txt for the list and gen's doc comment for how to regenerate it).
package openapi

//go:generate go run ./gen -in $GITHUB_OPENAPI -ops operations.txt -out api.github.com.json

import (
	"context"
	_ "embed"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed api.github.com.json
var description []byte

// JSON returns the cut-down description as committed.
func JSON() []byte { return description }

var loaded = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(description)
	if err != nil {
		return nil, fmt.Errorf("load GitHub's OpenAPI description: %w", err)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("validate GitHub's OpenAPI description: %w", err)
	}
	// GitHub's description names https://api.github.com; the fake serves it on any host.
	doc.Servers = nil
	return doc, nil
})

// Load parses the description once per process, with its servers removed so that routers
// match any host. The document is shared: callers must not modify it.
func Load() (*openapi3.T, error) { return loaded() }
