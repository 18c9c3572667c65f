package fanout_test

import (
	"context"
	"errors"
	"iter"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fanout-go/fanout"
)

// Regression tests for the defects of issue 10, each failing on the code
// before its fix. Where time or scheduling decides the outcome they run in
// a synctest bubble: its clock is fake and synctest.Wait returns once every
// goroutine of the test is blocked, so "nothing else happens" is a fact,
// not a guess over a time window.

// anyCtx has a comparable type (an interface field) but may hold a value
// that is not: a slice.
type anyCtx struct {
	context.Context
	tag any
}

// Defect 1: grouping tasks by a context that cannot be a map key panicked
// under the executor's lock, and every later call hung.
func TestSubmitWithAnUnhashableContextValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(1))
		ctx, cancel := context.WithCancelCause(context.Background())
		odd := anyCtx{ctx, []int{1}}
		started := make(chan string, 2)
		a := fanout.Submit(odd, ex, block(started, nil, "a"))
		b := fanout.Submit(anyCtx{ctx, []int{2}}, ex, block(started, nil, "b"))
		<-started
		if s := ex.Stats(); s.Running != 1 || s.Waiting != 1 {
			t.Fatalf("stats %+v", s)
		}
		cause := errors.New("stop")
		cancel(cause)
		for _, f := range []*fanout.Future[string]{a, b} {
			if _, err := f.Await(context.Background()); !errors.Is(err, cause) {
				t.Fatalf("err %v, want the context's cause", err)
			}
		}
		ex.Close()
	})
}

// Defect 2: a call that returns as soon as its context ends is not
// abandoned; one still running when the grace ran out is.
func TestCancelIsAbandonOnlyAfterTheGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &eventLog{}
		ex := fanout.New(fanout.WithObserver(log))
		started := make(chan string, 1)
		f := fanout.Submit(context.Background(), ex, block(started, nil, "honours"))
		<-started
		f.Cancel()
		synctest.Wait()
		release := make(chan struct{})
		g := fanout.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
			started <- "ignores"
			<-release
			return 0, nil
		})
		<-started
		g.Cancel()
		time.Sleep(fanout.AbandonGrace - time.Millisecond)
		synctest.Wait()
		if s := ex.Stats(); s.Abandoned != 0 || s.AbandonedTotal != 0 {
			t.Fatalf("within the grace: %+v, want nothing abandoned", s)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if s := ex.Stats(); s.Abandoned != 1 || s.AbandonedTotal != 1 {
			t.Fatalf("after the grace: %+v, want one abandoned", s)
		}
		close(release)
		ex.Close()
		if s := ex.Stats(); s.Abandoned != 0 || s.AbandonedTotal != 1 || s.Canceled != 2 {
			t.Fatalf("at the end: %+v", s)
		}
		if got := log.last(1); got != "finished attempts=1 err=true abandoned=false" {
			t.Errorf("the call that honoured its context: %s", got)
		}
		if got := log.last(2); got != "finished attempts=1 err=true abandoned=true" {
			t.Errorf("the call that ignored it: %s", got)
		}
	})
}

// Defect 3: when several places free at once, every blocked Submit that
// fits goes on.
func TestRaisingTheLimitAdmitsEveryBlockedSubmit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(1), fanout.WithQueue(0))
		release := make(chan struct{})
		first := fanout.Submit(context.Background(), ex, block(nil, release, "first"))
		fs := make(chan *fanout.Future[string], 3)
		for range 3 {
			go func() { fs <- fanout.Submit(context.Background(), ex, block(nil, release, "blocked")) }()
		}
		synctest.Wait()
		if len(fs) != 0 {
			t.Fatal("Submit returned although nothing could start")
		}
		ex.SetLimit(4)
		synctest.Wait()
		if len(fs) != 3 || ex.Stats().Running != 4 {
			t.Fatalf("%d of 3 blocked Submits returned, %d running; want all, 4", len(fs), ex.Stats().Running)
		}
		close(release)
		first.Await(context.Background())
		ex.Close()
	})
}

