package fanout

import (
	"context"
	"sync"
)

var defaultExecutor = sync.OnceValue(func() *Executor { return New() })

// Default returns the package's shared Executor, built on first use with
// New's defaults (DefaultLimit tasks at once, unbounded queue) and never
// closed. Go submits to it.
func Default() *Executor { return defaultExecutor() }

// Go runs fn on the Default executor: the counterpart of
// loop.run_in_executor(None, fn). Use Submit with an Executor of your own to
// choose limits, timeouts and retries.
func Go[T any](ctx context.Context, fn func(context.Context) (T, error), opts ...TaskOption) *Future[T] {
	return Submit(ctx, Default(), fn, opts...)
}
