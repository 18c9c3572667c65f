package fanout

import (
	"context"
	"iter"
)

// settledIndexes returns a channel on which each future's index is sent
// when it settles, and a function that takes back the callbacks not run
// yet: call it when done waiting, so that long-lived futures do not keep
// them. The channel has room for every future, so the senders never block.
func settledIndexes[T any](fs []*Future[T]) (chan int, func()) {
	ch := make(chan int, len(fs))
	stops := make([]func() bool, len(fs))
	for i, f := range fs {
		stops[i] = f.t.watch(func() { ch <- i })
	}
	return ch, func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// Gather waits for every future and returns their values in argument order,
// like asyncio.gather. The first error, in time, cancels the other futures
// and is returned; the others' errors are then likely context.Canceled. If
// ctx ends before every future has settled, Gather returns ctx's cause and
// leaves the futures running; futures settled already count as settled,
// whenever ctx ended.
func Gather[T any](ctx context.Context, fs ...*Future[T]) ([]T, error) {
	ch, stop := settledIndexes(fs)
	defer stop()
	for range fs {
		i, ok := nextSettled(ctx, ch)
		if !ok {
			return nil, context.Cause(ctx)
		}
		if err := fs[i].t.err; err != nil {
			for _, f := range fs {
				f.Cancel()
			}
			return nil, err
		}
	}
	out := make([]T, len(fs))
	for i, f := range fs {
		out[i] = f.val
	}
	return out, nil
}

// GatherAll waits for every future and returns all their outcomes in
// argument order, errors included, like asyncio.gather with
// return_exceptions=True. If ctx ends first, the futures not yet settled get
// ctx's cause as their error and go on running.
func GatherAll[T any](ctx context.Context, fs ...*Future[T]) []Result[T] {
	out := make([]Result[T], len(fs))
	for i, f := range fs {
		v, err := f.Await(ctx)
		out[i] = Result[T]{Value: v, Err: err}
	}
	return out
}

// AsCompleted yields each future's index and outcome as it settles, in
// completion order, like asyncio.as_completed. Every future is yielded
// once: if ctx ends first, the rest are yielded at once, in argument order,
// those not settled with ctx's cause as their error (they go on running).
// Futures settled before ctx ended are yielded with their outcomes. Stopping
// the loop early cancels nothing.
func AsCompleted[T any](ctx context.Context, fs ...*Future[T]) iter.Seq2[int, Result[T]] {
	return func(yield func(int, Result[T]) bool) {
		ch, stop := settledIndexes(fs)
		defer stop()
		yielded := make([]bool, len(fs))
		for range fs {
			i, ok := nextSettled(ctx, ch)
			if !ok {
				for i := range fs {
					if yielded[i] {
						continue
					}
					r, settled := fs[i].Result()
					if !settled {
						r = Result[T]{Err: context.Cause(ctx)}
					}
					if !yield(i, r) {
						return
					}
				}
				return
			}
			yielded[i] = true
			r, _ := fs[i].Result()
			if !yield(i, r) {
				return
			}
		}
	}
}

// nextSettled returns the index of a future that settled, taking one that
// already has before looking at ctx: a select between the two would pick
// at random, and report ctx's end for futures settled long before it. ok
// is false when ctx ended with none settled.
func nextSettled(ctx context.Context, ch chan int) (i int, ok bool) {
	select {
	case i := <-ch:
		return i, true
	default:
	}
	select {
	case i := <-ch:
		return i, true
	case <-ctx.Done():
		return 0, false
	}
}
