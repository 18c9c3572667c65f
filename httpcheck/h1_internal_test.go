package httpcheck

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fanout-go/fanout"
)

// newTestChecker returns a Checker for cfg, closed at the end of the test.
func newTestChecker(t *testing.T, cfg Config) *Checker {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// checkOne checks one URL with c on an executor of its own.
func checkOne(ctx context.Context, c *Checker, u string) Result {
	e := fanout.New(append(c.ExecutorOptions(), fanout.WithLimit(c.cfg.Concurrency))...)
	defer e.Close()
	return c.Check(ctx, e, u)
}

// scriptServer is a loopback server that answers each request with the
// bytes its script writes, as a hostile or old server might: raw, so that
// nothing in net/http's server tidies them up.
type scriptServer struct {
	ln     net.Listener
	script func(n int, req *http.Request, w io.Writer) (closeConn bool)

	mu       sync.Mutex
	accepted int
	requests []string // each request's line and header, Accept-Encoding left out
	wg       sync.WaitGroup
	conns    map[net.Conn]bool
}

func startScript(t *testing.T, script func(n int, req *http.Request, w io.Writer) bool) *scriptServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{ln: ln, script: script, conns: make(map[net.Conn]bool)}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

func (s *scriptServer) url(path string) string { return "http://" + s.ln.Addr().String() + path }

func (s *scriptServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.accepted++
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.handle(c)
	}
}

func (s *scriptServer) handle(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		req.Header.Del("Accept-Encoding")
		var sb strings.Builder
		fmt.Fprintf(&sb, "%s %s %s host=%s\n", req.Method, req.RequestURI, req.Proto, req.Host)
		req.Header.Write(&sb)
		addr := s.ln.Addr().String()
		s.mu.Lock()
		n := len(s.requests)
		s.requests = append(s.requests, strings.ReplaceAll(sb.String(), addr, "SERVER"))
		s.mu.Unlock()
		if s.script(n, req, c) {
			return
		}
	}
}

func (s *scriptServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *scriptServer) seen() (accepted int, requests []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted, append([]string(nil), s.requests...)
}

// TestLeanPathMatchesTransport checks URLs one after the other against
// servers that answer in every way HTTP/1.x allows, and some it does not,
// once on the lean path and once with every request on net/http's
// Transport, and compares what came back (status, kind of error), what the
// server saw (requests, connections), and that no goroutine is left.
func TestLeanPathMatchesTransport(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	cases := []struct {
		name   string
		method string
		script func(n int, req *http.Request, w io.Writer) bool
	}{
		{"keep-alive", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, ok)
			return false
		}},
		{"chunked", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
			return false
		}},
		{"http/1.0 without length", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, "HTTP/1.0 200 OK\r\n\r\nhello")
			return true
		}},
		{"connection close", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx")
			return true
		}},
		{"continue then ok", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"+ok)
			return false
		}},
		{"six 1xx", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 6)+ok)
			return false
		}},
		{"garbage", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, "HELLO THERE\r\n\r\n")
			return true
		}},
		{"closed without answer", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			return true
		}},
		{"half a header", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Le")
			return true
		}},
		{"short body", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
			return true
		}},
		{"keep-alive closed after one", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, ok)
			return true // says nothing, closes: the next request finds it closed
		}},
		{"body beyond the limit", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", BodyLimit+1, strings.Repeat("x", BodyLimit+1))
			return false
		}},
		{"head with a length", "HEAD", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
			return false
		}},
		{"no content", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, "HTTP/1.1 204 No Content\r\n\r\n")
			return false
		}},
		{"redirect on the same connection", "GET", func(n int, req *http.Request, w io.Writer) bool {
			if req.URL.Path == "/" {
				io.WriteString(w, "HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 3\r\n\r\nabc")
				return false
			}
			io.WriteString(w, ok)
			return false
		}},
		{"header without end", "GET", func(n int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, "HTTP/1.1 200 OK\r\n")
			line := "X-Filler: " + strings.Repeat("y", 1000) + "\r\n"
			for sent := 0; sent <= maxHeaderBytes; sent += len(line) {
				if _, err := io.WriteString(w, line); err != nil {
					break
				}
			}
			return true
		}},
	}
	type outcome struct {
		Statuses []int
		Kinds    []ErrorKind
		Errors   []string
		Accepted int
		Requests []string
	}
	run := func(t *testing.T, lean bool, method string, script func(int, *http.Request, io.Writer) bool) outcome {
		s := startScript(t, script)
		c, err := New(Config{Method: method, Concurrency: 4})
		if err != nil {
			t.Fatal(err)
		}
		if !lean {
			c.h1 = nil
		}
		var o outcome
		for range 3 {
			r := checkOne(t.Context(), c, s.url("/"))
			o.Statuses = append(o.Statuses, r.Status)
			o.Kinds = append(o.Kinds, r.ErrorKind)
			o.Errors = append(o.Errors, r.Error)
		}
		c.Close()
		s.close()
		o.Accepted, o.Requests = s.seen()
		return o
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lean := run(t, true, tc.method, tc.script)
			std := run(t, false, tc.method, tc.script)
			if diff := cmp.Diff(std, lean); diff != "" {
				t.Errorf("lean path differs from the Transport (-Transport +lean):\n%s", diff)
			}
		})
	}
}

