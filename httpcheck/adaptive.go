package httpcheck

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fanout-go/fanout"
)

// Overloaded reports whether a check's attempt that failed with err is a
// sign that its host is overloaded, for the adaptive per-host limit
// (Config.Adaptive): the statuses 429 and 503, timeouts, refused and reset
// connections, and anything fanout.IsOverload says is. A DNS or TLS
// failure, a 404 or a 500 is not: fewer calls at once would not fix them.
func Overloaded(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusTooManyRequests || se.Status == http.StatusServiceUnavailable
	}
	switch Classify(err) {
	case KindTimeout:
		return true
	case KindConnect:
		return errors.Is(err, syscall.ECONNREFUSED)
	case KindReset:
		return errors.Is(err, syscall.ECONNRESET)
	}
	return fanout.IsOverload(err)
}

// adaptiveConfig is the per-host adaptive limit of Config.Adaptive: from 1
// to PerHost (Concurrency without it), starting at 8 or the maximum if
// lower.
func (c *Checker) adaptiveConfig() fanout.AdaptiveConfig {
	most := c.cfg.PerHost
	if most == 0 {
		most = c.cfg.Concurrency
	}
	return fanout.AdaptiveConfig{
		Min: 1, Max: most, Initial: min(8, most),
		Overloaded: Overloaded,
		MaxPause:   c.cfg.MaxRetryAfter,
	}
}

// waitHint returns how long a 429 or 503 answer asks the client to wait:
// its Retry-After, else the reset time of RateLimit headers (the IETF
// draft's RateLimit-Reset or "RateLimit: ...;t=N" / "reset=N", or the
// common X-RateLimit-Reset in seconds or as a Unix time).
func waitHint(h http.Header, now time.Time) (time.Duration, bool) {
	if d, ok := retryAfter(h.Get("Retry-After"), now); ok {
		return d, true
	}
	if d, ok := resetSeconds(h.Get("RateLimit-Reset"), now); ok {
		return d, true
	}
	if v := h.Get("RateLimit"); v != "" {
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' }) {
			name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && (name == "t" || name == "reset") {
				if d, ok := resetSeconds(val, now); ok {
					return d, true
				}
			}
		}
	}
	return resetSeconds(h.Get("X-RateLimit-Reset"), now)
}

// resetSeconds parses a rate limit's reset: seconds from now, or a Unix
// time when it is too large to be a delay.
func resetSeconds(v string, now time.Time) (time.Duration, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	if n > 1_000_000_000 { // a Unix time, not a delay
		return max(time.Unix(n, 0).Sub(now), 0), true
	}
	return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second, true
}
