package fanout

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// AbandonGrace is the default of WithAbandonGrace: how long a function may
// keep running after its context ended (canceled, or its attempt timed out)
// before its call counts as abandoned. Functions that honour their context
// return well within it.
const AbandonGrace = 100 * time.Millisecond

type taskState uint8

const (
	stateNew        taskState = iota // not yet admitted by Submit
	stateWaitKey                     // waiting for its key's slot
	stateWaitGlobal                  // holds its key slot (if any), waiting for an overall slot
	stateRunning                     // holds its slots
	stateBackoff                     // waiting out a retry backoff, holding no slot
	stateDone                        // holds nothing and never runs again
)

// fn phases, for abandon accounting without taking the executor's lock.
const (
	phaseIdle      int32 = iota // the function is not running
	phaseCalling                // the function is running
	phaseCanceled               // running, its future settled from outside less than the grace ago
	phaseAbandoned              // running, its future settled from outside more than the grace ago
)

// runner is the typed half of a task: a *Future[T].
type runner interface {
	call(ctx context.Context) error // runs the function once, keeping its value aside
	commit()                        // publishes the kept value; called once, under task.mu
	code() uintptr                  // the function's entry, to find it on a stack
}

// task is the untyped half of a Future and also the context.Context its
// function receives. Being its own context saves the allocations of a
// context.WithCancel per task for the functions that never ask for Done:
// the channel, and the context behind it (doneCtx), are made on the first
// Done and closed when the future settles, so a canceled task's function
// sees ctx.Done() at the moment Await returns.
//
// A task keeps the context given to Submit (parent) because it is a context
// derived from it, like the standard library's cancelCtx.
type task struct {
	e      *Executor
	r      runner
	parent context.Context
	info   TaskInfo

	// Guarded by e.mu.
	list       *taskList
	prev, next *task
	ks         *keyState   // its key's state when under a key limit
	pol        *taskPolicy // per-task timeout and retry policy, if any
	group      *parentGroup
	gprev      *task
	gnext      *task
	startNext  *task
	wait       *waitExtra // queue timer and wake-up, made when first needed

	// The small fields sit together so that the struct has no padding
	// between them: a Future of a word-sized T then fits the allocator's
	// 288-byte size class rather than 320.
	state       taskState // guarded by e.mu, as are the four below
	keyHeld     bool
	admitted    bool
	hasRoutine  bool // a goroutine runs or waits for this task
	spawn       bool // set by grant: start a goroutine (else wake the one waiting)
	abandonSeen bool // written by the task's goroutine only
	helper      bool // a Map worker: not counted in Stats, not told to observers
	settled     bool // guarded by mu
	phase       atomic.Int32
	// over is set, and wg released, once the future has settled.
	over     atomic.Bool
	attempts int // written by the task's goroutine only

	// done holds the context whose channel is the task's Done, made only
	// when someone asks for it: most futures are awaited through wg and
	// never need one.
	done atomic.Pointer[doneCtx]
	wg   sync.WaitGroup

	mu      sync.Mutex    // guards settled and the fields below
	err     error         // the future's error
	waitc   chan struct{} // closed when the future settles: see settledChan
	notify1 func()        // first internal callback, inline: Gather and Map use one
	more    *settleExtra  // the rest, made when first needed
}

// waitExtra is the part of a task only some tasks need while they wait,
// guarded by the Executor's mutex. Keeping it out of task keeps a Future
// small: each allocation is zeroed and scanned by the garbage collector.
type waitExtra struct {
	qtimer *time.Timer
	qgen   uint32
	wake   chan struct{} // grant signal for the task's goroutine waiting after a backoff
	// admit tells a blocked Submit that its task was admitted on its
	// behalf (handed) or that the executor closed. It is not wake: once
	// handed, the task may run, fail and wait after a backoff before its
	// Submit has taken the signal, and must not take it instead.
	admit  chan struct{}
	handed bool // a blocked Submit's task was admitted on its behalf
}

func (t *task) waitLocked() *waitExtra {
	if t.wait == nil {
		t.wait = new(waitExtra)
	}
	return t.wait
}

// settleExtra is the part of a task's settlement state only some tasks
// need, guarded by task.mu.
type settleExtra struct {
	afters    []*afterFunc // stoppable callbacks (AfterFunc, watch)
	notify    []func()     // internal callbacks after notify1
	grace     *time.Timer  // counts a canceled call abandoned when it fires
	settledAt time.Time
}

// taskPolicy is a task's own timeout and retry policy (WithTaskTimeout,
// WithTaskRetry), overriding the executor's.
type taskPolicy struct {
	timeout    time.Duration
	hasTimeout bool
	retry      *RetryPolicy
}

