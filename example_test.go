package fanout_test

import (
	"context"
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
