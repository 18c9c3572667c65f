package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
)

// countingObserver counts hook calls.
type countingObserver struct {
	fanout.NopObserver
	queued, finished, abandoned atomic.Int64
}

func (c *countingObserver) TaskQueued(fanout.TaskInfo, time.Time) { c.queued.Add(1) }
func (c *countingObserver) TaskFinished(_ fanout.TaskInfo, o fanout.Outcome, _ time.Time) {
	c.finished.Add(1)
	if o.Abandoned {
		c.abandoned.Add(1)
	}
}

// Submit, TrySubmit, Cancel, SetLimit, Close and Shutdown race on
// executors with keys, a queue bound, timeouts, queue timeouts and retries;
// at the end every future has settled once, the counters add up, nothing
// holds a slot, the limits held, and (goleak, in TestMain) no goroutine is
// left. Run it with -race; each round takes milliseconds.
func TestStress(t *testing.T) {
	rounds := 40
	if testing.Short() {
		rounds = 8
	}
	var completed uint64
	for round := range rounds {
		t.Run(fmt.Sprint(round), func(t *testing.T) { completed += stressRound(t, uint64(round)) })
	}
	if completed == 0 {
		t.Error("no task completed in any round: the test tested little")
	}
}

func stressRound(t *testing.T, seed uint64) (completed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	limit := 1 + rng.IntN(6)
	keyLimit := 1 + rng.IntN(2)
	opts := []fanout.Option{
		fanout.WithLimit(limit),
		fanout.WithKeyLimit(keyLimit),
		fanout.WithTimeout(time.Duration(1+rng.IntN(3)) * time.Millisecond),
		fanout.WithAbandonGrace(time.Millisecond),
		fanout.WithRetry(fanout.RetryPolicy{MaxAttempts: 2, InitialBackoff: 100 * time.Microsecond, MaxBackoff: time.Millisecond}),
	}
	if rng.IntN(2) == 0 {
		opts = append(opts, fanout.WithQueue(rng.IntN(4)))
	}
	if rng.IntN(3) == 0 {
		opts = append(opts, fanout.WithQueueTimeout(2*time.Millisecond))
	}
	obs := &countingObserver{}
	opts = append(opts, fanout.WithObserver(obs))
	ex := fanout.New(opts...)

	var g gauge
	var maxLimit atomic.Int64
	maxLimit.Store(int64(limit))
	var calls atomic.Int64
	fn := func(i int, key string) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			calls.Add(1)
			g.enter(key)
			defer g.leave(key)
			switch i % 6 {
			case 0:
				return i, nil
			case 1:
				return 0, errors.New("flaky") // retried once
			case 2:
				panic("boom")
			case 3: // honours its context, may time out
				select {
				case <-ctx.Done():
					return 0, ctx.Err()
				case <-time.After(time.Duration(i%4) * time.Millisecond):
					return i, nil
				}
			case 4: // ignores its context for a while: may be abandoned
				time.Sleep(time.Duration(i%3) * time.Millisecond)
				return i, nil
			default:
				runtimeYield()
				return i, nil
			}
		}
	}

	var mu sync.Mutex
	var futures []*fanout.Future[int]
	keep := func(f *fanout.Future[int]) {
		mu.Lock()
		futures = append(futures, f)
		mu.Unlock()
	}
	ctx, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	var wg sync.WaitGroup
	const submitters, perSubmitter = 4, 40
	// Close or Shutdown once a share of the Submits went in, while the rest
	// still come.
	var given atomic.Int64
	closeAt := int64(submitters * perSubmitter * (50 + rng.IntN(50)) / 100)
	timeToClose := make(chan struct{})
	for s := range submitters {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(s)))
			for i := range perSubmitter {
				key := []string{"", "a", "b"}[r.IntN(3)]
				sctx := ctx
				if r.IntN(8) == 0 {
					c, cancel := context.WithTimeout(ctx, time.Duration(r.IntN(3))*time.Millisecond)
					defer cancel()
					sctx = c
				}
				if given.Add(1) == closeAt {
					close(timeToClose)
				}
				if r.IntN(3) == 0 {
					if f, ok := fanout.TrySubmit(sctx, ex, fn(i, key), fanout.WithKey(key)); ok {
						keep(f)
					}
				} else {
					keep(fanout.Submit(sctx, ex, fn(i, key), fanout.WithKey(key)))
				}
			}
		})
	}
	wg.Go(func() { // canceler
		r := rand.New(rand.NewPCG(seed, 100))
		for range 60 {
			mu.Lock()
			var f *fanout.Future[int]
			if len(futures) > 0 {
				f = futures[r.IntN(len(futures))]
			}
			mu.Unlock()
			if f != nil {
				f.Cancel()
			}
			runtimeYield()
		}
	})
	wg.Go(func() { // limit changer
		r := rand.New(rand.NewPCG(seed, 200))
		for range 20 {
			n := 1 + r.IntN(8)
			for m := maxLimit.Load(); int64(n) > m && !maxLimit.CompareAndSwap(m, int64(n)); m = maxLimit.Load() {
			}
			ex.SetLimit(n)
			runtimeYield()
		}
	})
	closed := make(chan struct{})
	// Rounds take milliseconds: one still running after this long is
	// stuck, and its executor's state says where.
	hung := time.AfterFunc(20*time.Second, func() { fmt.Println("stress round still running after 20 s:", fanout.DebugState(ex)) })
	defer hung.Stop()
	go func() {
		defer close(closed)
		<-timeToClose
		if rng.IntN(2) == 0 {
			ex.Close()
		} else if err := ex.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()
	wg.Wait()
	<-closed
	ex.Close() // whichever ran first, everything accepted has finished now

	for _, f := range futures {
		if _, ok := f.Result(); !ok {
			t.Fatal("a future is unsettled after Close")
		}
	}
	s := ex.Stats()
	t.Logf("%+v, %d calls", s, calls.Load())
	if s.Submitted != s.Completed+s.Failed+s.Canceled {
		t.Errorf("submitted %d != completed %d + failed %d + canceled %d", s.Submitted, s.Completed, s.Failed, s.Canceled)
	}
	if s.Running != 0 || s.Waiting != 0 || s.Retrying != 0 || s.Abandoned != 0 {
		t.Errorf("after Close: %+v", s)
	}
	if q, f := obs.queued.Load(), obs.finished.Load(); q != int64(s.Submitted) || f != q {
		t.Errorf("observer heard %d queued, %d finished; %d submitted", q, f, s.Submitted)
	}
	if a := obs.abandoned.Load(); a != int64(s.AbandonedTotal) {
		t.Errorf("observer heard %d abandoned, stats say %d", a, s.AbandonedTotal)
	}
	if int64(g.max()) > maxLimit.Load() {
		t.Errorf("%d ran at once, the limit was never above %d", g.max(), maxLimit.Load())
	}
	g.mu.Lock()
	for k, n := range g.mostKey {
		if k != "" && n > keyLimit {
			t.Errorf("key %q: %d at once, key limit %d", k, n, keyLimit)
		}
	}
	g.mu.Unlock()
	return s.Completed
}

