//go:build !linux

package sandbox

import (
	"context"
	"errors"
)

// run needs Linux: process groups with parent-death signals, waitid, and
// bubblewrap.
func run(context.Context, process) (Outcome, error) {
	return Outcome{}, errors.New("running agents is only supported on Linux")
}
