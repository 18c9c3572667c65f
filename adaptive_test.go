package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fanout-go/fanout"
)

// simServer is a server of the controller tests, driven by an injected
// clock: capacity calls at once take latency each; beyond that, up to queue
// more wait for a worker (so latency grows with the load), and beyond those
// it answers 429 at once. slowdown multiplies every latency, whatever the
// load.
type simServer struct {
	capacity, queue int
	latency         time.Duration
	slowdown        float64
}

var errOverloaded = fanout.Overload(errors.New("429 too many requests"))

// round starts limit calls at once at now, and reports each to a in the
// order they end. It returns when the last one ended.
func (s *simServer) round(a *fanout.AdaptiveLimit, now time.Time) time.Time {
	n := a.Limit()
	atts := make([]fanout.AdaptiveAttempt, n)
	for i := range atts {
		atts[i] = a.Start(now)
	}
	slow := max(s.slowdown, 1)
	end := now
	served := min(n, s.capacity+s.queue)
	for i := range n {
		if i >= served {
			a.Finish(atts[i], errOverloaded, now.Add(time.Millisecond))
			continue
		}
		// Served in waves of capacity: call i ends after its wave.
		wave := time.Duration(i/s.capacity + 1)
		end = now.Add(time.Duration(float64(wave*s.latency) * slow))
		a.Finish(atts[i], nil, end)
	}
	if end.Before(now.Add(time.Millisecond)) {
		end = now.Add(time.Millisecond)
	}
	return end
}

// run runs rounds until the clock passes d and returns the limit's lowest
// and highest value over them.
func (s *simServer) run(a *fanout.AdaptiveLimit, now *time.Time, d time.Duration) (lo, hi int) {
	lo, hi = a.Limit(), a.Limit()
	for end := now.Add(d); now.Before(end); {
		*now = s.round(a, *now)
		lo, hi = min(lo, a.Limit()), max(hi, a.Limit())
	}
	return lo, hi
}

// TestAdaptiveLimitFindsCapacity: against a server that answers 429 beyond
// 30 calls, the limit rises from 5 to the capacity, never more than one
// above, and comes back down when the capacity falls to 5, then recovers
// when it is back.
func TestAdaptiveLimitFindsCapacity(t *testing.T) {
	a := fanout.NewAdaptiveLimit(fanout.AdaptiveConfig{Min: 1, Max: 100, Initial: 5})
	s := &simServer{capacity: 30, latency: 10 * time.Millisecond}
	now := time.Unix(0, 0)
	_, hi := s.run(a, &now, 2*time.Second)
	if hi != 31 {
		t.Errorf("limit rose to %d, want 31 (one above the capacity of 30)", hi)
	}
	lo, hi := s.run(a, &now, 10*time.Second)
	if lo < 15 || hi > 31 {
		t.Errorf("at capacity 30 the limit moved between %d and %d, want within 15..31", lo, hi)
	}

	s.capacity = 5
	s.round(a, now) // the overload
	now = now.Add(time.Second)
	if got := a.Limit(); got > 16 {
		t.Errorf("after one overloaded round the limit is %d, want halved at most once to <= 16", got)
	}
	s.run(a, &now, time.Second)
	lo, hi = s.run(a, &now, 10*time.Second)
	if lo < 3 || hi > 6 {
		t.Errorf("at capacity 5 the limit moved between %d and %d, want within 3..6", lo, hi)
	}

	s.capacity = 30
	s.run(a, &now, 2*time.Second)
	lo, hi = s.run(a, &now, 10*time.Second)
	if lo < 15 || hi != 31 {
		t.Errorf("after recovery the limit moved between %d and %d, want 15..31 reaching 31", lo, hi)
	}
	if alo, ahi := a.Range(); alo > 3 || ahi != 31 {
		t.Errorf("Range() = %d..%d, want down to 3 or less and up to 31", alo, ahi)
	}
}

