package fanout_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fanout-go/fanout"
)

type ctxKey string

// watchers counts the goroutines the context package started to watch a
// parent's Done channel that it could not link to (propagateCancel's
// fallback).
func watchers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], []byte("context.(*cancelCtx).propagateCancel.func"))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// A function that wraps its context in values (httptrace, a logger, the
// AWS SDK's middleware) and then derives a cancelable context, as
// net/http's transport does for every request, cost a goroutine per call:
// the context package could not see through the value layer to the task
// and fell back to a goroutine watching its Done channel. Derived contexts
// must still end when the task settles, with its error.
func TestContextDerivedThroughValuesNeedsNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 50
		ex := fanout.New(fanout.WithLimit(n))
		defer ex.Close()
		release := make(chan struct{})
		derived := make([]context.Context, n)
		var futs []*fanout.Future[int]
		for i := range n {
			futs = append(futs, fanout.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
				ctx = context.WithValue(ctx, ctxKey("k"), "v")
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				derived[i] = ctx
				select {
				case <-release:
					return 1, nil
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}))
		}
		synctest.Wait()
		if got := watchers(); got != 0 {
			t.Errorf("%d goroutines watch the tasks' contexts, want 0", got)
		}
		first := derived[0]
		if v := first.Value(ctxKey("k")); v != "v" {
			t.Errorf("derived context's value = %v, want v", v)
		}
		futs[0].Cancel()
		synctest.Wait()
		select {
		case <-first.Done():
			if err := first.Err(); err != context.Canceled {
				t.Errorf("derived context's Err = %v, want context.Canceled", err)
			}
		default:
			t.Error("canceling the future did not end the context derived from its task")
		}
		close(release)
		for i, f := range futs[1:] {
			if v, err := f.Await(context.Background()); v != 1 || err != nil {
				t.Errorf("future %d = %v, %v", i+1, v, err)
			}
		}
	})
}

// When the context given to Submit passes its deadline, contexts derived
// from the task report context.DeadlineExceeded, as they would under a
// context.WithDeadline parent.
func TestContextDerivedFromATaskSeesTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New(fanout.WithLimit(1))
		defer ex.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var direct, throughValue error
		f := fanout.Submit(ctx, ex, func(ctx context.Context) (int, error) {
			a, cancelA := context.WithCancel(ctx)
			defer cancelA()
			b, cancelB := context.WithCancel(context.WithValue(ctx, ctxKey("k"), 1))
			defer cancelB()
			<-a.Done()
			<-b.Done()
			direct, throughValue = a.Err(), b.Err()
			return 0, nil
		})
		_, err := f.Await(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("future's error = %v, want context.DeadlineExceeded", err)
		}
		synctest.Wait()
		if direct != context.DeadlineExceeded || throughValue != context.DeadlineExceeded {
			t.Errorf("derived contexts' Err = %v and %v, want context.DeadlineExceeded", direct, throughValue)
		}
	})
}

// A task's Done channel asked for after it settled is closed, and the
// task's values are its parent's.
func TestTaskContextAfterItSettled(t *testing.T) {
	ex := fanout.New()
	defer ex.Close()
	parent := context.WithValue(context.Background(), ctxKey("k"), "parent")
	kept := make(chan context.Context, 1)
	f := fanout.Submit(parent, ex, func(ctx context.Context) (int, error) {
		kept <- ctx
		return 1, nil
	})
	if _, err := f.Await(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := <-kept
	select {
	case <-ctx.Done():
	default:
		t.Fatal("a settled task's Done is open")
	}
	if v := ctx.Value(ctxKey("k")); v != "parent" {
		t.Errorf("Value = %v, want parent", v)
	}
	d, cancel := context.WithCancel(context.WithValue(ctx, ctxKey("j"), 2))
	defer cancel()
	if d.Err() != context.Canceled {
		t.Errorf("a context derived from a settled task: Err = %v, want context.Canceled", d.Err())
	}
}

// context.Cause on a task's context: the cause of the context given to
// Submit when that ended the task; here, where the function asked for Done,
// the task's Err when it ended otherwise.
func TestCauseOfATaskContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New()
		defer ex.Close()
		why := errors.New("the caller gave up")
		parent, cancel := context.WithCancelCause(context.Background())
		wait := func(kept chan<- context.Context) func(context.Context) (int, error) {
			return func(ctx context.Context) (int, error) {
				kept <- ctx
				<-ctx.Done()
				return 0, ctx.Err()
			}
		}
		byParent, byCancel := make(chan context.Context, 1), make(chan context.Context, 1)
		f := fanout.Submit(parent, ex, wait(byParent))
		g := fanout.Submit(context.Background(), ex, wait(byCancel))
		synctest.Wait()
		a, b := <-byParent, <-byCancel
		if context.Cause(a) != nil || context.Cause(b) != nil {
			t.Errorf("causes before the end: %v, %v", context.Cause(a), context.Cause(b))
		}
		cancel(why)
		g.Cancel()
		f.Await(context.Background())
		g.Await(context.Background())
		if c := context.Cause(a); c != why {
			t.Errorf("Cause after the parent's cancel = %v, want %v", c, why)
		}
		if c := context.Cause(b); c != context.Canceled {
			t.Errorf("Cause after Cancel = %v, want context.Canceled", c)
		}
	})
}

// afterFuncer is the method a task's context offers for context.AfterFunc
// without a Done channel.
type afterFuncer interface {
	AfterFunc(f func()) (stop func() bool)
}

// A task's AfterFunc runs its callback when the future settles, takes a
// stopped one back, makes no Done channel, and runs at once (in a goroutine
// of its own) on a task that has settled.
func TestTaskContextAfterFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := fanout.New()
		defer ex.Close()
		ran := make(chan string, 3)
		stops := make(chan [2]func() bool, 1)
		kept := make(chan context.Context, 1)
		f := fanout.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
			a, ok := ctx.(afterFuncer)
			if !ok {
				t.Errorf("a task's context %T has no AfterFunc method", ctx)
				return 0, nil
			}
			kept <- ctx
			stops <- [2]func() bool{
				a.AfterFunc(func() { ran <- "kept" }),
				a.AfterFunc(func() { ran <- "stopped" }),
			}
			time.Sleep(time.Hour) // ignores its context: the future settles on Cancel
			return 1, nil
		})
		synctest.Wait()
		s := <-stops
		if !s[1]() {
			t.Error("stop before the end = false, want true")
		}
		synctest.Wait()
		if len(ran) != 0 {
			t.Fatalf("%q ran before the task settled", <-ran)
		}
		f.Cancel()
		if got := <-ran; got != "kept" {
			t.Errorf("ran %q, want kept", got)
		}
		if s[0]() {
			t.Error("stop after the callback ran = true, want false")
		}
		if fanout.HasDone(f) {
			t.Error("AfterFunc made the task's Done channel")
		}
		late := (<-kept).(afterFuncer).AfterFunc(func() { ran <- "late" })
		synctest.Wait()
		if got := <-ran; got != "late" {
			t.Errorf("on a settled task ran %q, want late", got)
		}
		if late() {
			t.Error("stop of a callback on a settled task = true, want false")
		}
		if len(ran) != 0 {
			t.Errorf("%q ran too", <-ran)
		}
	})
}