// TestLeanPathUsed checks that a plain http check goes on the lean path
// and leaves its connection idle there, and that a request the lean path
// does not write (a header value with a line break) goes to the Transport,
// which refuses it.
func TestLeanPathUsed(t *testing.T) {
	s := startScript(t, func(n int, _ *http.Request, w io.Writer) bool {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		return false
	})
	c := newTestChecker(t, Config{Header: http.Header{"X-Note": {"a\nb"}}})
	if r := checkOne(t.Context(), c, s.url("/")); !strings.Contains(r.Error, `net/http: invalid header field value for "X-Note"`) {
		t.Fatalf("check with a line break in a header: %v, want net/http's error", r.Err)
	}
	c.h1.mu.Lock()
	n := len(c.h1.idle)
	c.h1.mu.Unlock()
	if n != 0 {
		t.Errorf("lean path kept %d idle hosts for a request it should leave to net/http", n)
	}

	c2 := newTestChecker(t, Config{})
	if r := checkOne(t.Context(), c2, s.url("/")); r.Err != nil || r.Status != 200 {
		t.Fatalf("check: %+v", r)
	}
	c2.h1.mu.Lock()
	idle := len(c2.h1.idle[s.ln.Addr().String()])
	c2.h1.mu.Unlock()
	if idle != 1 {
		t.Errorf("lean path holds %d idle connections to the server, want 1", idle)
	}
	_, reqs := s.seen()
	want := []string{"GET / HTTP/1.1 host=SERVER\nUser-Agent: fanout\r\n"}
	if diff := cmp.Diff(want, reqs); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// TestLeanPathHonoursProxy sends a check through the proxy the Transport
// is given: the lean path, which speaks only to origin servers, must leave
// it alone.
func TestLeanPathHonoursProxy(t *testing.T) {
	proxy := startScript(t, func(n int, _ *http.Request, w io.Writer) bool {
		io.WriteString(w, "HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n")
		return false
	})
	// origin.test is never looked up: the resolver refuses, so a lean path
	// that skipped the proxy fails here without a query leaving the host.
	noDNS := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS in this test")
	}}
	c := newTestChecker(t, Config{Resolver: noDNS})
	pu, _ := url.Parse(proxy.url(""))
	c.transport.Proxy = http.ProxyURL(pu)
	r := checkOne(t.Context(), c, "http://origin.test/x")
	if r.Status != http.StatusTeapot {
		t.Fatalf("check through the proxy: status %d, error %v; want 418 from the proxy", r.Status, r.Err)
	}
	_, reqs := proxy.seen()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0], "GET http://origin.test/x HTTP/1.1") {
		t.Errorf("proxy saw %q, want one absolute-form request", reqs)
	}
}

