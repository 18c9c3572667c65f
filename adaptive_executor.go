package fanout

import (
	"sync"
	"time"
)

// WithAdaptive makes the executor's overall limit adaptive (see
// AdaptiveLimit): it starts at cfg.Initial and moves between cfg.Min and
// cfg.Max (default: the WithLimit value, else 200) as attempts without a
// per-key adaptive limit succeed, overload or slow down. Observers that
// implement LimitObserver see each change. It replaces WithLimit's value as
// the starting limit.
func WithAdaptive(cfg AdaptiveConfig) Option {
	cfg.check("WithAdaptive")
	return func(c *config) {
		c.adapt.global = &cfg
	}
}

// WithKeyAdaptive gives each key (see WithKey) its own adaptive limit (see
// AdaptiveLimit) between cfg.Min and cfg.Max (default: the WithKeyLimit
// value, else 200), fed by that key's attempts only: one server's overload
// never lowers another's limit. A server's RetryAfter hint pauses new
// attempts of its key only, never the others. Observers that implement
// KeyLimitObserver see each key's limit when it is first used and at each
// change.
//
// A key's limit is remembered after its last task, for the executor's life:
// about 200 bytes per key ever used.
func WithKeyAdaptive(cfg AdaptiveConfig) Option {
	cfg.check("WithKeyAdaptive")
	return func(c *config) {
		c.adapt.key = &cfg
	}
}

// KeyLimitObserver is an optional interface an Observer may implement to
// learn each key's adaptive limit (see WithKeyAdaptive): when the key's
// first attempt starts, then at each change.
type KeyLimitObserver interface {
	KeyLimitChanged(key string, limit int, at time.Time)
}

// adaptOptions is what WithAdaptive and WithKeyAdaptive ask for.
type adaptOptions struct {
	global, key *AdaptiveConfig
}

// adapter feeds an executor's adaptive limits. It is one of the executor's
// observers: attempts' starts and ends are exactly what the limits need,
// and observers are called outside the executor's lock.
type adapter struct {
	e      *Executor
	global *AdaptiveLimit     // nil without WithAdaptive
	keyCfg *AdaptiveConfig    // nil without WithKeyAdaptive
	obs    []KeyLimitObserver // the executor's observers that want key limits

	// changeMu orders a limit's change with its report (SetLimit,
	// KeyLimitChanged): two attempts ending at once must not leave the
	// earlier change last. Never held with e.mu.
	changeMu sync.Mutex
	mu       sync.Mutex // after e.mu when both are held
	keys     map[string]*keyAdaptive
	attempts map[attemptKey]attemptRecord
}

type keyAdaptive struct {
	*AdaptiveLimit
	announced bool
	wakeAt    time.Time // when the pending wake-up timer fires, if any
}

type attemptKey struct {
	id      uint64
	attempt int
}

type attemptRecord struct {
	global, key AdaptiveAttempt
}

// newAdapter builds the adapter the options ask for, or returns nil, and
// registers it as an observer of e. limit is WithLimit's value, 0 when not
// given: the adaptive limit's default Max.
func newAdapter(e *Executor, o adaptOptions, limit int) *adapter {
	if o.global == nil && o.key == nil {
		return nil
	}
	a := &adapter{e: e, keys: make(map[string]*keyAdaptive), attempts: make(map[attemptKey]attemptRecord)}
	if o.global != nil {
		cfg := o.global.normalized(limit)
		a.global = newAdaptiveLimit(cfg)
		e.limit = cfg.Initial
	}
	if o.key != nil {
		cfg := o.key.normalized(e.keyLimit)
		a.keyCfg = &cfg
		e.keyLimit = cfg.Max
	}
	for _, ob := range e.observers {
		if ko, ok := ob.(KeyLimitObserver); ok {
			a.obs = append(a.obs, ko)
		}
	}
	e.observers = append(e.observers, a)
	e.observed = true
	return a
}

// keyLimit returns key's adaptive limit, made on first use.
func (a *adapter) keyLimit(key string) *keyAdaptive {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := a.keys[key]
	if k == nil {
		k = &keyAdaptive{AdaptiveLimit: newAdaptiveLimit(*a.keyCfg)}
		a.keys[key] = k
	}
	return k
}