// Defect 3, fairness: a Submit blocked on a busy key does not hold back a
// Submit for another key that can start at once.
func TestABlockedKeyDoesNotHoldBackOtherKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(4), fanout.WithQueue(0), fanout.WithKeyLimit(1))
		release := make(chan struct{})
		a1 := fanout.Submit(context.Background(), ex, block(nil, release, "a1"), fanout.WithKey("a"))
		a2 := make(chan *fanout.Future[string], 1)
		go func() { a2 <- fanout.Submit(context.Background(), ex, block(nil, release, "a2"), fanout.WithKey("a")) }()
		synctest.Wait()
		b := make(chan *fanout.Future[string], 1)
		go func() { b <- fanout.Submit(context.Background(), ex, block(nil, release, "b"), fanout.WithKey("b")) }()
		synctest.Wait()
		if len(b) != 1 || len(a2) != 0 {
			t.Fatalf("key b admitted: %v, key a's second admitted: %v; want true, false", len(b) == 1, len(a2) == 1)
		}
		close(release)
		a1.Await(context.Background())
		(<-a2).Await(context.Background())
		ex.Close()
	})
}

// Defect 4: Map returns when the loop breaks or its context ends although
// its input is blocked.
func TestMapStopsWhileItsInputBlocks(t *testing.T) {
	for _, how := range []string{"break", "cancel"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ex := fanout.New()
				more := make(chan int)
				in := func(yield func(int) bool) {
					for v := range more {
						if !yield(v) {
							return
						}
					}
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan int)
				go func() {
					n := 0
					for _, r := range fanout.Map(ctx, ex, in, func(_ context.Context, v int) (int, error) { return v, nil }) {
						n++
						if r.Err == nil && how == "break" {
							break
						}
						if r.Err == nil {
							cancel()
						}
					}
					done <- n
				}()
				more <- 1
				synctest.Wait()
				select {
				case n := <-done:
					if n != 1 {
						t.Errorf("%d results, want 1", n)
					}
				default:
					t.Error("Map did not return while its input was blocked")
				}
				close(more) // the input's goroutine ends now, as it must
				cancel()
				ex.Close()
			})
		})
	}
}

// Defect 5: Shutdown of an idle executor succeeds whatever its context.
func TestShutdownOfAnIdleExecutorWithAnEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for range 100 {
		if err := fanout.New().Shutdown(ctx); err != nil {
			t.Fatalf("idle executor: %v", err)
		}
	}
}

// Defect 6: a rate-limit wait that the caller's deadline cuts short is a
// deadline, counted as a cancellation.
func TestRateWaitPastTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithRate(1, 1))
		one := func(context.Context) (int, error) { return 1, nil }
		fanout.Submit(context.Background(), ex, one).Await(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := fanout.Submit(ctx, ex, one).Await(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want context.DeadlineExceeded", err)
		}
		ex.Close()
		if s := ex.Stats(); s.Failed != 0 || s.Canceled != 1 {
			t.Fatalf("stats %+v, want the task counted canceled", s)
		}
	})
}

// Defect 7: runtime.Goexit in an abandoned call ends its abandonment.
func TestGoexitAfterAbandon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New()
		started, exit := make(chan string, 1), make(chan struct{})
		f := fanout.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
			started <- "x"
			<-exit
			runtime.Goexit()
			return 0, nil
		})
		<-started
		f.Cancel()
		time.Sleep(2 * fanout.AbandonGrace)
		synctest.Wait()
		if s := ex.Stats(); s.Abandoned != 1 {
			t.Fatalf("stats %+v, want the call abandoned", s)
		}
		close(exit)
		ex.Close()
		if s := ex.Stats(); s.Abandoned != 0 || s.AbandonedTotal != 1 {
			t.Fatalf("stats %+v: the call is over", s)
		}
	})
}

