package sign_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/agentgate/agentgate/provenance/sign"
)

// fakeTSA answers RFC 3161 requests on a local listener.
func fakeTSA(t *testing.T) *httptest.Server {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test TSA"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := timestamp.ParseRequest(body)
		if err != nil || r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ts := timestamp.Timestamp{
			HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Nonce: req.Nonce,
			Time: time.Now(), Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}, AddTSACertificate: true,
		}
		resp, err := ts.CreateResponseWithOpts(cert, key, crypto.SHA256)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// With a timestamp authority configured (here a local one), the bundle
// carries its RFC 3161 timestamp.
func TestWithTimestampAuthority(t *testing.T) {
	tsa := fakeTSA(t)
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