func (t *task) moreLocked() *settleExtra {
	if t.more == nil {
		t.more = new(settleExtra)
	}
	return t.more
}

type afterFunc struct{ f func() }

// init prepares a task built inside its runner r, before e.submit.
func (t *task) init(ctx context.Context, e *Executor, r runner, opts []TaskOption) {
	t.e, t.r, t.parent = e, r, ctx
	t.wg.Add(1)
	for _, o := range opts {
		if o.set&setLabel != 0 {
			t.info.Label = o.label
		}
		if o.set&setKey != 0 {
			t.info.Key = o.key
		}
		if o.set&(setTimeout|setRetry) != 0 {
			if t.pol == nil {
				t.pol = new(taskPolicy)
			}
			if o.set&setTimeout != 0 {
				t.pol.timeout, t.pol.hasTimeout = o.timeout, true
			}
			if o.set&setRetry != 0 {
				t.pol.retry = o.retry
			}
		}
	}
}

// timeout is the per-attempt timeout of t.
func (t *task) timeout() time.Duration {
	if t.pol != nil && t.pol.hasTimeout {
		return t.pol.timeout
	}
	return t.e.timeout
}

// retry is the retry policy of t.
func (t *task) retry() *RetryPolicy {
	if t.pol != nil && t.pol.retry != nil {
		return t.pol.retry
	}
	return &t.e.retry
}

// Deadline returns the deadline of the context given to Submit. A per-attempt
// timeout (WithTimeout) is set on a child context for each attempt.
func (t *task) Deadline() (time.Time, bool) { return t.parent.Deadline() }

// doneCtx is where a task's Done channel comes from: a context.WithCancel
// child of the task, canceled as the task settles. Its channel, rather than
// one of the task's own, is the task's Done, so that the context package
// recognises a context derived from the task even through context.WithValue
// layers (httptrace, loggers, the AWS SDK's middleware): it registers the
// derived context as a child of this cancelCtx instead of starting a
// goroutine per derived context to watch a Done channel it does not know.
type doneCtx struct {
	t    *task
	ctx  context.Context // nil for a task that had settled before anyone asked
	fire func()          // cancels ctx; set by doneParent.AfterFunc
}

// settledDone is the doneCtx of every task that had settled before anyone
// asked for its Done channel.
var settledDone = &doneCtx{}

// channel is the task's Done channel.
func (d *doneCtx) channel() <-chan struct{} {
	if d.ctx == nil {
		return closedchan
	}
	return d.ctx.Done()
}

// closedchan is the Done channel of a task that settled before anyone asked
// for one.
var closedchan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Done is closed when the task's future settles.
func (t *task) Done() <-chan struct{} {
	d := t.done.Load()
	if d == nil {
		d = t.makeDone()
	}
	return d.channel()
}

// settledChan returns a channel closed when the task settles, for Await,
// Future.Done and the executor: the Done channel if someone asked for it
// already, else a plain channel, which costs one allocation where the Done
// channel's context costs six.
func (t *task) settledChan() <-chan struct{} {
	if d := t.done.Load(); d != nil {
		return d.channel()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.settled:
		return closedchan
	case t.waitc == nil:
		t.waitc = make(chan struct{})
	}
	return t.waitc
}

func (t *task) makeDone() *doneCtx {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d := t.done.Load(); d != nil {
		return d
	}
	if t.settled {
		t.done.Store(settledDone)
		return settledDone
	}
	d := &doneCtx{t: t}
	// WithCancel calls doneParent's AfterFunc before it returns, which sets
	// d.fire. Its own cancel function is not needed: it would cancel with
	// context.Canceled, where d.fire cancels with the task's Err.
	var unused context.CancelFunc
	d.ctx, unused = context.WithCancel((*doneParent)(d))
	_ = unused
	t.done.Store(d)
	return d
}

// doneParent is the parent of a task's doneCtx: the task as a context that
// the context package cannot mistake for a cancelCtx (its Done is never
// closed), and whose AfterFunc keeps the one callback that cancels the
// doneCtx. The doneCtx gets its Err from it, the task's, when the task
// settles, so a context derived from the task reports
// context.DeadlineExceeded when the task failed on a deadline.
type doneParent doneCtx

// never is a Done channel that is never closed.
var never = make(chan struct{})

func (p *doneParent) Deadline() (time.Time, bool) { return p.t.Deadline() }
func (p *doneParent) Done() <-chan struct{}       { return never }
func (p *doneParent) Err() error                  { return p.t.Err() }
func (p *doneParent) Value(key any) any           { return p.t.parent.Value(key) }