// Defect 8: waiters that gave up leave no callbacks on the futures.
func TestGatherAndAsCompletedLeaveNoCallbacks(t *testing.T) {
	ex := fanout.New()
	release := make(chan struct{})
	long := fanout.Submit(t.Context(), ex, block(nil, release, "long"))
	quick := fanout.Submit(t.Context(), ex, func(context.Context) (string, error) { return "", nil })
	quick.Await(t.Context())
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	for range 100 {
		fanout.Gather(ended, long)
		for range fanout.AsCompleted(ended, long) {
		}
		for range fanout.AsCompleted(t.Context(), quick, long) {
			break
		}
	}
	if n := fanout.Callbacks(long); n != 0 {
		t.Errorf("%d callbacks left on the future", n)
	}
	close(release)
	ex.Close()
}

type blockingLimitLog struct {
	mu      sync.Mutex
	limits  []int
	entered chan struct{}
	release chan struct{}
}

func (l *blockingLimitLog) LimitChanged(n int, _ time.Time) {
	if n == 2 {
		close(l.entered)
		<-l.release
	}
	l.mu.Lock()
	l.limits = append(l.limits, n)
	l.mu.Unlock()
}

// Defect 8: LimitObservers hear concurrent SetLimits in the order they
// took effect, so the last one heard is the limit.
func TestLimitObserversHearChangesInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &blockingLimitLog{entered: make(chan struct{}), release: make(chan struct{})}
		ex := fanout.New(fanout.WithLimit(1), fanout.WithObserver(struct {
			nopObserver
			*blockingLimitLog
		}{blockingLimitLog: l}))
		go ex.SetLimit(2)
		<-l.entered
		done := make(chan struct{})
		go func() { ex.SetLimit(3); close(done) }()
		synctest.Wait()
		close(l.release)
		<-done
		if got := l.limits; len(got) != 3 || got[2] != ex.Limit() {
			t.Fatalf("heard %v, limit %d: the last heard must be the limit", got, ex.Limit())
		}
		ex.Close()
	})
}

// Defect 8: an Executor not built by New fails clearly.
func TestZeroExecutorPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ex fanout.Executor
		done := make(chan any, 1)
		go func() {
			defer func() { done <- recover() }()
			fanout.Submit(context.Background(), &ex, func(context.Context) (int, error) { return 0, nil })
		}()
		synctest.Wait()
		select {
		case r := <-done:
			if r == nil {
				t.Fatal("Submit on a zero Executor did not panic")
			}
		default:
			t.Fatal("Submit on a zero Executor blocked")
		}
	})
}

// Defect 8: Close from inside one of the executor's own tasks panics
// instead of waiting for itself for ever; from another executor's task it
// waits as usual.
func TestCloseFromInsideATask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex, other, third := fanout.New(), fanout.New(), fanout.New()
		_, err := fanout.Submit(context.Background(), ex, func(context.Context) (int, error) {
			ex.Close()
			return 0, nil
		}).Await(context.Background())
		var pe *fanout.PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("err %v, want the panic of Close", err)
		}
		release := make(chan struct{})
		inner := fanout.Submit(context.Background(), other, block(nil, release, "inner"))
		outer := fanout.Submit(context.Background(), third, func(context.Context) (int, error) {
			go func() { time.Sleep(time.Second); close(release) }()
			other.Close() // waits for inner
			return 1, nil
		})
		if _, err := outer.Await(context.Background()); err != nil {
			t.Fatalf("closing another executor from a task: %v", err)
		}
		if r, ok := inner.Result(); !ok || r.Err != nil {
			t.Fatalf("inner %+v %v", r, ok)
		}
		third.Close()
	})
}

// last returns the last event of task id.
func (l *eventLog) last(id uint64) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := l.events[id]
	if len(ev) == 0 {
		return ""
	}
	return ev[len(ev)-1]
}

