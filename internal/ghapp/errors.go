package ghapp

import (
	"errors"
	"net/http"
	"strconv"
	"time"

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

func retryAfterHeader(resp *http.Response, fallback time.Duration) time.Duration {
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
	}
	return fallback
}
