package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fanout-go/fanout"
)

// gauge tracks how many calls run at once and the most seen.
type gauge struct {
	mu        sync.Mutex
	now, most int
	perKey    map[string]int
	mostKey   map[string]int
}

func (g *gauge) enter(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.now++
	g.most = max(g.most, g.now)
	if g.perKey == nil {
		g.perKey, g.mostKey = map[string]int{}, map[string]int{}
	}
	g.perKey[key]++
	g.mostKey[key] = max(g.mostKey[key], g.perKey[key])
}

func (g *gauge) leave(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.now--
	g.perKey[key]--
}

func (g *gauge) max() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.most
}

// waitFor polls cond until it holds; the test's own deadline bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLimitBoundsConcurrency(t *testing.T) {
	for _, limit := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			ex := fanout.New(fanout.WithLimit(limit))
			defer ex.Close()
			var g gauge
			var fs []*fanout.Future[int]
			for i := range 40 {
				fs = append(fs, fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
					g.enter("")
					defer g.leave("")
					time.Sleep(2 * time.Millisecond)
					return i, nil
				}))
			}
			got, err := fanout.Gather(t.Context(), fs...)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range got {
				if v != i {
					t.Fatalf("result %d = %d: Gather must keep argument order", i, v)
				}
			}
			if g.max() > limit {
				t.Fatalf("%d ran at once, limit %d", g.max(), limit)
			}
			if limit > 1 && g.max() < 2 {
				t.Fatalf("tasks never overlapped (most at once %d, limit %d)", g.max(), limit)
			}
			ex.Close()
			s := ex.Stats()
			if s.Completed != 40 || s.Running != 0 || s.Waiting != 0 || s.Submitted != 40 {
				t.Fatalf("stats after the run: %+v", s)
			}
		})
	}
}

// Without WithLimit, DefaultLimit tasks run at once and the next waits.
func TestDefaultLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New()
		release := make(chan struct{})
		var fs []*fanout.Future[string]
		for range fanout.DefaultLimit + 1 {
			fs = append(fs, fanout.Submit(t.Context(), ex, block(nil, release, "")))
		}
		synctest.Wait()
		if s := ex.Stats(); ex.Limit() != fanout.DefaultLimit || s.Running != fanout.DefaultLimit || s.Waiting != 1 {
			t.Fatalf("limit %d, stats %+v; want %d running, 1 waiting", ex.Limit(), s, fanout.DefaultLimit)
		}
		close(release)
		if _, err := fanout.Gather(t.Context(), fs...); err != nil {
			t.Fatal(err)
		}
		ex.Close()
	})
}