// runtimeYield lets other goroutines run, to vary interleavings.
func runtimeYield() { runtime.Gosched() }

// Maps on one executor race with each other, with breaks, with their
// contexts ending, with panics, and with Close or Shutdown: each Map yields
// inputs in order, each at most once (exactly once unless it broke), and
// the executor's counters add up.
func TestStressMap(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 6
	}
	for round := range rounds {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(round), 7))
			opts := []fanout.Option{fanout.WithLimit(1 + rng.IntN(4))}
			if rng.IntN(2) == 0 {
				// A bounded queue: Map's producer may block starting a
				// worker, and a worker's successor may find no room.
				opts = append(opts, fanout.WithQueue(1+rng.IntN(3)))
			}
			ex := fanout.New(opts...)
			var wg sync.WaitGroup
			// Other submitters on the same executor, so that Map's workers
			// hand their slots over.
			var others sync.WaitGroup
			stopOthers := make(chan struct{})
			others.Go(func() {
				for {
					select {
					case <-stopOthers:
						return
					default:
					}
					fanout.Submit(context.Background(), ex, func(context.Context) (int, error) {
						runtimeYield()
						return 0, nil
					}).Await(context.Background())
				}
			})
			for m := range 4 {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(round), uint64(m)))
					n := 1 + r.IntN(400)
					breakAt := -1
					if r.IntN(3) == 0 {
						breakAt = r.IntN(n)
					}
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					cancelAt := -1
					if r.IntN(3) == 0 {
						cancelAt = r.IntN(n)
					}
					// pulled counts the inputs handed to Map. Map may return
					// while its input goroutine is inside yield (after a
					// cancel); wait for that goroutine before counting.
					var (
						pulled  atomic.Int64
						started atomic.Bool
						inDone  = make(chan struct{})
					)
					in := func(yield func(int) bool) {
						started.Store(true)
						defer close(inDone)
						for i := range n {
							pulled.Add(1)
							if !yield(i) {
								return
							}
						}
					}
					slow := r.IntN(3) == 0 // calls long enough to leave tiny mode
					fn := func(ctx context.Context, x int) (int, error) {
						switch x % 7 {
						case 3:
							panic("boom")
						case 5:
							runtimeYield()
						}
						if slow && x%3 == 0 {
							for range 50 {
								runtimeYield()
							}
						}
						return x, nil
					}
					next := 0
					for x, res := range fanout.Map(ctx, ex, in, fn, fanout.WithWindow(1+r.IntN(32))) {
						if x != next {
							t.Errorf("input %d yielded, want %d", x, next)
						}
						next++
						if res.Err == nil && res.Value != x {
							t.Errorf("input %d: value %d", x, res.Value)
						}
						if x == cancelAt {
							cancel()
						}
						if x == breakAt {
							break
						}
					}
					if started.Load() {
						<-inDone
					}
					// Every input handed over yields its result, unless the
					// loop broke or the context ended: then what was yielded
					// is a prefix (checked above) of what was handed over.
					switch p := pulled.Load(); {
					case breakAt < 0 && cancelAt < 0 && int64(next) != p:
						t.Errorf("%d inputs handed to Map, %d yielded", p, next)
					case int64(next) > p:
						t.Errorf("%d yielded, more than the %d inputs handed to Map", next, p)
					}
				})
			}
			if rng.IntN(2) == 0 {
				runtimeYield()
				if err := ex.Shutdown(context.Background()); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			}
			wg.Wait()
			close(stopOthers)
			others.Wait()
			ex.Close()
			s := ex.Stats()
			if s.Submitted != s.Completed+s.Failed+s.Canceled || s.Running != 0 || s.Waiting != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}
