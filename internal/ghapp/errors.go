package ghapp

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v89/github"
)

// defaultSecondaryWait is GitHub's advice when a secondary rate limit comes
// without Retry-After: wait at least a minute.
const defaultSecondaryWait = time.Minute

// Verdict says what the queue should do after a failed GitHub call.
type Verdict int

const (
	// RetryWithBackoff: a transient failure (5xx, timeout, network).
	RetryWithBackoff Verdict = iota
	// WaitForRateLimit: retry after the wait GitHub asked for; not a failure.
	WaitForRateLimit
	// GiveUp: retrying cannot help (404, 422, forbidden).
	GiveUp
)

// Classify inspects err (from go-github or anything wrapping it).
func Classify(err error, now time.Time) (Verdict, time.Duration) {
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		wait := rl.Rate.Reset.Sub(now) + time.Second
		if wait < time.Second {
			wait = time.Second
		}
		return WaitForRateLimit, wait
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		if abuse.RetryAfter != nil && *abuse.RetryAfter > 0 {
			return WaitForRateLimit, *abuse.RetryAfter
		}
		return WaitForRateLimit, defaultSecondaryWait
	}
	// Minting an installation token goes through ghinstallation, whose
	// errors carry the raw response rather than go-github's types.
	var tokenErr *ghinstallation.HTTPError
	if errors.As(err, &tokenErr) && tokenErr.Response != nil {
		return classifyResponse(tokenErr.Response, now)
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		code := er.Response.StatusCode
		switch {
		case code == http.StatusTooManyRequests:
			return WaitForRateLimit, retryAfterHeader(er.Response, defaultSecondaryWait)
		case code >= 500, code == http.StatusUnauthorized, code == http.StatusRequestTimeout:
			// 401 can be an installation token revoked mid-flight; a new
			// attempt mints a fresh one.
			return RetryWithBackoff, 0
		case code == http.StatusForbidden, code == http.StatusNotFound, code == http.StatusGone,
			code == http.StatusUnprocessableEntity, code == http.StatusBadRequest:
			return GiveUp, 0
		}
	}
	return RetryWithBackoff, 0
}

// classifyResponse judges a raw GitHub error response by its status and
// rate-limit headers, as go-github's CheckResponse would.
func classifyResponse(resp *http.Response, now time.Time) (Verdict, time.Duration) {
	code := resp.StatusCode
	if code == http.StatusForbidden || code == http.StatusTooManyRequests {
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
				return WaitForRateLimit, max(time.Unix(reset, 0).Sub(now)+time.Second, time.Second)
			}
			return WaitForRateLimit, defaultSecondaryWait
		}
		if resp.Header.Get("Retry-After") != "" || code == http.StatusTooManyRequests {
			return WaitForRateLimit, retryAfterHeader(resp, defaultSecondaryWait)
		}
		return GiveUp, 0
	}
	switch {
	case code >= 500, code == http.StatusUnauthorized, code == http.StatusRequestTimeout:
		return RetryWithBackoff, 0
	case code >= 400:
		return GiveUp, 0
	}
	return RetryWithBackoff, 0
}

func retryAfterHeader(resp *http.Response, fallback time.Duration) time.Duration {
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
	}
	return fallback
}