// block returns a task function that signals started and waits for release
// or its context.
func block(started chan<- string, release <-chan struct{}, name string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if started != nil {
			started <- name
		}
		select {
		case <-release:
			return name, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func TestQueueBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(1), fanout.WithQueue(1))
		defer ex.Close()
		release := make(chan struct{})
		started := make(chan string, 3)
		a := fanout.Submit(t.Context(), ex, block(started, release, "a"))
		<-started
		b := fanout.Submit(t.Context(), ex, block(started, release, "b")) // fills the queue
		if s := ex.Stats(); s.Running != 1 || s.Waiting != 1 {
			t.Fatalf("stats %+v, want 1 running 1 waiting", s)
		}

		// A third Submit blocks; when its context ends it returns a failed future.
		ctx, cancel := context.WithCancel(t.Context())
		submitted := make(chan *fanout.Future[string], 1)
		go func() { submitted <- fanout.Submit(ctx, ex, block(started, release, "c")) }()
		synctest.Wait()
		if len(submitted) != 0 {
			t.Fatal("Submit returned although the queue was full")
		}
		cancel()
		c := <-submitted
		if _, err := c.Await(t.Context()); !errors.Is(err, context.Canceled) {
			t.Fatalf("blocked Submit whose context ended: err %v, want context.Canceled", err)
		}

		// A blocked Submit goes on as soon as there is room.
		go func() { submitted <- fanout.Submit(t.Context(), ex, block(started, release, "d")) }()
		synctest.Wait()
		if len(submitted) != 0 {
			t.Fatal("Submit returned although the queue was full")
		}
		close(release)
		d := <-submitted
		for _, f := range []*fanout.Future[string]{a, b, d} {
			if _, err := f.Await(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if s := ex.Stats(); s.Canceled != 1 || s.Completed != 3 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestQueueZeroAdmitsOnlyWhatCanStart(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(2), fanout.WithQueue(0))
	defer ex.Close()
	release := make(chan struct{})
	fs := []*fanout.Future[string]{
		fanout.Submit(t.Context(), ex, block(nil, release, "a")),
		fanout.Submit(t.Context(), ex, block(nil, release, "b")),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := fanout.Submit(ctx, ex, block(nil, release, "c")).Await(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third Submit: %v, want its context's deadline", err)
	}
	close(release)
	if _, err := fanout.Gather(t.Context(), fs...); err != nil {
		t.Fatal(err)
	}
}

func TestRateSpacesStarts(t *testing.T) {
	const perSecond = 50 // one start every 20 ms after the burst of 1
	ex := fanout.New(fanout.WithLimit(10), fanout.WithRate(perSecond, 1))
	defer ex.Close()
	var mu sync.Mutex
	var starts []time.Time
	var fs []*fanout.Future[int]
	for range 5 {
		fs = append(fs, fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			return 0, nil
		}))
	}
	if _, err := fanout.Gather(t.Context(), fs...); err != nil {
		t.Fatal(err)
	}
	// A rate limit is a lower bound on spacing: slowness cannot break it.
	if span := starts[len(starts)-1].Sub(starts[0]); span < 4*time.Second/perSecond-5*time.Millisecond {
		t.Fatalf("5 starts within %v; a rate of %d/s needs at least %v", span, perSecond, 4*time.Second/perSecond)
	}
}

func TestTimeout(t *testing.T) {
	t.Run("honoured", func(t *testing.T) {
		ex := fanout.New(fanout.WithTimeout(10 * time.Millisecond))
		defer ex.Close()
		f := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		_, err := f.Await(t.Context())
		if !errors.Is(err, fanout.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want ErrTimeout matching DeadlineExceeded", err)
		}
		if ex.Stats().AbandonedTotal != 0 {
			t.Fatal("a function that honoured its context was counted abandoned")
		}
	})
	t.Run("ignored: abandoned, keeps its slot", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ex := fanout.New(fanout.WithLimit(1), fanout.WithTimeout(10*time.Millisecond))
			release := make(chan struct{})
			stuck := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
				<-release // ignores ctx, like a blocking call without a deadline
				return 1, nil
			})
			ran := make(chan struct{})
			next := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
				close(ran)
				return 2, nil
			})
			start := time.Now()
			if _, err := stuck.Await(t.Context()); !errors.Is(err, fanout.ErrTimeout) {
				t.Fatalf("err %v, want ErrTimeout", err)
			}
			if waited := time.Since(start); waited != 10*time.Millisecond+fanout.AbandonGrace {
				t.Fatalf("the future failed after %v, want the timeout plus the grace", waited)
			}
			if s := ex.Stats(); s.Abandoned != 1 || s.Running != 1 || s.AbandonedTotal != 1 {
				t.Fatalf("stats %+v: want the abandoned call to keep its slot", s)
			}
			synctest.Wait()
			select {
			case <-ran:
				t.Fatal("a task started while the abandoned call still held the only slot")
			default:
			}
			close(release)
			if v, err := next.Await(t.Context()); v != 2 || err != nil {
				t.Fatalf("next task: %v %v", v, err)
			}
			ex.Close()
			if s := ex.Stats(); s.Abandoned != 0 {
				t.Fatalf("stats %+v after the call returned", s)
			}
		})
	})
}

