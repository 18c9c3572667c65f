package fanout_test

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/fanout-go/fanout"
)

// Map runs tiny inputs on a few goroutines that keep their slots (slot
// reuse): far fewer allocations than inputs, and every input counted once.
func TestMapReusesSlots(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(8))
	defer ex.Close()
	in := make([]int, 1000)
	for i := range in {
		in[i] = i
	}
	double := func(_ context.Context, x int) (int, error) { return 2 * x, nil }
	allocs := testing.AllocsPerRun(5, func() {
		i := 0
		for x, r := range fanout.Map(context.Background(), ex, slices.Values(in), double) {
			if x != i || r.Value != 2*i || r.Err != nil {
				t.Fatalf("input %d: %d %+v", i, x, r)
			}
			i++
		}
	})
	if allocs > float64(len(in))/4 {
		t.Errorf("%.0f allocations for %d inputs: Map must not allocate per input", allocs, len(in))
	}
	if s := ex.Stats(); s.Submitted != 6000 || s.Completed != 6000 || s.Running != 0 || s.Waiting != 0 {
		t.Errorf("stats %+v: want each of the 6 runs' 1000 inputs counted once", s)
	}
}

// A Map holding every slot gives them back between batches when another
// task waits: the other task runs long before Map is done.
func TestMapTakesTurnsWithOtherSubmitters(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(1))
	defer ex.Close()
	const n = 20000
	var calls atomic.Int64
	var other *fanout.Future[int64]
	fn := func(_ context.Context, x int) (int, error) {
		if calls.Add(1) == 100 {
			other = fanout.Submit(context.Background(), ex, func(context.Context) (int64, error) { return calls.Load(), nil })
		}
		return x, nil
	}
	in := make([]int, n)
	// A wide window keeps inputs waiting, so the worker never runs dry and
	// ends on its own: only taking turns lets the other task in.
	for range fanout.Map(context.Background(), ex, slices.Values(in), fn, fanout.WithWindow(4096)) {
	}
	seen, err := other.Await(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// One batch (at most 16 inputs) may finish after the task queued,
	// and the worker's successor may run one more before it.
	if seen > 100+2*16 {
		t.Errorf("the other task ran after %d of Map's %d inputs, want right after the batch running when it queued", seen, n)
	}
}

// A call that ends its goroutine (runtime.Goexit, as t.FailNow does) fails
// its own input; Map still yields every input once and does not hang.
func TestMapGoexitFailsItsInput(t *testing.T) {
	for _, path := range []struct {
		name string
		opts []fanout.MapOption
	}{
		{"workers", nil},
		// Per-input options: each input a task of its own.
		{"tasks", []fanout.MapOption{fanout.WithTaskOptions(func(int, int) []fanout.TaskOption { return nil })}},
	} {
		t.Run(path.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ex := fanout.New(fanout.WithLimit(2))
				defer ex.Close()
				exits := func(x int) bool { return x%5 == 3 }
				fn := func(_ context.Context, x int) (int, error) {
					if exits(x) {
						runtime.Goexit()
					}
					return x, nil
				}
				const n = 100
				got := 0
				for x, r := range fanout.Map(t.Context(), ex, intRange(n), fn, path.opts...) {
					if x != got {
						t.Fatalf("input %d yielded, want %d", x, got)
					}
					got++
					switch {
					case exits(x) && (r.Err == nil || !strings.Contains(r.Err.Error(), "Goexit")):
						t.Errorf("input %d: %+v, want an error naming Goexit", x, r)
					case !exits(x) && (r.Err != nil || r.Value != x):
						t.Errorf("input %d: %+v", x, r)
					}
				}
				if got != n {
					t.Errorf("%d inputs yielded, want %d", got, n)
				}
				if s := ex.Stats(); s.Submitted != n || s.Failed != n/5 || s.Completed != n-n/5 {
					t.Errorf("stats %+v", s)
				}
			})
		})
	}
}

func intRange(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}

// A yielded input's cell lets go of it: inputs that hold pointers are
// collectable once yielded, while Map waits for more input.
func TestMapLetsGoOfYieldedInputs(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(4))
	defer ex.Close()
	type blob struct{ b [1 << 12]byte }
	const n = 40
	var freed atomic.Int64
	more := make(chan struct{})
	in := func(yield func(*blob) bool) {
		for range n {
			b := new(blob)
			runtime.AddCleanup(b, func(*atomic.Int64) { freed.Add(1) }, &freed)
			if !yield(b) {
				return
			}
		}
		<-more // hold Map, its window not full, until the check is done
	}
	size := func(_ context.Context, b *blob) (int, error) { return len(b.b), nil }
	got := 0
	for _, r := range fanout.Map(context.Background(), ex, in, size, fanout.WithWindow(64)) {
		if r.Err != nil || r.Value != 1<<12 {
			t.Fatalf("result %+v", r)
		}
		if got++; got < n {
			continue
		}
		// Cleanups run on their own goroutine after a collection.
		for i := 0; i < 100 && freed.Load() < n-1; i++ {
			runtime.GC()
			runtime.Gosched()
		}
		if f := freed.Load(); f < n-1 {
			t.Errorf("%d of the %d inputs yielded were collected, want all but the one in hand", f, n)
		}
		close(more)
	}
}
