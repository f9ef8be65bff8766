package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/tsatest"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/provenance/verify"
)

// A bundle with an RFC 3161 timestamp verifies with the key alone, as
// cosign's --insecure-ignore-tlog=true without --use-signed-timestamps
// does: the timestamp is carried, not checked.
func TestTimestampedBundleVerifies(t *testing.T) {
	f := newFixture(t)
	tsa := tsatest.Server(t)
	sts, err := statement.Build(input())
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.Statement(context.Background(), f.key, sts[0].Payload, sign.WithTimestampAuthority(tsa.URL, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, f.pubPEM)
	if _, err := v.Verify(b.JSON, verify.Expect{Commit: landed}); err != nil {
		t.Fatal(err)
	}
}
