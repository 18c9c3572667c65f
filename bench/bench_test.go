package bench

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// ants starts the goroutines of its package-level default pool at
	// init; they are not ours to stop.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

func square(x int) int { return x * x }

// TestContendersAgree checks that every contender really runs every task
// and puts each result in its place, and that none exceeds its limit.
func TestContendersAgree(t *testing.T) {
	const n, limit = 5000, 8
	in := make([]int, n)
	for i := range in {
		in[i] = i
	}
	for _, c := range contenders {
		t.Run(c.name, func(t *testing.T) {
			r := c.open(limit)
			defer r.close()
			if got := r.one(func() int { return 42 }); got != 42 {
				t.Errorf("one = %d, want 42", got)
			}
			var running, peak atomicMax
			out := make([]int, n)
			r.batch(in, out, func(x int) int {
				peak.observe(running.add(1))
				runtime.Gosched()
				running.add(-1)
				return square(x)
			})
			for i, v := range out {
				if v != square(in[i]) {
					t.Fatalf("out[%d] = %d, want %d", i, v, square(in[i]))
				}
			}
			if p := peak.load(); p > limit || p < 1 {
				t.Errorf("peak concurrency %d, want 1..%d", p, limit)
			}
		})
	}
}

// BenchmarkSubmitAwait measures one empty task submitted and awaited, the
// round trip a caller pays for a single future (ns/op, allocs/op).
func BenchmarkSubmitAwait(b *testing.B) {
	for _, c := range contenders {
		if c.name == "fanout-futures" {
			continue // same single-task path as fanout
		}
		b.Run(c.name, func(b *testing.B) {
			r := c.open(64)
			defer r.close()
			fn := func() int { return 1 }
			b.ReportAllocs()
			for b.Loop() {
				if r.one(fn) != 1 {
					b.Fatal("wrong result")
				}
			}
		})
	}
}

// BenchmarkSubmitAwaitOwnAllocs is fanout's submit+await with a function
// that captures nothing, so allocs/op counts only fanout's own allocations:
// in BenchmarkSubmitAwait every contender pays one more for the closure
// that adapts the shared task to its API.
func BenchmarkSubmitAwaitOwnAllocs(b *testing.B) {
	e := fanout.New(fanout.WithLimit(64))
	defer e.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if v, err := fanout.Submit(ctx, e, one).Await(ctx); v != 1 || err != nil {
			b.Fatal("wrong result")
		}
	}
}

func one(context.Context) (int, error) { return 1, nil }

// BenchmarkMap runs 100,000 small tasks per op at limit 64 with every
// result kept in input order, and reports the cost per task.
func BenchmarkMap(b *testing.B) { benchMap(b, 100_000, square) }

// BenchmarkMapMedium runs 20,000 tasks of about 5 us of CPU each per op at
// limit 64: calls too long for Map's batching of tiny ones, too short to
// hide a goroutine's start.
func BenchmarkMapMedium(b *testing.B) { benchMap(b, 20_000, spin) }

// benchMap runs fn over n inputs per op on every contender at limit 64,
// and reports the time and allocations per task.
func benchMap(b *testing.B, n int, fn func(int) int) {
	in := make([]int, n)
	for i := range in {
		in[i] = i
	}
	out := make([]int, n)
	for _, c := range contenders {
		b.Run(c.name, func(b *testing.B) {
			r := c.open(64)
			defer r.close()
			b.ReportAllocs()
			allocs := allocCount()
			for b.Loop() {
				r.batch(in, out, fn)
			}
			tasks := float64(b.N) * float64(n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/tasks, "ns/task")
			b.ReportMetric(float64(allocCount()-allocs)/tasks, "allocs/task")
			if out[n-1] != fn(n-1) {
				b.Fatal("wrong result")
			}
		})
	}
}

// spin is about 5 us of CPU: a hash chain the compiler cannot drop.
func spin(x int) int {
	h := uint64(x)
	for range 2500 {
		h ^= h << 13
		h ^= h >> 7
		h ^= h << 17
	}
	return int(h & 0xffff)
}

// BenchmarkBlocking runs 10,000 tasks that each block 20 ms at limit 1,000:
// the ideal is 10 waves of 20 ms, 200 ms per op. x-ideal is the measured
// wall time over that ideal.
func BenchmarkBlocking(b *testing.B) {
	const n, limit, block = 10_000, 1000, 20 * time.Millisecond
	ideal := time.Duration(n/limit) * block
	in := make([]int, n)
	for i := range in {
		in[i] = i
	}
	out := make([]int, n)
	sleep := func(x int) int { time.Sleep(block); return x }
	for _, c := range contenders {
		b.Run(c.name, func(b *testing.B) {
			r := c.open(limit)
			defer r.close()
			b.ReportAllocs()
			for b.Loop() {
				r.batch(in, out, sleep)
			}
			perOp := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(perOp)/float64(ideal), "x-ideal")
			if out[n-1] != n-1 {
				b.Fatal("wrong result")
			}
		})
	}
}

// allocCount is the number of heap allocations so far in the process.
func allocCount() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}
