package fanout

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// An Executor runs blocking functions with bounded concurrency: at most its
// limit run at once, the rest wait in a FIFO queue (bounded with WithQueue),
// optionally under a rate limit, per-key limits, per-attempt and queue
// timeouts and retries. It is the Go counterpart of the executor behind
// asyncio's loop.run_in_executor.
//
// A task costs two allocations (its Future, about 280 bytes for a
// word-sized result, and the closure that starts its goroutine); a waiting
// task holds no goroutine, a running one holds one. Submitting and awaiting
// a task that does nothing takes about 1.3-1.5 times as long as starting a
// bare goroutine and waiting for it (see the benchmarks under bench/).
//
// All methods are safe for concurrent use. An Executor must be built with
// New and should be closed with Close or Shutdown when no longer needed;
// closing it stops nothing that is already running.
type Executor struct {
	limiter      *rate.Limiter
	timeout      time.Duration
	queueTimeout time.Duration
	grace        time.Duration
	retry        RetryPolicy
	observers    []Observer
	observed     bool
	onPanic      func(TaskInfo, *PanicError)
	shared       bool // the Default executor: nobody may close or shrink it
	keyLimit     int
	queueCap     int           // < 0: unbounded
	limitMu      chan struct{} // held by SetLimit while it tells observers, so they hear changes in order
	adapt        *adapter      // adaptive limits (adaptive_executor.go); nil without

	nextID         atomic.Uint64
	completed      atomic.Uint64
	failed         atomic.Uint64
	canceled       atomic.Uint64
	abandoned      atomic.Int64
	abandonedTotal atomic.Uint64

	mu         sync.Mutex
	limit      int
	running    int // slots held, abandoned calls included
	waiting    int // tasks in the key queues and the global queue
	live       int // admitted tasks not yet finished
	closed     bool
	closedFlag atomic.Bool   // closed, for Map's workers to read without the lock
	stopping   bool          // Shutdown began: no task starts any more
	idle       chan struct{} // closed when closed and live == 0
	quiet      chan struct{} // made by Wait, closed when live drops to 0
	global     taskList      // tasks waiting for an overall slot
	active     taskList      // tasks holding slots
	backoff    taskList      // tasks waiting out a retry backoff
	keys       map[string]*keyState
	groups     map[<-chan struct{}]*parentGroup
	submitters []*task // tasks whose Submit is blocked on a full queue, FIFO
}

// keyState is the per-key limit's bookkeeping for one key in use.
type keyState struct {
	key     string
	running int
	queue   taskList
}

// Stats is a snapshot of an Executor's counters.
type Stats struct {
	Limit          int    // current concurrency limit
	Running        int    // tasks holding a slot, abandoned calls included
	Waiting        int    // tasks waiting for a slot
	Retrying       int    // tasks waiting out a retry backoff
	Submitted      uint64 // tasks given to Submit (rejected ones included) or admitted by TrySubmit
	Completed      uint64 // futures settled with a value
	Failed         uint64 // futures settled with an error, cancellations excepted
	Canceled       uint64 // futures canceled: Future.Cancel, their context, Shutdown
	Abandoned      int    // calls still running longer than the grace after their futures settled from outside
	AbandonedTotal uint64 // calls ever abandoned
}

// New returns an Executor configured by opts. Without options it runs up to
// DefaultLimit tasks at once, queues the rest without bound, and has no rate
// limit, timeouts or retries.
func New(opts ...Option) *Executor {
	c := config{queue: -1, grace: AbandonGrace} // limit 0: no WithLimit
	for _, o := range opts {
		o(&c)
	}
	limit := c.limit
	if limit == 0 {
		limit = DefaultLimit
	}
	e := &Executor{
		limiter:      c.limiter,
		timeout:      c.timeout,
		queueTimeout: c.queueTimeout,
		grace:        c.grace,
		retry:        c.retry.normalized(),
		observers:    c.observers,
		observed:     len(c.observers) > 0,
		onPanic:      c.onPanic,
		keyLimit:     c.keyLimit,
		queueCap:     c.queue,
		limitMu:      make(chan struct{}, 1),
		limit:        limit,
		idle:         make(chan struct{}),
		keys:         make(map[string]*keyState),
		groups:       make(map[<-chan struct{}]*parentGroup),
	}
	e.adapt = newAdapter(e, c.adapt, c.limit)
	if e.observed {
		now := time.Now()
		for _, o := range e.observers {
			if lo, ok := o.(LimitObserver); ok {
				lo.LimitChanged(e.limit, now)
			}
		}
	}
	return e
}