// TestLeanPathCancel cancels a check whose server never answers: the
// check returns as canceled, and its connection is closed, not kept.
func TestLeanPathCancel(t *testing.T) {
	got := make(chan struct{})
	var once sync.Once
	s := startScript(t, func(n int, _ *http.Request, w io.Writer) bool {
		once.Do(func() { close(got) })
		// Wait for the client to close the connection.
		io.Copy(io.Discard, w.(net.Conn))
		return true
	})
	c := newTestChecker(t, Config{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-got
		cancel()
	}()
	r := checkOne(ctx, c, s.url("/"))
	if !errors.Is(r.Err, context.Canceled) || r.ErrorKind != KindCanceled {
		t.Fatalf("canceled check: %v (%s), want context.Canceled", r.Err, r.ErrorKind)
	}
	c.h1.mu.Lock()
	idle := len(c.h1.idle)
	c.h1.mu.Unlock()
	if idle != 0 {
		t.Errorf("the canceled request's connection was kept idle")
	}
	s.close() // returns once the server read the close
}

// TestLeanPathHandsOver runs many checks on one connection's room: each
// check waiting for a connection gets the one another check frees, and
// the pool never opens a second; an idle connection to a host no longer
// asked for is closed for a new host, and leaves the lean path's idle
// list.
func TestLeanPathHandsOver(t *testing.T) {
	body := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	a := startScript(t, func(_ int, _ *http.Request, w io.Writer) bool { io.WriteString(w, body); return false })
	b := startScript(t, func(_ int, _ *http.Request, w io.Writer) bool { io.WriteString(w, body); return false })
	c := newTestChecker(t, Config{Concurrency: 1})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if r := checkOne(t.Context(), c, a.url("/")); r.Err != nil {
				t.Errorf("check: %v", r.Err)
			}
		})
	}
	wg.Wait()
	if n, _ := a.seen(); n != 1 {
		t.Errorf("server accepted %d connections for 20 checks at concurrency 1, want 1", n)
	}
	if r := checkOne(t.Context(), c, b.url("/")); r.Err != nil {
		t.Fatalf("check of a new host: %v", r.Err)
	}
	c.h1.mu.Lock()
	defer c.h1.mu.Unlock()
	if n := len(c.h1.idle[a.ln.Addr().String()]); n != 0 {
		t.Errorf("%d connections to the old host still listed idle after it was evicted", n)
	}
	if n := len(c.h1.idle[b.ln.Addr().String()]); n != 1 {
		t.Errorf("%d idle connections to the new host, want 1", n)
	}
}

