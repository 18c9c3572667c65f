package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fanout-go/fanout"
)

// The seed article's story: three blocking calls, like requests.get,
// overlap when handed to an executor and gathered. Each call here blocks
// until all three have started, which only calls that overlap can do.
func Example() {
	ctx := context.Background()
	ex := fanout.New(fanout.WithLimit(10))
	defer ex.Close()

	var started sync.WaitGroup
	started.Add(3)
	statusCode := func(ctx context.Context, url string) (int, error) {
		started.Done()
		started.Wait() // a blocking call, as requests.get is
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
	// Output:
	// [200 200 200] <nil>
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

// Map streams inputs through the executor and yields each input with its
// result, in input order, holding at most the window in memory.
func ExampleMap() {
	ex := fanout.New(fanout.WithLimit(4))
	defer ex.Close()
	square := func(ctx context.Context, n int) (int, error) { return n * n, nil }
	for n, r := range fanout.Map(context.Background(), ex, slices.Values([]int{3, 1, 4, 1, 5}), square) {
		fmt.Println(n, r.Value, r.Err)
	}
	// Output:
	// 3 9 <nil>
	// 1 1 <nil>
	// 4 16 <nil>
	// 1 1 <nil>
	// 5 25 <nil>
}

// TrySubmit never blocks: with the queue full it says no, like errgroup's
// TryGo, and the caller may shed the load.
func ExampleTrySubmit() {
	ex := fanout.New(fanout.WithLimit(1), fanout.WithQueue(0))
	defer ex.Close()
	release := make(chan struct{})
	busy := func(ctx context.Context) (string, error) { <-release; return "done", nil }
	first, ok1 := fanout.TrySubmit(context.Background(), ex, busy)
	_, ok2 := fanout.TrySubmit(context.Background(), ex, busy)
	fmt.Println(ok1, ok2)
	close(release)
	fmt.Println(first.Await(context.Background()))
	// Output:
	// true false
	// done <nil>
}

// A Group is errgroup on an executor: tasks without values, the first
// error cancels the others and is what Wait returns.
func ExampleNewGroup() {
	ex := fanout.New(fanout.WithLimit(8))
	defer ex.Close()
	g, ctx := fanout.NewGroup(context.Background(), ex)
	for _, name := range []string{"a.txt", "b.txt", "missing.txt"} {
		g.Go(func(ctx context.Context) error {
			if name == "missing.txt" {
				return fmt.Errorf("open %s: %w", name, errors.ErrUnsupported)
			}
			<-ctx.Done() // a long job, stopped by the failure
			return ctx.Err()
		}, fanout.WithLabel(name))
	}
	fmt.Println(g.Wait())
	fmt.Println(context.Cause(ctx))
	// Output:
	// open missing.txt: unsupported operation
	// open missing.txt: unsupported operation
}

// Wait waits until the executor is idle, without closing it.
func ExampleExecutor_Wait() {
	ex := fanout.New()
	defer ex.Close()
	var done atomic.Int32
	for range 10 {
		fanout.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
			done.Add(1)
			return 0, nil
		})
	}
	if err := ex.Wait(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(done.Load(), "done")
	// Output: 10 done
}

// Per-task options: tasks with their own timeout and retries share one
// executor and its limit with the rest.
func ExampleWithTaskTimeout() {
	ex := fanout.New(fanout.WithLimit(10), fanout.WithTimeout(time.Minute))
	defer ex.Close()
	ctx := context.Background()
	quick := fanout.Submit(ctx, ex, func(ctx context.Context) (int, error) {
		<-ctx.Done() // never answers: its own 10 ms timeout ends it
		return 0, ctx.Err()
	}, fanout.WithTaskTimeout(10*time.Millisecond))
	calls := 0
	flaky := fanout.Submit(ctx, ex, func(ctx context.Context) (int, error) {
		if calls++; calls < 3 {
			return 0, errors.New("try again")
		}
		return calls, nil
	}, fanout.WithTaskRetry(fanout.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond}))
	_, err := quick.Await(ctx)
	fmt.Println(errors.Is(err, fanout.ErrTimeout))
	fmt.Println(flaky.Await(ctx))
	// Output:
	// true
	// 3 <nil>
}

// A panic handler decides what else a panic does: here it is counted. The
// panic is the task's error either way.
func ExampleWithPanicHandler() {
	var panics atomic.Int32
	ex := fanout.New(fanout.WithPanicHandler(func(t fanout.TaskInfo, p *fanout.PanicError) {
		panics.Add(1) // or log p.Stack, or panic(p) to crash as a bare goroutine would
	}))
	f := fanout.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
		panic("unexpected state") // a bug
	})
	ex.Close()
	_, err := f.Await(context.Background())
	fmt.Println(panics.Load(), err)
	// Output: 1 fanout: task panicked: unexpected state
}

// startCounter is an Observer that implements one hook: NopObserver
// supplies the others.
type startCounter struct {
	fanout.NopObserver
	n atomic.Int32
}

func (c *startCounter) AttemptStarted(fanout.TaskInfo, int, time.Time) { c.n.Add(1) }

func ExampleNopObserver() {
	c := &startCounter{}
	ex := fanout.New(fanout.WithObserver(c))
	for range 3 {
		fanout.Submit(context.Background(), ex, func(ctx context.Context) (int, error) { return 0, nil })
	}
	ex.Close()
	fmt.Println(c.n.Load(), "attempts started")
	// Output: 3 attempts started
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
// Each call here waits for a partner, so calls run two at a time exactly
// when the key limit lets two run.
func ExampleWithKeyLimit() {
	ex := fanout.New(fanout.WithLimit(50), fanout.WithKeyLimit(2))
	defer ex.Close()
	var running, most atomic.Int32
	pair := make(chan struct{})
	var fs []*fanout.Future[int]
	for range 10 {
		fs = append(fs, fanout.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			select { // meet the other running call
			case pair <- struct{}{}:
			case <-pair:
			}
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

// One host stops answering while its URLs, mixed with another host's, wait
// for its per-key slot: they count against Map's key backlog, not its
// window of 2, so the other host's URLs are all checked meanwhile.
func ExampleWithKeyBacklog() {
	ex := fanout.New(fanout.WithLimit(4), fanout.WithKeyLimit(1))
	defer ex.Close()
	var urls []string
	for i := range 6 {
		urls = append(urls, fmt.Sprintf("slow.example/%d", i), fmt.Sprintf("fast.example/%d", i))
	}
	host := func(url string) string { h, _, _ := strings.Cut(url, "/"); return h }
	unblock := make(chan struct{})
	check := func(ctx context.Context, url string) (int, error) {
		if host(url) == "slow.example" {
			<-unblock // until every fast URL has been checked
		}
		return 200, nil
	}
	byHost := fanout.WithTaskOptions(func(_ int, url string) []fanout.TaskOption {
		return []fanout.TaskOption{fanout.WithKey(host(url))}
	})
	seen := map[string]int{}
	for url := range fanout.MapUnordered(context.Background(), ex, slices.Values(urls), check,
		fanout.WithWindow(2), fanout.WithKeyBacklog(100), byHost) {
		seen[host(url)]++
		if seen["fast.example"] == 6 && seen["slow.example"] == 0 {
			fmt.Println("all 6 fast.example URLs checked while slow.example hung")
			close(unblock)
		}
	}
	fmt.Println("then slow.example:", seen["slow.example"])
	// Output:
	// all 6 fast.example URLs checked while slow.example hung
	// then slow.example: 6
}