// TestAdaptiveLimitLatencyNoDrift: a server with 8 workers and a deep queue
// never answers 429, it only gets slower past 8 calls. The latency signal
// must hold the limit near where queueing starts, and keep holding it
// through an hour-long degradation (capacity 2): a baseline that followed
// the slow rounds would let the limit climb back.
func TestAdaptiveLimitLatencyNoDrift(t *testing.T) {
	a := fanout.NewAdaptiveLimit(fanout.AdaptiveConfig{Max: 200, Initial: 2})
	s := &simServer{capacity: 8, queue: 1000, latency: 20 * time.Millisecond}
	now := time.Unix(0, 0)
	s.run(a, &now, 10*time.Second)
	lo, hi := s.run(a, &now, time.Minute)
	// Three waves of 8 make the mean latency twice the baseline, the
	// tolerance: a 25th call makes it more and brings the limit down.
	if lo < 16 || hi > 25 {
		t.Errorf("healthy: limit between %d and %d, want within 16..25", lo, hi)
	}

	s.capacity = 2
	s.run(a, &now, 10*time.Second)
	for i := range 60 {
		lo, hi := s.run(a, &now, time.Minute)
		if lo < 4 || hi > 7 {
			t.Fatalf("minute %d of the degradation: limit between %d and %d, want within 4..7", i, lo, hi)
		}
	}

	s.capacity = 8
	s.run(a, &now, 10*time.Second)
	if lo, hi := s.run(a, &now, time.Minute); lo < 16 || hi > 25 {
		t.Errorf("recovered: limit between %d and %d, want within 16..25", lo, hi)
	}
}

// TestAdaptiveLimitSlowerServer: a server that becomes five times slower
// whatever the load first brings the limit down, then, the floor showing
// that the load is not the cause, the baseline follows and the limit rises
// again.
func TestAdaptiveLimitSlowerServer(t *testing.T) {
	a := fanout.NewAdaptiveLimit(fanout.AdaptiveConfig{Max: 50, Initial: 10})
	s := &simServer{capacity: 1000, latency: 10 * time.Millisecond}
	now := time.Unix(0, 0)
	if _, hi := s.run(a, &now, 10*time.Second); hi != 50 {
		t.Fatalf("limit rose to %d, want 50", hi)
	}
	s.slowdown = 5
	lo, _ := s.run(a, &now, 5*time.Second)
	if lo != 1 {
		t.Errorf("after the slowdown the limit fell to %d, want 1", lo)
	}
	s.run(a, &now, 5*time.Minute)
	if got := a.Limit(); got != 50 {
		t.Errorf("limit %d five minutes into a load-independent slowdown, want back at 50", got)
	}
}

// TestAdaptiveLimitOneCutPerBurst: overload from attempts that all started
// before a decrease cuts once, and one that starts after cuts again.
func TestAdaptiveLimitOneCutPerBurst(t *testing.T) {
	a := fanout.NewAdaptiveLimit(fanout.AdaptiveConfig{Max: 64, Initial: 64, Tolerance: -1})
	now := time.Unix(0, 0)
	var atts []fanout.AdaptiveAttempt
	for range 64 {
		atts = append(atts, a.Start(now))
	}
	var limits []int
	for _, at := range atts {
		if l, changed := a.Finish(at, errOverloaded, now); changed {
			limits = append(limits, l)
		}
	}
	at := a.Start(now)
	if l, changed := a.Finish(at, fanout.Overload(syscall.ECONNRESET), now); changed {
		limits = append(limits, l)
	}
	if fmt.Sprint(limits) != "[32 16]" {
		t.Errorf("limit changes %v, want [32 16]: one cut for the burst, one for the later attempt", limits)
	}
}

// TestAdaptiveLimitPause: a RetryAfter hint pauses until now plus the hint,
// capped at MaxPause; other errors neither pause nor cut.
func TestAdaptiveLimitPause(t *testing.T) {
	a := fanout.NewAdaptiveLimit(fanout.AdaptiveConfig{Initial: 10, MaxPause: 5 * time.Second})
	now := time.Unix(100, 0)
	if l, changed := a.Finish(a.Start(now), errors.New("404"), now); changed || !a.PausedUntil().IsZero() {
		t.Fatalf("a plain error changed the limit to %d or paused until %v", l, a.PausedUntil())
	}
	a.Finish(a.Start(now), fanout.RetryAfter(errors.New("503"), 2*time.Second), now)
	if got, want := a.PausedUntil(), now.Add(2*time.Second); !got.Equal(want) {
		t.Errorf("paused until %v, want %v", got, want)
	}
	if got := a.Limit(); got != 5 {
		t.Errorf("limit %d after a Retry-After, want 5", got)
	}
	a.Finish(a.Start(now), fanout.RetryAfter(errors.New("429"), time.Hour), now)
	if got, want := a.PausedUntil(), now.Add(5*time.Second); !got.Equal(want) {
		t.Errorf("paused until %v, want %v (MaxPause)", got, want)
	}
}