// A blocked Submit whose task was admitted on its behalf must return even
// when the task runs, fails and waits after its backoff before the Submit
// took its signal. Both used to share one channel: the task's wait after
// the backoff took the Submit's signal, and the Submit waited for ever
// (TestStress hung in CI about once in a few thousand rounds). The hook
// holds the Submit back until the task has done all that.
func TestBlockedSubmitKeepsItsSignal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(1), fanout.WithQueue(0),
			fanout.WithRetry(fanout.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
		defer ex.Close()
		ctx := context.Background()
		hold := func(release <-chan struct{}) func(context.Context) (int, error) {
			return func(context.Context) (int, error) { <-release; return 0, nil }
		}
		releaseA, releaseC, proceed := make(chan struct{}), make(chan struct{}), make(chan struct{})
		a := fanout.Submit(ctx, ex, hold(releaseA)) // holds the one slot

		waiting := make(chan struct{})
		defer fanout.SetSubmitWaitsHook(func() {
			close(waiting)
			<-proceed // the Submit takes its signal only once let go
		})()
		var failedOnce, inBackoff atomic.Bool
		done := make(chan *fanout.Future[int])
		go func() {
			done <- fanout.Submit(ctx, ex, func(context.Context) (int, error) {
				if failedOnce.CompareAndSwap(false, true) {
					inBackoff.Store(true)
					return 0, errors.New("fails once") // retried after a backoff
				}
				return 2, nil
			})
		}()
		<-waiting // B is blocked: no queue place, the slot taken
		close(releaseA)
		synctest.Wait() // B admitted on its behalf, ran, failed: in its backoff
		if !inBackoff.Load() {
			t.Fatal("the blocked Submit's task did not run once admitted")
		}
		c := fanout.Submit(ctx, ex, hold(releaseC)) // takes the slot during B's backoff
		time.Sleep(time.Millisecond)
		synctest.Wait() // B's backoff is over: it waits for the slot C holds
		close(releaseC)
		synctest.Wait() // B runs again and succeeds
		close(proceed)
		b := <-done
		if v, err := b.Await(ctx); v != 2 || err != nil {
			t.Errorf("B = %v, %v; want 2", v, err)
		}
		a.Await(ctx)
		c.Await(ctx)
	})
}

// A nil context panicked under the executor's lock (its Err was read
// there): a caller that recovered, as net/http does for a handler, left
// the executor locked, and every later call hung, the Default executor's
// for the whole process. Submit and TrySubmit now panic before they
// touch the executor.
func TestNilContextPanicsBeforeTheExecutor(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(2)) // not closed if left locked: Close would hang
	fn := func(context.Context) (int, error) { return 1, nil }
	var nilCtx context.Context
	for name, submit := range map[string]func(){
		"Submit":    func() { fanout.Submit(nilCtx, ex, fn) },
		"TrySubmit": func() { fanout.TrySubmit(nilCtx, ex, fn) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with a nil context did not panic", name)
				}
			}()
			submit()
		}()
		if !fanout.Unlocked(ex) {
			t.Fatalf("%s with a nil context left the executor locked", name)
		}
	}
	if v, err := fanout.Submit(context.Background(), ex, fn).Await(context.Background()); v != 1 || err != nil {
		t.Errorf("a task after the recovered panics: %v, %v", v, err)
	}
	ex.Close()
}

// A panic in Map's input, whose iteration runs on a goroutine of Map's,
// ended the process: no recover could reach it. It is now raised again in
// the goroutine ranging over Map, with its value, after the inputs pulled
// before it are yielded; on both of Map's paths and in MapUnordered.
func TestMapInputPanicReachesTheCaller(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(4))
	defer ex.Close()
	ctx := context.Background()
	in := func(yield func(int) bool) {
		for i := range 3 {
			if !yield(i) {
				return
			}
		}
		panic("bad input")
	}
	double := func(_ context.Context, i int) (int, error) { return 2 * i, nil }
	label := fanout.WithTaskOptions(func(i int, _ int) []fanout.TaskOption { return []fanout.TaskOption{fanout.WithLabel("x")} })
	for name, m := range map[string]iter.Seq2[int, fanout.Result[int]]{
		"Map":                      fanout.Map(ctx, ex, in, double),
		"Map, a task per input":    fanout.Map(ctx, ex, in, double, label),
		"MapUnordered":             fanout.MapUnordered(ctx, ex, in, double),
		"MapUnordered, with label": fanout.MapUnordered(ctx, ex, in, double, label),
	} {
		var got []int
		var raised any
		func() {
			defer func() { raised = recover() }()
			for i, r := range m {
				if r.Err != nil || r.Value != 2*i {
					t.Errorf("%s: input %d gave %v, %v", name, i, r.Value, r.Err)
				}
				got = append(got, i)
			}
		}()
		if raised != "bad input" {
			t.Errorf("%s: recovered %v, want the input's panic", name, raised)
		}
		slices.Sort(got)
		if !slices.Equal(got, []int{0, 1, 2}) {
			t.Errorf("%s: yielded %v before the panic, want 0, 1, 2", name, got)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Map of a nil input did not panic at once")
		}
	}()
	fanout.Map(ctx, ex, nil, double)
}

