package fanout

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"time"
)

// AdaptiveConfig configures an adaptive concurrency limit (see
// AdaptiveLimit, WithAdaptive and WithKeyAdaptive). The zero value is
// usable: every field has a default.
type AdaptiveConfig struct {
	// Min, Max and Initial bound the limit and say where it starts.
	// Defaults: 1, 200 (WithKeyAdaptive: the WithKeyLimit value when
	// given) and the smaller of 20 and Max.
	Min, Max, Initial int
	// Decrease is the factor the limit is multiplied by on overload
	// (default 0.5, as in TCP): a burst of overload from attempts that
	// all started under the old limit counts once.
	Decrease float64
	// Tolerance is how much slower than the baseline latency a round of
	// calls may be before the limit comes down (default 2: twice as
	// slow). A negative Tolerance turns the latency signal off, leaving
	// overload alone to drive the limit.
	Tolerance float64
	// Overloaded reports whether an attempt's error is a sign of overload
	// (default IsOverload). Errors it rejects count neither way, except
	// that they give no latency sample.
	Overloaded func(error) bool
	// MaxPause caps how long a server's Retry-After (see RetryAfter) may
	// pause new attempts (default 30s). A pause stops no running call.
	MaxPause time.Duration
}

// check panics, naming the caller, on a value no program means: a negative
// bound or pause, Min above Max, or a Decrease that does not decrease. Zero
// is each field's default.
func (c AdaptiveConfig) check(name string) {
	switch {
	case c.Min < 0 || c.Max < 0 || c.Initial < 0:
		panic("fanout: " + name + " needs Min, Max and Initial >= 0")
	case c.Max > 0 && c.Min > c.Max:
		panic("fanout: " + name + " needs Min <= Max")
	case !(c.Decrease >= 0 && c.Decrease < 1):
		panic("fanout: " + name + " needs 0 <= Decrease < 1")
	case c.Tolerance != c.Tolerance:
		panic("fanout: " + name + " needs a Tolerance that is a number")
	case c.MaxPause < 0:
		panic("fanout: " + name + " needs MaxPause >= 0")
	}
}

func (c AdaptiveConfig) normalized(defaultMax int) AdaptiveConfig {
	if c.Min < 1 {
		c.Min = 1
	}
	if c.Max < 1 {
		c.Max = defaultMax
		if c.Max < 1 {
			c.Max = 200
		}
	}
	c.Max = max(c.Max, c.Min)
	if c.Initial < 1 {
		c.Initial = min(20, c.Max)
	}
	c.Initial = min(max(c.Initial, c.Min), c.Max)
	if c.Decrease <= 0 || c.Decrease >= 1 {
		c.Decrease = 0.5
	}
	if c.Tolerance == 0 {
		c.Tolerance = 2
	}
	if c.Overloaded == nil {
		c.Overloaded = IsOverload
	}
	if c.MaxPause <= 0 {
		c.MaxPause = 30 * time.Second
	}
	return c
}

type overloadError struct{ err error }

func (e overloadError) Error() string { return e.err.Error() }
func (e overloadError) Unwrap() error { return e.err }

// Overload marks err as a sign that the server is overloaded (an HTTP 429
// or 503, a throttling error), for the adaptive limit. It returns nil when
// err is nil.
func Overload(err error) error {
	if err == nil {
		return nil
	}
	return overloadError{err}
}

