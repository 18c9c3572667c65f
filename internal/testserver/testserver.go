// Package testserver is a fault-injecting HTTP server on the loopback
// interface. The tests of fanout's packages, `fanout demo` and the benchmarks
// all use it, so what they measure is the same server.
//
// [Start] listens on 127.0.0.1 on one or more random ports ([WithPorts]), all
// serving the same endpoints and sharing one set of counters. Endpoints (any
// method; a duration is in Go syntax such as 50ms or 1.5s):
//
//	/status/{code}[?delay=D]           answer code after D (default 0); the
//	                                   wait ends early when the client goes
//	                                   away or the server closes
//	/status/{code}/{name}[?delay=D]    the same; each name is a path of its
//	                                   own for [Server.Count]
//	/only/{method}                     200 for that method (GET, HEAD...),
//	                                   405 with an Allow header for any other
//	/redirect/{n}                      302 to /redirect/{n-1}; /redirect/0 is 200
//	/loop                              302 to /loop, for ever
//	/flaky/{key}[?fail=K&status=S&retry-after=R]
//	                                   the first K calls (default 1) that name
//	                                   key answer S (default 429) with the
//	                                   header Retry-After: R (seconds, default
//	                                   0; "none" sends no header); later calls
//	                                   answer 200
//	/reset                             read the request, then reset the TCP
//	                                   connection (RST, no response)
//	/close                             read the request, then close the
//	                                   connection cleanly without a response
//	/hang                              never answer, until the client goes
//	                                   away or the server closes
//	/stream                            200 and an endless body
//	/capacity/{pool}[?n=N&queue=Q&delay=D&retry-after=R&bad-after=K&bad-n=M]
//	                                   a server of N workers (default 8), D
//	                                   per call (default 20ms), Q calls
//	                                   (default 0) queued for a worker, 429
//	                                   with Retry-After: R (default 1) beyond;
//	                                   after its K-th call (0: never) the pool
//	                                   has M workers. See [Server.Capacity]
//	/slow-headers[?interval=D&count=N] send the status line, then N header
//	                                   lines (default 20) one every D (default
//	                                   100ms), then the end of the headers and
//	                                   a short body
//
// Every other path answers 404. The server counts requests (in total, by path,
// and the highest number handled at once) and connections; see [Server.Stats]
// and [Server.Count]. [Server.Close] ends every handler, the hanging ones
// included, and returns only when they have returned, so tests that use the
// server under goleak do not leak goroutines.
//
// A Server is safe for concurrent use. Its cost per request is a few atomic
// operations and one map look-up under a read lock on top of net/http's.
package testserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Option configures [Start].
type Option func(*options)

type options struct {
	ports int
	tls   bool
}

// WithPorts makes the server listen on n ports (default 1), all serving the
// same endpoints. It panics if n < 1.
func WithPorts(n int) Option {
	if n < 1 {
		panic("testserver: WithPorts needs n >= 1")
	}
	return func(o *options) { o.ports = n }
}

// WithTLS serves HTTPS with a self-signed certificate made at start for
// 127.0.0.1, ::1 and localhost. Clients reject it unless they trust
// [Server.CertPool] or skip verification.
func WithTLS() Option {
	return func(o *options) { o.tls = true }
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	Requests    int64 // requests received, on every port
	InFlight    int64 // requests being handled now
	MaxInFlight int64 // the most requests handled at once since Start
	Connections int64 // connections accepted
	Open        int64 // connections open now
	MaxOpen     int64 // the most connections open at once since Start
}

// Server is a running test server. Create it with [Start]; stop it with
// [Server.Close].
type Server struct {
	bases   []string
	servers []*http.Server
	pool    *x509.CertPool

	// done is closed by Close to release handlers that wait or hang.
	done      chan struct{}
	closeOnce sync.Once
	handlers  sync.WaitGroup // running handlers, hijacked ones included
	serving   sync.WaitGroup // Serve loops
	open      sync.WaitGroup // connections neither closed nor hijacked

	connMu sync.Mutex
	conns  map[net.Conn]struct{} // the connections open counts

	requests    atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	accepted    atomic.Int64
	// The open connections are counted under connMu; peakOpen is the most
	// since the last TakePeakOpen, maxOpen since Start.
	peakOpen, maxOpen int64

	mu     sync.RWMutex
	byPath map[string]*atomic.Int64
	byKey  map[string]int // calls per /flaky key
	pools  map[string]*capacityPool
}

