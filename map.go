package fanout

import (
	"context"
	"iter"
	"reflect"
	"sync"
	"sync/atomic"
)

// A MapOption configures Map and MapUnordered.
type MapOption func(*mapConfig)

type mapConfig struct {
	window   int
	backlog  int // < 0: keyBacklogFactor times the window
	taskOpts any // func(int, In) []TaskOption
}

// keyBacklogFactor times the window, at most maxDefaultBacklog, is
// WithKeyBacklog's default. The cap keeps a huge window from making Map's
// channels, sized for every input that may be out, huge too.
const (
	keyBacklogFactor  = 8
	maxDefaultBacklog = 1 << 16
)

func newMapConfig(e *Executor, opts []MapOption) mapConfig {
	c := mapConfig{window: 2 * e.Limit(), backlog: -1}
	for _, o := range opts {
		o(&c)
	}
	if c.backlog < 0 {
		c.backlog = min(keyBacklogFactor*c.window, maxDefaultBacklog)
	}
	return c
}

// WithWindow sets how many inputs Map may have pulled but not yet yielded:
// the bound on tasks in flight and on results held for reordering, inputs
// waiting for their key's slot aside (see WithKeyBacklog). The default is
// twice the executor's limit when Map starts. It panics if n < 1.
func WithWindow(n int) MapOption {
	if n < 1 {
		panic("fanout: WithWindow needs n >= 1")
	}
	return func(c *mapConfig) { c.window = n }
}

// WithKeyBacklog sets how many inputs beyond the window Map may pull while
// some of those it pulled wait for their key's slot: their key is at its
// limit (WithKeyLimit, WithKeyAdaptive) or paused by a server's Retry-After.
// Such inputs count against the backlog instead of the window, so that one
// slow key, its inputs mixed with the others', does not stop the others'
// inputs from being pulled and run until n of its inputs wait. Each costs a
// task's memory, a few hundred bytes, and no goroutine. The default is 8
// times the window, at most 65,536; 0 makes the window a strict bound on
// every input pulled and not yielded. It panics if n < 0.
func WithKeyBacklog(n int) MapOption {
	if n < 0 {
		panic("fanout: WithKeyBacklog needs n >= 0")
	}
	return func(c *mapConfig) { c.backlog = n }
}

// WithTaskOptions gives each of Map's tasks its own options, such as a label
// or a key for per-key limits, computed from its index and input. In must be
// Map's input type; Map panics otherwise.
func WithTaskOptions[In any](f func(index int, in In) []TaskOption) MapOption {
	return func(c *mapConfig) { c.taskOpts = f }
}

// Map runs fn on e for each value of in and yields each input with its
// outcome, in input order, streaming: it pulls in lazily, and at most the
// window (WithWindow) of inputs are pulled but not yet yielded, so memory
// stays O(window + key backlog) however long in is. A slow input holds back
// the results after it, never the tasks: up to the window keep running
// behind it. Inputs waiting for a key at its limit count against the key
// backlog (WithKeyBacklog), not the window, so one slow key does not hold
// back the others' inputs until its backlog is full.
// Yielding the input spares callers a side table from index to input
// (WithTaskOptions sees the index, and order gives it).
//
// Cost: when no input needs a task of its own (no WithTaskOptions, and an
// executor without observers, rate limit, timeout, queue timeout or
// retries), Map runs
// inputs on a few worker tasks that keep their slots and take inputs in
// batches (slot reuse), handed over without a lock: tens of nanoseconds
// and no allocation per tiny input, calls that block each getting a worker
// up to the limit. Otherwise each input is a task of its own, with
// everything tasks have (per-key limits, retries, observers), at about a
// microsecond and two allocations. Fairness: Map's workers share the
// executor's limit; after each batch a worker gives its slot back when
// other tasks wait, and queues a successor behind them, so other
// submitters are not starved by a long input. Once every input is yielded,
// Map returns when its workers' tasks are over: none of them is left
// running or queued on the executor.
//
// A call that panics fails its own input with a *PanicError, and one that
// calls runtime.Goexit (t.FailNow in a test) with an error saying so; the
// other inputs run on. A panic of in itself (its iteration runs on a
// goroutine of Map's) is raised again, with the same value, in the
// goroutine ranging over Map, after the inputs pulled before it are
// yielded. Map panics if ctx, e, in or fn is nil.
//
// Every input pulled is yielded exactly once. If ctx ends, Map stops
// pulling and yields the inputs already pulled, canceled; an input handed
// over as it ends, by a yield of in that returns false, may be yielded or
// dropped (every input whose yield returned true is yielded). Breaking out
// of the loop cancels the tasks in flight. Either way Map returns without
// waiting for in to yield again: a blocked input (a pipe, a network stream)
// cannot hold it. Map's goroutine, blocked in in, then returns when in next
// yields (its yield returns false and pulls nothing more) or ends; in's
// iteration must return when its yield returns false.
func Map[In, Out any](ctx context.Context, e *Executor, in iter.Seq[In], fn func(context.Context, In) (Out, error), opts ...MapOption) iter.Seq2[In, Result[Out]] {
	mustMap(ctx, e, in, fn)
	return func(yield func(In, Result[Out]) bool) {
		c := newMapConfig(e, opts)
		if fastPath(e, &c) {
			newStream(ctx, e, in, fn, c.window).run(yield)
			return
		}
		m := newMapper(ctx, e, in, fn, opts)
		defer m.stop()
		go m.produce(nil)
		for {
			var item *mapItem[In, Out]
			if m.left {
				item = m.drain()
			} else {
				select {
				case item = <-m.pending:
				case <-m.ctx.Done():
					item = m.drain()
				}
			}
			if item == nil {
				m.inPanic.raise()
				return
			}
			item.t.wg.Wait() // no Done channel needed: m.ctx cancels the task
			r, _ := item.Result()
			if !yield(item.in, r) {
				return
			}
			m.win.release()
		}
	}
}