func TestQueueTimeout(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(1), fanout.WithQueueTimeout(20*time.Millisecond), fanout.WithTimeout(time.Hour))
	defer ex.Close()
	release := make(chan struct{})
	a := fanout.Submit(t.Context(), ex, block(nil, release, "a"))
	var ran atomic.Bool
	b := fanout.Submit(t.Context(), ex, func(ctx context.Context) (string, error) {
		ran.Store(true)
		return "b", nil
	})
	if _, err := b.Await(t.Context()); !errors.Is(err, fanout.ErrQueueTimeout) {
		t.Fatalf("err %v, want ErrQueueTimeout", err)
	}
	close(release)
	if _, err := a.Await(t.Context()); err != nil {
		t.Fatalf("the running task must not be touched by another's queue timeout: %v", err)
	}
	if ran.Load() {
		t.Fatal("a task that timed out in the queue ran")
	}
	if s := ex.Stats(); s.Failed != 1 || s.Completed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestKeyLimit(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(10), fanout.WithKeyLimit(2))
	defer ex.Close()
	var g gauge
	var fs []*fanout.Future[int]
	for i := range 30 {
		key := []string{"a.example", "b.example", "c.example"}[i%3]
		fs = append(fs, fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			g.enter(key)
			defer g.leave(key)
			time.Sleep(3 * time.Millisecond)
			return i, nil
		}, fanout.WithKey(key)))
	}
	// Tasks without a key are not limited by it.
	for range 4 {
		fs = append(fs, fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			g.enter("")
			defer g.leave("")
			time.Sleep(3 * time.Millisecond)
			return 0, nil
		}))
	}
	if _, err := fanout.Gather(t.Context(), fs...); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a.example", "b.example", "c.example"} {
		if g.mostKey[k] > 2 {
			t.Fatalf("key %s ran %d at once, key limit 2", k, g.mostKey[k])
		}
	}
	if g.max() > 10 {
		t.Fatalf("%d at once, limit 10", g.max())
	}
	if g.max() < 3 {
		t.Fatalf("different keys never overlapped (most %d)", g.max())
	}
}

func TestKeyLimitQueueTimeoutAndCancel(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(4), fanout.WithKeyLimit(1), fanout.WithQueueTimeout(15*time.Millisecond))
	defer ex.Close()
	release := make(chan struct{})
	a := fanout.Submit(t.Context(), ex, block(nil, release, "a"), fanout.WithKey("h"))
	b := fanout.Submit(t.Context(), ex, block(nil, release, "b"), fanout.WithKey("h"))
	c := fanout.Submit(t.Context(), ex, block(nil, release, "c"), fanout.WithKey("h"))
	c.Cancel()
	if _, err := c.Await(t.Context()); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled waiting task: %v", err)
	}
	if _, err := b.Await(t.Context()); !errors.Is(err, fanout.ErrQueueTimeout) {
		t.Fatalf("task waiting on its key: %v, want ErrQueueTimeout", err)
	}
	close(release)
	if _, err := a.Await(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The key is free again.
	if v, err := fanout.Submit(t.Context(), ex, block(nil, release, "d"), fanout.WithKey("h")).Await(t.Context()); v != "d" || err != nil {
		t.Fatalf("after the queue emptied: %q %v", v, err)
	}
}

func TestRetry(t *testing.T) {
	errFlaky := errors.New("flaky")
	tests := []struct {
		name      string
		policy    fanout.RetryPolicy
		fail      func(call int) error
		wantCalls int
		wantErr   error
	}{
		{"succeeds on the third call", fanout.RetryPolicy{MaxAttempts: 5}, func(c int) error {
			if c < 3 {
				return errFlaky
			}
			return nil
		}, 3, nil},
		{"gives up after MaxAttempts", fanout.RetryPolicy{MaxAttempts: 3}, func(int) error { return errFlaky }, 3, errFlaky},
		{"zero policy never retries", fanout.RetryPolicy{}, func(int) error { return errFlaky }, 1, errFlaky},
		{"predicate says no", fanout.RetryPolicy{MaxAttempts: 3, Retryable: func(err error) bool { return false }}, func(int) error { return errFlaky }, 1, errFlaky},
		{"permanent is never retried", fanout.RetryPolicy{MaxAttempts: 3}, func(int) error { return fanout.Permanent(errFlaky) }, 1, errFlaky},
		{"a panic is never retried", fanout.RetryPolicy{MaxAttempts: 3}, func(int) error { panic("boom") }, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			p.InitialBackoff = time.Millisecond
			ex := fanout.New(fanout.WithRetry(p))
			defer ex.Close()
			var calls atomic.Int32
			_, err := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
				return 0, tt.fail(int(calls.Add(1)))
			}).Await(t.Context())
			if int(calls.Load()) != tt.wantCalls {
				t.Fatalf("%d calls, want %d", calls.Load(), tt.wantCalls)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) || tt.wantErr == nil && tt.wantCalls == 3 && err != nil {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			var pe *fanout.PanicError
			if strings.HasPrefix(tt.name, "a panic") && (!errors.As(err, &pe) || pe.Value != "boom") {
				t.Fatalf("err %v, want the *PanicError of boom", err)
			}
		})
	}
}

