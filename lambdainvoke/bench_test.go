package lambdainvoke_test

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/fanout-go/fanout/lambdainvoke"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

// BenchmarkInvokeAll measures the cost of one call through the whole path
// (payload check, executor, SDK, loopback HTTP, the server's handling)
// with no run time: ns/op is per call at 64 at once.
func BenchmarkInvokeAll(b *testing.B) {
	s := lambdatest.StartTest(b, lambdatest.Options{})
	iv, e := newBenchInvoker(b, s.URL(), 64)
	b.ReportAllocs()
	b.ResetTimer()
	in := func(yield func(lambdainvoke.Input) bool) {
		payload := []byte(`{"id":"x"}`)
		for range b.N {
			if !yield(lambdainvoke.Input{Payload: payload}) {
				return
			}
		}
	}
	for r := range iv.InvokeAll(b.Context(), e, in) {
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkIssueLoad is the issue's loads: 2,000 calls of 100 ms at 200 at
// once and 10,000 at 1,000 at once, ideally 1 s each. It reports the wall
// time over the ideal and the process's CPU time per call: the loopback
// server's included, as it runs in this process, unless
// LAMBDA_BENCH_ENDPOINT names a server started apart (`lambdaserver -delay
// 100ms` of cmd/fanout), so that a CPU profile shows the client alone.
func BenchmarkIssueLoad(b *testing.B) {
	for _, load := range []struct{ calls, limit int }{{2000, 200}, {10_000, 1000}} {
		b.Run(fmt.Sprintf("%dx100ms/C=%d", load.calls, load.limit), func(b *testing.B) {
			const delay = 100 * time.Millisecond
			var s *lambdatest.Server
			endpoint := os.Getenv("LAMBDA_BENCH_ENDPOINT")
			if endpoint == "" {
				s = lambdatest.StartTest(b, lambdatest.Options{Delay: delay})
				endpoint = s.URL()
			}
			iv, e := newBenchInvoker(b, endpoint, load.limit)
			ideal := time.Duration(load.calls/load.limit) * delay
			payloads := benchPayloads(load.calls)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				start := time.Now()
				n := 0
				for r := range iv.InvokeAll(b.Context(), e, lambdainvoke.Payloads(payloads...)) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
					n++
				}
				if n != load.calls {
					b.Fatalf("%d results", n)
				}
				b.ReportMetric(float64(time.Since(start))/float64(ideal), "x-ideal")
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*load.calls), "cpu-us/call")
			if s != nil {
				b.ReportMetric(float64(s.Stats().MaxInFlight), "max-in-flight")
				b.ReportMetric(float64(s.Stats().Connections), "connections")
			}
		})
	}
}

// cpuTime returns the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchPayloads(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"id":%d}`, i)
	}
	return out
}
