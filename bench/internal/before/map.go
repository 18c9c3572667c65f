package fanout

import (
	"context"
	"iter"
)

// A MapOption configures Map and MapUnordered.
type MapOption func(*mapConfig)

type mapConfig struct {
	window   int
	taskOpts any // func(int, In) []TaskOption
}

// WithWindow sets how many inputs Map may have pulled but not yet yielded:
// the bound on tasks in flight and on results held for reordering. The
// default is twice the executor's limit when Map starts. It panics if n < 1.
func WithWindow(n int) MapOption {
	if n < 1 {
		panic("fanout: WithWindow needs n >= 1")
	}
	return func(c *mapConfig) { c.window = n }
}

// WithTaskOptions gives each of Map's tasks its own options, such as a label
// or a key for per-key limits, computed from its index and input. In must be
// Map's input type; Map panics otherwise.
func WithTaskOptions[In any](f func(index int, in In) []TaskOption) MapOption {
	return func(c *mapConfig) { c.taskOpts = f }
}

// Map runs fn on e for each value of in and yields each input's index
// (counting from 0) and outcome in input order, streaming: it pulls in
// lazily, and at most the window (WithWindow) of inputs are pulled but not
// yet yielded, so memory stays O(window) however long in is. A slow input
// holds back the results after it, never the tasks: up to the window keep
// running behind it.
//
// Every input pulled is yielded exactly once. If ctx ends, Map stops pulling
// and yields the inputs already pulled, canceled. Breaking out of the loop
// cancels the tasks in flight and returns once Map's own goroutine has
// stopped; in's iteration must return when its yield returns false.
func Map[In, Out any](ctx context.Context, e *Executor, in iter.Seq[In], fn func(context.Context, In) (Out, error), opts ...MapOption) iter.Seq2[int, Result[Out]] {
	return func(yield func(int, Result[Out]) bool) {
		m := newMapper(ctx, e, in, fn, opts)
		defer m.stop()
		go m.produce(nil)
		i := 0
		for f := range m.pending {
			f.t.wg.Wait() // no Done channel needed: m.ctx cancels the task
			r, _ := f.Result()
			if !yield(i, r) {
				return
			}
			i++
			<-m.tokens
		}
	}
}

// MapUnordered is Map yielding each outcome as soon as its task settles, in
// completion order, with its input's index. The window bounds the tasks in
// flight.
func MapUnordered[In, Out any](ctx context.Context, e *Executor, in iter.Seq[In], fn func(context.Context, In) (Out, error), opts ...MapOption) iter.Seq2[int, Result[Out]] {
	return func(yield func(int, Result[Out]) bool) {
		m := newMapper(ctx, e, in, fn, opts)
		defer m.stop()
		settled := make(chan indexed[Out], m.window)
		go m.produce(settled)
		// The producer sends each future on pending after registering its
		// callback; pending closes when it is done, so counting futures
		// tells when every settled result has been yielded.
		outstanding := 0
		pending := m.pending
		for pending != nil || outstanding > 0 {
			select {
			case _, ok := <-pending:
				if !ok {
					pending = nil
					continue
				}
				outstanding++
			case s := <-settled:
				outstanding--
				r, _ := s.f.Result()
				if !yield(s.i, r) {
					return
				}
				<-m.tokens
			}
		}
	}
}

// mapItem is one of Map's tasks: its future and its input in one
// allocation, where Submit would need a closure binding the input too.
type mapItem[In, Out any] struct {
	Future[Out]
	in In
	fn func(context.Context, In) (Out, error)
}

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

type indexed[Out any] struct {
	i int
	f *Future[Out]
}

type mapper[In, Out any] struct {
	ctx      context.Context
	cancel   context.CancelFunc
	e        *Executor
	in       iter.Seq[In]
	fn       func(context.Context, In) (Out, error)
	taskOpts func(int, In) []TaskOption
	window   int
	tokens   chan struct{}     // one per input pulled and not yet yielded
	pending  chan *Future[Out] // futures in input order
	stopped  chan struct{}     // closed when produce returns
}

func newMapper[In, Out any](ctx context.Context, e *Executor, in iter.Seq[In], fn func(context.Context, In) (Out, error), opts []MapOption) *mapper[In, Out] {
	c := mapConfig{window: 2 * e.Limit()}
	for _, o := range opts {
		o(&c)
	}
	m := &mapper[In, Out]{e: e, in: in, fn: fn, window: c.window}
	if c.taskOpts != nil {
		f, ok := c.taskOpts.(func(int, In) []TaskOption)
		if !ok {
			panic("fanout: WithTaskOptions function does not take Map's input type")
		}
		m.taskOpts = f
	}
	m.ctx, m.cancel = context.WithCancel(ctx)
	m.tokens = make(chan struct{}, c.window)
	m.pending = make(chan *Future[Out], c.window)
	m.stopped = make(chan struct{})
	return m
}

// produce pulls inputs while the window has room and submits them. With
// settled non-nil, each future also reports itself there when it settles.
func (m *mapper[In, Out]) produce(settled chan indexed[Out]) {
	defer close(m.stopped)
	defer close(m.pending)
	i := 0
	// Take a token before pulling each input, so no input is pulled that
	// the window has no room for.
	if !m.acquire() {
		return
	}
	for v := range m.in {
		var opts []TaskOption
		if m.taskOpts != nil {
			opts = m.taskOpts(i, v)
		}
		item := &mapItem[In, Out]{in: v, fn: m.fn}
		f := &item.Future
		f.t.init(m.ctx, m.e, item, opts)
		m.e.submit(&f.t)
		if settled != nil {
			idx := i
			f.t.onSettle(func() { settled <- indexed[Out]{idx, f} })
		}
		m.pending <- f // never blocks: at most window futures are unyielded
		i++
		if !m.acquire() {
			return
		}
	}
	<-m.tokens // the token taken for an input that never came
}

func (m *mapper[In, Out]) acquire() bool {
	if m.ctx.Err() != nil {
		return false
	}
	select {
	case m.tokens <- struct{}{}:
		return m.ctx.Err() == nil
	case <-m.ctx.Done():
		return false
	}
}

// stop cancels what is in flight and waits for the producer to return.
func (m *mapper[In, Out]) stop() {
	m.cancel()
	<-m.stopped
}