func TestRetryHonoursRetryAfterAndFreesTheSlot(t *testing.T) {
	const hint = 60 * time.Millisecond
	ex := fanout.New(fanout.WithLimit(1), fanout.WithRetry(fanout.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond}))
	defer ex.Close()
	var mu sync.Mutex
	var events []string
	var times []time.Time
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, s)
		times = append(times, time.Now())
	}
	calls := 0
	a := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
		calls++
		note(fmt.Sprint("a", calls))
		if calls == 1 {
			return 0, fanout.RetryAfter(errors.New("429"), hint)
		}
		return 200, nil
	})
	b := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
		note("b")
		return 200, nil
	})
	if _, err := fanout.Gather(t.Context(), a, b); err != nil {
		t.Fatal(err)
	}
	if strings.Join(events, " ") != "a1 b a2" {
		t.Fatalf("events %v: b should run while a waits out its backoff", events)
	}
	if gap := times[2].Sub(times[0]); gap < hint {
		t.Fatalf("retried after %v, the server asked for %v", gap, hint)
	}
}

func TestRetryBackoffBounds(t *testing.T) {
	p := fanout.RetryPolicy{MaxAttempts: 10, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxRetryAfter: 2 * time.Second}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 9: time.Second} {
		for range 50 {
			d := p.Backoff(attempt, errors.New("x"))
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
	// A cap of the largest duration: doubling overflowed from attempt 35
	// on (a panic in rand.N) and gave 0 from attempt 60.
	huge := fanout.RetryPolicy{MaxAttempts: 100, InitialBackoff: time.Second, MaxBackoff: time.Duration(1<<63 - 1)}
	for _, attempt := range []int{34, 35, 60, 100} {
		if d := huge.Backoff(attempt, errors.New("x")); d < time.Second<<32 {
			t.Errorf("attempt %d under a cap of the largest duration: backoff %v", attempt, d)
		}
	}
	if d := p.Backoff(1, fanout.RetryAfter(errors.New("x"), 5*time.Second)); d != 2*time.Second {
		t.Fatalf("hint above MaxRetryAfter: %v, want the cap 2s", d)
	}
	if d := p.Backoff(1, fmt.Errorf("wrapped: %w", fanout.RetryAfter(errors.New("x"), 1500*time.Millisecond))); d != 1500*time.Millisecond {
		t.Fatalf("wrapped hint: %v, want 1.5s", d)
	}
}

func TestPanicBecomesError(t *testing.T) {
	ex := fanout.New()
	defer ex.Close()
	sentinel := errors.New("inner")
	for _, v := range []any{"boom", sentinel} {
		_, err := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			panicky(v)
			return 0, nil
		}).Await(t.Context())
		var pe *fanout.PanicError
		if !errors.As(err, &pe) || pe.Value != v {
			t.Fatalf("err %v, want *PanicError with %v", err, v)
		}
		if !strings.Contains(string(pe.Stack), "panicky") {
			t.Fatalf("stack does not show the panicking function:\n%s", pe.Stack)
		}
		if v == sentinel && !errors.Is(err, sentinel) {
			t.Fatal("a panic with an error value must unwrap to it")
		}
	}
	ex.Close()
	if s := ex.Stats(); s.Failed != 2 || s.Running != 0 {
		t.Fatalf("stats %+v", s)
	}
}

//go:noinline
func panicky(v any) { panic(v) }

func TestGoexitSettles(t *testing.T) {
	ex := fanout.New()
	defer ex.Close()
	_, err := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
		runtime.Goexit()
		return 0, nil
	}).Await(t.Context())
	if err == nil || !strings.Contains(err.Error(), "Goexit") {
		t.Fatalf("err %v", err)
	}
}

