package httpcheck

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fanout-go/fanout"
)

// slowAcceptor models a server with a small listen backlog that accepts one
// connection per interval, as `python3 -m http.server` does when busy: a
// dial puts a connection in its queue, and a connection waits there until
// accepted.
type slowAcceptor struct {
	interval time.Duration
	queue    chan net.Conn

	mu       sync.Mutex
	waiting  int // dialed, not yet accepted
	maxQueue int
	dials    []time.Duration // when each dial started, from the start
	start    time.Time
}

func newSlowAcceptor(interval time.Duration) *slowAcceptor {
	return &slowAcceptor{interval: interval, queue: make(chan net.Conn, 1000), start: time.Now()}
}

func (a *slowAcceptor) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	client, server := net.Pipe()
	a.mu.Lock()
	a.dials = append(a.dials, time.Since(a.start))
	a.waiting++
	a.maxQueue = max(a.maxQueue, a.waiting)
	a.mu.Unlock()
	a.queue <- server
	return client, nil
}

// serve accepts one queued connection per interval and answers every
// request on it with 200 at once, until the queue is closed.
func (a *slowAcceptor) serve(wg *sync.WaitGroup) {
	for c := range a.queue {
		time.Sleep(a.interval)
		a.mu.Lock()
		a.waiting--
		a.mu.Unlock()
		wg.Go(func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				req.Body.Close()
				if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")); err != nil {
					return
				}
			}
		})
	}
}

// TestNewConnectionsArePaced checks that twenty checks starting at once on
// one host do not put twenty connections in its accept queue at once: a
// server with a listen backlog of 5 (Python's http.server) drops the SYNs
// beyond it, and they are sent again only a second later.
func TestNewConnectionsArePaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			checks  = 20
			backlog = 5
		)
		// The server accepts faster than a connection settles: the pacing
		// (newConnBurst unconfirmed at a time, each confirmed by an answer
		// or after newConnSettle) then keeps its queue under the backlog,
		// whatever the order the goroutines run in. At one accept per
		// millisecond the queue could reach 8 in some orders (the test was
		// flaky so); unpaced, all 20 wait at once.
		a := newSlowAcceptor(newConnSettle / 4)
		var wg sync.WaitGroup
		wg.Go(func() { a.serve(&wg) })

		c := newChecker(Config{Method: http.MethodGet, MaxRedirects: DefaultMaxRedirects, Concurrency: checks, UserAgent: "fanout"}, a.dial)
		e := fanout.New(fanout.WithLimit(checks))
		var urls []string
		for i := range 4 * checks {
			urls = append(urls, fmt.Sprintf("http://python.test/?i=%d", i))
		}
		for r := range c.CheckAll(t.Context(), e, URLs(urls...)) {
			if r.Status != 200 {
				t.Errorf("%+v", r)
			}
		}
		e.Close()
		c.Close()
		close(a.queue)
		wg.Wait()

		if a.maxQueue > backlog {
			t.Errorf("%d connections waited to be accepted at once, more than a backlog of %d; dials started at %v",
				a.maxQueue, backlog, a.dials)
		}
		if len(a.dials) > checks {
			t.Errorf("%d connections for %d checks at once", len(a.dials), checks)
		}
		// Pacing must not serialize: twenty connections to a server that
		// accepts one a millisecond are all open within a few of them.
		if last := a.dials[len(a.dials)-1]; last > 2*checks*time.Millisecond {
			t.Errorf("last connection dialed after %v", last)
		}
	})
}

// TestUnansweredConnectIsMadeAgain checks that a connect whose SYN a full
// accept queue dropped is made again at once, not a second later when the
// kernel would send the SYN again, and that the host's later connections
// are then counted as unconfirmed until answered.
func TestUnansweredConnectIsMadeAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			dials int
		)
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dials++
			n := dials
			mu.Unlock()
			if n == 3 {
				// The SYN is dropped: the kernel sends it again after a
				// second, unless the connect is abandoned first.
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			client, server := net.Pipe()
			wg.Go(func() {
				// One answer per connection, then close: HTTP/1.0, as
				// Python's http.server does.
				defer server.Close()
				req, err := http.ReadRequest(bufio.NewReader(server))
				if err != nil {
					return
				}
				req.Body.Close()
				server.Write([]byte("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"))
			})
			return client, nil
		}
		c := newChecker(Config{Method: http.MethodGet, MaxRedirects: DefaultMaxRedirects, Concurrency: 1, UserAgent: "fanout"}, dial)
		e := fanout.New(fanout.WithLimit(1))
		start := time.Now()
		for r := range c.CheckAll(t.Context(), e, URLs("http://python.test/1", "http://python.test/2", "http://python.test/3", "http://python.test/4")) {
			if r.Status != 200 {
				t.Errorf("%+v", r)
			}
		}
		took := time.Since(start)
		e.Close()
		c.Close()
		wg.Wait()
		if took >= time.Second {
			t.Errorf("four checks took %v: the dropped connect waited for the kernel's retransmission", took)
		}
		if dials != 5 {
			t.Errorf("%d dials, want 5 (4 and the one abandoned)", dials)
		}
		c.pool.mu.Lock()
		defer c.pool.mu.Unlock()
		if !c.pool.learned["python.test:80"].strict { // (also set by the closes)
			t.Errorf("host not strict after an unanswered connect: %+v", c.pool.learned)
		}
	})
}
