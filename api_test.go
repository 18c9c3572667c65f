package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fanout-go/fanout"
)

func TestTrySubmit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(1), fanout.WithQueue(1))
		release := make(chan struct{})
		a, ok := fanout.TrySubmit(t.Context(), ex, block(nil, release, "a"))
		if !ok {
			t.Fatal("TrySubmit refused a task that could start")
		}
		b, ok := fanout.TrySubmit(t.Context(), ex, block(nil, release, "b"))
		if !ok {
			t.Fatal("TrySubmit refused a task the queue had room for")
		}
		if f, ok := fanout.TrySubmit(t.Context(), ex, block(nil, release, "c")); ok || f != nil {
			t.Fatal("TrySubmit admitted a task into a full queue")
		}
		if s := ex.Stats(); s.Submitted != 2 || s.Waiting != 1 {
			t.Fatalf("stats %+v: a refused task is counted nowhere", s)
		}
		close(release)
		if _, err := fanout.Gather(t.Context(), a, b); err != nil {
			t.Fatal(err)
		}
		ex.Close()
		if f, ok := fanout.TrySubmit(t.Context(), ex, block(nil, release, "d")); !ok {
			t.Fatal("TrySubmit on a closed executor must answer with a failed future")
		} else if _, err := f.Await(t.Context()); !errors.Is(err, fanout.ErrClosed) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestPanicHandler(t *testing.T) {
	var got atomic.Pointer[fanout.PanicError]
	var label atomic.Value
	ex := fanout.New(fanout.WithPanicHandler(func(ti fanout.TaskInfo, p *fanout.PanicError) {
		label.Store(ti.Label)
		got.Store(p)
	}))
	f := fanout.Submit(t.Context(), ex, func(context.Context) (int, error) { panic("boom") }, fanout.WithLabel("fire and forget"))
	ex.Close() // nobody awaits f: the handler still hears of the panic
	if p := got.Load(); p == nil || p.Value != "boom" || label.Load() != "fire and forget" {
		t.Fatalf("handler got %v for %v", p, label.Load())
	}
	if _, err := f.Await(t.Context()); !errors.As(err, new(*fanout.PanicError)) {
		t.Fatalf("err %v: the panic stays the task's error", err)
	}
}

func TestDefaultIsProtected(t *testing.T) {
	for name, f := range map[string]func(){
		"Close":    func() { fanout.Default().Close() },
		"Shutdown": func() { fanout.Default().Shutdown(context.Background()) },
		"SetLimit": func() { fanout.Default().SetLimit(1) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "Default") {
					t.Errorf("%s on Default: recovered %v, want a panic naming Default", name, r)
				}
			}()
			f()
		}()
	}
	if v, err := fanout.Go(t.Context(), func(context.Context) (int, error) { return 1, nil }).Await(t.Context()); v != 1 || err != nil {
		t.Fatalf("Default after the attempts: %v %v", v, err)
	}
}

func TestGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(3))
		g, ctx := fanout.NewGroup(t.Context(), ex)
		boom := errors.New("boom")
		var canceled atomic.Int32
		var started sync.WaitGroup
		started.Add(2)
		for i := range 5 {
			g.Go(func(ctx context.Context) error {
				if i == 2 {
					started.Wait() // fail once the two others run
					return boom
				}
				started.Done()
				<-ctx.Done()
				canceled.Add(1)
				return ctx.Err()
			})
		}
		if err := g.Wait(); err != boom {
			t.Fatalf("Wait: %v, want the first error", err)
		}
		if !errors.Is(context.Cause(ctx), boom) {
			t.Fatalf("group context cause %v", context.Cause(ctx))
		}
		// Tasks 0 and 1 ran and saw the cancel; 3 and 4 never started.
		synctest.Wait() // Wait returns once the tasks settled; let their functions return
		if canceled.Load() != 2 {
			t.Fatalf("%d running tasks canceled, want 2", canceled.Load())
		}
		ok, ctx2 := fanout.NewGroup(t.Context(), ex)
		for range 3 {
			ok.Go(func(context.Context) error { return nil })
		}
		if err := ok.Wait(); err != nil || ctx2.Err() == nil {
			t.Fatalf("Wait: %v; context ended: %v", err, ctx2.Err() != nil)
		}
		ex.Close()
	})
}

func TestGroupTryGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(1), fanout.WithQueue(0))
		g, _ := fanout.NewGroup(t.Context(), ex)
		release := make(chan struct{})
		if !g.TryGo(func(context.Context) error { <-release; return nil }) {
			t.Fatal("TryGo refused a task that could start")
		}
		if g.TryGo(func(context.Context) error { return nil }) {
			t.Fatal("TryGo admitted a task with no room")
		}
		close(release)
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		ex.Close()
	})
}

func TestWaitUntilIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(2))
		if err := ex.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		for range 4 {
			fanout.Submit(t.Context(), ex, block(nil, release, ""))
		}
		waited := make(chan error, 1)
		go func() { waited <- ex.Wait(t.Context()) }()
		synctest.Wait()
		if len(waited) != 0 {
			t.Fatal("Wait returned while tasks ran")
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := ex.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait whose context ended: %v", err)
		}
		close(release)
		if err := <-waited; err != nil {
			t.Fatal(err)
		}
		if s := ex.Stats(); s.Completed != 4 || s.Running != 0 {
			t.Fatalf("stats %+v", s)
		}
		// Still open: Wait closes nothing.
		if v, err := fanout.Submit(t.Context(), ex, func(context.Context) (int, error) { return 1, nil }).Await(t.Context()); v != 1 || err != nil {
			t.Fatalf("after Wait: %v %v", v, err)
		}
		ex.Close()
	})
}

// Tasks with their own timeout and retry policy share one executor's limit
// with tasks that have the executor's.
func TestTaskTimeoutAndRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(1), fanout.WithTimeout(time.Hour))
		start := time.Now()
		_, err := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}, fanout.WithTaskTimeout(time.Second)).Await(t.Context())
		if !errors.Is(err, fanout.ErrTimeout) || time.Since(start) != time.Second {
			t.Fatalf("err %v after %v, want ErrTimeout after 1s", err, time.Since(start))
		}
		calls := 0
		v, err := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			if calls++; calls < 3 {
				return 0, errors.New("flaky")
			}
			return calls, nil
		}, fanout.WithTaskRetry(fanout.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond})).Await(t.Context())
		if v != 3 || err != nil {
			t.Fatalf("%v %v, want success on the third call", v, err)
		}
		calls = 0
		fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			calls++
			return 0, errors.New("flaky")
		}).Await(t.Context())
		if calls != 1 {
			t.Fatalf("%d calls: the executor's policy (none) applies to other tasks", calls)
		}
		ex.Close()
	})
}

// A function that honours its context but needs 300 ms to unwind is not
// abandoned under a grace that allows for it, and can be retried.
func TestAbandonGraceOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithTimeout(time.Second), fanout.WithAbandonGrace(500*time.Millisecond),
			fanout.WithRetry(fanout.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond}))
		calls := 0
		v, err := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			if calls++; calls == 1 {
				<-ctx.Done()
				time.Sleep(300 * time.Millisecond) // unwinding
				return 0, ctx.Err()
			}
			return 2, nil
		}).Await(t.Context())
		if v != 2 || err != nil {
			t.Fatalf("%v %v: the slow unwinder should have been retried", v, err)
		}
		ex.Close()
		if s := ex.Stats(); s.AbandonedTotal != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestMapHandsBackEachInput(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(3))
	defer ex.Close()
	words := []string{"a", "bb", "ccc", "dddd", "eeeee"}
	in := func(yield func(string) bool) {
		for _, w := range words {
			if !yield(w) {
				return
			}
		}
	}
	n := func(_ context.Context, s string) (int, error) { return len(s), nil }
	var got []string
	for w, r := range fanout.Map(t.Context(), ex, in, n) {
		if r.Value != len(w) {
			t.Fatalf("%q got %d", w, r.Value)
		}
		got = append(got, w)
	}
	if strings.Join(got, " ") != strings.Join(words, " ") {
		t.Fatalf("inputs %v, want them in order", got)
	}
	seen := map[string]bool{}
	for w, r := range fanout.MapUnordered(t.Context(), ex, in, n) {
		if r.Value != len(w) || seen[w] {
			t.Fatalf("%q got %d (seen %v)", w, r.Value, seen[w])
		}
		seen[w] = true
	}
	if len(seen) != len(words) {
		t.Fatalf("unordered yielded %d inputs", len(seen))
	}
}

