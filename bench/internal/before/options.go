package fanout

import (
	"time"

	"golang.org/x/time/rate"
)

// DefaultLimit is the concurrency limit of an Executor built without
// WithLimit: enough to overlap blocking network calls well, small enough to
// be polite to one server.
const DefaultLimit = 64

// An Option configures an Executor built by New.
type Option func(*config)

type config struct {
	limit        int
	queue        int // < 0: unbounded
	keyLimit     int
	limiter      *rate.Limiter
	timeout      time.Duration
	queueTimeout time.Duration
	retry        RetryPolicy
	observers    []Observer
}

// WithLimit sets how many tasks may run at once (DefaultLimit when not
// given). It panics if n < 1.
func WithLimit(n int) Option {
	if n < 1 {
		panic("fanout: WithLimit needs n >= 1")
	}
	return func(c *config) { c.limit = n }
}

// WithQueue bounds how many submitted tasks may wait for a slot. When the
// queue is full, Submit blocks until there is room or its context ends
// (backpressure). With n == 0, Submit blocks until the task can start. The
// default is an unbounded queue: waiting tasks cost a few hundred bytes each
// and no goroutine. It panics if n < 0.
func WithQueue(n int) Option {
	if n < 0 {
		panic("fanout: WithQueue needs n >= 0")
	}
	return func(c *config) { c.queue = n }
}

// WithRate limits how many attempts may start per second, with bursts of up
// to burst (at least 1). The rate limit applies on top of the concurrency
// limit; a task waits for its token while holding its slot. It panics if
// perSecond <= 0.
func WithRate(perSecond float64, burst int) Option {
	if perSecond <= 0 {
		panic("fanout: WithRate needs a positive rate")
	}
	return func(c *config) { c.limiter = rate.NewLimiter(rate.Limit(perSecond), max(burst, 1)) }
}

// WithTimeout bounds each attempt's run time (not its time in the queue):
// the function's context ends after d with ErrTimeout as its cause. A
// function that ignores its context is abandoned shortly after (see
// AbandonGrace): its future fails with ErrTimeout while the call keeps its
// slot until it returns.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// WithQueueTimeout bounds how long a task may wait for its slots (key and
// overall) before it fails with ErrQueueTimeout, never having run. Waiting
// again after a retry's backoff starts a new period.
func WithQueueTimeout(d time.Duration) Option {
	return func(c *config) { c.queueTimeout = d }
}

// WithKeyLimit caps how many tasks with the same key (see WithKey) may run
// at once, on top of the overall limit: for example one server's host. Tasks
// without a key are not affected. It panics if n < 1.
func WithKeyLimit(n int) Option {
	if n < 1 {
		panic("fanout: WithKeyLimit needs n >= 1")
	}
	return func(c *config) { c.keyLimit = n }
}

// WithRetry makes failed attempts retry according to p.
func WithRetry(p RetryPolicy) Option {
	return func(c *config) { c.retry = p }
}

// WithObserver adds an observer of every task's life (see Observer). It may
// be given more than once.
func WithObserver(o Observer) Option {
	return func(c *config) {
		if o != nil {
			c.observers = append(c.observers, o)
		}
	}
}

// A TaskOption configures one task given to Submit or Go.
type TaskOption struct {
	label, key       string
	hasLabel, hasKey bool
}

// WithLabel names a task in traces and logs: a URL, a payload's index.
func WithLabel(label string) TaskOption { return TaskOption{label: label, hasLabel: true} }

// WithKey puts a task under the executor's per-key limit (see WithKeyLimit),
// for example with the host of the URL it fetches.
func WithKey(key string) TaskOption { return TaskOption{key: key, hasKey: true} }