func TestCancel(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(1))
	defer ex.Close()
	release := make(chan struct{})
	started := make(chan string, 2)
	running := fanout.Submit(t.Context(), ex, block(started, release, "running"))
	<-started
	var ran atomic.Bool
	waiting := fanout.Submit(t.Context(), ex, func(ctx context.Context) (string, error) {
		ran.Store(true)
		return "", nil
	})
	waiting.Cancel()
	running.Cancel()
	for _, f := range []*fanout.Future[string]{waiting, running} {
		if _, err := f.Await(t.Context()); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	}
	ex.Close()
	if ran.Load() {
		t.Fatal("a task canceled while waiting ran")
	}
	if s := ex.Stats(); s.Canceled != 2 || s.Abandoned != 0 || s.AbandonedTotal != 0 || s.Running != 0 {
		t.Fatalf("stats %+v: the running task honoured its context and returned", s)
	}
	running.Cancel() // canceling a settled future changes nothing
}

func TestSubmitContextCancelsTask(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(1))
	defer ex.Close()
	ctx, cancel := context.WithCancelCause(t.Context())
	started := make(chan string, 1)
	a := fanout.Submit(ctx, ex, block(started, nil, "a"))
	b := fanout.Submit(ctx, ex, block(nil, nil, "b"))
	<-started
	cause := errors.New("user gave up")
	cancel(cause)
	for _, f := range []*fanout.Future[string]{a, b} {
		if _, err := f.Await(t.Context()); !errors.Is(err, cause) {
			t.Fatalf("err %v, want the context's cause", err)
		}
	}
	// A context that has ended already gives a failed future at once.
	if _, err := fanout.Submit(ctx, ex, block(nil, nil, "c")).Await(t.Context()); !errors.Is(err, cause) {
		t.Fatalf("err %v", err)
	}
}

func TestAwaitReturnsWhenItsContextEnds(t *testing.T) {
	ex := fanout.New()
	release := make(chan struct{})
	f := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
		<-release // ignores its context
		return 7, nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := f.Await(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	// The task goes on: Await's context bounds the wait, not the work.
	close(release)
	if v, err := f.Await(t.Context()); v != 7 || err != nil {
		t.Fatalf("%v %v", v, err)
	}
	ex.Close()
}

func TestAbandonedCallKeepsLimitHonest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(1))
		release, started := make(chan struct{}), make(chan struct{})
		stuck := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			close(started)
			<-release
			return 1, nil
		})
		<-started
		stuck.Cancel()
		if _, err := stuck.Await(t.Context()); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		time.Sleep(fanout.AbandonGrace)
		synctest.Wait()
		if s := ex.Stats(); s.Abandoned != 1 || s.Running != 1 {
			t.Fatalf("stats %+v", s)
		}
		next := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) { return 2, nil })
		synctest.Wait()
		if _, ok := next.Result(); ok {
			t.Fatal("a task ran while an abandoned call held the only slot")
		}
		close(release)
		if v, _ := next.Await(t.Context()); v != 2 {
			t.Fatal("next task did not run")
		}
		ex.Close()
		if s := ex.Stats(); s.Abandoned != 0 || s.AbandonedTotal != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestCloseWaitsAndRejects(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(1))
	var done atomic.Int32
	for range 5 {
		fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			time.Sleep(time.Millisecond)
			done.Add(1)
			return 0, nil
		})
	}
	ex.Close()
	if done.Load() != 5 {
		t.Fatalf("Close returned with %d of 5 queued tasks done", done.Load())
	}
	if _, err := fanout.Submit(t.Context(), ex, block(nil, nil, "late")).Await(t.Context()); !errors.Is(err, fanout.ErrClosed) {
		t.Fatalf("Submit after Close: %v", err)
	}
	ex.Close() // idempotent
}

