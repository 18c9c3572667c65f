package fanout

import (
	"context"
	"reflect"
)

// A Future is the result of a task submitted to an Executor: a value of type
// T or an error, available once the task settles. It is the counterpart of
// the awaitable that asyncio's run_in_executor returns.
//
// A future settles exactly once: when its function returns a value or an
// error that is not retried, or at once when it is canceled (Cancel, the
// context given to Submit, Shutdown) or abandoned after a per-attempt
// timeout, even if the function ignores its context. Its methods are safe
// for concurrent use by any number of goroutines.
type Future[T any] struct {
	t    task
	fn   func(context.Context) (T, error)
	kept T // the last attempt's value, owned by the task's goroutine
	val  T // the settled value, written once before Done is closed
}

func (f *Future[T]) call(ctx context.Context) error {
	v, err := callFn(ctx, f.fn)
	if err == nil {
		f.kept = v
	}
	return err
}

func (f *Future[T]) commit() { f.val = f.kept }

func (f *Future[T]) code() uintptr { return reflect.ValueOf(f.fn).Pointer() }

// Submit hands fn to e and returns its future at once, like
// loop.run_in_executor. fn receives a context that ends when the task is
// canceled, when ctx ends, or when an attempt times out; bind any other
// arguments with a closure (Go's functools.partial).
//
// When e's queue is full (WithQueue), Submit blocks until there is room;
// if ctx ends first it returns a future already failed with ctx's cause.
// On a closed executor it returns a future failed with ErrClosed. It panics
// if ctx, e or fn is nil, before it touches e.
func Submit[T any](ctx context.Context, e *Executor, fn func(context.Context) (T, error), opts ...TaskOption) *Future[T] {
	if ctx == nil || e == nil || fn == nil {
		panic("fanout: Submit needs a context, an executor and a function")
	}
	f := &Future[T]{fn: fn}
	f.t.init(ctx, e, f, opts)
	e.submit(&f.t, false)
	return f
}

// TrySubmit is Submit that never blocks, like errgroup's TryGo: when e's
// queue is full (WithQueue) and the task could not start at once, it
// returns nil and false, and the task is not counted anywhere. Otherwise it
// returns the future and true, as Submit would (a future already failed
// when ctx has ended or e is closed). It panics if ctx, e or fn is nil.
func TrySubmit[T any](ctx context.Context, e *Executor, fn func(context.Context) (T, error), opts ...TaskOption) (*Future[T], bool) {
	if ctx == nil || e == nil || fn == nil {
		panic("fanout: TrySubmit needs a context, an executor and a function")
	}
	f := &Future[T]{fn: fn}
	f.t.init(ctx, e, f, opts)
	if !e.submit(&f.t, true) {
		return nil, false
	}
	return f, true
}

// Await waits for the future to settle and returns its value and error.
// If ctx ends first, Await returns ctx's cause at once and the task goes on
// (cancel it with Cancel to stop it).
func (f *Future[T]) Await(ctx context.Context) (T, error) {
	if f.t.over.Load() {
		return f.val, f.t.err
	}
	cancel := ctx.Done()
	if cancel == nil { // context.Background and the like: no channel needed
		f.t.wg.Wait()
		return f.val, f.t.err
	}
	select {
	case <-f.t.settledChan():
		return f.val, f.t.err
	case <-cancel:
		var zero T
		return zero, context.Cause(ctx)
	}
}

// Done returns a channel that is closed when the future settles.
func (f *Future[T]) Done() <-chan struct{} { return f.t.settledChan() }

// Cancel cancels the task: a waiting task never runs, a running task's
// context ends. The future settles at once with context.Canceled, unless it
// had settled already. A function that ignores its context keeps running,
// abandoned, and keeps its slot until it returns (see Stats.Abandoned).
func (f *Future[T]) Cancel() { f.t.cancel(context.Canceled, byCancel) }

// Result returns the settled outcome, and false if the future has not
// settled yet.
func (f *Future[T]) Result() (Result[T], bool) {
	if !f.t.over.Load() {
		return Result[T]{}, false
	}
	return Result[T]{Value: f.val, Err: f.t.err}, true
}

// Label returns the label given with WithLabel.
func (f *Future[T]) Label() string { return f.t.info.Label }

// Result is one task's outcome: its value, or the error it failed with.
type Result[T any] struct {
	Value T
	Err   error
}