// IsOverload reports whether err signals overload: marked with Overload,
// carrying a server's RetryAfter hint, an attempt timeout (ErrTimeout,
// context.DeadlineExceeded), or a refused or reset connection.
func IsOverload(err error) bool {
	if err == nil {
		return false
	}
	var (
		o  overloadError
		ra *RetryAfterError
	)
	return errors.As(err, &o) || errors.As(err, &ra) ||
		errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// An AdaptiveLimit is a concurrency limit that follows what a server can
// take. The caller reports each attempt with Start and Finish; the limit
// changes in Finish:
//
//   - Overload (AdaptiveConfig.Overloaded) multiplies it by
//     AdaptiveConfig.Decrease, once per burst: only an attempt that started
//     after the last decrease can cause the next, as TCP counts one loss
//     per window.
//   - Latency: successes are grouped in rounds of Limit attempts. A round
//     whose mean latency exceeds Tolerance times the baseline brings the
//     limit down by the gradient (Tolerance * baseline / latency, between
//     0.5 and 0.9).
//   - Otherwise, a round whose attempts used at least half the limit raises
//     it by one: additive increase, about one per round trip.
//
// The baseline is the lowest round latency seen. It falls at once, and
// rises only from rounds run at the minimum limit, where the caller's own
// load cannot be what slows the server: a latency-based baseline that
// follows every round creeps up during a long incident until the limit
// stops coming down (failsafe-go's issue 127); this one cannot, yet it
// still learns a server that became slower for good, once the limit has
// come down to Min and the server is still slow there.
//
// A RetryAfterError pauses new attempts (PausedUntil) for its hint, capped
// at AdaptiveConfig.MaxPause.
//
// Time comes from the callers' arguments, never from a clock of its own.
// Methods are safe for concurrent use and cost a mutex each.
type AdaptiveLimit struct {
	cfg AdaptiveConfig

	mu       sync.Mutex
	limit    int
	inflight int
	cuts     uint64 // decreases so far
	base     time.Duration
	paused   time.Time
	// The current round: successes of attempts started since the last
	// change.
	roundN    int
	roundSum  time.Duration
	roundBusy bool
	// Counters for reports.
	overloads uint64
	lo, hi    int
}

// AdaptiveAttempt is one attempt's record between AdaptiveLimit.Start and
// AdaptiveLimit.Finish.
type AdaptiveAttempt struct {
	start time.Time
	cut   uint64
	busy  bool
}

// NewAdaptiveLimit returns a limit configured by cfg, at cfg.Initial.
func NewAdaptiveLimit(cfg AdaptiveConfig) *AdaptiveLimit {
	cfg.check("NewAdaptiveLimit")
	return newAdaptiveLimit(cfg.normalized(0))
}

func newAdaptiveLimit(cfg AdaptiveConfig) *AdaptiveLimit {
	return &AdaptiveLimit{cfg: cfg, limit: cfg.Initial, lo: cfg.Initial, hi: cfg.Initial}
}

// Limit returns the current limit.
func (a *AdaptiveLimit) Limit() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.limit
}

// Range returns the lowest and highest limit so far.
func (a *AdaptiveLimit) Range() (lo, hi int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lo, a.hi
}

// PausedUntil returns when the last Retry-After pause ends (zero if never
// paused). No new attempt should start before then.
func (a *AdaptiveLimit) PausedUntil() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.paused
}

// Start records an attempt starting at now.
func (a *AdaptiveLimit) Start(now time.Time) AdaptiveAttempt {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inflight++
	return AdaptiveAttempt{start: now, cut: a.cuts, busy: 2*a.inflight >= a.limit}
}

// Finish records the end at now of an attempt that failed with err (nil on
// success), and returns the limit and whether this changed it. A canceled
// attempt (context.Canceled) tells nothing.
func (a *AdaptiveLimit) Finish(at AdaptiveAttempt, err error, now time.Time) (limit int, changed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inflight--
	old := a.limit
	switch {
	case err == nil:
		a.succeeded(at, now.Sub(at.start))
	case errors.Is(err, context.Canceled):
	case a.cfg.Overloaded(err):
		a.overloads++
		var ra *RetryAfterError
		if errors.As(err, &ra) && ra.After > 0 {
			if until := now.Add(min(ra.After, a.cfg.MaxPause)); until.After(a.paused) {
				a.paused = until
			}
		}
		if at.cut == a.cuts {
			a.setLocked(int(float64(a.limit) * a.cfg.Decrease))
			a.cuts++
		}
	}
	return a.limit, a.limit != old
}

// succeeded counts a success towards the current round and ends the round
// when it has Limit samples.
func (a *AdaptiveLimit) succeeded(at AdaptiveAttempt, rtt time.Duration) {
	if at.cut != a.cuts {
		return // started before the last decrease: it says nothing of the new limit
	}
	a.roundN++
	a.roundSum += max(rtt, 1)
	a.roundBusy = a.roundBusy || at.busy
	if a.roundN < a.limit {
		return
	}
	mean := a.roundSum / time.Duration(a.roundN)
	busy := a.roundBusy
	a.roundN, a.roundSum, a.roundBusy = 0, 0, false
	switch {
	case a.base == 0 || mean < a.base:
		a.base = mean
	case a.limit <= a.cfg.Min:
		// At the floor our load cannot be the cause: follow the server
		// slowly (an eighth of the way per round).
		a.base += (mean - a.base) / 8
	}
	if a.cfg.Tolerance > 0 && float64(mean) > a.cfg.Tolerance*float64(a.base) {
		g := min(max(a.cfg.Tolerance*float64(a.base)/float64(mean), 0.5), 0.9)
		if a.limit > a.cfg.Min {
			a.setLocked(int(float64(a.limit) * g))
			a.cuts++
		}
		return
	}
	if busy {
		a.setLocked(a.limit + 1)
	}
}

func (a *AdaptiveLimit) setLocked(n int) {
	n = min(max(n, a.cfg.Min), a.cfg.Max)
	if n == a.limit {
		return
	}
	a.limit = n
	a.lo, a.hi = min(a.lo, n), max(a.hi, n)
	a.roundN, a.roundSum, a.roundBusy = 0, 0, false
}
