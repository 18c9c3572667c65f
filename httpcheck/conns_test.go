package httpcheck_test

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fanout-go/fanout/httpcheck"
)

// connCounter counts the connections that loopback HTTP servers accept,
// and the most open at once over all of them.
type connCounter struct {
	mu            sync.Mutex
	open, maxOpen int
	accepted      int
}

// start starts one more server whose handler takes delay, and returns its
// URL.
func (cc *connCounter) start(t *testing.T, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(delay)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			cc.mu.Lock()
			defer cc.mu.Unlock()
			switch s {
			case http.StateNew:
				cc.accepted++
				cc.open++
				cc.maxOpen = max(cc.maxOpen, cc.open)
			case http.StateClosed, http.StateHijacked:
				cc.open--
			}
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func (cc *connCounter) counts() (maxOpen, accepted int) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.maxOpen, cc.accepted
}

// TestConnectionsWithinConcurrency checks that a checker never holds more
// connections than checks run at once, across several hosts: net/http alone
// dials whenever no idle connection is free at that instant and keeps the
// extra ones.
func TestConnectionsWithinConcurrency(t *testing.T) {
	const limit = 40
	var (
		cc      connCounter
		servers []string
	)
	for range 4 {
		servers = append(servers, cc.start(t, 2*time.Millisecond))
	}
	c, e := newChecker(t, httpcheck.Config{Concurrency: limit}, limit)
	var urls []string
	for i := range 1000 {
		urls = append(urls, fmt.Sprintf("%s/?i=%d", servers[i%len(servers)], i))
	}
	for _, r := range checkAll(t.Context(), c, e, urls...) {
		if r.Status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	maxOpen, accepted := cc.counts()
	t.Logf("%d connections accepted, at most %d open at once", accepted, maxOpen)
	if maxOpen > limit {
		t.Errorf("%d connections open at once for a concurrency of %d", maxOpen, limit)
	}
}
