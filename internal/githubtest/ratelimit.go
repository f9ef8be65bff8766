package githubtest

import (
	"net/http"
	"time"
)

// GitHub's primary rate limit: a budget per installation (shared by all of its tokens), per
// app JWT, and per IP address for unauthenticated requests, refilled when the window resets.
// Every answer carries X-RateLimit-*; a request over budget gets 403 with remaining 0, which
// clients (go-github's RateLimitError) tell apart from other 403s by that header.

const rateLimitDocs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit"

type bucket struct {
	limit int
	used  int
	reset time.Time
}

func installationBucket(id int64) string { return "installation:" + itoa(id) }

// bucketLocked returns the bucket, refilled if its window has passed.
func (s *Server) bucketLocked(key string) *bucket {
	now := s.now()
	b := s.buckets[key]
	if b == nil || !now.Before(b.reset) {
		limit := s.cfg.rateLimit
		if len(key) > 3 && key[:3] == "ip:" {
			limit = s.cfg.unauthRateLimit
		}
		if b != nil {
			limit = b.limit // keep a limit set by SetRateLimitRemaining's caller
		}
		b = &bucket{limit: limit, reset: now.Add(s.cfg.rateWindow).Truncate(time.Second)}
		s.buckets[key] = b
	}
	return b
}

// takeRateLimit refuses the request if its bucket is empty. The request is charged when its
// answer is known (finish), because a 304 costs nothing.
func (s *Server) takeRateLimit(w http.ResponseWriter, c *call) bool {
	s.mu.Lock()
	b := s.bucketLocked(c.bucket)
	exhausted := b.used >= b.limit
	limit, reset := b.limit, b.reset
	s.mu.Unlock()
	if !exhausted {
		return true
	}
	h := w.Header()
	setRateHeaders(h, limit, 0, limit, reset)
	msg := "API rate limit exceeded."
	if c.inst != nil {
		msg = "API rate limit exceeded for installation ID " + itoa(c.inst.ID) + "."
	} else if c.bucket[:3] == "ip:" {
		msg = "API rate limit exceeded for " + c.bucket[3:] + ". (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)"
	}
	writeJSON(w, http.StatusForbidden, apiError{Message: msg, DocumentationURL: rateLimitDocs})
	return false
}

// rateLimitHeaders charges the bucket (if charge) and sets the X-RateLimit-* headers.
func (s *Server) rateLimitHeaders(h http.Header, key string, charge bool) {
	s.mu.Lock()
	b := s.bucketLocked(key)
	if charge && b.used < b.limit {
		b.used++
	}
	limit, used, reset := b.limit, b.used, b.reset
	s.mu.Unlock()
	setRateHeaders(h, limit, limit-used, used, reset)
}

func setRateHeaders(h http.Header, limit, remaining, used int, reset time.Time) {
	h.Set("X-RateLimit-Limit", itoa(limit))
	h.Set("X-RateLimit-Remaining", itoa(remaining))
	h.Set("X-RateLimit-Used", itoa(used))
	h.Set("X-RateLimit-Reset", itoa(reset.Unix()))
	h.Set("X-RateLimit-Resource", "core")
}

// RateLimit reports an installation's budget: limit, remaining, and when it resets.
func (s *Server) RateLimit(installationID int64) (limit, remaining int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketLocked(installationBucket(installationID))
	return b.limit, b.limit - b.used, b.reset
}

// SetRateLimitRemaining sets what is left of an installation's budget in the current
// window, e.g. 0 to make its next request hit the primary rate limit.
func (s *Server) SetRateLimitRemaining(installationID int64, remaining int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketLocked(installationBucket(installationID))
	b.used = max(0, b.limit-remaining)
}
