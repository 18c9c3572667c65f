package httpcheck

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
)

// countingDialer dials real connections and counts those open at once, as
// the client holds them: a server notices a close only after it reads it,
// sometimes after the next connection is accepted.
type countingDialer struct {
	net.Dialer

	mu            sync.Mutex
	open, maxOpen int
	dials         int
}

func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.Dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.dials++
	d.open++
	d.maxOpen = max(d.maxOpen, d.open)
	d.mu.Unlock()
	return &countedConn{Conn: c, d: d}, nil
}

type countedConn struct {
	net.Conn
	d    *countingDialer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.d.mu.Lock()
		c.d.open--
		c.d.mu.Unlock()
	})
	return c.Conn.Close()
}

// startServers starts n loopback HTTP servers that answer 200 after delay,
// counting the connections they accept.
func startServers(t *testing.T, n int, delay time.Duration) (urls []string, accepted func() int) {
	var (
		mu    sync.Mutex
		count int
	)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{
			Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(delay) }),
			ConnState: func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					mu.Lock()
					count++
					mu.Unlock()
				}
			},
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		urls = append(urls, "http://"+ln.Addr().String())
	}
	return urls, func() int {
		mu.Lock()
		defer mu.Unlock()
		return count
	}
}

// TestConnectionsWithinConcurrency checks that a checker never holds more
// connections than checks run at once, over several hosts: net/http alone
// dials whenever no idle connection is free at that instant and keeps the
// extra ones; and idle connections to hosts no longer asked for stay open.
// The second half of the list asks only for hosts without connections: the
// pool makes room by closing idle ones. Without the bound 73 to 80
// connections were open at once here.
func TestConnectionsWithinConcurrency(t *testing.T) {
	const limit = 40
	servers, accepted := startServers(t, 8, time.Millisecond)
	d := &countingDialer{}
	c := newChecker(Config{Method: http.MethodGet, MaxRedirects: DefaultMaxRedirects, Concurrency: limit, UserAgent: "fanout"}, d.DialContext)
	e := fanout.New(fanout.WithLimit(limit))
	defer c.Close()
	defer e.Close()

	var urls []string
	for i := range 4000 {
		urls = append(urls, fmt.Sprintf("%s/?i=%d", servers[i%4], i)) // first the first 4 hosts
	}
	for i := range 1000 {
		urls = append(urls, fmt.Sprintf("%s/?j=%d", servers[4+i%4], i)) // then the other 4
	}
	for r := range c.CheckAll(t.Context(), e, URLs(urls...)) {
		if r.Status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t.Logf("%d connections dialed, at most %d open at once; servers accepted %d", d.dials, d.maxOpen, accepted())
	if d.maxOpen > limit {
		t.Errorf("%d connections open at once for a concurrency of %d", d.maxOpen, limit)
	}
}

// TestConnectionsWithinPerHost checks that a checker holds no more
// connections to one host than Config.PerHost, even when more checks of
// that host run at once (an executor without the key limit, or redirects
// into the host): the lean path's checks wait for one of the host's
// connections, as the Transport's MaxConnsPerHost makes them.
func TestConnectionsWithinPerHost(t *testing.T) {
	const (
		limit   = 20
		perHost = 3
	)
	servers, _ := startServers(t, 2, time.Millisecond)
	d := &countingDialer{}
	c := newChecker(Config{Method: http.MethodGet, MaxRedirects: DefaultMaxRedirects, Concurrency: limit, PerHost: perHost, UserAgent: "fanout"}, d.DialContext)
	e := fanout.New(fanout.WithLimit(limit)) // no key limit: 20 checks of one host at once
	defer c.Close()
	defer e.Close()
	var urls []string
	for i := range 2000 {
		urls = append(urls, fmt.Sprintf("%s/?i=%d", servers[i/1000], i))
	}
	for r := range c.CheckAll(t.Context(), e, URLs(urls...)) {
		if r.Status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// The first host's connections stay open, idle, while the second's are
	// used: the pool has room for them.
	if d.maxOpen > 2*perHost || d.dials > 2*perHost {
		t.Errorf("%d connections dialed, %d open at once, for two hosts at most %d a host", d.dials, d.maxOpen, perHost)
	}
}
