package lambdainvoke

import (
	"sync"

	"github.com/fanout-go/fanout"
)

// adaptive is additive-increase, multiplicative-decrease control of an
// executor's limit, driven by Lambda's throttling: a throttle halves the
// limit (never below 1), and each limit's worth of successes since the last
// change raises it by one, never above the limit it started from. A nil
// *adaptive does nothing.
//
// A burst of throttles from calls that all started under the old limit
// must count once, as TCP counts one loss per window: each attempt notes
// the epoch (the number of cuts so far) when it starts, and only a throttle
// of an attempt that started after the last cut cuts again.
type adaptive struct {
	e   *fanout.Executor
	max int

	mu        sync.Mutex
	epoch     uint64
	successes int
}

func newAdaptive(e *fanout.Executor) *adaptive {
	return &adaptive{e: e, max: e.Limit()}
}

// start returns the epoch for an attempt starting now.
func (a *adaptive) start() uint64 {
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.epoch
}

// throttled reports a throttle of an attempt that started in epoch.
func (a *adaptive) throttled(epoch uint64) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if epoch != a.epoch {
		return // the limit was cut since this attempt started
	}
	a.epoch++
	a.successes = 0
	if limit := a.e.Limit(); limit > 1 {
		a.e.SetLimit(max(1, limit/2))
	}
}

// succeeded reports a successful attempt that started in epoch. Only
// attempts started under the current limit count towards raising it.
func (a *adaptive) succeeded(epoch uint64) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	limit := a.e.Limit()
	if epoch != a.epoch {
		return
	}
	if limit >= a.max {
		return
	}
	a.successes++
	if a.successes >= limit {
		a.successes = 0
		a.e.SetLimit(limit + 1)
	}
}