// now reads the clock only for observers.
func (e *Executor) now() time.Time {
	if e.observed {
		return time.Now()
	}
	return time.Time{}
}

// Limit returns the current concurrency limit.
func (e *Executor) Limit() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.limit
}

// SetLimit changes the concurrency limit while tasks run, for adaptive
// concurrency. Lowering it stops nothing already running: new tasks start
// once fewer than n run; raising it starts queued tasks and admits blocked
// Submits at once. Observers that implement LimitObserver are told, in the
// order concurrent calls took effect. It panics if n < 1, and on the
// Default executor, which is shared by every package of the process.
func (e *Executor) SetLimit(n int) {
	if n < 1 {
		panic("fanout: SetLimit needs n >= 1")
	}
	e.check()
	if e.shared {
		panic("fanout: SetLimit on the shared Default executor; build your own with New")
	}
	e.limitMu <- struct{}{}
	defer func() { <-e.limitMu }()
	e.mu.Lock()
	changed := n != e.limit
	e.limit = n
	starts := e.dispatchLocked()
	e.mu.Unlock()
	e.start(starts)
	if changed && e.observed {
		now := time.Now()
		for _, o := range e.observers {
			if lo, ok := o.(LimitObserver); ok {
				lo.LimitChanged(n, now)
			}
		}
	}
}

// check panics on an Executor not built by New: its zero value has no
// slots, and every Submit would wait for ever.
func (e *Executor) check() {
	if e.idle == nil {
		panic("fanout: Executor not built by New")
	}
}

// Stats returns a snapshot of the executor's counters.
func (e *Executor) Stats() Stats {
	e.mu.Lock()
	s := Stats{Limit: e.limit, Running: e.running, Waiting: e.waiting, Retrying: e.backoff.n}
	e.mu.Unlock()
	s.Submitted = e.nextID.Load() // one ID per Submit
	s.Completed = e.completed.Load()
	s.Failed = e.failed.Load()
	s.Canceled = e.canceled.Load()
	s.Abandoned = int(e.abandoned.Load())
	s.AbandonedTotal = e.abandonedTotal.Load()
	return s
}

// Close stops accepting tasks (later Submits fail with ErrClosed, blocked
// ones too) and waits until every accepted task has finished, queued ones
// included. Abandoned calls are waited for too.
//
// Close panics when called from inside one of e's own tasks, which it would
// wait for for ever, and on the Default executor, which is shared by every
// package of the process. It finds its own tasks by their functions on the
// caller's stack (a Group task's is the function given to Go): a task of
// another executor that runs the very function one of e's running tasks
// runs, and closes e from inside it, is taken for one of e's.
func (e *Executor) Close() {
	e.check()
	if e.shared {
		panic("fanout: Close on the shared Default executor; build your own with New")
	}
	e.mu.Lock()
	e.closeLocked()
	var fns []uintptr
	if e.live > 0 {
		e.active.each(func(t *task) {
			if t.phase.Load() != phaseIdle {
				fns = append(fns, t.r.code())
			}
		})
	}
	e.mu.Unlock()
	if len(fns) > 0 && onStack(fns) {
		panic("fanout: Close called from inside one of the executor's own tasks would wait for itself for ever")
	}
	<-e.idle
}

// onStack reports whether a function whose entry is in fns has a frame on
// the calling goroutine's stack.
func onStack(fns []uintptr) bool {
	pcs := make([]uintptr, 64)
	for {
		n := runtime.Callers(3, pcs)
		if n < len(pcs) {
			pcs = pcs[:n]
			break
		}
		pcs = make([]uintptr, 2*len(pcs))
	}
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if slices.Contains(fns, f.Entry) {
			return true
		}
		if !more {
			return false
		}
	}
}