func TestIsOverload(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("404"), false},
		{fanout.Overload(errors.New("throttled")), true},
		{fmt.Errorf("call: %w", fanout.Overload(errors.New("throttled"))), true},
		{fanout.RetryAfter(errors.New("429"), time.Second), true},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{fmt.Errorf("%w after 1s", fanout.ErrTimeout), true},
	} {
		if got := fanout.IsOverload(c.err); got != c.want {
			t.Errorf("IsOverload(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// keyLimitLog records the limits a KeyLimitObserver is told.
type keyLimitLog struct {
	mu     sync.Mutex
	global []int
	keys   map[string][]int
}

func (l *keyLimitLog) TaskQueued(fanout.TaskInfo, time.Time)                   {}
func (l *keyLimitLog) AttemptStarted(fanout.TaskInfo, int, time.Time)          {}
func (l *keyLimitLog) AttemptFinished(fanout.TaskInfo, int, error, time.Time)  {}
func (l *keyLimitLog) TaskFinished(fanout.TaskInfo, fanout.Outcome, time.Time) {}
func (l *keyLimitLog) LimitChanged(limit int, _ time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.global = append(l.global, limit)
}
func (l *keyLimitLog) KeyLimitChanged(key string, limit int, _ time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = map[string][]int{}
	}
	l.keys[key] = append(l.keys[key], limit)
}

func (l *keyLimitLog) key(k string) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.keys[k]...)
}

// TestKeyAdaptiveIsolation: one key's server takes 3 calls at once and
// answers the rest with overload; the other takes any number. The bad
// key's limit must come down to about 3 while the good key's never comes
// down and rises to its maximum, and neither ever runs more calls at once
// than its limit allowed.
func TestKeyAdaptiveIsolation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &keyLimitLog{}
		e := fanout.New(fanout.WithLimit(100),
			fanout.WithKeyAdaptive(fanout.AdaptiveConfig{Max: 30, Initial: 10}),
			fanout.WithObserver(log))
		defer e.Close()
		var g gauge
		var fs []*fanout.Future[int]
		for i := range 1200 {
			key := []string{"good", "bad"}[i%2]
			fs = append(fs, fanout.Submit(t.Context(), e, func(ctx context.Context) (int, error) {
				g.enter(key)
				defer g.leave(key)
				g.mu.Lock()
				over := key == "bad" && g.perKey[key] > 3
				g.mu.Unlock()
				time.Sleep(10 * time.Millisecond)
				if over {
					return 0, fanout.Overload(errors.New("429"))
				}
				return i, nil
			}, fanout.WithKey(key)))
		}
		for _, f := range fs {
			f.Await(t.Context())
		}
		good, bad := log.key("good"), log.key("bad")
		t.Logf("good: %v\nbad: %v", good, bad)
		for i := 1; i < len(good); i++ {
			if good[i] < good[i-1] {
				t.Fatalf("the good key's limit came down: %v", good)
			}
		}
		if len(good) == 0 || good[0] != 10 || good[len(good)-1] != 30 {
			t.Errorf("good key's limits %v, want from 10 up to 30", good)
		}
		// After the first cut the limit probes up from about 2 and is cut
		// again past 3; where the cycle stands at the end depends on how
		// the last calls interleave, so check the whole run after the
		// cut, not the last value alone.
		if len(bad) < 2 || bad[0] != 10 || slices.Max(bad[1:]) > 5 || e.KeyLimits()["bad"] > 5 {
			t.Errorf("bad key's limits %v, ending at %d: want from 10 down to 5 or less, and never above 5 again", bad, e.KeyLimits()["bad"])
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.mostKey["good"] > 30 || g.mostKey["bad"] > 10 {
			t.Errorf("most at once: good %d (max 30), bad %d (never above its initial 10)", g.mostKey["good"], g.mostKey["bad"])
		}
	})
}

