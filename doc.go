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
// Go submits to a shared Default executor, like run_in_executor(None, ...);
// no package may close or shrink it for the others. TrySubmit never blocks
// (errgroup's TryGo). Gather, GatherAll and AsCompleted wait for many
// futures; a Group (NewGroup) runs value-less tasks errgroup-style, the
// first error canceling the rest; Executor.Wait waits until the executor is
// idle without closing it. Map and MapUnordered stream an iter.Seq of
// inputs through the executor with memory bounded by a window, however many
// inputs there are, and yield each input with its outcome; inputs waiting
// for a busy key count against a backlog of their own (WithKeyBacklog), so
// one slow host does not hold back the others' inputs.
//
// # Limits
//
// Options of New bound the work: WithQueue (how many may wait; Submit
// blocks when it is full, and gives up when its context ends), WithRate
// (attempt starts per second), WithKeyLimit with WithKey (per host, say),
// WithTimeout (per attempt, the run only), WithQueueTimeout (the wait for a
// slot only), and WithRetry (exponential backoff with jitter that honours a
// server's Retry-After, see RetryAfter). A task waiting for a retry holds no
// slot. WithTaskTimeout and WithTaskRetry give one task its own, so a mixed
// workload shares one limit.
//
// Options validate alike: a value no program means (a limit below 1, a
// negative duration, queue or burst, a rate that is not a positive finite
// number) panics at once; zero durations mean none.
//
// Fairness: tasks start in the order they were admitted (per key, then
// overall). When the queue is full, a Submit whose task can start at once
// is admitted at once; the others block, and get queue places in the order
// they blocked, as many at once as places free. Map's workers, which keep
// their slots from input to input, give them back between batches when
// other tasks wait, and queue again behind them.
//
// # Guarantees
//
//   - Every future settles exactly once, with the function's value or an
//     error: its own, a *PanicError, ErrTimeout, ErrQueueTimeout, ErrClosed,
//     or its context's cause.
//   - Panics: one policy, applied where the function is called. A panic
//     never takes the process down: it becomes the task's *PanicError, with
//     the stack. WithPanicHandler adds what else should happen (log, count,
//     re-panic); the Default executor logs it, since nobody may await a
//     future of Go.
//   - A canceled future settles at once, even when its function ignores its
//     context. The call keeps its slot until it really returns, so the
//     limit stays honest; if it is still running when the grace has passed
//     (WithAbandonGrace, default AbandonGrace) it counts as abandoned in
//     Stats and in the Outcome observers see. A call that returns within
//     the grace is not abandoned.
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
