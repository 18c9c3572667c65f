package httpcheck_test

import (
	"fmt"
	"testing"

	"github.com/fanout-go/fanout/httpcheck"
	"github.com/fanout-go/fanout/internal/testserver"
)

// BenchmarkCheckAll checks b.N URLs that answer at once, over 4 loopback
// ports, at concurrency 100: the cost per check of the library on top of
// net/http (client and server share the machine).
func BenchmarkCheckAll(b *testing.B) {
	s := testserver.StartTest(b, testserver.WithPorts(4))
	c, e := newChecker(b, httpcheck.Config{Concurrency: 100}, 100)
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