// Map's workers keep their slots and take inputs as they come (slot
// reuse). Once the executor was closed they went on taking new inputs as
// if it took new tasks, and Close, which waits for its tasks, never
// returned while the input went on. They now stop: the inputs no worker
// took fail with ErrClosed, as on Map's other path.
func TestMapStopsTakingInputsOnceClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := fanout.New(fanout.WithLimit(2))
		endless := func(yield func(int) bool) {
			for i := 0; ; i++ {
				if !yield(i) {
					return
				}
			}
		}
		var ran atomic.Int64
		fn := func(_ context.Context, i int) (int, error) {
			ran.Add(1)
			time.Sleep(time.Millisecond)
			return i, nil
		}
		closed := make(chan struct{})
		go func() {
			time.Sleep(35 * time.Millisecond)
			e.Close()
			close(closed)
		}()
		refused := 0
		for _, r := range fanout.Map(context.Background(), e, endless, fn) {
			if errors.Is(r.Err, fanout.ErrClosed) {
				if refused++; refused == 100 {
					break
				}
			} else if r.Err != nil {
				t.Fatalf("input failed with %v", r.Err)
			}
			if ran.Load() > 1000 {
				t.Fatalf("%d inputs ran, the last ones long after Close", ran.Load())
			}
		}
		<-closed // Close returned
		if n := ran.Load(); n > 80 {
			t.Errorf("%d inputs ran; at 2 at a time for 1 ms each, 35 ms allow about 70", n)
		}
	})
}

// A queue timeout is a task's: on Map's path without a task per input it
// failed every later input too, though they came when a slot was free.
func TestMapQueueTimeoutFailsOnlyTheInputThatWaited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := fanout.New(fanout.WithLimit(1), fanout.WithQueueTimeout(50*time.Millisecond))
		defer e.Close()
		ctx := context.Background()
		fanout.Submit(ctx, e, func(context.Context) (int, error) { // holds the only slot for 100 ms
			time.Sleep(100 * time.Millisecond)
			return 0, nil
		})
		slow := func(yield func(int) bool) {
			for i := range 5 {
				if !yield(i) {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		double := func(_ context.Context, i int) (int, error) { return 2 * i, nil }
		for i, r := range fanout.Map(ctx, e, slow, double, fanout.WithWindow(1)) {
			switch {
			case i == 0 && !errors.Is(r.Err, fanout.ErrQueueTimeout):
				t.Errorf("input 0, queued behind a 100 ms task for 50 ms at most: %v", r.Err)
			case i > 0 && (r.Err != nil || r.Value != 2*i):
				t.Errorf("input %d, pulled when the slot was free: %v, %v", i, r.Value, r.Err)
			}
		}
	})
}

