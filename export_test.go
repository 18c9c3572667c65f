package fanout

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
