package githubtest

import (
	"net/http"
	"strings"
	"time"
)

// FaultKind is the failure a Fault injects.
type FaultKind int

const (
	FaultNone FaultKind = iota
	// FaultServerError answers Fault.Status (500, 502 or 503; default 502) with a JSON body.
	FaultServerError
	// FaultSecondaryRateLimit answers 403 with GitHub's secondary rate limit message and
	// Retry-After: Fault.RetryAfter (default 60 s); go-github returns *github.AbuseRateLimitError.
	FaultSecondaryRateLimit
	// FaultPrimaryRateLimit answers 403 with X-RateLimit-Remaining: 0 and a reset
	// Fault.RetryAfter from now (default 60 s); go-github returns *github.RateLimitError.
	// The installation's real budget is untouched.
	FaultPrimaryRateLimit
	// FaultTimeout holds the request until the client gives up, or for Fault.Delay
	// (default 10 s, GitHub's own limit) and then answers 504.
	FaultTimeout
)

func (k FaultKind) String() string {
	switch k {
	case FaultNone:
		return "none"
	case FaultServerError:
		return "server-error"
	case FaultSecondaryRateLimit:
		return "secondary-rate-limit"
	case FaultPrimaryRateLimit:
		return "primary-rate-limit"
	case FaultTimeout:
		return "timeout"
	}
	return "fault(" + itoa(int(k)) + ")"
}

// Fault is a rule that makes matching API requests fail. The first rule (in the order added)
// that matches and still has uses left, and whose coin comes up, applies.
type Fault struct {
	// Method matches the request method; empty matches any.
	Method string
	// Path matches the request path exactly, or the operation's template
	// ("/repos/{owner}/{repo}/pulls/{pull_number}"), or, ending in "*", as a prefix
	// ("/app/*"). Empty matches any.
	Path string
	// Match, if set, decides instead of Method and Path.
	Match func(*http.Request) bool
	// Probability that a matching request fails; 0 means always. Decided by the fake's
	// seeded random source (WithSeed), so runs are reproducible.
	Probability float64
	// Times is how many requests fail at most; 0 is unlimited.
	Times int
	Kind  FaultKind

	Status     int           // FaultServerError: 500, 502 or 503
	RetryAfter time.Duration // rate limit faults: when the client may retry
	Delay      time.Duration // FaultTimeout: how long to hold the request
}

type faultRule struct {
	Fault
	hits int
}

// AddFault adds a fault rule.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultRule{Fault: f})
}

// ClearFaults removes every fault rule.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (f *Fault) matches(r *http.Request, c *call) bool {
	if f.Match != nil {
		return f.Match(r)
	}
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	switch {
	case f.Path == "":
		return true
	case strings.HasSuffix(f.Path, "*"):
		return strings.HasPrefix(r.URL.Path, strings.TrimSuffix(f.Path, "*"))
	default:
		return f.Path == r.URL.Path || (c.route != nil && f.Path == c.route.Path)
	}
}

// pickFault returns the fault to apply to the request, if any, and counts its use.
func (s *Server) pickFault(r *http.Request, c *call) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rule := range s.faults {
		if rule.Times > 0 && rule.hits >= rule.Times {
			continue
		}
		if !rule.matches(r, c) {
			continue
		}
		if p := rule.Probability; p > 0 && p < 1 && s.rand.Float64() >= p {
			continue
		}
		rule.hits++
		f := rule.Fault
		return &f
	}
	return nil
}

// applyFault answers the request with a fault if a rule says so.
func (s *Server) applyFault(r *http.Request, c *call, w http.ResponseWriter) bool {
	f := s.pickFault(r, c)
	if f == nil {
		return false
	}
	c.req.Fault = f.Kind
	retryAfter := f.RetryAfter
	if retryAfter <= 0 {
		retryAfter = time.Minute
	}
	switch f.Kind {
	case FaultServerError:
		status := f.Status
		if status == 0 {
			status = http.StatusBadGateway
		}
		writeError(w, status, serverErrorMessage(status))
	case FaultSecondaryRateLimit:
		w.Header().Set("Retry-After", itoa(int64(retryAfter/time.Second)))
		writeJSON(w, http.StatusForbidden, apiError{
			Message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
				"If you reach out to GitHub Support for help, please include the request ID " + strings.ToUpper(randomHex(8)) + ".",
			DocumentationURL: "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
	case FaultPrimaryRateLimit:
		limit := s.cfg.rateLimit
		setRateHeaders(w.Header(), limit, 0, limit, s.now().Add(retryAfter))
		msg := "API rate limit exceeded."
		if id, ok := s.tokenInstallation(r); ok {
			msg = "API rate limit exceeded for installation ID " + itoa(id) + "."
		}
		writeJSON(w, http.StatusForbidden, apiError{Message: msg, DocumentationURL: rateLimitDocs})
	case FaultTimeout:
		delay := f.Delay
		if delay <= 0 {
			delay = 10 * time.Second
		}
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-r.Context().Done():
		case <-s.done:
		case <-timer.C:
		}
		writeError(w, http.StatusGatewayTimeout, "We couldn't respond to your request in time. Sorry about that. "+
			"Please try resubmitting your request and contact us if the problem persists.")
	default:
		return false
	}
	return true
}

// tokenInstallation finds the installation behind a request's token, for the rate limit
// message; faults apply before authentication.
func (s *Server) tokenInstallation(r *http.Request) (int64, bool) {
	_, cred := credentials(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok := s.tokens[cred]; tok != nil {
		return tok.installationID, true
	}
	return 0, false
}

func serverErrorMessage(status int) string {
	switch status {
	case http.StatusServiceUnavailable:
		return "Service Unavailable"
	case http.StatusBadGateway:
		return "Server Error"
	}
	return http.StatusText(status)
}
