package sign_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/agentgate/agentgate/internal/tsatest"
	"github.com/agentgate/agentgate/provenance/sign"
)

// With a timestamp authority configured (here a local one), the bundle
// carries its RFC 3161 timestamp.
func TestWithTimestampAuthority(t *testing.T) {
	tsa := tsatest.Server(t)
	b, err := sign.Statement(context.Background(), testKey(t), testStatement, sign.WithTimestampAuthority(tsa.URL, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Timestamped || b.Logged {
		t.Errorf("timestamped %v logged %v", b.Timestamped, b.Logged)
	}
	var got struct {
		VerificationMaterial struct {
			TimestampVerificationData struct {
				RFC3161Timestamps []struct {
					SignedTimestamp []byte `json:"signedTimestamp"`
				} `json:"rfc3161Timestamps"`
			} `json:"timestampVerificationData"`
		} `json:"verificationMaterial"`
	}
	if err := json.Unmarshal(b.JSON, &got); err != nil {
		t.Fatal(err)
	}
	ts := got.VerificationMaterial.TimestampVerificationData.RFC3161Timestamps
	if len(ts) != 1 {
		t.Fatalf("%d timestamps in the bundle", len(ts))
	}
	if _, err := timestamp.ParseResponse(ts[0].SignedTimestamp); err != nil {
		t.Errorf("the bundle's timestamp does not parse: %v", err)
	}
}

func TestTimestampAuthorityDownFailsTheSigning(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	if _, err := sign.Statement(context.Background(), testKey(t), testStatement, sign.WithTimestampAuthority(srv.URL, time.Second)); err == nil {
		t.Error("signed without the timestamp that was asked for")
	}
}