func TestCloseWakesBlockedSubmit(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(1), fanout.WithQueue(0))
	release := make(chan struct{})
	a := fanout.Submit(t.Context(), ex, block(nil, release, "a"))
	got := make(chan error)
	go func() {
		_, err := fanout.Submit(t.Context(), ex, block(nil, release, "b")).Await(t.Context())
		got <- err
	}()
	waitFor(t, "Submit to block", func() bool { return ex.Stats().Submitted == 2 })
	closed := make(chan struct{})
	go func() { ex.Close(); close(closed) }()
	if err := <-got; !errors.Is(err, fanout.ErrClosed) {
		t.Fatalf("blocked Submit during Close: %v", err)
	}
	close(release)
	<-closed
	if _, err := a.Await(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestShutdown(t *testing.T) {
	t.Run("cancels running and queued", func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(2), fanout.WithRetry(fanout.RetryPolicy{MaxAttempts: 5, InitialBackoff: time.Hour}))
		started := make(chan string, 3)
		var fs []*fanout.Future[string]
		for i := range 5 {
			fs = append(fs, fanout.Submit(t.Context(), ex, block(started, nil, fmt.Sprint(i))))
		}
		backingOff := fanout.Submit(t.Context(), ex, func(ctx context.Context) (string, error) {
			return "", errors.New("retry me")
		})
		<-started
		<-started
		if err := ex.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(started) != 0 {
			t.Fatalf("a queued task started during Shutdown: %s", <-started)
		}
		for _, f := range append(fs, backingOff) {
			_, err := f.Await(t.Context())
			if !errors.Is(err, fanout.ErrClosed) || !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want ErrClosed and context.Canceled", err)
			}
		}
	})
	t.Run("gives up at its context", func(t *testing.T) {
		ex := fanout.New()
		release, started := make(chan struct{}), make(chan struct{})
		f := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			close(started)
			<-release
			return 0, nil
		})
		<-started
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		if err := ex.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v", err)
		}
		if _, err := f.Await(t.Context()); !errors.Is(err, fanout.ErrClosed) {
			t.Fatalf("abandoned future: %v", err)
		}
		close(release)
		ex.Close() // waits for the abandoned call
	})
}

func TestSetLimit(t *testing.T) {
	lo := &limitLog{}
	ex := fanout.New(fanout.WithLimit(1), fanout.WithObserver(lo))
	defer ex.Close()
	release := make(chan struct{})
	started := make(chan string, 4)
	var fs []*fanout.Future[string]
	for i := range 4 {
		fs = append(fs, fanout.Submit(t.Context(), ex, block(started, release, fmt.Sprint(i))))
	}
	<-started
	ex.SetLimit(4) // raising it starts the waiting tasks at once
	for range 3 {
		<-started
	}
	if s := ex.Stats(); s.Running != 4 || s.Limit != 4 {
		t.Fatalf("stats %+v", s)
	}
	ex.SetLimit(2)
	close(release)
	if _, err := fanout.Gather(t.Context(), fs...); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(lo.limits) != "[1 4 2]" {
		t.Fatalf("LimitChanged saw %v", lo.limits)
	}
}

type limitLog struct {
	nopObserver
	mu     sync.Mutex
	limits []int
}

func (l *limitLog) LimitChanged(n int, _ time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits = append(l.limits, n)
}

type nopObserver = fanout.NopObserver

// eventLog records every hook call as text.
type eventLog struct {
	mu     sync.Mutex
	events map[uint64][]string
}

func (l *eventLog) add(id uint64, s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.events == nil {
		l.events = map[uint64][]string{}
	}
	l.events[id] = append(l.events[id], s)
}
func (l *eventLog) TaskQueued(t fanout.TaskInfo, _ time.Time) { l.add(t.ID, "queued "+t.Label) }
func (l *eventLog) AttemptStarted(t fanout.TaskInfo, a int, _ time.Time) {
	l.add(t.ID, fmt.Sprint("start ", a))
}
func (l *eventLog) AttemptFinished(t fanout.TaskInfo, a int, err error, _ time.Time) {
	l.add(t.ID, fmt.Sprint("end ", a, " ", err != nil))
}
func (l *eventLog) TaskFinished(t fanout.TaskInfo, o fanout.Outcome, _ time.Time) {
	l.add(t.ID, fmt.Sprintf("finished attempts=%d err=%v abandoned=%v", o.Attempts, o.Err != nil, o.Abandoned))
}

func TestObserverSeesEveryStep(t *testing.T) {
	log := &eventLog{}
	ex := fanout.New(fanout.WithObserver(log), fanout.WithRetry(fanout.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond}))
	calls := 0
	f := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
		calls++
		if calls == 1 {
			return 0, errors.New("once")
		}
		return 1, nil
	}, fanout.WithLabel("x"))
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	g := fanout.Submit(canceled, ex, func(ctx context.Context) (int, error) { return 0, nil }, fanout.WithLabel("y"))
	if _, err := f.Await(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-g.Done()
	ex.Close()
	want := map[uint64]string{
		1: "queued x|start 1|end 1 true|start 2|end 2 false|finished attempts=2 err=false abandoned=false",
		2: "queued y|finished attempts=0 err=true abandoned=false",
	}
	for id, w := range want {
		if got := strings.Join(log.events[id], "|"); got != w {
			t.Fatalf("task %d events:\n got %s\nwant %s", id, got, w)
		}
	}
}

