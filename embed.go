// Package agentgate holds the files compiled into the binary from the
// repository root: the GitHub App manifest. The code lives in cmd/ and the
// packages beside it (see README.md for the map).
package agentgate

import _ "embed"

// AppManifest is app.yml, the GitHub App agentgate registers on first start.
//
//go:embed app.yml
var AppManifest []byte