// TestKeyAdaptiveRetryAfterPausesOnlyThatKey: a RetryAfter of 5s from one
// key's call holds that key's later calls back for 5s, while the other
// key's calls run at once.
func TestKeyAdaptiveRetryAfterPausesOnlyThatKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := fanout.New(fanout.WithKeyAdaptive(fanout.AdaptiveConfig{Max: 4, Initial: 4}))
		defer e.Close()
		start := time.Now()
		first := fanout.Submit(t.Context(), e, func(ctx context.Context) (int, error) {
			return 0, fanout.RetryAfter(errors.New("429"), 5*time.Second)
		}, fanout.WithKey("a"))
		first.Await(t.Context())
		began := func(key string) *fanout.Future[time.Duration] {
			return fanout.Submit(t.Context(), e, func(ctx context.Context) (time.Duration, error) {
				return time.Since(start), nil
			}, fanout.WithKey(key))
		}
		var as, bs []*fanout.Future[time.Duration]
		for range 3 {
			as, bs = append(as, began("a")), append(bs, began("b"))
		}
		for i := range 3 {
			a, _ := as[i].Await(t.Context())
			b, _ := bs[i].Await(t.Context())
			if a < 5*time.Second {
				t.Errorf("key a's call %d started after %v, want at least 5s (its pause)", i, a)
			}
			if b != 0 {
				t.Errorf("key b's call %d started after %v, want at once", i, b)
			}
		}
	})
}

// TestAdaptiveOverallLimit: WithAdaptive drives the executor's own limit,
// and LimitObservers see it start at Initial and each change.
func TestAdaptiveOverallLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &keyLimitLog{}
		e := fanout.New(fanout.WithLimit(16), fanout.WithObserver(log),
			fanout.WithAdaptive(fanout.AdaptiveConfig{Initial: 8, Tolerance: -1}))
		defer e.Close()
		var g gauge
		var fs []*fanout.Future[int]
		for i := range 300 {
			fs = append(fs, fanout.Submit(t.Context(), e, func(ctx context.Context) (int, error) {
				g.enter("")
				defer g.leave("")
				g.mu.Lock()
				over := g.now > 6
				g.mu.Unlock()
				time.Sleep(10 * time.Millisecond)
				if over {
					return 0, fanout.Overload(errors.New("throttled"))
				}
				return i, nil
			}))
		}
		for _, f := range fs {
			f.Await(t.Context())
		}
		log.mu.Lock()
		defer log.mu.Unlock()
		t.Logf("limits %v", log.global)
		if len(log.global) < 3 || log.global[0] != 8 || log.global[1] != 4 {
			t.Fatalf("limits %v, want 8, a cut to 4, then more", log.global)
		}
		if hi := slices.Max(log.global); hi > 8 {
			t.Errorf("limit rose to %d; with 6 taken at once it should not pass 8", hi)
		}
		// It saws around the 6 the server takes: it never collapses, and it
		// rises again after each cut. (The last value depends on how the
		// final, thinning calls interleave, so it is not checked.)
		if lo := slices.Min(log.global); lo < 2 {
			t.Errorf("limit fell to %d; the server takes 6 at once", lo)
		}
		rises := 0
		for i := 2; i < len(log.global); i++ {
			if log.global[i] > log.global[i-1] {
				rises++
			}
		}
		if rises == 0 {
			t.Errorf("limits %v: it never rose again after the cut", log.global)
		}
	})
}

// WithAdaptive's Max defaults to the WithLimit value, else 200. Without
// WithLimit it was DefaultLimit (64): an Initial of 150 came out 64.
func TestAdaptiveDefaultMax(t *testing.T) {
	for _, tt := range []struct {
		opts []fanout.Option
		want int
	}{
		{[]fanout.Option{fanout.WithAdaptive(fanout.AdaptiveConfig{Initial: 150})}, 150},
		{[]fanout.Option{fanout.WithAdaptive(fanout.AdaptiveConfig{Initial: 500})}, 200},
		{[]fanout.Option{fanout.WithLimit(100), fanout.WithAdaptive(fanout.AdaptiveConfig{Initial: 150})}, 100},
		{[]fanout.Option{fanout.WithAdaptive(fanout.AdaptiveConfig{Initial: 150}), fanout.WithLimit(300)}, 150},
		{nil, fanout.DefaultLimit},
	} {
		e := fanout.New(tt.opts...)
		if got := e.Limit(); got != tt.want {
			t.Errorf("%d options: Limit() = %d, want %d", len(tt.opts), got, tt.want)
		}
		e.Close()
	}
}
