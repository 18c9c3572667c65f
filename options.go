package fanout

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// DefaultLimit is the concurrency limit of an Executor built without
// WithLimit: enough to overlap blocking network calls well, small enough to
// be polite to one server.
const DefaultLimit = 64

// An Option configures an Executor built by New.
//
// Options validate alike: a value no program means (a limit below 1, a
// negative duration, queue or burst, a rate that is not a positive finite
// number) is a programmer error, and the option panics at once, naming
// itself. Zero durations mean "none" (no timeout) and a zero burst means 1.
type Option func(*config)

type config struct {
	limit        int
	queue        int // < 0: unbounded
	keyLimit     int
	limiter      *rate.Limiter
	timeout      time.Duration
	queueTimeout time.Duration
	grace        time.Duration
	retry        RetryPolicy
	observers    []Observer
	onPanic      func(TaskInfo, *PanicError)
	adapt        adaptOptions // WithAdaptive, WithKeyAdaptive (adaptive_executor.go)
}

func mustNotBeNegative(d time.Duration, name string) {
	if d < 0 {
		panic("fanout: " + name + " needs a duration >= 0")
	}
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
// and no goroutine. The bound is on submissions: a task already admitted
// that waits for a slot again, to retry, is queued even when the queue is
// full (it cannot be refused), so Stats().Waiting may exceed n by the
// tasks retrying. It panics if n < 0.
func WithQueue(n int) Option {
	if n < 0 {
		panic("fanout: WithQueue needs n >= 0")
	}
	return func(c *config) { c.queue = n }
}

// WithRate limits how many attempts may start per second, with bursts of up
// to burst (0 means 1). The rate limit applies on top of the concurrency
// limit; a task waits for its token while holding its slot, until its
// context ends. It panics unless perSecond is positive and finite and
// burst >= 0.
func WithRate(perSecond float64, burst int) Option {
	if !(perSecond > 0) || math.IsInf(perSecond, 0) {
		panic("fanout: WithRate needs a positive finite rate")
	}
	if burst < 0 {
		panic("fanout: WithRate needs burst >= 0")
	}
	return func(c *config) { c.limiter = rate.NewLimiter(rate.Limit(perSecond), max(burst, 1)) }
}

// WithTimeout bounds each attempt's run time (not its time in the queue):
// the function's context ends after d with ErrTimeout as its cause. A
// function that ignores its context is abandoned after the grace (see
// WithAbandonGrace): its future fails with ErrTimeout while the call keeps
// its slot until it returns. Zero means no timeout; WithTaskTimeout sets
// one task's. It panics if d < 0.
func WithTimeout(d time.Duration) Option {
	mustNotBeNegative(d, "WithTimeout")
	return func(c *config) { c.timeout = d }
}

// WithQueueTimeout bounds how long a task may wait for its slots (key and
// overall) before it fails with ErrQueueTimeout, never having run. Waiting
// again after a retry's backoff starts a new period. Zero means no bound.
// It panics if d < 0.
func WithQueueTimeout(d time.Duration) Option {
	mustNotBeNegative(d, "WithQueueTimeout")
	return func(c *config) { c.queueTimeout = d }
}

// WithAbandonGrace sets how long a function may keep running after its
// context ended before its call counts as abandoned (Stats.Abandoned,
// Outcome.Abandoned), and how long past its attempt timeout the future of
// a function ignoring its context fails with ErrTimeout (default
// AbandonGrace). Give more to functions that honour their context but take
// a while to unwind. It panics if d < 0.
func WithAbandonGrace(d time.Duration) Option {
	mustNotBeNegative(d, "WithAbandonGrace")
	return func(c *config) { c.grace = d }
}

// WithPanicHandler has h called with each task's panic, in the task's
// goroutine once its future has settled with the *PanicError. The panic
// stays the task's error either way; h chooses what else happens: log it,
// count it, or panic(p) to crash the process as a bare goroutine would.
// The Default executor logs panics (see Default).
func WithPanicHandler(h func(TaskInfo, *PanicError)) Option {
	return func(c *config) { c.onPanic = h }
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

// WithRetry makes failed attempts retry according to p; WithTaskRetry
// sets one task's policy. It panics if a duration of p is negative.
func WithRetry(p RetryPolicy) Option {
	p.check()
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

// A TaskOption configures one task given to Submit, TrySubmit, Go or a
// Group, or Map's tasks (WithTaskOptions). It validates like Option.
type TaskOption struct {
	label, key string
	timeout    time.Duration
	retry      *RetryPolicy
	set        uint8
}

const (
	setLabel uint8 = 1 << iota
	setKey
	setTimeout
	setRetry
)

// WithLabel names a task in traces and logs: a URL, a payload's index.
func WithLabel(label string) TaskOption { return TaskOption{label: label, set: setLabel} }

// WithKey puts a task under the executor's per-key limit (see WithKeyLimit),
// for example with the host of the URL it fetches.
func WithKey(key string) TaskOption { return TaskOption{key: key, set: setKey} }

// WithTaskTimeout bounds each attempt of this task as WithTimeout does for
// every task, overriding it (0: no timeout for this task), so that tasks
// with different deadlines share one executor and its limit. It panics if
// d < 0.
func WithTaskTimeout(d time.Duration) TaskOption {
	mustNotBeNegative(d, "WithTaskTimeout")
	return TaskOption{timeout: d, set: setTimeout}
}

// WithTaskRetry retries this task according to p, overriding WithRetry
// (the zero RetryPolicy: never retry this task). It panics if a duration of
// p is negative.
func WithTaskRetry(p RetryPolicy) TaskOption {
	p.check()
	n := p.normalized()
	return TaskOption{retry: &n, set: setRetry}
}