// Wait waits until no accepted task is left unfinished, without closing e:
// the moment every task given so far (and any given meanwhile) has ended.
// It returns ctx's cause if ctx ends first. Submits that go on meanwhile
// may keep it waiting; stop them first to wait for a batch.
func (e *Executor) Wait(ctx context.Context) error {
	e.check()
	e.mu.Lock()
	if e.live == 0 {
		e.mu.Unlock()
		return nil
	}
	if e.quiet == nil {
		e.quiet = make(chan struct{})
	}
	quiet := e.quiet
	e.mu.Unlock()
	select {
	case <-quiet:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Shutdown stops accepting tasks, cancels every queued and running task
// (their futures fail with an error matching both ErrClosed and
// context.Canceled) and waits until they have all returned or ctx ends, in
// which case it returns ctx's error: functions that ignore their context may
// still be running. An idle executor shuts down without error whatever ctx.
// It panics on the Default executor, which is shared by every package of
// the process.
func (e *Executor) Shutdown(ctx context.Context) error {
	e.check()
	if e.shared {
		panic("fanout: Shutdown on the shared Default executor; build your own with New")
	}
	e.mu.Lock()
	e.closeLocked()
	e.stopping = true // a slot freed by a canceled task must not start a queued one
	var all []*task
	collect := func(t *task) { all = append(all, t) }
	e.active.each(collect)
	e.global.each(collect)
	e.backoff.each(collect)
	for _, ks := range e.keys {
		ks.queue.each(collect)
	}
	e.mu.Unlock()
	for _, t := range all {
		t.cancel(errShutdown, byCancel)
	}
	select {
	case <-e.idle:
		return nil
	default:
	}
	select {
	case <-e.idle:
		return nil
	case <-ctx.Done():
		select {
		case <-e.idle: // both ready: the select chose at random
			return nil
		default:
		}
		return fmt.Errorf("fanout: shutdown: %d calls still running: %w", e.Stats().Running, context.Cause(ctx))
	}
}

func (e *Executor) closeLocked() {
	if e.closed {
		return
	}
	e.closed = true
	e.closedFlag.Store(true)
	for _, t := range e.submitters {
		t.wait.admit <- struct{}{} // not admitted: its Submit fails with ErrClosed
	}
	e.submitters = nil
	if e.live == 0 {
		close(e.idle)
	}
}

// taskGone counts an admitted task out.
func (e *Executor) taskGone() {
	e.mu.Lock()
	e.goneLocked()
	e.mu.Unlock()
}

func (e *Executor) goneLocked() {
	e.live--
	if e.live == 0 {
		if e.closed {
			close(e.idle)
		}
		if e.quiet != nil {
			close(e.quiet)
			e.quiet = nil
		}
	}
}

// testHookSubmitWaits, when set by a test, runs in a blocked Submit after
// it queued itself for a place and before it waits for the signal.
var testHookSubmitWaits func()

// submit admits t, blocking while the queue is full (unless try), and
// starts it when a slot is free. It reports false when try and t would have
// to wait for room: t is then untouched, told to no observer.
//
// Fairness: a task that can start at once (a free slot, its key under its
// limit, nobody queued ahead) is admitted even while other Submits are
// blocked, since it takes no queue place; blocked Submits get queue places
// in the order they blocked, and dispatchLocked admits them on their
// behalf as places free, as many as fit.
func (e *Executor) submit(t *task, try bool) bool {
	e.check()
	if !try {
		e.queued(t)
	}
	e.mu.Lock()
	for {
		if t.parent.Err() != nil {
			// Checked under e.mu: a context that ends after this is seen by
			// parentDone, which takes e.mu too.
			e.mu.Unlock()
			if try {
				e.queued(t)
			}
			t.settle(context.Cause(t.parent), byCancel)
			t.finish()
			return true
		}
		if e.closed {
			e.mu.Unlock()
			if try {
				e.queued(t)
			}
			t.settle(ErrClosed, byReturn)
			t.finish()
			return true
		}
		if len(e.submitters) == 0 && e.queueRoomLocked() || e.startsNowLocked(t) {
			break
		}
		if try {
			e.mu.Unlock()
			return false
		}
		w := t.waitLocked()
		if w.admit == nil {
			w.admit = make(chan struct{}, 1)
		}
		e.submitters = append(e.submitters, t)
		e.mu.Unlock()
		if testHookSubmitWaits != nil {
			testHookSubmitWaits()
		}
		select {
		case <-w.admit:
			e.mu.Lock()
			if w.handed {
				e.mu.Unlock()
				return true
			}
		case <-t.parent.Done():
			e.mu.Lock()
			select {
			case <-w.admit: // sent with the hand-over or by Close: drop it
			default:
			}
			if w.handed {
				e.mu.Unlock() // admitted meanwhile: its group cancels it
				return true
			}
			e.dropSubmitterLocked(t)
			e.mu.Unlock()
			t.settle(fmt.Errorf("fanout: submit: %w", context.Cause(t.parent)), byCancel)
			t.finish()
			return true
		}
	}
	if try {
		// Told under e.mu: once admitted, t may start in another goroutine,
		// and observers must hear of it queued first.
		e.queued(t)
	}
	starts := e.admitLocked(t)
	e.mu.Unlock()
	e.start(starts)
	return true
}

// queued numbers t and tells observers.
func (e *Executor) queued(t *task) {
	if t.helper {
		return
	}
	t.info.ID = e.nextID.Add(1)
	if e.observed {
		now := time.Now()
		for _, o := range e.observers {
			o.TaskQueued(t.info, now)
		}
	}
}

// admitLocked counts t in, has its context watched, and takes its slots or
// queues it. It returns t when t may start now.
func (e *Executor) admitLocked(t *task) (starts *task) {
	t.admitted = true
	e.live++
	if t.parent.Done() != nil {
		e.joinGroupLocked(t)
	}
	return e.enqueueLocked(t)
}

// A parentGroup is the admitted tasks whose Submit contexts share one Done
// channel: one context, or contexts derived from it without a cancel of
// their own (context.WithValue). Watching the channel once for all of them,
// rather than once per task, saves a context.AfterFunc (three allocations)
// per task: most callers submit many tasks with one context. The channel is
// the key because every channel is hashable, whatever the context's type
// holds.
type parentGroup struct {
	done  <-chan struct{}
	tasks taskSet
	stop  func() bool
}

// joinGroupLocked adds t to the group of its Submit context's Done channel,
// creating the group and its watch when t is the first.
func (e *Executor) joinGroupLocked(t *task) {
	done := t.parent.Done()
	g := e.groups[done]
	if g == nil {
		g = &parentGroup{done: done}
		e.groups[done] = g
		// The callback runs in its own goroutine, never under e.mu.
		g.stop = context.AfterFunc(t.parent, func() { e.parentDone(g) })
	}
	g.tasks.add(t)
	t.group = g
}

// leaveGroupLocked takes a task that will never run again out of its group,
// and drops the group when it empties.
func (e *Executor) leaveGroupLocked(t *task) {
	g := t.group
	if g == nil {
		return
	}
	g.tasks.drop(t)
	t.group = nil
	if g.tasks.n == 0 && e.groups[g.done] == g {
		delete(e.groups, g.done)
		g.stop()
	}
}

// parentDone cancels every task of a group whose context ended, each with
// its own context's cause.
func (e *Executor) parentDone(g *parentGroup) {
	e.mu.Lock()
	if e.groups[g.done] == g {
		delete(e.groups, g.done)
	}
	var all []*task
	for t := g.tasks.head; t != nil; t = t.gnext {
		all = append(all, t)
	}
	e.mu.Unlock()
	for _, t := range all {
		t.cancel(context.Cause(t.parent), byCancel)
	}
}

// contended reports whether tasks wait for an overall slot or for queue
// room: a Map worker then gives its slot back (see stream).
func (e *Executor) contended() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.global.n > 0 || len(e.submitters) > 0
}

// startsNowLocked reports whether t would start at once: a free slot, its
// key under its limit, and nobody queued ahead of it.
func (e *Executor) startsNowLocked(t *task) bool {
	if e.stopping || e.running >= e.limit || e.global.n > 0 {
		return false
	}
	if t.info.Key != "" && e.keyLimit > 0 {
		if ks := e.keys[t.info.Key]; ks != nil && (!e.keyRoomLocked(ks) || ks.queue.n > 0) {
			return false
		}
	}
	return true
}

// queueRoomLocked reports whether the queue has a free place.
func (e *Executor) queueRoomLocked() bool {
	return e.queueCap < 0 || e.waiting < e.queueCap
}

func (e *Executor) dropSubmitterLocked(t *task) {
	if i := slices.Index(e.submitters, t); i >= 0 {
		e.submitters = slices.Delete(e.submitters, i, i+1)
	}
}

// admitBlockedLocked admits, in the order they blocked, every blocked
// Submit's task that now fits: one that can start at once, or one that
// finds a queue place. It returns those that start now.
func (e *Executor) admitBlockedLocked() (starts *task) {
	for i := 0; i < len(e.submitters); {
		if !e.queueRoomLocked() && (e.stopping || e.running >= e.limit || e.global.n > 0) {
			break // nobody fits
		}
		t := e.submitters[i]
		if !e.startsNowLocked(t) && !e.queueRoomLocked() {
			i++ // its key is busy and the queue full: later ones may start
			continue
		}
		e.submitters = slices.Delete(e.submitters, i, i+1)
		t.wait.handed = true
		if s := e.admitLocked(t); s != nil {
			starts = link(starts, s)
		}
		t.wait.admit <- struct{}{}
	}
	return starts
}

// enqueueLocked takes t's key slot then an overall slot, or queues it for
// the first it cannot get. It returns t when t may start now.
func (e *Executor) enqueueLocked(t *task) (starts *task) {
	if t.info.Key != "" && e.keyLimit > 0 && !t.keyHeld {
		ks := e.keys[t.info.Key]
		if ks == nil {
			ks = &keyState{key: t.info.Key}
			e.keys[t.info.Key] = ks
		}
		t.ks = ks
		if !e.keyRoomLocked(ks) || ks.queue.n > 0 {
			ks.queue.push(t)
			t.state = stateWaitKey
			t.waitingForKey(true)
			e.waiting++
			e.armQueueTimerLocked(t)
			return nil
		}
		ks.running++
		t.keyHeld = true
	}
	return e.enterGlobalLocked(t)
}

func (e *Executor) enterGlobalLocked(t *task) *task {
	if e.running < e.limit && e.global.n == 0 && !e.stopping {
		e.grantLocked(t)
		return t
	}
	e.global.push(t)
	t.state = stateWaitGlobal
	e.waiting++
	e.armQueueTimerLocked(t)
	return nil
}

func (e *Executor) grantLocked(t *task) {
	t.stopQueueTimerLocked()
	e.running++
	e.active.push(t)
	t.state = stateRunning
	t.spawn = !t.hasRoutine
	t.hasRoutine = true
	if t.startNext != nil { // mostly nil already: spare the write barrier
		t.startNext = nil
	}
}

// dispatchLocked grants free overall slots to the queue's head tasks and
// returns them, linked through startNext, for start.
func (e *Executor) dispatchLocked() (starts *task) {
	var last *task
	for e.running < e.limit && e.global.n > 0 && !e.stopping {
		t := e.global.pop()
		e.waiting--
		e.grantLocked(t)
		if last == nil {
			starts = t
		} else {
			last.startNext = t
		}
		last = t
	}
	if len(e.submitters) > 0 {
		if s := e.admitBlockedLocked(); s != nil {
			starts = link(starts, s)
		}
	}
	return starts
}

// start launches granted tasks: a new goroutine for a task's first run, a
// wake-up for a task waiting again after a backoff. Call it without e.mu.
func (e *Executor) start(starts *task) {
	for t := starts; t != nil; {
		next := t.startNext // read before t runs and may be linked again
		if t.spawn {
			go t.run()
		} else {
			t.wait.wake <- struct{}{} // made by reacquire before it queued t
		}
		t = next
	}
}

func (e *Executor) armQueueTimerLocked(t *task) {
	if e.queueTimeout <= 0 || t.wait != nil && t.wait.qtimer != nil {
		return
	}
	w := t.waitLocked()
	w.qgen++
	gen := w.qgen
	w.qtimer = time.AfterFunc(e.queueTimeout, func() { e.queueTimedOut(t, gen) })
}

func (t *task) stopQueueTimerLocked() {
	if w := t.wait; w != nil && w.qtimer != nil {
		w.qtimer.Stop()
		w.qtimer = nil
	}
}

// queueTimedOut fails t with ErrQueueTimeout if it is still waiting on the
// timer armed as generation gen. Unlike cancel, it takes t out of its queue first, so a task
// granted its slot at the same moment is never abandoned by its timer.
func (e *Executor) queueTimedOut(t *task, gen uint32) {
	e.mu.Lock()
	w := t.wait
	if w == nil || w.qtimer == nil || w.qgen != gen || (t.state != stateWaitKey && t.state != stateWaitGlobal) {
		e.mu.Unlock()
		return
	}
	w.qtimer = nil
	starts := e.removeWaitingLocked(t)
	own := !t.hasRoutine
	e.mu.Unlock()
	t.settle(fmt.Errorf("%w after %v", ErrQueueTimeout, e.queueTimeout), byTimeout)
	e.start(starts)
	if own {
		t.finish()
	}
}

// removeWaitingLocked takes a waiting task out of its queue, gives back its
// key slot, and marks it done.
func (e *Executor) removeWaitingLocked(t *task) (starts *task) {
	t.stopQueueTimerLocked()
	t.list.remove(t)
	e.waiting--
	if t.state == stateWaitKey {
		t.waitingForKey(false)
	}
	t.state = stateDone
	e.leaveGroupLocked(t)
	starts = e.releaseKeyLocked(t)
	if s := e.dispatchLocked(); s != nil {
		starts = link(starts, s)
	}
	return starts
}

// withdraw takes a task that was just canceled out of the queue it waits
// in, if any, and finishes it when no goroutine of its own will.
func (e *Executor) withdraw(t *task) {
	e.mu.Lock()
	if t.state != stateWaitKey && t.state != stateWaitGlobal {
		e.mu.Unlock() // new, running, backing off or done: its own goroutine or Submit handles it
		return
	}
	starts := e.removeWaitingLocked(t)
	own := !t.hasRoutine
	e.mu.Unlock()
	e.start(starts)
	if own {
		t.finish()
	}
}

// release gives back t's slots (if it holds them) and moves it to state
// next: stateBackoff before a retry's wait, stateDone at the end. It starts
// the tasks this lets run, except that with adopt it returns one that needs
// a new goroutine for the caller to run on its own: a finished task's
// goroutine, its stack already grown, goes on with the next task.
func (e *Executor) release(t *task, next taskState, adopt bool) (adopted *task) {
	e.mu.Lock()
	var starts *task
	switch t.state {
	case stateRunning:
		e.running--
		e.active.remove(t)
		starts = e.releaseKeyLocked(t)
	case stateWaitKey, stateWaitGlobal:
		starts = e.removeWaitingLocked(t)
	case stateBackoff:
		e.backoff.remove(t)
	}
	t.state = next
	switch next {
	case stateBackoff:
		e.backoff.push(t)
	case stateDone:
		e.leaveGroupLocked(t)
		if !e.observed && t.admitted {
			// Without observers there is no TaskFinished to deliver before
			// Close may return: count the task out now, saving a lock.
			e.goneLocked()
			t.admitted = false
		}
	}
	if s := e.dispatchLocked(); s != nil {
		starts = link(starts, s)
	}
	e.mu.Unlock()
	if adopt {
		adopted, starts = adoptOne(starts)
	}
	e.start(starts)
	return adopted
}

// adoptOne takes the first task that needs a new goroutine out of a start
// list.
func adoptOne(starts *task) (adopted, rest *task) {
	var prev *task
	for t := starts; t != nil; prev, t = t, t.startNext {
		if t.spawn {
			if prev == nil {
				starts = t.startNext
			} else {
				prev.startNext = t.startNext
			}
			return t, starts
		}
	}
	return nil, starts
}

// reacquire queues a task again after its backoff and waits until it holds
// its slots or is done.
func (e *Executor) reacquire(t *task) {
	e.mu.Lock()
	if t.state != stateBackoff || t.isDone() {
		e.mu.Unlock()
		return
	}
	e.backoff.remove(t)
	w := t.waitLocked()
	if w.wake == nil {
		w.wake = make(chan struct{}, 1)
	}
	granted := e.enqueueLocked(t) != nil
	if granted {
		t.spawn = false // this goroutine runs it; nobody needs waking
	}
	e.mu.Unlock()
	if granted {
		return
	}
	for {
		select {
		case <-w.wake:
		case <-t.settledChan():
			return
		}
		e.mu.Lock()
		running := t.state == stateRunning
		e.mu.Unlock()
		if running {
			return
		}
	}
}

// releaseKeyLocked gives back t's key slot, if it holds one, letting the
// key's next task go on to wait for an overall slot.
func (e *Executor) releaseKeyLocked(t *task) (starts *task) {
	ks := t.ks
	if ks == nil {
		return nil
	}
	if t.keyHeld {
		t.keyHeld = false
		ks.running--
		starts = e.wakeKeyLocked(ks)
	}
	if ks.running == 0 && ks.queue.n == 0 && e.keys[ks.key] == ks {
		delete(e.keys, ks.key)
	}
	return starts
}

// link appends list b to list a (both linked through startNext).
func link(a, b *task) *task {
	if a == nil {
		return b
	}
	last := a
	for last.startNext != nil {
		last = last.startNext
	}
	last.startNext = b
	return a
}