// MapUnordered is Map yielding each input and outcome as soon as its task
// settles, in completion order. The window bounds the tasks in flight. It
// always runs each input as a task of its own (see Map's cost).
func MapUnordered[In, Out any](ctx context.Context, e *Executor, in iter.Seq[In], fn func(context.Context, In) (Out, error), opts ...MapOption) iter.Seq2[In, Result[Out]] {
	mustMap(ctx, e, in, fn)
	return func(yield func(In, Result[Out]) bool) {
		m := newMapper(ctx, e, in, fn, opts)
		defer m.stop()
		settled := make(chan *mapItem[In, Out], m.win.capacity())
		go m.produce(settled)
		// The producer sends each item on pending after registering its
		// callback, so counting items tells when every settled result has
		// been yielded.
		outstanding := 0
		pending, ended := m.pending, m.ctx.Done()
		for pending != nil || outstanding > 0 {
			select {
			case item := <-pending:
				if item == nil {
					pending = nil
					continue
				}
				outstanding++
			case <-ended:
				ended = nil
				for range m.leave() {
					outstanding++
				}
				pending = nil
			case item := <-settled:
				outstanding--
				r, _ := item.Result()
				if !yield(item.in, r) {
					return
				}
				m.win.release()
			}
		}
		m.inPanic.raise()
	}
}

// mustMap panics, in the caller's goroutine, if Map is given nothing to
// run with.
func mustMap[In, Out any](ctx context.Context, e *Executor, in iter.Seq[In], fn func(context.Context, In) (Out, error)) {
	if ctx == nil || e == nil || in == nil || fn == nil {
		panic("fanout: Map needs a context, an executor, an input and a function")
	}
}

// inputPanic keeps a panic of Map's input, whose iteration runs on a
// goroutine of Map's, for the goroutine ranging over Map to raise again
// with the same value once the inputs pulled before it are yielded, as a
// loop over the input itself would, and as iter.Pull does. Without it the
// panic would end the process, out of any recover's reach.
type inputPanic struct{ v atomic.Pointer[any] }

// catch, deferred by the producer, keeps its panic.
func (p *inputPanic) catch() {
	if v := recover(); v != nil {
		p.v.Store(&v)
	}
}

// raise panics with the value catch kept, if any.
func (p *inputPanic) raise() {
	if v := p.v.Load(); v != nil {
		panic(*v)
	}
}

// mapItem is one of Map's tasks: its future and its input in one
// allocation, where Submit would need a closure binding the input too.
type mapItem[In, Out any] struct {
	Future[Out]
	in  In
	fn  func(context.Context, In) (Out, error)
	win *mapWindow
}

