package ghapp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/ghapp"
)

// response builds what go-github attaches to its errors: a response with its
// request, so the errors' Error methods work as they do in production.
func response(code int, header ...string) *http.Response {
	req, err := http.NewRequest(http.MethodGet, "https://api.github.com/repos/acme/widgets/pulls/1", nil)
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &http.Response{StatusCode: code, Status: http.StatusText(code), Header: h, Request: req}
}

func errorResponse(code int, header ...string) *github.ErrorResponse {
	return &github.ErrorResponse{Response: response(code, header...), Message: http.StatusText(code)}
}

func TestClassify(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	dur := func(d time.Duration) *time.Duration { return &d }
	rateLimit := func(reset time.Time) error {
		return &github.RateLimitError{
			Rate:     github.Rate{Limit: 5000, Remaining: 0, Reset: github.Timestamp{Time: reset}},
			Response: response(http.StatusForbidden, "X-RateLimit-Remaining", "0"),
			Message:  "API rate limit exceeded",
		}
	}
	abuse := func(retryAfter *time.Duration) error {
		return &github.AbuseRateLimitError{
			Response:   response(http.StatusForbidden),
			Message:    "You have exceeded a secondary rate limit",
			RetryAfter: retryAfter,
		}
	}
	tokenErr := func(code int, header ...string) error {
		return &ghinstallation.HTTPError{
			Message:        "could not refresh installation id 9's token",
			RootCause:      errors.New("received non 2xx response status"),
			InstallationID: 9,
			Response:       response(code, header...),
		}
	}

	tests := []struct {
		name    string
		err     error
		verdict ghapp.Verdict
		wait    time.Duration
	}{
		// Primary rate limit: wait until the reset, plus a second of slack.
		{"rate limit resets in 30s", rateLimit(now.Add(30 * time.Second)), ghapp.WaitForRateLimit, 31 * time.Second},
		{"rate limit resets in 1s", rateLimit(now.Add(time.Second)), ghapp.WaitForRateLimit, 2 * time.Second},
		{"rate limit reset already passed", rateLimit(now.Add(-time.Minute)), ghapp.WaitForRateLimit, time.Second},
		{"rate limit without reset", rateLimit(time.Time{}), ghapp.WaitForRateLimit, time.Second},
		{"wrapped rate limit", fmt.Errorf("list files: %w", rateLimit(now.Add(10*time.Second))), ghapp.WaitForRateLimit, 11 * time.Second},
		{"doubly wrapped rate limit", fmt.Errorf("gate: %w", fmt.Errorf("list files: %w", rateLimit(now.Add(10*time.Second)))), ghapp.WaitForRateLimit, 11 * time.Second},

		// Secondary rate limit: Retry-After if given, else GitHub's "a minute".
		{"abuse with retry-after", abuse(dur(7 * time.Second)), ghapp.WaitForRateLimit, 7 * time.Second},
		{"abuse without retry-after", abuse(nil), ghapp.WaitForRateLimit, time.Minute},
		{"abuse with zero retry-after", abuse(dur(0)), ghapp.WaitForRateLimit, time.Minute},
		{"wrapped abuse", fmt.Errorf("create check run: %w", abuse(dur(3*time.Second))), ghapp.WaitForRateLimit, 3 * time.Second},

		// Plain error responses.
		{"429 with retry-after", errorResponse(http.StatusTooManyRequests, "Retry-After", "12"), ghapp.WaitForRateLimit, 12 * time.Second},
		{"429 without retry-after", errorResponse(http.StatusTooManyRequests), ghapp.WaitForRateLimit, time.Minute},
		{"429 with unparseable retry-after", errorResponse(http.StatusTooManyRequests, "Retry-After", "soon"), ghapp.WaitForRateLimit, time.Minute},
		{"wrapped 429", fmt.Errorf("x: %w", errorResponse(http.StatusTooManyRequests, "Retry-After", "4")), ghapp.WaitForRateLimit, 4 * time.Second},
		{"500", errorResponse(http.StatusInternalServerError), ghapp.RetryWithBackoff, 0},
		{"502", errorResponse(http.StatusBadGateway), ghapp.RetryWithBackoff, 0},
		{"503", errorResponse(http.StatusServiceUnavailable), ghapp.RetryWithBackoff, 0},
		{"408", errorResponse(http.StatusRequestTimeout), ghapp.RetryWithBackoff, 0},
		{"401 (token revoked mid-flight)", errorResponse(http.StatusUnauthorized), ghapp.RetryWithBackoff, 0},
		{"400", errorResponse(http.StatusBadRequest), ghapp.GiveUp, 0},
		{"403", errorResponse(http.StatusForbidden), ghapp.GiveUp, 0},
		{"404", errorResponse(http.StatusNotFound), ghapp.GiveUp, 0},
		{"410", errorResponse(http.StatusGone), ghapp.GiveUp, 0},
		{"422", errorResponse(http.StatusUnprocessableEntity), ghapp.GiveUp, 0},
		{"wrapped 404", fmt.Errorf("x: %w", errorResponse(http.StatusNotFound)), ghapp.GiveUp, 0},
		{"wrapped 502", fmt.Errorf("x: %w", errorResponse(http.StatusBadGateway)), ghapp.RetryWithBackoff, 0},
		{"joined 422", errors.Join(errors.New("other"), errorResponse(http.StatusUnprocessableEntity)), ghapp.GiveUp, 0},
		{"error response without response", &github.ErrorResponse{Message: "?"}, ghapp.RetryWithBackoff, 0},

		// Installation token minting (ghinstallation's own error type).
		{"token 403 rate limited", tokenErr(http.StatusForbidden, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Add(20*time.Second).Unix(), 10)), ghapp.WaitForRateLimit, 21 * time.Second},
		{"token 403 rate limited without reset", tokenErr(http.StatusForbidden, "X-RateLimit-Remaining", "0"), ghapp.WaitForRateLimit, time.Minute},
		{"token 403 secondary with retry-after", tokenErr(http.StatusForbidden, "Retry-After", "9"), ghapp.WaitForRateLimit, 9 * time.Second},
		{"token 429", tokenErr(http.StatusTooManyRequests), ghapp.WaitForRateLimit, time.Minute},
		{"token 403 forbidden", tokenErr(http.StatusForbidden), ghapp.GiveUp, 0},
		{"token 404 (installation gone)", fmt.Errorf("mint: %w", tokenErr(http.StatusNotFound)), ghapp.GiveUp, 0},
		{"token 401", tokenErr(http.StatusUnauthorized), ghapp.RetryWithBackoff, 0},
		{"token 500", tokenErr(http.StatusInternalServerError), ghapp.RetryWithBackoff, 0},
		{"token error without response", &ghinstallation.HTTPError{Message: "dial", RootCause: errors.New("connection refused")}, ghapp.RetryWithBackoff, 0},

		// Anything else is transient until proven otherwise.
		{"plain error", errors.New("connection reset by peer"), ghapp.RetryWithBackoff, 0},
		{"wrapped plain error", fmt.Errorf("x: %w", errors.New("boom")), ghapp.RetryWithBackoff, 0},
		{"deadline exceeded", fmt.Errorf("get pull: %w", context.DeadlineExceeded), ghapp.RetryWithBackoff, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verdict, wait := ghapp.Classify(tt.err, now)
			if verdict != tt.verdict || wait != tt.wait {
				t.Errorf("Classify(%T %q) = (%v, %s), want (%v, %s)", tt.err, tt.err, verdict, wait, tt.verdict, tt.wait)
			}
		})
	}
}
