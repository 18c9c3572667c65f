//go:build before

package bench

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// TestSubmitAwaitInterleaved measures submit+await like BenchmarkSubmitAwait
// but alternates the contenders in batches of 3,000 calls, 200 rounds, so
// that the load of other processes on a shared machine hits them alike; it
// logs each one's median ns/op and its ratio to goroutines (run it with -v).
// "goroutines+280B" is the bare goroutine that also allocates one
// pointer-holding object the size of a Future[int]: what the allocation
// alone costs. It asserts no speed: it is a measuring tool.
//
//	./before.sh REV && go test -tags before -run SubmitAwaitInterleaved -v .
func TestSubmitAwaitInterleaved(t *testing.T) {
	if testing.Short() {
		t.Skip("a measurement, about 5 s")
	}
	names := []string{"goroutines", "fanout", "fanout-before", "ants", "goroutines+280B"}
	rs := map[string]runner{"goroutines+280B": allocRunner{}}
	for _, c := range contenders {
		if slices.Contains(names, c.name) {
			r := c.open(64)
			defer r.close()
			rs[c.name] = r
		}
	}
	fn := func() int { return 1 }
	ns := map[string][]float64{}
	const batch = 3000
	for range 200 {
		for _, n := range names {
			r := rs[n]
			start := time.Now()
			for range batch {
				if r.one(fn) != 1 {
					t.Fatalf("%s: wrong result", n)
				}
			}
			ns[n] = append(ns[n], float64(time.Since(start).Nanoseconds())/batch)
		}
	}
	base := median(ns["goroutines"])
	for _, n := range names {
		m := median(ns[n])
		t.Logf("%-16s %6.0f ns/op  %.2fx", n, m, m/base)
	}
}

// median sorts x and returns its middle value.
func median(x []float64) float64 {
	slices.Sort(x)
	return x[len(x)/2]
}

// future280 is as large as a Future[int] and holds pointers, as it does.
type future280 struct {
	p [20]*int
	x [15]int
}

var sink280 *future280

type allocRunner struct{ goroutinesRunner }

func (allocRunner) one(fn func() int) int {
	var wg sync.WaitGroup
	f := &future280{}
	sink280 = f
	var v int
	wg.Add(1)
	go func() {
		defer wg.Done()
		v = fn()
		f.p[0], f.x[0] = &v, v
	}()
	wg.Wait()
	return v
}

// TestMapInterleaved measures Map on tiny inputs like BenchmarkMap (100,000
// inputs at limit 64) but alternates fanout, fanout-before and conc round by
// round, 40 rounds, so that load from other processes hits them alike; it
// logs each one's median ns per input and its ratio to conc (run it with
// -v). It asserts no speed: it is a measuring tool.
//
//	./before.sh REV && go test -tags before -run MapInterleaved -v .
func TestMapInterleaved(t *testing.T) {
	if testing.Short() {
		t.Skip("a measurement, about 5 s")
	}
	names := []string{"conc", "fanout", "fanout-before"}
	rs := map[string]runner{}
	for _, c := range contenders {
		if slices.Contains(names, c.name) {
			r := c.open(64)
			defer r.close()
			rs[c.name] = r
		}
	}
	const n = 100_000
	in := make([]int, n)
	for i := range in {
		in[i] = i
	}
	out := make([]int, n)
	ns := map[string][]float64{}
	for range 40 {
		for _, name := range names {
			clear(out)
			start := time.Now()
			rs[name].batch(in, out, square)
			ns[name] = append(ns[name], float64(time.Since(start).Nanoseconds())/n)
			if out[n-1] != square(n-1) {
				t.Fatalf("%s: wrong result", name)
			}
		}
	}
	base := median(ns["conc"])
	for _, name := range names {
		m := median(ns[name])
		t.Logf("%-14s %6.1f ns/input  %.2fx conc  (fastest round %.1f)", name, m, m/base, ns[name][0])
	}
}
