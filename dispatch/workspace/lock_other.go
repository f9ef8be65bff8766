//go:build !unix

package workspace

import "context"

// lockFile is a no-op where flock does not exist: syncs are then
// serialised within the process only.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