// TestLeanPathIdleWrittenTo has the server send an unsolicited 408 and
// close a connection, right after its answer or while the connection sits
// idle: the next check must not read that 408 as its answer, and goes on a
// new connection. (net/http's Transport, which the lean path is otherwise
// compared with, sometimes does: its reading goroutine may see the 408
// only once the next request is sent.)
func TestLeanPathIdleWrittenTo(t *testing.T) {
	const with408 = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" +
		"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
	s0 := startScript(t, func(n int, _ *http.Request, w io.Writer) bool {
		io.WriteString(w, with408) // in one write: the 408 is read with the answer
		return true
	})
	c0 := newTestChecker(t, Config{})
	for i := range 3 {
		if r := checkOne(t.Context(), c0, s0.url("/")); r.Status != 200 {
			t.Fatalf("check %d, the 408 sent with the last answer: status %d, error %v; want 200", i, r.Status, r.Err)
		}
	}

	defer func(d time.Duration) { checkIdleAfter = d }(checkIdleAfter)
	checkIdleAfter = 0 // ask the socket at every reuse
	write408, wrote := make(chan struct{}), make(chan struct{})
	s := startScript(t, func(n int, _ *http.Request, w io.Writer) bool {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		if n == 1 {
			<-write408
			io.WriteString(w, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
			close(wrote)
			return true
		}
		return false
	})
	var once sync.Once
	release := func() { once.Do(func() { close(write408) }) }
	t.Cleanup(release) // before the server's close, should a check fail
	c := newTestChecker(t, Config{})
	// A quiet idle connection is asked and reused.
	for i := range 2 {
		if r := checkOne(t.Context(), c, s.url("/")); r.Status != 200 {
			t.Fatalf("check %d: %d %v", i, r.Status, r.Err)
		}
	}
	if n, _ := s.seen(); n != 1 {
		t.Fatalf("server accepted %d connections for two checks on a quiet connection, want 1", n)
	}
	release()
	<-wrote
	if r := checkOne(t.Context(), c, s.url("/")); r.Status != 200 {
		t.Fatalf("check after the server wrote a 408 on the idle connection: status %d, error %v; want 200", r.Status, r.Err)
	}
	if n, _ := s.seen(); n != 2 {
		t.Errorf("server accepted %d connections, want 2", n)
	}
}

// TestLeanPathClosesIdle checks that a connection left idle is closed
// once idle for idleTimeout, as the Transport's IdleConnTimeout does, and
// not before, even when the Checker is never used or closed again.
func TestLeanPathClosesIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		closed := make(chan struct{})
		dials := 0
		dial := func(context.Context, string, string) (net.Conn, error) {
			dials++
			client, server := net.Pipe()
			go func() {
				defer close(closed)
				br := bufio.NewReader(server)
				for {
					if _, err := http.ReadRequest(br); err != nil {
						server.Close()
						return
					}
					io.WriteString(server, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
				}
			}()
			return client, nil
		}
		c := newChecker(Config{Method: http.MethodGet, MaxRedirects: DefaultMaxRedirects, Concurrency: 2, UserAgent: "fanout"}, dial)
		for i := range 2 {
			if r := checkOne(t.Context(), c, "http://idle.test/"); r.Status != 200 {
				t.Fatalf("check %d: %d %v", i, r.Status, r.Err)
			}
			time.Sleep(idleTimeout / 2) // idle, not for long enough
		}
		synctest.Wait()
		select {
		case <-closed:
			t.Fatalf("connection closed after %v idle, before idleTimeout (%v)", idleTimeout/2, idleTimeout)
		default:
		}
		time.Sleep(idleTimeout / 2)
		synctest.Wait()
		select {
		case <-closed:
		default:
			t.Fatalf("connection still open after idleTimeout")
		}
		c.h1.mu.Lock()
		n := len(c.h1.idle)
		c.h1.mu.Unlock()
		if n != 0 || dials != 1 {
			t.Errorf("%d hosts still listed idle, %d dials; want 0 and 1", n, dials)
		}
	})
}

// TestHeaderLimit: a response whose header is larger than a browser takes
// (256 KB) fails its check on both paths, so that a hostile server cannot
// make each check hold megabytes; a large but usual one (64 KB of cookies)
// passes. Before, both paths read up to 10 MB.
func TestHeaderLimit(t *testing.T) {
	header := func(size int) func(int, *http.Request, io.Writer) bool {
		return func(_ int, _ *http.Request, w io.Writer) bool {
			io.WriteString(w, "HTTP/1.1 200 OK\r\n")
			line := "Set-Cookie: " + strings.Repeat("y", 1000) + "\r\n"
			for sent := 0; sent+len(line) <= size; sent += len(line) {
				if _, err := io.WriteString(w, line); err != nil {
					return true
				}
			}
			io.WriteString(w, "Content-Length: 0\r\n\r\n")
			return false
		}
	}
	for _, lean := range []bool{true, false} {
		for _, tc := range []struct {
			size int
			ok   bool
		}{{64 << 10, true}, {512 << 10, false}} {
			s := startScript(t, header(tc.size))
			c := newTestChecker(t, Config{})
			if !lean {
				c.h1 = nil
			}
			r := checkOne(t.Context(), c, s.url("/"))
			if got := r.Err == nil && r.Status == 200; got != tc.ok {
				t.Errorf("lean %v, %d KB of header: status %d, error %v; want it to pass: %v", lean, tc.size>>10, r.Status, r.Err, tc.ok)
			}
			s.close()
		}
	}
}