// keyRoomLocked reports whether one more of ks's tasks may take a key slot:
// below the key's limit and, with WithKeyAdaptive, not paused.
func (e *Executor) keyRoomLocked(ks *keyState) bool {
	if e.adapt == nil || e.adapt.keyCfg == nil {
		return ks.running < e.keyLimit
	}
	k := e.adapt.keyLimit(ks.key)
	if ks.running >= k.Limit() {
		return false
	}
	if until := k.PausedUntil(); !until.IsZero() && time.Now().Before(until) {
		e.adapt.wakeLater(ks.key, k, until)
		return false
	}
	return true
}

// wakeKeyLocked moves ks's queued tasks on to wait for an overall slot, as
// many as the key has room for, and returns those that may start now.
func (e *Executor) wakeKeyLocked(ks *keyState) (starts *task) {
	for ks.queue.n > 0 && e.keyRoomLocked(ks) {
		n := ks.queue.pop()
		e.waiting--
		n.waitingForKey(false)
		ks.running++
		n.keyHeld = true
		if e.enterGlobalLocked(n) != nil {
			starts = link(starts, n)
		}
	}
	return starts
}

// wakeLater makes sure key's queue is looked at again when its pause ends.
func (a *adapter) wakeLater(key string, k *keyAdaptive, until time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !k.wakeAt.IsZero() && !k.wakeAt.Before(until) {
		return
	}
	k.wakeAt = until
	time.AfterFunc(time.Until(until), func() {
		a.mu.Lock()
		if k.wakeAt.Equal(until) {
			k.wakeAt = time.Time{}
		}
		a.mu.Unlock()
		a.wake(key)
	})
}

// wake starts what key's queue now has room for.
func (a *adapter) wake(key string) {
	e := a.e
	e.mu.Lock()
	var starts *task
	if ks := e.keys[key]; ks != nil {
		starts = e.wakeKeyLocked(ks)
	}
	e.mu.Unlock()
	e.start(starts)
}

func (a *adapter) TaskQueued(TaskInfo, time.Time)            {}
func (a *adapter) TaskFinished(TaskInfo, Outcome, time.Time) {}

func (a *adapter) AttemptStarted(t TaskInfo, attempt int, at time.Time) {
	var rec attemptRecord
	if a.keyCfg != nil && t.Key != "" {
		k := a.keyLimit(t.Key)
		rec.key = k.Start(at)
		a.mu.Lock()
		announced := k.announced
		a.mu.Unlock()
		if !announced {
			// Under changeMu, so that no change of this key is
			// reported before its first value.
			a.changeMu.Lock()
			a.mu.Lock()
			announced, k.announced = k.announced, true
			a.mu.Unlock()
			if !announced {
				for _, o := range a.obs {
					o.KeyLimitChanged(t.Key, k.Limit(), at)
				}
			}
			a.changeMu.Unlock()
		}
	} else if a.global != nil {
		rec.global = a.global.Start(at)
	}
	a.mu.Lock()
	a.attempts[attemptKey{t.ID, attempt}] = rec
	a.mu.Unlock()
}

func (a *adapter) AttemptFinished(t TaskInfo, attempt int, err error, at time.Time) {
	a.mu.Lock()
	rec, ok := a.attempts[attemptKey{t.ID, attempt}]
	delete(a.attempts, attemptKey{t.ID, attempt})
	a.mu.Unlock()
	if !ok {
		return
	}
	if a.keyCfg != nil && t.Key != "" {
		k := a.keyLimit(t.Key)
		a.changeMu.Lock()
		limit, changed := k.Finish(rec.key, err, at)
		if changed {
			for _, o := range a.obs {
				o.KeyLimitChanged(t.Key, limit, at)
			}
		}
		a.changeMu.Unlock()
		if changed {
			// A raised limit has room for queued tasks now. (A paused
			// key's wake-up is armed when a task finds it paused.)
			a.wake(t.Key)
		}
		return
	}
	if a.global != nil {
		a.changeMu.Lock()
		if limit, changed := a.global.Finish(rec.global, err, at); changed {
			a.e.SetLimit(limit)
		}
		a.changeMu.Unlock()
	}
}

// KeyLimits returns the adaptive limit of each key used so far (see
// WithKeyAdaptive), or nil without it.
func (e *Executor) KeyLimits() map[string]int {
	if e.adapt == nil || e.adapt.keyCfg == nil {
		return nil
	}
	a := e.adapt
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[string]int, len(a.keys))
	for key, k := range a.keys {
		m[key] = k.Limit()
	}
	return m
}
