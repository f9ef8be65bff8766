package githubtest

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// GitHub's ETags are strong validators of the response body; clients (and go-github's
// caching transports) send them back in If-None-Match and get 304 Not Modified, which does
// not count against the rate limit.

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// etagMatches implements If-None-Match's list and weak comparison (RFC 9110 §13.1.2): a
// stored W/"x" from a proxy still matches "x".
func etagMatches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	for _, candidate := range strings.Split(ifNoneMatch, ",") {
		candidate = strings.TrimSpace(candidate)
		if candidate == "*" || strings.TrimPrefix(candidate, "W/") == etag {
			return true
		}
	}
	return false
}

func itoa[T ~int | ~int64](v T) string { return strconv.FormatInt(int64(v), 10) }