// AfterFunc is called once, by context.WithCancel in makeDone.
func (p *doneParent) AfterFunc(f func()) func() bool {
	p.fire = f
	return func() bool { return false } // its cancel function is never called
}

// Err returns nil until Done is closed, then context.DeadlineExceeded when
// the task failed on a deadline and context.Canceled otherwise.
func (t *task) Err() error {
	if !t.over.Load() {
		return nil
	}
	if errors.Is(t.err, context.DeadlineExceeded) { // t.err is set before over
		return context.DeadlineExceeded
	}
	return context.Canceled
}

// Value returns the values of the context given to Submit. context.Cause on
// a task's context reports the cause of the context given to Submit when
// that ended the task.
func (t *task) Value(key any) any {
	if d := t.done.Load(); d != nil && d.ctx != nil {
		return d.ctx.Value(key) // the doneCtx answers for the context package's key
	}
	return t.parent.Value(key)
}

func (t *task) String() string { return fmt.Sprintf("fanout.task(%d %q)", t.info.ID, t.info.Label) }

// watch runs f when the task settles, in the settling goroutine; if it has
// settled already, now. Unlike onSettle, the returned stop takes f back:
// Gather and AsCompleted stop theirs when they return, so a long-lived
// future keeps no callback of a waiter that gave up.
func (t *task) watch(f func()) (stop func() bool) {
	t.mu.Lock()
	if t.settled {
		t.mu.Unlock()
		f()
		return nothingToStop
	}
	return t.afterLocked(f)
}

// afterLocked keeps f to run when the task settles and returns its stop
// function. t.mu must be held; afterLocked releases it.
func (t *task) afterLocked(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	m := t.moreLocked()
	m.afters = append(m.afters, a)
	t.mu.Unlock()
	return func() bool {
		t.mu.Lock()
		defer t.mu.Unlock()
		for i, x := range m.afters {
			if x == a {
				m.afters = append(m.afters[:i], m.afters[i+1:]...)
				return true
			}
		}
		return false
	}
}

// AfterFunc arranges for f to run once the task's context ends (its future
// settles): in the settling goroutine, or at once in a goroutine of its own
// if it has ended already. Calling the returned stop before that takes f
// back and reports true. It is context.AfterFunc for a task's context
// without the cost of its Done channel, which the task makes only when
// asked (see settledChan and makeDone):
// code that runs a call's blocking operation and ends it itself, such as
// httpcheck's HTTP/1.1 path, asks the context for this method and falls back
// to context.AfterFunc when it is not there.
func (t *task) AfterFunc(f func()) (stop func() bool) {
	t.mu.Lock()
	if t.settled {
		t.mu.Unlock()
		go f()
		return nothingToStop
	}
	return t.afterLocked(f)
}

// nothingToStop is the stop function of a callback that ran or runs now.
func nothingToStop() bool { return false }

// onSettle runs f when the task settles, in the settling goroutine, or now
// if it has settled. Unlike AfterFunc it cannot be undone, and costs no
// allocation beyond f: Gather, AsCompleted and MapUnordered give it
// functions that send on a channel with room for every future.
func (t *task) onSettle(f func()) {
	t.mu.Lock()
	switch {
	case t.settled:
		t.mu.Unlock()
		f()
		return
	case t.notify1 == nil:
		t.notify1 = f
	default:
		m := t.moreLocked()
		m.notify = append(m.notify, f)
	}
	t.mu.Unlock()
}

func (t *task) isDone() bool { return t.over.Load() }

// How a task settles, for Stats and abandon accounting.
type settleKind uint8

const (
	byReturn   settleKind = iota // its function returned (or it could not start)
	byCancel                     // canceled from outside: Cancel, its context, Shutdown
	byTimeout                    // failed from outside: queue timeout
	byWatchdog                   // failed from outside: attempt timeout plus grace ran out
)

