package httpcheck_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fanout-go/fanout/httpcheck"
	"github.com/fanout-go/fanout/internal/testserver"
)

// TestSlowHostDoesNotHoldBackOthers: with a per-host limit, a host that
// stops answering keeps its own URLs waiting, not the other hosts' URLs
// mixed with them, although far more of its URLs wait than the read-ahead
// window holds.
func TestSlowHostDoesNotHoldBackOthers(t *testing.T) {
	release := make(chan struct{})
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer bad.Close()
	good := testserver.StartTest(t)
	// Limit 2: Map reads 4 URLs ahead, besides those waiting for their host.
	c, e := newChecker(t, httpcheck.Config{PerHost: 1}, 2)
	const pairs = 30
	var urls []string
	for range pairs {
		urls = append(urls, bad.URL+"/", good.URL("/status/200"))
	}
	results := make(chan httpcheck.Result)
	go func() {
		defer close(results)
		for r := range c.CheckAllUnordered(t.Context(), e, httpcheck.URLs(urls...)) {
			results <- r
		}
	}()
	// Every good URL must be checked while the bad host holds its first
	// request. The deadline only keeps a regression from hanging the test.
	deadline := time.After(30 * time.Second)
	for ok := 0; ok < pairs; {
		select {
		case r := <-results:
			if r.Index%2 == 0 || r.Status != 200 {
				t.Fatalf("while the bad host hangs: %+v", r)
			}
			ok++
		case <-deadline:
			close(release)
			for range results {
			}
			t.Fatalf("only %d of %d good URLs checked while the bad host hung", ok, pairs)
		}
	}
	close(release)
	n := pairs
	for r := range results {
		if r.Status != 200 {
			t.Errorf("%+v", r)
		}
		n++
	}
	if n != 2*pairs {
		t.Errorf("%d results, want %d", n, 2*pairs)
	}
}