// Options validate alike: every value no program means panics at once.
func TestOptionsValidateAlike(t *testing.T) {
	bad := map[string]func(){
		"WithLimit(0)":                func() { fanout.WithLimit(0) },
		"WithQueue(-1)":               func() { fanout.WithQueue(-1) },
		"WithKeyLimit(0)":             func() { fanout.WithKeyLimit(0) },
		"WithRate(0)":                 func() { fanout.WithRate(0, 1) },
		"WithRate(NaN)":               func() { fanout.WithRate(math.NaN(), 1) },
		"WithRate(+Inf)":              func() { fanout.WithRate(math.Inf(1), 1) },
		"WithRate(burst -1)":          func() { fanout.WithRate(1, -1) },
		"WithTimeout(-1)":             func() { fanout.WithTimeout(-1) },
		"WithQueueTimeout(-1)":        func() { fanout.WithQueueTimeout(-1) },
		"WithAbandonGrace(-1)":        func() { fanout.WithAbandonGrace(-1) },
		"WithTaskTimeout(-1)":         func() { fanout.WithTaskTimeout(-1) },
		"WithRetry(negative backoff)": func() { fanout.WithRetry(fanout.RetryPolicy{InitialBackoff: -1}) },
		"WithTaskRetry(negative cap)": func() { fanout.WithTaskRetry(fanout.RetryPolicy{MaxBackoff: -1}) },
		"WithWindow(0)":               func() { fanout.WithWindow(0) },
		"WithKeyBacklog(-1)":          func() { fanout.WithKeyBacklog(-1) },
		// Before, these were replaced by defaults in silence.
		"WithAdaptive(Max -1)":            func() { fanout.WithAdaptive(fanout.AdaptiveConfig{Max: -1}) },
		"WithAdaptive(Min above Max)":     func() { fanout.WithAdaptive(fanout.AdaptiveConfig{Min: 10, Max: 5}) },
		"WithKeyAdaptive(MaxPause -1)":    func() { fanout.WithKeyAdaptive(fanout.AdaptiveConfig{MaxPause: -1}) },
		"WithKeyAdaptive(Decrease 1)":     func() { fanout.WithKeyAdaptive(fanout.AdaptiveConfig{Decrease: 1}) },
		"NewAdaptiveLimit(Initial -1)":    func() { fanout.NewAdaptiveLimit(fanout.AdaptiveConfig{Initial: -1}) },
		"NewAdaptiveLimit(Tolerance NaN)": func() { fanout.NewAdaptiveLimit(fanout.AdaptiveConfig{Tolerance: math.NaN()}) },
	}
	for name, f := range bad {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
	// Zero means "none" or the default, and is accepted.
	ex := fanout.New(fanout.WithTimeout(0), fanout.WithQueueTimeout(0), fanout.WithAbandonGrace(0), fanout.WithRate(1e9, 0), fanout.WithQueue(0),
		fanout.WithAdaptive(fanout.AdaptiveConfig{}), fanout.WithKeyAdaptive(fanout.AdaptiveConfig{Tolerance: -1}))
	ex.Close()
}
