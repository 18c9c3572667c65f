package httpcheck_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/fanout-go/fanout/httpcheck"
	"github.com/fanout-go/fanout/internal/testserver"
)

// BenchmarkCheckAll checks b.N URLs that answer at once, over 4 loopback
// ports, at concurrency 100: the cost per check of the library on top of
// net/http (client and server share the machine).
func BenchmarkCheckAll(b *testing.B) { benchCheckAll(b, httpcheck.Config{Concurrency: 100}) }

// BenchmarkCheckAllTimeout is BenchmarkCheckAll with Config.Timeout set,
// as the CLI sets it (--timeout): each attempt has a deadline.
func BenchmarkCheckAllTimeout(b *testing.B) {
	benchCheckAll(b, httpcheck.Config{Concurrency: 100, Timeout: 10 * time.Second})
}

func benchCheckAll(b *testing.B, cfg httpcheck.Config) {
	s := testserver.StartTest(b, testserver.WithPorts(4))
	c, e := newChecker(b, cfg, 100)
	bases := s.BaseURLs()
	urls := func(yield func(httpcheck.Input) bool) {
		for i := range b.N {
			if !yield(httpcheck.Input{URL: fmt.Sprintf("%s/status/200?i=%d", bases[i%len(bases)], i)}) {
				return
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for r := range c.CheckAll(b.Context(), e, urls) {
		if r.Status != 200 {
			b.Fatalf("%+v", r)
		}
	}
}

// BenchmarkStackPerCheck holds 500 checks in flight (the server answers
// /hang only when the check gives up) and reports the goroutine stack memory
// they take, per check: the check's task, net/http's read and write loops of
// its connection, and the in-process server's goroutine for the
// connection. The task's own stack is the part this package decides: with
// net/http's Client under it, it needed 8 KB where 4 KB do now (see
// follow.go), which is 4 MB at a thousand checks.
func BenchmarkStackPerCheck(b *testing.B) {
	const checks = 500
	s := testserver.StartTest(b)
	urls := make([]string, checks)
	for i := range urls {
		urls[i] = s.URL(fmt.Sprintf("/hang?i=%d", i))
	}
	stacks := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
	var perCheck float64
	for b.Loop() {
		// A checker of its own each time: one whose checks gave up on this
		// host has learned to open connections to it one answer at a time.
		c, e := newChecker(b, httpcheck.Config{Concurrency: checks}, checks)
		// Two collections free the stacks the last round's goroutines left
		// in the runtime's caches.
		runtime.GC()
		runtime.GC()
		metrics.Read(stacks)
		idle := stacks[0].Value.Uint64()
		ctx, cancel := context.WithCancel(b.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range c.CheckAll(ctx, e, httpcheck.URLs(urls...)) {
			}
		}()
		for s.Stats().InFlight < checks {
			time.Sleep(time.Millisecond)
		}
		runtime.GC() // stacks shrink only in a collection, as they would in a long run
		metrics.Read(stacks)
		perCheck += float64(stacks[0].Value.Uint64()-idle) / checks
		cancel()
		<-done
		e.Close()
		c.Close()
	}
	b.ReportMetric(perCheck/float64(b.N), "stack-B/check")
}
