package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/fanout-go/fanout"
)

// The seed article's story: three calls that each block for ~100 ms, like
// requests.get, overlap when handed to an executor and gathered.
func Example() {
	ctx := context.Background()
	ex := fanout.New(fanout.WithLimit(10))
	defer ex.Close()

	var running, most atomic.Int32
	statusCode := func(ctx context.Context, url string) (int, error) {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		defer running.Add(-1)
		time.Sleep(100 * time.Millisecond) // a blocking call, as requests.get is
		return 200, nil
	}

	var futures []*fanout.Future[int]
	for _, url := range []string{"http://a.example/", "http://b.example/", "http://c.example/"} {
		futures = append(futures, fanout.Submit(ctx, ex, func(ctx context.Context) (int, error) {
			return statusCode(ctx, url) // the closure binds url: functools.partial
		}, fanout.WithLabel(url)))
	}
	codes, err := fanout.Gather(ctx, futures...)
	fmt.Println(codes, err)
	fmt.Println("calls that overlapped:", most.Load())
	// Output:
	// [200 200 200] <nil>
	// calls that overlapped: 3
}

// Go is run_in_executor(None, ...): it submits to the package's Default
// executor.
func ExampleGo() {
	f := fanout.Go(context.Background(), func(ctx context.Context) (string, error) {
		return "done", nil
	})
	v, err := f.Await(context.Background())
	fmt.Println(v, err)
	// Output: done <nil>
}

// Map streams inputs through the executor and yields results in input
// order, holding at most the window in memory.
func ExampleMap() {
	ex := fanout.New(fanout.WithLimit(4))
	defer ex.Close()
	square := func(ctx context.Context, n int) (int, error) { return n * n, nil }
	for i, r := range fanout.Map(context.Background(), ex, slices.Values([]int{0, 1, 2, 3, 4}), square) {
		fmt.Println(i, r.Value, r.Err)
	}
	// Output:
	// 0 0 <nil>
	// 1 1 <nil>
	// 2 4 <nil>
	// 3 9 <nil>
	// 4 16 <nil>
}

// AsCompleted yields futures as they settle, with their index.
func ExampleAsCompleted() {
	ex := fanout.New()
	defer ex.Close()
	release := make(chan struct{})
	slow := fanout.Submit(context.Background(), ex, func(ctx context.Context) (string, error) {
		<-release
		return "slow", nil
	})
	fast := fanout.Submit(context.Background(), ex, func(ctx context.Context) (string, error) {
		return "fast", nil
	})
	for i, r := range fanout.AsCompleted(context.Background(), slow, fast) {
		fmt.Println(i, r.Value)
		if i == 1 {
			close(release) // only now may the slow one finish
		}
	}
	// Output:
	// 1 fast
	// 0 slow
}

// Retries honour a server's hint carried by the error.
func ExampleRetryAfter() {
	ex := fanout.New(fanout.WithRetry(fanout.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond}))
	defer ex.Close()
	calls := 0
	f := fanout.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
		calls++
		if calls == 1 {
			return 0, fanout.RetryAfter(fmt.Errorf("429 too many requests"), 10*time.Millisecond)
		}
		return 200, nil
	})
	v, err := f.Await(context.Background())
	fmt.Println(v, err, "after", calls, "calls")
	// Output: 200 <nil> after 2 calls
}

// GatherAll keeps every outcome, errors included, like asyncio.gather with
// return_exceptions=True.
func ExampleGatherAll() {
	ex := fanout.New()
	defer ex.Close()
	ctx := context.Background()
	half := func(n int) *fanout.Future[int] {
		return fanout.Submit(ctx, ex, func(ctx context.Context) (int, error) {
			if n%2 != 0 {
				return 0, fmt.Errorf("%d is odd", n)
			}
			return n / 2, nil
		})
	}
	for i, r := range fanout.GatherAll(ctx, half(4), half(3), half(10)) {
		fmt.Println(i, r.Value, r.Err)
	}
	// Output:
	// 0 2 <nil>
	// 1 0 3 is odd
	// 2 5 <nil>
}

// Cancel settles a future at once; a task still waiting for a slot never
// runs.
func ExampleFuture_Cancel() {
	ex := fanout.New(fanout.WithLimit(1))
	defer ex.Close()
	ctx := context.Background()
	release := make(chan struct{})
	busy := fanout.Submit(ctx, ex, func(ctx context.Context) (string, error) {
		<-release
		return "busy", nil
	})
	queued := fanout.Submit(ctx, ex, func(ctx context.Context) (string, error) {
		return "never runs", nil
	})
	queued.Cancel()
	_, err := queued.Await(ctx)
	fmt.Println(err)
	close(release)
	fmt.Println(busy.Await(ctx))
	// Output:
	// context canceled
	// busy <nil>
}

// A per-key limit caps the calls to one host, on top of the overall limit.
func ExampleWithKeyLimit() {
	ex := fanout.New(fanout.WithLimit(50), fanout.WithKeyLimit(2))
	defer ex.Close()
	var running, most atomic.Int32
	var fs []*fanout.Future[int]
	for range 10 {
		fs = append(fs, fanout.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			return 200, nil
		}, fanout.WithKey("api.example.com")))
	}
	fanout.Gather(context.Background(), fs...)
	fmt.Println("most at once for api.example.com:", most.Load())
	// Output: most at once for api.example.com: 2
}

// Stats counts what the executor did, abandoned calls included.
func ExampleExecutor_Stats() {
	ex := fanout.New()
	ctx := context.Background()
	fanout.Submit(ctx, ex, func(ctx context.Context) (int, error) { return 1, nil })
	fanout.Submit(ctx, ex, func(ctx context.Context) (int, error) { return 0, fmt.Errorf("no") })
	ex.Close()
	s := ex.Stats()
	fmt.Println(s.Submitted, s.Completed, s.Failed, s.Running)
	// Output: 2 1 1 0
}

// Shutdown cancels what is queued and running, and waits for it.
func ExampleExecutor_Shutdown() {
	ex := fanout.New(fanout.WithLimit(1))
	ctx := context.Background()
	started := make(chan struct{})
	running := fanout.Submit(ctx, ex, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done() // a well-behaved call returns when its context ends
		return 0, ctx.Err()
	})
	queued := fanout.Submit(ctx, ex, func(ctx context.Context) (int, error) { return 1, nil })
	<-started
	fmt.Println(ex.Shutdown(ctx))
	_, err1 := running.Await(ctx)
	_, err2 := queued.Await(ctx)
	fmt.Println(errors.Is(err1, fanout.ErrClosed), errors.Is(err2, context.Canceled))
	// Output:
	// <nil>
	// true true
}