// settle completes the future once: with the function's value when err is
// nil, else with err. It reports whether this call settled it. A task
// canceled while its function runs is counted abandoned if the function
// still runs when the grace has passed; one failed by its attempt's
// watchdog (the grace already past) is counted abandoned before anyone can
// see it settled.
func (t *task) settle(err error, how settleKind) bool {
	e := t.e
	t.mu.Lock()
	if t.settled {
		t.mu.Unlock()
		return false
	}
	t.settled = true
	if err != nil { // t.err is nil until now: spare the write barrier
		t.err = err
	}
	if err == nil {
		t.r.commit()
	}
	if e.observed {
		t.moreLocked().settledAt = time.Now()
	}
	switch how {
	case byWatchdog:
		if t.phase.CompareAndSwap(phaseCalling, phaseAbandoned) {
			e.abandoned.Add(1)
			e.abandonedTotal.Add(1)
		}
	case byCancel:
		if t.phase.CompareAndSwap(phaseCalling, phaseCanceled) {
			t.moreLocked().grace = time.AfterFunc(e.grace, t.graceOver)
		}
	}
	switch { // counted before anyone can see the future settled
	case t.helper:
		// A Map worker: its inputs are counted, not itself.
	case err == nil:
		e.completed.Add(1)
	case how == byCancel:
		e.canceled.Add(1)
	default:
		e.failed.Add(1)
	}
	n1 := t.notify1
	if n1 != nil {
		t.notify1 = nil
	}
	var afters []*afterFunc
	var ns []func()
	if m := t.more; m != nil {
		afters, ns = m.afters, m.notify
		m.afters, m.notify = nil, nil
	}
	t.over.Store(true) // before Done closes: who sees it closed must see over
	if t.waitc != nil {
		close(t.waitc)
	}
	d := t.done.Load() // if nil, Done, asked later, finds settled and hands out closedchan
	t.mu.Unlock()
	if d != nil && d.fire != nil {
		// Cancels the doneCtx with this task's Err, and what derives from
		// it; outside t.mu, as it asks the parent context for its cause.
		d.fire()
	}
	t.wg.Done()

	for _, a := range afters {
		a.f()
	}
	if n1 != nil {
		n1()
	}
	for _, f := range ns {
		f()
	}
	return true
}

// graceOver counts a canceled call abandoned if it still runs.
func (t *task) graceOver() {
	if t.phase.CompareAndSwap(phaseCanceled, phaseAbandoned) {
		t.e.abandoned.Add(1)
		t.e.abandonedTotal.Add(1)
	}
}

// callEnded ends the phase of a call that returned (or ran
// runtime.Goexit), settling its abandon accounting.
func (t *task) callEnded() {
	switch t.phase.Swap(phaseIdle) {
	case phaseAbandoned:
		t.e.abandoned.Add(-1)
		t.abandonSeen = true
	case phaseCanceled:
		t.mu.Lock()
		if m := t.more; m != nil && m.grace != nil {
			m.grace.Stop()
			m.grace = nil
		}
		t.mu.Unlock()
	}
}

// cancel settles the task with cause and takes it out of any queue. A task
// whose function is running is abandoned: the future settles now, the call
// keeps its slot until it returns.
func (t *task) cancel(cause error, how settleKind) {
	if t.settle(cause, how) {
		t.e.withdraw(t)
	}
}

// run is a task goroutine's body: it runs t, then the tasks its end lets
// start, as long as one needs a goroutine.
func (t *task) run() {
	for t != nil {
		t = t.runOne()
	}
}

// runOne runs the task's attempts and retries, starting and ending with the
// release of its slots. It starts holding its slots, and returns a task
// granted when it released them, for this goroutine to run next.
func (t *task) runOne() (next *task) {
	e := t.e
	finished := false
	defer func() {
		// Only runtime.Goexit in the function (t.FailNow in a test) gets
		// here unfinished: settle and release so nothing waits forever.
		if !finished {
			t.callEnded()
			t.settle(errors.New("fanout: task function called runtime.Goexit"), byReturn)
			e.release(t, stateDone, false)
			t.finish()
		}
	}()
	var err error
	for {
		if t.isDone() {
			break // canceled before this attempt could start
		}
		if e.limiter != nil && !e.limiter.Allow() && !t.waitRate() {
			break // its context ended while it waited: settled already
		}
		t.attempts++
		err = t.attempt()
		if err == nil || t.isDone() || !t.retry().retryable(err, t.attempts) || !t.backoff(err) {
			break
		}
	}
	t.settle(err, byReturn)
	if e.onPanic != nil {
		t.reportPanic(err)
	}
	end := e.now() // before release: the next task may start right after it
	next = e.release(t, stateDone, true)
	finished = true
	t.finishAt(end)
	return next
}

// backoff waits out the retry policy's pause after err, its slots released
// so that others run meanwhile. It reports whether the task is to try again:
// then it holds its slots again.
//
// It and reportPanic are kept out of runOne, whose frame sits under every
// task's function for as long as it runs: with net/http's calls under it, a
// few hundred bytes there decide whether a goroutine fits in 4 KB of stack
// or needs 8 (see httpcheck's follow.go).
func (t *task) backoff(err error) bool {
	wait := t.retry().Backoff(t.attempts, err)
	t.e.release(t, stateBackoff, false)
	timer := time.NewTimer(wait)
	select {
	case <-timer.C:
	case <-t.settledChan():
		timer.Stop()
	}
	if t.isDone() {
		return false
	}
	t.e.reacquire(t) // returns holding its slots, or once the task is done
	return !t.isDone()
}

