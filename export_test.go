package fanout

import "fmt"

// Callbacks returns how many settle callbacks f holds: waiters that gave
// up must not leave theirs behind on a long-lived future.
func Callbacks[T any](f *Future[T]) int {
	f.t.mu.Lock()
	defer f.t.mu.Unlock()
	n := 0
	if f.t.notify1 != nil {
		n++
	}
	if m := f.t.more; m != nil {
		n += len(m.notify) + len(m.afters)
	}
	return n
}

// HasDone reports whether f's task made its Done channel.
func HasDone[T any](f *Future[T]) bool { return f.t.done.Load() != nil }

// DebugState describes e's counters and queues, for a test that hangs.
func DebugState(e *Executor) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := fmt.Sprintf("limit %d running %d waiting %d global %d backoff %d live %d stopping %v closed %v queueCap %d keyLimit %d submitters %d;",
		e.limit, e.running, e.waiting, e.global.n, e.backoff.n, e.live, e.stopping, e.closed, e.queueCap, e.keyLimit, len(e.submitters))
	for k, ks := range e.keys {
		s += fmt.Sprintf(" key %q running %d queued %d;", k, ks.running, ks.queue.n)
	}
	for _, t := range e.submitters {
		s += fmt.Sprintf(" submitter key %q state %d;", t.info.Key, t.state)
	}
	e.active.each(func(t *task) { s += fmt.Sprintf(" active key %q state %d keyHeld %v;", t.info.Key, t.state, t.keyHeld) })
	return s
}

// SetSubmitWaitsHook has every blocked Submit call f before it waits.
func SetSubmitWaitsHook(f func()) (restore func()) {
	testHookSubmitWaits = f
	return func() { testHookSubmitWaits = nil }
}

// Unlocked reports whether e's mutex is free: a panic under it leaves it
// held, and every later call hangs.
func Unlocked(e *Executor) bool {
	if !e.mu.TryLock() {
		return false
	}
	e.mu.Unlock()
	return true
}
