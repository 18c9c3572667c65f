package fanout_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
)

func TestGatherFirstErrorCancelsTheOthers(t *testing.T) {
	ex := fanout.New()
	defer ex.Close()
	boom := errors.New("boom")
	fail := make(chan struct{})
	slow := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	failing := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
		<-fail
		return 0, boom
	})
	ok := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) { return 1, nil })
	close(fail)
	// The failing future is second: Gather reports it as soon as it fails,
	// without waiting for the first.
	vals, err := fanout.Gather(t.Context(), slow, failing, ok)
	if !errors.Is(err, boom) || vals != nil {
		t.Fatalf("Gather: %v %v, want boom", vals, err)
	}
	if _, err := slow.Await(t.Context()); !errors.Is(err, context.Canceled) {
		t.Fatalf("the others must be canceled: %v", err)
	}
}

func TestGatherContextEnds(t *testing.T) {
	ex := fanout.New()
	release := make(chan struct{})
	f := fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
		<-release
		return 1, nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := fanout.Gather(ctx, f); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if rs := fanout.GatherAll(ctx, f); !errors.Is(rs[0].Err, context.DeadlineExceeded) {
		t.Fatalf("GatherAll: %v", rs[0].Err)
	}
	close(release)
	if v, err := f.Await(t.Context()); v != 1 || err != nil {
		t.Fatal("the future must go on after Gather's context ended")
	}
	ex.Close()
}

func TestGatherEmpty(t *testing.T) {
	vals, err := fanout.Gather[int](t.Context())
	if err != nil || len(vals) != 0 {
		t.Fatalf("%v %v", vals, err)
	}
}

func TestGatherAllKeepsEveryOutcome(t *testing.T) {
	ex := fanout.New()
	defer ex.Close()
	boom := errors.New("boom")
	var fs []*fanout.Future[int]
	for i := range 6 {
		fs = append(fs, fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			if i%3 == 0 {
				return 0, boom
			}
			return i, nil
		}))
	}
	for i, r := range fanout.GatherAll(t.Context(), fs...) {
		if i%3 == 0 && !errors.Is(r.Err, boom) || i%3 != 0 && (r.Err != nil || r.Value != i) {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
}

func TestAsCompletedOrder(t *testing.T) {
	ex := fanout.New()
	defer ex.Close()
	// Each task waits for its own gate; opening the gates in a chosen order
	// fixes the completion order without depending on timing.
	order := []int{2, 0, 3, 1}
	gates := make([]chan struct{}, 4)
	var fs []*fanout.Future[int]
	for i := range gates {
		gates[i] = make(chan struct{})
		fs = append(fs, fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			<-gates[i]
			return i * 10, nil
		}))
	}
	close(gates[order[0]])
	var got []int
	for i, r := range fanout.AsCompleted(t.Context(), fs...) {
		if r.Value != i*10 || r.Err != nil {
			t.Fatalf("index %d came with %+v", i, r)
		}
		got = append(got, i)
		if len(got) < len(order) {
			close(gates[order[len(got)]])
		}
	}
	if !slices.Equal(got, order) {
		t.Fatalf("completion order %v, want %v", got, order)
	}
}

func TestAsCompletedContextEndsYieldsTheRestOnce(t *testing.T) {
	ex := fanout.New()
	release := make(chan struct{})
	var fs []*fanout.Future[int]
	for i := range 3 {
		fs = append(fs, fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			if i == 1 {
				return 1, nil
			}
			<-release
			return i, nil
		}))
	}
	<-fs[1].Done()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	seen := map[int]int{}
	for i, r := range fanout.AsCompleted(ctx, fs...) {
		seen[i]++
		if i == 1 {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			cancel()
		} else if !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("index %d after the context ended: %+v", i, r)
		}
	}
	if len(seen) != 3 || seen[0] != 1 || seen[1] != 1 || seen[2] != 1 {
		t.Fatalf("every future must be yielded once: %v", seen)
	}
	close(release)
	ex.Close()
}

func TestAsCompletedBreak(t *testing.T) {
	ex := fanout.New()
	defer ex.Close()
	fs := []*fanout.Future[int]{
		fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) { return 1, nil }),
		fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) { return 2, nil }),
	}
	for range fanout.AsCompleted(t.Context(), fs...) {
		break
	}
	if _, err := fanout.Gather(t.Context(), fs...); err != nil {
		t.Fatalf("breaking AsCompleted must not cancel: %v", err)
	}
}
