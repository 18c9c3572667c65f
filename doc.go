// Package fanout runs blocking functions concurrently on a bounded executor
// and hands back typed futures: Go's answer to asyncio's
// loop.run_in_executor, functools.partial and asyncio.gather.
//
// # The model
//
// An Executor runs at most its limit of tasks at once (DefaultLimit, 64,
// unless WithLimit says otherwise). Submit hands it a function and returns a
// *Future at once; the task waits in a FIFO queue until it holds a slot,
// then runs in a goroutine of its own. Other arguments are bound with a
// closure, which is what functools.partial does in Python:
//
//	f := fanout.Submit(ctx, ex, func(ctx context.Context) (int, error) {
//		return statusOf(ctx, url)
//	}, fanout.WithLabel(url))
//	code, err := f.Await(ctx)
//
// Go submits to a shared Default executor, like run_in_executor(None, ...).
// Gather, GatherAll and AsCompleted wait for many futures; Map and
// MapUnordered stream an iter.Seq of inputs through the executor with
// memory bounded by a window, however many inputs there are.
//
// # Limits
//
// Options of New bound the work: WithQueue (how many may wait; Submit
// blocks when it is full, and gives up when its context ends), WithRate
// (attempt starts per second), WithKeyLimit with WithKey (per host, say),
// WithTimeout (per attempt, the run only), WithQueueTimeout (the wait for a
// slot only), and WithRetry (exponential backoff with jitter that honours a
// server's Retry-After, see RetryAfter). A task waiting for a retry holds no
// slot.
//
// # Guarantees
//
//   - Every future settles exactly once, with the function's value or an
//     error: its own, a *PanicError (a panic never takes the process down),
//     ErrTimeout, ErrQueueTimeout, ErrClosed, or its context's cause.
//   - A canceled future settles at once, even when its function ignores its
//     context. Such a call is abandoned: it keeps its slot until it really
//     returns, so the limit stays honest, and Stats counts it.
//   - Never more than the limit run at once (abandoned calls included), nor
//     more than the key limit per key.
//   - Close waits for everything accepted; Shutdown cancels it all and
//     waits as long as its context allows. Nothing started by the package
//     outlives its tasks.
//
// # Observing
//
// WithObserver plugs in hooks for each task's queueing, attempts and end;
// the trace package builds spans, slow-task logs, a summary of the
// concurrency achieved, a warning when tasks ran one after another, and
// Perfetto and HTML timelines from them. Without observers, the executor
// does not read the clock.
package fanout
