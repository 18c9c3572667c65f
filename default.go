package fanout

import (
	"context"
	"log"
	"sync"
)

var defaultExecutor = sync.OnceValue(func() *Executor {
	e := New(WithPanicHandler(logPanic))
	e.shared = true
	return e
})

// logPanic reports a panic in a task of the Default executor, as net/http
// reports a handler's: Go is fire and forget, and a panic in a future that
// nobody awaits must not vanish.
func logPanic(t TaskInfo, p *PanicError) {
	log.Printf("fanout: task %d %q panicked: %v\n%s", t.ID, t.Label, p.Value, p.Stack)
}

// Default returns the package's shared Executor, built on first use with
// New's defaults (DefaultLimit tasks at once, unbounded queue) and never
// closed. Go submits to it. Every package of a process shares it, so none
// may change it for the others: Close, Shutdown and SetLimit panic on it.
// A panic in one of its tasks is the task's error, as on any Executor, and
// is also logged with its stack by the standard log package.
func Default() *Executor { return defaultExecutor() }

// Go runs fn on the Default executor: the counterpart of
// loop.run_in_executor(None, fn). Use Submit with an Executor of your own to
// choose limits, timeouts and retries.
func Go[T any](ctx context.Context, fn func(context.Context) (T, error), opts ...TaskOption) *Future[T] {
	return Submit(ctx, Default(), fn, opts...)
}
