package lambdainvoke_test

import (
	"fmt"
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
	iv, e := newBenchInvoker(b, s, 64)
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

// BenchmarkIssueLoad is the issue's load: 2,000 calls of 100 ms at 200 at
// once, ideally 1 s. It reports the wall time over the ideal.
func BenchmarkIssueLoad(b *testing.B) {
	const calls, limit, delay = 2000, 200, 100 * time.Millisecond
	s := lambdatest.StartTest(b, lambdatest.Options{Delay: delay})
	iv, e := newBenchInvoker(b, s, limit)
	ideal := time.Duration(calls/limit) * delay
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		n := 0
		for r := range iv.InvokeAll(b.Context(), e, lambdainvoke.Payloads(benchPayloads(calls)...)) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			n++
		}
		if n != calls {
			b.Fatalf("%d results", n)
		}
		b.ReportMetric(float64(time.Since(start))/float64(ideal), "x-ideal")
	}
	b.ReportMetric(float64(s.Stats().MaxInFlight), "max-in-flight")
	b.ReportMetric(float64(s.Stats().Connections), "connections")
}

func benchPayloads(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"id":%d}`, i)
	}
	return out
}