func TestObserverSeesAbandon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &eventLog{}
		ex := fanout.New(fanout.WithObserver(log))
		release, started := make(chan struct{}), make(chan struct{})
		f := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			close(started)
			<-release
			return 0, nil
		})
		<-started
		f.Cancel()
		time.Sleep(fanout.AbandonGrace) // the call ignores its context past the grace
		synctest.Wait()
		close(release)
		ex.Close()
		if got := strings.Join(log.events[1], "|"); got != "queued |start 1|end 1 false|finished attempts=1 err=true abandoned=true" {
			t.Fatalf("events %s", got)
		}
	})
}

func TestTaskContextDerivesFromSubmitContext(t *testing.T) {
	type key struct{}
	ex := fanout.New()
	defer ex.Close()
	ctx := context.WithValue(t.Context(), key{}, "v")
	v, err := fanout.Submit(ctx, ex, func(ctx context.Context) (string, error) {
		// A context derived from the task's one is canceled with it.
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		if child.Err() != nil {
			return "", errors.New("child born canceled")
		}
		s, _ := ctx.Value(key{}).(string)
		return s, nil
	}).Await(t.Context())
	if v != "v" || err != nil {
		t.Fatalf("%q %v", v, err)
	}

	started := make(chan struct{})
	childDone := make(chan error, 1)
	f := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
		child, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		close(started)
		<-child.Done()
		childDone <- child.Err()
		return 0, nil
	})
	<-started
	f.Cancel()
	if err := <-childDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("child of a canceled task: %v", err)
	}
}

func TestGo(t *testing.T) {
	v, err := fanout.Go(t.Context(), func(ctx context.Context) (int, error) { return 42, nil }, fanout.WithLabel("answer")).Await(t.Context())
	if v != 42 || err != nil {
		t.Fatalf("%v %v", v, err)
	}
	if a, b := fanout.Default(), fanout.Default(); a != b {
		t.Fatal("Default must be one executor")
	}
}

// sliceCtx is a context that cannot be a map key (a struct holding a slice).
type sliceCtx struct {
	context.Context
	tags []string
}

func TestSubmitContextsSharedAndUncomparable(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(2))
	defer ex.Close()
	ctx, cancel := context.WithCancel(t.Context())
	odd := sliceCtx{Context: ctx, tags: []string{"x"}}
	var fs []*fanout.Future[string]
	for i := range 6 {
		c := context.Context(ctx)
		if i%2 == 1 {
			c = odd
		}
		fs = append(fs, fanout.Submit(c, ex, block(nil, nil, fmt.Sprint(i))))
	}
	// One task finishes before the cancel: the others still share the watch.
	done := fanout.Submit(ctx, ex, func(context.Context) (string, error) { return "ok", nil })
	cancel()
	for i, f := range fs {
		if _, err := f.Await(t.Context()); !errors.Is(err, context.Canceled) {
			t.Fatalf("task %d: %v", i, err)
		}
	}
	if v, err := done.Await(t.Context()); err != nil && !errors.Is(err, context.Canceled) || err == nil && v != "ok" {
		t.Fatalf("%q %v", v, err)
	}
}

func TestShutdownCancelsTasksOfUncomparableContexts(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(1))
	ctx := sliceCtx{Context: t.Context(), tags: []string{"x"}}
	started := make(chan string, 2)
	a := fanout.Submit(ctx, ex, block(started, nil, "a"))
	b := fanout.Submit(ctx, ex, block(started, nil, "b"))
	<-started
	if err := ex.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*fanout.Future[string]{a, b} {
		if _, err := f.Await(t.Context()); !errors.Is(err, fanout.ErrClosed) {
			t.Fatalf("err %v", err)
		}
	}
	if len(started) != 0 {
		t.Fatal("the queued task started during Shutdown")
	}
}
