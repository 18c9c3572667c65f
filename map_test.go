package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
)

// counted yields 0..n-1 and counts how many were pulled.
func counted(n int, pulled *atomic.Int64) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			pulled.Add(1)
			if !yield(i) {
				return
			}
		}
	}
}

func TestMapOrderAndWindow(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		t.Run(fmt.Sprint("ordered=", ordered), func(t *testing.T) {
			ex := fanout.New(fanout.WithLimit(8))
			defer ex.Close()
			const n, window = 500, 16
			var pulled atomic.Int64
			var inFlight, mostInFlight atomic.Int64
			fn := func(ctx context.Context, i int) (int, error) {
				cur := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := mostInFlight.Load(); cur > m && !mostInFlight.CompareAndSwap(m, cur); m = mostInFlight.Load() {
				}
				time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
				if i%7 == 0 {
					return 0, fmt.Errorf("input %d: %w", i, errOdd)
				}
				return i * 2, nil
			}
			mapper := fanout.Map[int, int]
			if !ordered {
				mapper = fanout.MapUnordered[int, int]
			}
			seen := make([]int, n)
			next, yielded := 0, 0
			for i, r := range mapper(t.Context(), ex, counted(n, &pulled), fn, fanout.WithWindow(window)) {
				if ordered && i != next {
					t.Fatalf("got index %d, want %d: Map must yield in input order", i, next)
				}
				next++
				yielded++
				seen[i]++
				if i%7 == 0 && !errors.Is(r.Err, errOdd) || i%7 != 0 && (r.Err != nil || r.Value != 2*i) {
					t.Fatalf("index %d: %+v", i, r)
				}
				if ahead := pulled.Load() - int64(yielded); ahead > window {
					t.Fatalf("%d inputs pulled but not yielded, window %d", ahead, window)
				}
			}
			for i, c := range seen {
				if c != 1 {
					t.Fatalf("input %d yielded %d times", i, c)
				}
			}
			if mostInFlight.Load() > 8 {
				t.Fatalf("%d in flight, limit 8", mostInFlight.Load())
			}
		})
	}
}

var errOdd = errors.New("odd input")

func TestMapBreakCancelsInFlight(t *testing.T) {
	for _, mapper := range []func(context.Context, *fanout.Executor, iter.Seq[int], func(context.Context, int) (int, error), ...fanout.MapOption) iter.Seq2[int, fanout.Result[int]]{
		fanout.Map[int, int], fanout.MapUnordered[int, int],
	} {
		ex := fanout.New(fanout.WithLimit(4))
		var pulled atomic.Int64
		fn := func(ctx context.Context, i int) (int, error) {
			if i == 0 {
				return 0, nil
			}
			<-ctx.Done() // the rest block until Map cancels them
			return 0, ctx.Err()
		}
		for range mapper(t.Context(), ex, counted(1_000_000, &pulled), fn, fanout.WithWindow(8)) {
			break
		}
		ex.Close() // every task has returned
		if pulled.Load() > 9 {
			t.Fatalf("pulled %d inputs with a window of 8", pulled.Load())
		}
		if s := ex.Stats(); s.Running != 0 || s.Waiting != 0 {
			t.Fatalf("after break: %+v", s)
		}
	}
}

func TestMapContextEndsEveryPulledInputYieldedOnce(t *testing.T) {
	ex := fanout.New(fanout.WithLimit(2))
	defer ex.Close()
	ctx, cancel := context.WithCancel(t.Context())
	// handed counts the inputs in's yield was called with; accepted, those
	// for which it returned true. An input handed over as ctx ends, by a
	// yield that returns false, may be yielded or dropped; every input
	// accepted must be yielded.
	var handed, accepted atomic.Int64
	inDone := make(chan struct{})
	in := func(yield func(int) bool) {
		defer close(inDone)
		for i := range 1000 {
			handed.Add(1)
			if !yield(i) {
				return
			}
			accepted.Add(1)
		}
	}
	fn := func(ctx context.Context, i int) (int, error) {
		if i == 5 {
			cancel()
		}
		if i > 5 {
			<-ctx.Done() // runs until canceled, if it runs at all
			return 0, ctx.Err()
		}
		return i, nil
	}
	yielded := 0
	canceled := 0
	for i, r := range fanout.Map(ctx, ex, in, fn) {
		if i != yielded {
			t.Fatalf("input %d, want %d", i, yielded)
		}
		yielded++
		if i > 5 && errors.Is(r.Err, context.Canceled) {
			canceled++
		}
	}
	<-inDone // Map may return while its goroutine is inside yield
	if y := int64(yielded); y < accepted.Load() || y > handed.Load() {
		t.Fatalf("%d inputs handed over, %d accepted, %d yielded: each accepted input needs one result", handed.Load(), accepted.Load(), yielded)
	}
	if yielded >= 1000 || yielded < 6 {
		t.Fatalf("yielded %d", yielded)
	}
	if canceled != yielded-6 {
		t.Fatalf("%d of the %d results after input 5 canceled, want all", canceled, yielded-6)
	}
}