func (m *mapItem[In, Out]) waitingForKey(waits bool) { m.win.park(waits) }

func (m *mapItem[In, Out]) call(ctx context.Context) (err error) {
	returned := false
	defer catchPanic(&err, &returned)
	v, err := m.fn(ctx, m.in)
	returned = true
	if err == nil {
		m.kept = v
	}
	return err
}

func (m *mapItem[In, Out]) code() uintptr { return reflect.ValueOf(m.fn).Pointer() }

type mapper[In, Out any] struct {
	ctx      context.Context
	cancel   context.CancelFunc
	e        *Executor
	in       iter.Seq[In]
	fn       func(context.Context, In) (Out, error)
	taskOpts func(int, In) []TaskOption
	win      *mapWindow
	pending  chan *mapItem[In, Out] // items in input order; closed when produce ends
	inPanic  inputPanic             // the producer's, raised by the consumer

	// mu orders the producer's hand-over of an input against the
	// consumer's leaving: an input pulled after the consumer left is
	// dropped unsubmitted, one pulled before is on pending when it leaves.
	mu   sync.Mutex
	left bool
	rest []*mapItem[In, Out] // handed over when the consumer left, not yet yielded
}

func newMapper[In, Out any](ctx context.Context, e *Executor, in iter.Seq[In], fn func(context.Context, In) (Out, error), opts []MapOption) *mapper[In, Out] {
	c := newMapConfig(e, opts)
	m := &mapper[In, Out]{e: e, in: in, fn: fn, win: newMapWindow(c.window, c.backlog)}
	if c.taskOpts != nil {
		f, ok := c.taskOpts.(func(int, In) []TaskOption)
		if !ok {
			panic("fanout: WithTaskOptions function does not take Map's input type")
		}
		m.taskOpts = f
	}
	m.ctx, m.cancel = context.WithCancel(ctx)
	m.pending = make(chan *mapItem[In, Out], m.win.capacity())
	return m
}

// produce pulls inputs while the window has room and submits them. With
// settled non-nil, each item also reports itself there when it settles.
func (m *mapper[In, Out]) produce(settled chan *mapItem[In, Out]) {
	defer close(m.pending)
	defer m.inPanic.catch()
	i := 0
	// Take room in the window before pulling each input, so no input is
	// pulled that the window has no room for.
	if !m.win.acquire(m.ctx) {
		return
	}
	for v := range m.in {
		if !m.hand(i, v, settled) {
			return
		}
		i++
		if !m.win.acquire(m.ctx) {
			return
		}
	}
	m.win.release() // the room taken for an input that never came
}

// hand submits input i unless the consumer has left, and reports whether
// to go on.
func (m *mapper[In, Out]) hand(i int, v In, settled chan *mapItem[In, Out]) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.left {
		return false
	}
	var opts []TaskOption
	if m.taskOpts != nil {
		opts = m.taskOpts(i, v)
	}
	item := &mapItem[In, Out]{in: v, fn: m.fn, win: m.win}
	item.t.init(m.ctx, m.e, item, opts)
	m.e.submit(&item.t, false) // m.ctx ends before the consumer leaves: never blocks long
	if settled != nil {
		item.t.onSettle(func() { settled <- item })
	}
	m.pending <- item // never blocks: it holds every item out at once
	return true
}

// leave stops the producer from handing over any more input and returns
// the items it handed over and the consumer has not received.
func (m *mapper[In, Out]) leave() []*mapItem[In, Out] {
	m.cancel()
	m.mu.Lock()
	m.left = true
	m.mu.Unlock()
	var rest []*mapItem[In, Out]
	for {
		select {
		case item, ok := <-m.pending:
			if !ok {
				return rest
			}
			rest = append(rest, item)
		default:
			return rest
		}
	}
}

// drain is the ordered consumer's next item once ctx has ended: the items
// handed over are yielded, canceled, and then nothing more.
func (m *mapper[In, Out]) drain() *mapItem[In, Out] {
	if !m.left {
		m.rest = m.leave()
	}
	if len(m.rest) == 0 {
		return nil
	}
	item := m.rest[0]
	m.rest = m.rest[1:]
	return item
}

// stop cancels what is in flight and keeps the producer from submitting
// more. It does not wait for the producer, which may be blocked in the
// input.
func (m *mapper[In, Out]) stop() {
	m.leave()
}