// Gather and AsCompleted chose at random between a future's settlement
// and ctx's end when both were ready: futures awaited long before ctx
// ended were reported with ctx's cause in most runs.
func TestGatherPrefersSettledFuturesToAnEndedContext(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(3))
	defer ex.Close()
	bg := context.Background()
	fs := make([]*fanout.Future[int], 3)
	for i := range fs {
		fs[i] = fanout.Submit(bg, ex, func(context.Context) (int, error) { return i, nil })
		fs[i].Await(bg)
	}
	ended, cancel := context.WithCancel(bg)
	cancel()
	for range 200 {
		if v, err := fanout.Gather(ended, fs...); err != nil || !slices.Equal(v, []int{0, 1, 2}) {
			t.Fatalf("Gather of settled futures with an ended context: %v, %v", v, err)
		}
		for i, r := range fanout.AsCompleted(ended, fs...) {
			if r.Err != nil || r.Value != i {
				t.Fatalf("AsCompleted of settled futures with an ended context: future %d gave %v, %v", i, r.Value, r.Err)
			}
		}
	}
	// A future not settled still gets ctx's cause, at once.
	block := make(chan struct{})
	defer close(block)
	open := fanout.Submit(bg, ex, func(context.Context) (int, error) { <-block; return 0, nil })
	if _, err := fanout.Gather(ended, fs[0], open); !errors.Is(err, context.Canceled) {
		t.Errorf("Gather with an unsettled future and an ended context: %v", err)
	}
	got := map[int]error{}
	for i, r := range fanout.AsCompleted(ended, fs[0], open) {
		got[i] = r.Err
	}
	if got[0] != nil || !errors.Is(got[1], context.Canceled) {
		t.Errorf("AsCompleted with an unsettled future and an ended context: %v", got)
	}
}

// Close panics when called from one of its own tasks, which it would wait
// for for ever; it finds them by their functions on the caller's stack.
// Every Group task ran one wrapper closure, so a Group task closing
// another executor that ran a Group task was taken for one of its own.
func TestGroupTaskClosingAnotherExecutor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := fanout.New(fanout.WithLimit(2)), fanout.New(fanout.WithLimit(2))
		bg := context.Background()
		started, release := make(chan struct{}), make(chan struct{})
		gb, _ := fanout.NewGroup(bg, b)
		gb.Go(func(context.Context) error { close(started); <-release; return nil })
		ga, _ := fanout.NewGroup(bg, a)
		ga.Go(func(context.Context) error {
			<-started // b runs a Group task
			time.AfterFunc(20*time.Millisecond, func() { close(release) })
			b.Close() // b's task ends in 20 ms; then Close returns
			return nil
		})
		if err := ga.Wait(); err != nil {
			t.Errorf("a Group task closing another executor: %v", err)
		}
		if err := gb.Wait(); err != nil {
			t.Error(err)
		}
		a.Close()
		// Its own task closing its executor still panics.
		c := fanout.New(fanout.WithLimit(2))
		gc, _ := fanout.NewGroup(bg, c)
		gc.Go(func(context.Context) error { c.Close(); return nil })
		var pe *fanout.PanicError
		if err := gc.Wait(); !errors.As(err, &pe) {
			t.Errorf("a Group task closing its own executor: %v, want a *PanicError", err)
		}
		c.Close()
	})
}

// Map's two paths count an input canceled by a break alike in Stats:
// before, the path without a task per input counted a call that returned
// its context's error as Failed, the other as Canceled.
func TestMapPathsCountCanceledInputsAlike(t *testing.T) {
	label := fanout.WithTaskOptions(func(int, int) []fanout.TaskOption { return nil })
	for name, opts := range map[string][]fanout.MapOption{"slot reuse": nil, "a task per input": {label}} {
		synctest.Test(t, func(t *testing.T) {
			e := fanout.New(fanout.WithLimit(4))
			in := func(yield func(int) bool) {
				for i := range 8 {
					if !yield(i) {
						return
					}
				}
			}
			fn := func(ctx context.Context, i int) (int, error) {
				if i == 0 {
					return 0, nil
				}
				<-ctx.Done()
				return 0, ctx.Err()
			}
			for range fanout.Map(context.Background(), e, in, fn, opts...) {
				break // after input 0; inputs 1-3 are in their calls
			}
			e.Close()
			if s := e.Stats(); s.Failed != 0 || s.Canceled == 0 {
				t.Errorf("%s: Stats after a break: %d failed, %d canceled; want 0 failed", name, s.Failed, s.Canceled)
			}
		})
	}
}
