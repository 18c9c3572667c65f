package lambdainvoke

import (
	"sync"
	"time"

	"github.com/fanout-go/fanout"
)

// adaptive drives an executor's limit with fanout's AdaptiveLimit, fed by
// Lambda's throttling alone: a throttle halves the limit (never below 1,
// once per burst of throttles from calls that started under the old
// limit), and each limit's worth of successes raises it by one, never above
// the limit it started from. Lambda's latency is the function's run time,
// not a sign of load, so the latency signal is off. A nil *adaptive does
// nothing.
type adaptive struct {
	e *fanout.Executor
	l *fanout.AdaptiveLimit

	mu sync.Mutex // orders SetLimit calls as the limit changed
}

func newAdaptive(e *fanout.Executor) *adaptive {
	n := e.Limit()
	return &adaptive{e: e, l: fanout.NewAdaptiveLimit(fanout.AdaptiveConfig{
		Min: 1, Max: n, Initial: n, Decrease: 0.5, Tolerance: -1,
		Overloaded: func(err error) bool { return Classify(err) == KindThrottled },
	})}
}

// start records an attempt starting now.
func (a *adaptive) start() fanout.AdaptiveAttempt {
	if a == nil {
		return fanout.AdaptiveAttempt{}
	}
	return a.l.Start(time.Now())
}

// finish records the end of an attempt that failed with err (nil on
// success).
func (a *adaptive) finish(at fanout.AdaptiveAttempt, err error) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if limit, changed := a.l.Finish(at, err, time.Now()); changed {
		a.e.SetLimit(limit)
	}
}