func TestMapTaskOptions(t *testing.T) {
	var mu sync.Mutex
	labels := map[string]bool{}
	rec := &labelRecorder{mu: &mu, labels: labels}
	ex := fanout.New(fanout.WithObserver(rec), fanout.WithKeyLimit(1))
	defer ex.Close()
	in := func(yield func(string) bool) {
		for _, s := range []string{"a", "b", "c"} {
			if !yield(s) {
				return
			}
		}
	}
	opts := fanout.WithTaskOptions(func(i int, s string) []fanout.TaskOption {
		return []fanout.TaskOption{fanout.WithLabel(fmt.Sprint(i, s)), fanout.WithKey("host")}
	})
	for _, r := range fanout.Map(t.Context(), ex, in, func(ctx context.Context, s string) (string, error) { return s, nil }, opts) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !labels["0a"] || !labels["1b"] || !labels["2c"] {
		t.Fatalf("labels %v", labels)
	}
}

func TestMapTaskOptionsWrongTypePanics(t *testing.T) {
	ex := fanout.New()
	defer ex.Close()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a WithTaskOptions of another input type")
		}
	}()
	opts := fanout.WithTaskOptions(func(int, string) []fanout.TaskOption { return nil })
	for range fanout.Map(t.Context(), ex, counted(1, new(atomic.Int64)), func(ctx context.Context, i int) (int, error) { return i, nil }, opts) {
	}
}

type labelRecorder struct {
	nopObserver
	mu     *sync.Mutex
	labels map[string]bool
}

func (l *labelRecorder) TaskQueued(t fanout.TaskInfo, _ time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.labels[t.Label] = t.Key == "host"
}

// FuzzMap checks Map's contract for any input size, window, limit and
// completion order: input order (or completion order with every index once),
// exactly one result per input, and the window bound.
func FuzzMap(f *testing.F) {
	f.Add(uint16(0), uint8(1), uint8(1), int64(1), false)
	f.Add(uint16(100), uint8(3), uint8(2), int64(7), false)
	f.Add(uint16(300), uint8(1), uint8(8), int64(42), true)
	f.Add(uint16(57), uint8(64), uint8(5), int64(3), true)
	f.Fuzz(func(t *testing.T, n uint16, window, limit uint8, seed int64, unordered bool) {
		n %= 2000
		w, l := int(window%64)+1, int(limit%16)+1
		ex := fanout.New(fanout.WithLimit(l))
		defer ex.Close()
		r := rand.New(rand.NewPCG(uint64(seed), 0))
		delays := make([]time.Duration, n)
		for i := range delays {
			delays[i] = time.Duration(r.IntN(50)) * time.Microsecond
		}
		var pulled atomic.Int64
		fn := func(ctx context.Context, i int) (int, error) {
			time.Sleep(delays[i])
			return -i, nil
		}
		mapper := fanout.Map[int, int]
		if unordered {
			mapper = fanout.MapUnordered[int, int]
		}
		seen := make([]bool, n)
		count := 0
		for i, res := range mapper(context.Background(), ex, counted(int(n), &pulled), fn, fanout.WithWindow(w)) {
			if !unordered && i != count {
				t.Fatalf("index %d at position %d", i, count)
			}
			if seen[i] {
				t.Fatalf("index %d yielded twice", i)
			}
			seen[i] = true
			count++
			if res.Value != -i || res.Err != nil {
				t.Fatalf("index %d: %+v", i, res)
			}
			if pulled.Load()-int64(count) > int64(w) {
				t.Fatalf("window %d exceeded: %d pulled, %d yielded", w, pulled.Load(), count)
			}
		}
		if count != int(n) {
			t.Fatalf("%d results for %d inputs", count, n)
		}
	})
}

func TestMapPanicBecomesThatInputsError(t *testing.T) {
	ex := fanout.New()
	defer ex.Close()
	fn := func(ctx context.Context, i int) (int, error) {
		if i == 2 {
			panic("bad input")
		}
		return i, nil
	}
	for i, r := range fanout.Map(t.Context(), ex, counted(4, new(atomic.Int64)), fn) {
		var pe *fanout.PanicError
		if i == 2 && (!errors.As(r.Err, &pe) || pe.Value != "bad input") || i != 2 && (r.Err != nil || r.Value != i) {
			t.Fatalf("index %d: %+v", i, r)
		}
	}
}