// reportPanic tells the executor's panic handler about a task that ended
// with a recovered panic.
func (t *task) reportPanic(err error) {
	var pe *PanicError
	if errors.As(err, &pe) {
		t.e.onPanic(t.info, pe)
	}
}

// waitRate waits for the rate limiter's next token, holding the task's
// slot. Unlike rate.Limiter.Wait, which fails at once when the token comes
// after the context's deadline, it waits until the task's context ends, so
// that a deadline is a deadline. It reports false if the task settled
// first.
func (t *task) waitRate() bool {
	r := t.e.limiter.Reserve()
	timer := time.NewTimer(r.Delay())
	select {
	case <-timer.C:
		return true
	case <-t.settledChan():
		timer.Stop()
		r.Cancel()
		return false
	}
}

// attempt calls the function once with the per-attempt timeout, telling
// observers.
func (t *task) attempt() error {
	timeout := t.timeout()
	if timeout == 0 && !t.e.observed {
		// The common case, without the timeout's context and timer or the
		// observers' clock: the function gets the task itself.
		t.phase.Store(phaseCalling)
		err := t.r.call(t)
		t.callEnded()
		return err
	}
	return t.attemptWatched(timeout)
}

// attemptWatched is attempt with a timeout or observers. It is a function of
// its own so that the common case's frame stays small (see backoff).
func (t *task) attemptWatched(timeout time.Duration) error {
	e := t.e
	ctx, cancel := context.Context(t), context.CancelFunc(func() {})
	var watchdog *time.Timer
	if timeout > 0 {
		ctx, cancel = context.WithTimeoutCause(t, timeout, ErrTimeout)
		watchdog = time.AfterFunc(timeout+e.grace, func() {
			t.cancel(fmt.Errorf("%w: the function ignored its context for %v", ErrTimeout, timeout+e.grace), byWatchdog)
		})
	}
	defer cancel()
	if e.observed {
		now := time.Now()
		for _, o := range e.observers {
			o.AttemptStarted(t.info, t.attempts, now)
		}
	}
	t.phase.Store(phaseCalling)
	err := t.r.call(ctx)
	t.callEnded()
	if watchdog != nil {
		watchdog.Stop()
		if err != nil && context.Cause(ctx) == ErrTimeout && !errors.Is(err, ErrTimeout) {
			err = fmt.Errorf("%w after %v: %w", ErrTimeout, timeout, err)
		}
	}
	if e.observed {
		now := time.Now()
		for _, o := range e.observers {
			o.AttemptFinished(t.info, t.attempts, err, now)
		}
	}
	return err
}

// finish reports the end of a task that holds no slot and will never run
// again.
func (t *task) finish() { t.finishAt(t.e.now()) }

func (t *task) finishAt(now time.Time) {
	e := t.e
	if e.observed {
		t.mu.Lock()
		o := Outcome{Err: t.err, Attempts: t.attempts, Abandoned: t.abandonSeen}
		if t.more != nil {
			o.Settled = t.more.settledAt
		}
		t.mu.Unlock()
		for _, ob := range e.observers {
			ob.TaskFinished(t.info, o, now)
		}
	}
	if t.admitted {
		e.taskGone()
	}
	if t.helper {
		if h, ok := t.r.(interface{ finished() }); ok {
			h.finished() // a Map worker's (see workerTask)
		}
	}
}

// callFn runs fn once, turning a panic into the error (see catchPanic).
func callFn[T any](ctx context.Context, fn func(context.Context) (T, error)) (v T, err error) {
	returned := false
	defer catchPanic(&err, &returned)
	v, err = fn(ctx)
	returned = true
	return v, err
}

// catchPanic, deferred by the code that calls a task's function, applies
// the package's one panic policy. A panic in one task must not take the
// process down, nor leave its future unsettled: it becomes the task's
// error, a *PanicError with the value and the stack, like conc's
// panics.Catcher but returned instead of re-raised, because the caller may
// be far away (a Future awaited by another goroutine, or nobody at all).
// runtime.Goexit passes through (returned is false, recover gives nil).
func catchPanic(err *error, returned *bool) {
	if *returned {
		return
	}
	if r := recover(); r != nil {
		*err = &PanicError{Value: r, Stack: debug.Stack()}
	}
}