// Start starts a server on 127.0.0.1. It returns an error only when it cannot
// listen or make its certificate.
func Start(opts ...Option) (*Server, error) {
	o := options{ports: 1}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{
		done:   make(chan struct{}),
		byPath: make(map[string]*atomic.Int64),
		byKey:  make(map[string]int),
		conns:  make(map[net.Conn]struct{}),
	}
	var tlsConfig *tls.Config
	scheme := "http"
	if o.tls {
		cert, pool, err := selfSignedCert()
		if err != nil {
			return nil, fmt.Errorf("testserver: certificate: %w", err)
		}
		// HTTP/1.1 only: the fault endpoints hijack the connection, which
		// HTTP/2 cannot do.
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
		s.pool = pool
		scheme = "https"
	}
	handler := s.count(s.routes())
	listeners := make([]net.Listener, 0, o.ports)
	for range o.ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return nil, fmt.Errorf("testserver: listen: %w", err)
		}
		if tlsConfig != nil {
			ln = tls.NewListener(ln, tlsConfig)
		}
		listeners = append(listeners, ln)
		s.bases = append(s.bases, scheme+"://"+ln.Addr().String())
	}
	for _, ln := range listeners {
		srv := &http.Server{
			Handler: handler,
			// Resets, refused handshakes and hijacks are the point of this
			// server; net/http's complaints about them are noise.
			ErrorLog:  log.New(io.Discard, "", 0),
			ConnState: s.connState,
		}
		s.servers = append(s.servers, srv)
		s.serving.Go(func() { srv.Serve(ln) })
	}
	return s, nil
}

// URL returns the URL of path on the first port, e.g.
// URL("/status/200?delay=50ms").
func (s *Server) URL(path string) string { return s.bases[0] + path }

// BaseURLs returns the base URL of each port, such as http://127.0.0.1:41234,
// in the order of the ports.
func (s *Server) BaseURLs() []string { return append([]string(nil), s.bases...) }

// CertPool returns a pool trusting the server's certificate, or nil when the
// server does not use TLS.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.connMu.Lock()
	open, maxOpen := int64(len(s.conns)), s.maxOpen
	s.connMu.Unlock()
	return Stats{
		Requests:    s.requests.Load(),
		InFlight:    s.inFlight.Load(),
		MaxInFlight: s.maxInFlight.Load(),
		Connections: s.accepted.Load(),
		Open:        open,
		MaxOpen:     maxOpen,
	}
}

// TakePeakOpen returns the most connections that were open at once since
// the last call (or since Start) and starts a new period from the number
// open now. A harness calls it before and after a run to learn the run's
// peak: a client that closes and re-opens connections accepts more over a
// run than its limit without ever holding more at once.
func (s *Server) TakePeakOpen() int64 {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	peak := s.peakOpen
	s.peakOpen = int64(len(s.conns))
	return peak
}

// Count returns how many requests asked for path (without the query), e.g.
// Count("/flaky/a").
func (s *Server) Count(path string) int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if c := s.byPath[path]; c != nil {
		return c.Load()
	}
	return 0
}

// Close stops the server: it closes the listeners and connections, releases
// every waiting or hanging handler and returns when all have returned. It is
// safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		// Closing the connections first means a released handler cannot
		// answer any more; done then releases the hijacked ones too.
		for _, srv := range s.servers {
			srv.Close()
		}
		s.serving.Wait()
		// A connection accepted just as the server closed escapes
		// http.Server.Close; close it here.
		s.connMu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.connMu.Unlock()
		close(s.done)
		// Once every connection is closed or hijacked no handler can start,
		// so waiting for the handlers cannot miss one.
		s.open.Wait()
		s.handlers.Wait()
	})
}

// connState tracks the open connections for Close.
func (s *Server) connState(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	switch st {
	case http.StateNew:
		s.accepted.Add(1)
		s.conns[c] = struct{}{}
		s.open.Add(1)
		n := int64(len(s.conns))
		s.peakOpen = max(s.peakOpen, n)
		s.maxOpen = max(s.maxOpen, n)
	case http.StateClosed, http.StateHijacked:
		if _, ok := s.conns[c]; ok {
			delete(s.conns, c)
			s.open.Done()
		}
	}
}

// count wraps h with the request counters.
func (s *Server) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.handlers.Add(1)
		defer s.handlers.Done()
		s.requests.Add(1)
		s.pathCounter(r.URL.Path).Add(1)
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for {
			highest := s.maxInFlight.Load()
			if n <= highest || s.maxInFlight.CompareAndSwap(highest, n) {
				break
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) pathCounter(path string) *atomic.Int64 {
	s.mu.RLock()
	c := s.byPath[path]
	s.mu.RUnlock()
	if c != nil {
		return c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c = s.byPath[path]; c == nil {
		c = new(atomic.Int64)
		s.byPath[path] = c
	}
	return c
}

// wait blocks until ctx ends or the server closes, and reports why.
func (s *Server) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return errClosed
	}
}

var errClosed = errors.New("testserver: closed")

// TB is the part of testing.TB that [StartTest] uses; this package does not
// import testing, since `fanout demo` links it into the binary.
type TB interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// StartTest starts a server for a test, failing it when the server cannot
// start, and closes the server when the test ends.
func StartTest(t TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
