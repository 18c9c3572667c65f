package fanout

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// RetryPolicy says when a failed attempt is tried again and how long to wait
// first. The zero value never retries.
//
// The wait before retry n (n = 1 for the second attempt) is drawn uniformly
// from [b/2, b] where b = InitialBackoff * 2^(n-1), capped at MaxBackoff
// ("equal jitter": retries of many tasks spread out, none retries at once).
// When the error carries a server's hint (see RetryAfter), the wait is at
// least the hint, capped at MaxRetryAfter. A task does not hold its slots
// while it waits.
type RetryPolicy struct {
	// MaxAttempts is the most attempts, the first included; <= 1 never
	// retries.
	MaxAttempts int
	// InitialBackoff is the base wait before the first retry (default
	// 100ms).
	InitialBackoff time.Duration
	// MaxBackoff caps the exponential wait (default 10s).
	MaxBackoff time.Duration
	// MaxRetryAfter caps how long a server's hint may make a task wait
	// (default 30s).
	MaxRetryAfter time.Duration
	// Retryable reports whether an attempt's error is worth retrying. When
	// nil, every error is, except cancellation (context.Canceled), a
	// *PanicError and errors marked with Permanent, which are never retried
	// whatever Retryable says.
	Retryable func(error) bool
}

// check panics on a policy no program means (see Option).
func (p RetryPolicy) check() {
	if p.InitialBackoff < 0 || p.MaxBackoff < 0 || p.MaxRetryAfter < 0 {
		panic("fanout: RetryPolicy needs durations >= 0")
	}
}

func (p RetryPolicy) normalized() RetryPolicy {
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = 100 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 10 * time.Second
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = 30 * time.Second
	}
	return p
}

// retryable reports whether an attempt that failed with err, being attempt
// number attempt, should be tried again.
func (p *RetryPolicy) retryable(err error, attempt int) bool {
	if attempt >= p.MaxAttempts || err == nil {
		return false
	}
	var pe *PanicError
	if errors.Is(err, context.Canceled) || errors.As(err, &pe) || IsPermanent(err) {
		return false
	}
	if p.Retryable != nil {
		return p.Retryable(err)
	}
	return true
}

// Backoff returns how long to wait after failed attempt number attempt
// (counting from 1) that ended with err.
func (p *RetryPolicy) Backoff(attempt int, err error) time.Duration {
	q := p.normalized()
	b := q.InitialBackoff
	for i := 1; i < attempt && b < q.MaxBackoff; i++ {
		if b > q.MaxBackoff/2 {
			b = q.MaxBackoff // doubling would pass it, or overflow
			break
		}
		b *= 2
	}
	b = min(b, q.MaxBackoff)
	d := b/2 + rand.N(b/2+1)
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		d = max(d, min(ra.After, q.MaxRetryAfter))
	}
	return d
}
