package httpcheck

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// h1Transport sends the requests most checks make, plain http:// without a
// proxy, over HTTP/1.1 on the checking goroutine itself. net/http's
// Transport runs two goroutines per connection and hands every request and
// response between them and the caller over channels; at a few hundred
// checks in flight on loopback, this path takes a quarter to two fifths
// less of the client's CPU (bench/README, "A lean HTTP/1.1 path"). Here a
// check writes its request and reads the response on its own goroutine, and
// a connection costs no goroutine while it is idle.
//
// What the Transport does for these requests, this does too: it keeps
// connections alive and reuses the most recently used one; it sends a
// request again on a new connection when a reused one turns out to have
// been closed by the server before answering; it skips 1xx responses; it
// caps the response header (1xx ones included) at maxHeaderBytes; it closes a
// connection whose body was not read to its end, or after a response that
// said so (Connection: close, HTTP/1.0); it ends a request when its context
// does. Responses are parsed by net/http's own ReadResponse. What it does
// not do: HTTPS, proxies, HTTP/2, and transparent gzip (it sends no
// Accept-Encoding, as curl does not). Everything else goes to the
// Transport (see Checker.roundTrip).
type h1Transport struct {
	pool *connPool

	mu      sync.Mutex
	idle    map[string][]*h1Conn   // by dial address, most recently used last
	waiters map[string][]*h1Waiter // requests dialing for an address, first come first
	sweep   *time.Timer            // closes connections idle for idleTimeout
	armed   bool                   // sweep is set to fire
}

// maxHeaderBytes caps a response's status line and header, on the lean
// path and on the Transport (its MaxResponseHeaderBytes): 256 KB, as
// browsers refuse a larger one, so no site that works in a browser needs
// more. A hostile server cannot make a check read without end, and a
// thousand checks of such servers at once hold at most 256 MB of headers
// (with the Transport's default of 10 MB, they held 1.3 GB at -c 100).
const maxHeaderBytes = 256 << 10

// idleTimeout is how long an idle connection is kept for reuse, on the
// lean path and on the Transport (its IdleConnTimeout). One timer per transport,
// armed while connections are idle, closes older ones; a connection the
// server wrote to while it was idle is closed when next found (see
// checkIdleAfter).
const idleTimeout = 30 * time.Second

// readBufferSize is a connection's read buffer, on the lean path and on
// the Transport: a check reads a status line, a header and a capped body,
// and at a thousand connections the 4 KB default would hold 4 MB.
const readBufferSize = 1 << 10

// checkIdleAfter: a connection idle this long is asked whether the server
// wrote to it or closed it meanwhile (see quiet) before it is reused. A
// server that ends an idle connection may first send an unsolicited
// response (408 Request Timeout): read as the answer to the next request,
// it would give that check a status its URL never had. A connection freed
// less than this ago is checked only for bytes already buffered: servers
// keep idle connections for seconds.
var checkIdleAfter = time.Second

// errH1Fallback: the request holds something the lean path does not write
// (a header value net/http would rewrite or reject): the Transport sends
// it.
var errH1Fallback = errors.New("httpcheck: request left to net/http")

// newH1Transport returns the lean path over pool's connections; it tells
// the pool to report closed ones to it.
func newH1Transport(pool *connPool) *h1Transport {
	t := &h1Transport{pool: pool, idle: make(map[string][]*h1Conn), waiters: make(map[string][]*h1Waiter)}
	pool.closed = t.forget
	return t
}

// h1Conn is one connection of an h1Transport.
type h1Conn struct {
	t    *h1Transport
	pc   *poolConn
	br   *bufio.Reader // reads through the h1Conn, for the header limit
	addr string

	// Owned by the request using the connection.
	limit    int64     // bytes the response header may still take; -1: no limit
	read     int64     // bytes read for the current request
	idleAt   time.Time // when it was last given back
	deadline time.Time // set on the connection (see watchCtx); zero: none
}

// h1Waiter is a request dialing for a connection: a connection freed
// meanwhile is handed to it, and its dial, if still waiting for room,
// stops.
type h1Waiter struct {
	got       chan *h1Conn // buffered: the handed connection
	notNeeded chan struct{}
}

// Read reads from the connection, within the header's limit while one is
// set.
func (h *h1Conn) Read(p []byte) (int, error) {
	if h.limit >= 0 {
		if h.limit == 0 {
			return 0, errHeaderTooLong
		}
		if int64(len(p)) > h.limit {
			p = p[:h.limit]
		}
	}
	n, err := h.pc.Read(p)
	if h.limit >= 0 {
		h.limit -= int64(n)
	}
	h.read += int64(n)
	return n, err
}

var errHeaderTooLong = fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", maxHeaderBytes)

// RoundTrip sends req, a GET or HEAD without a body to a plain http:// URL,
// and returns its response, whose body must be closed. It returns
// errH1Fallback, having sent nothing, for a request it does not write.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	wbuf := requestBuffers.Get().(*[]byte)
	defer requestBuffers.Put(wbuf)
	b, ok := appendRequest((*wbuf)[:0], req)
	*wbuf = b[:0]
	if !ok {
		return nil, errH1Fallback
	}
	ctx := req.Context()
	addr := dialAddr(req.URL)
	for {
		h, reused, err := t.get(ctx, addr)
		if err != nil {
			return nil, err
		}
		resp, retry, err := h.roundTrip(ctx, req, b)
		if err == nil {
			return resp, nil
		}
		// A connection that was idle may have been closed by the server
		// (or evicted by the pool) just as it was taken: when nothing came
		// back on it, the request goes again, on the next idle connection
		// or a new one. A new connection's failure is final.
		if !reused || !retry || ctx.Err() != nil {
			return nil, err
		}
	}
}

// requestBuffers lend RoundTrip the bytes of a request, so that a
// connection holds no write buffer of its own.
var requestBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// roundTrip writes the request b for req on h and reads its response. On
// error h is closed, and retry says whether nothing at all came back.
func (h *h1Conn) roundTrip(ctx context.Context, req *http.Request, b []byte) (_ *http.Response, retry bool, _ error) {
	deadline, watch := watchCtx(ctx)
	if !deadline.Equal(h.deadline) {
		h.pc.SetDeadline(deadline)
		h.deadline = deadline
	}
	pc := h.pc
	stop := afterFunc(watch, func() { pc.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, bool, error) {
		stop()
		h.pc.Close()
		expireOn(ctx, err)
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return nil, h.read == 0, err
	}
	h.limit, h.read = maxHeaderBytes, 0
	if _, err := h.pc.Write(b); err != nil {
		return fail(err)
	}
	// As the Transport does: an end of file before the response's first
	// byte is reported as it is; a response cut short or malformed, as the
	// connection broken.
	if _, err := h.br.Peek(1); err != nil {
		return fail(err)
	}
	var resp *http.Response
	for {
		var err error
		resp, err = http.ReadResponse(h.br, req)
		if err != nil {
			if h.limit == 0 {
				err = errHeaderTooLong
			}
			return fail(fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", err))
		}
		// 1xx responses are informational, the response follows: skipped,
		// their headers counted in the limit.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	h.limit = -1
	body := &h1Body{h: h, rc: resp.Body, stop: stop, close: resp.Close || resp.StatusCode == http.StatusSwitchingProtocols, ctx: ctx}
	if resp.Body == http.NoBody {
		// No body (HEAD, 204, 304, Content-Length 0): the connection is
		// free at once.
		body.finish(true)
		return resp, false, nil
	}
	resp.Body = body
	return resp, false, nil
}

func h1NoStop() bool { return true }

// aLongTimeAgo is a deadline in the past: it ends a connection's blocked
// reads and writes at once.
var aLongTimeAgo = time.Unix(1, 0)

// h1Body is a response's body: read to its end, it gives its connection
// back for the next request; closed before that, it closes the connection.
type h1Body struct {
	h     *h1Conn
	rc    io.ReadCloser // ReadResponse's body, reading from h
	stop  func() bool   // stops the context's watch
	close bool          // the connection ends with this response
	ctx   context.Context
	done  bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		expireOn(b.ctx, err)
		if b.ctx.Err() != nil {
			err = context.Cause(b.ctx)
		}
		b.finish(false)
	}
	return n, err
}

func (b *h1Body) Close() error {
	if !b.done {
		b.finish(false)
	}
	return nil
}

// finish ends the response's use of its connection: back to the idle ones
// when the body was read to its end and neither side ends the connection,
// closed otherwise.
func (b *h1Body) finish(complete bool) {
	b.done = true
	h := b.h
	// stop is false when the context's watch ran, or runs now: the
	// connection's deadline is then in the past.
	if complete && !b.close && b.stop() {
		h.t.put(h)
		return
	}
	b.stop()
	h.pc.Close()
}

// get returns an idle connection to addr, or a new one. reused says the
// connection has carried requests before.
func (t *h1Transport) get(ctx context.Context, addr string) (_ *h1Conn, reused bool, _ error) {
	now := time.Now()
	for {
		t.mu.Lock()
		h := t.popIdleLocked(addr)
		if h == nil {
			break // t.mu held
		}
		t.mu.Unlock()
		idle := now.Sub(h.idleAt)
		if idle >= checkIdleAfter && !h.deadline.IsZero() {
			// The last attempt's deadline, passed perhaps: the poller
			// would refuse quiet's question at once.
			h.pc.SetDeadline(time.Time{})
			h.deadline = time.Time{}
		}
		if idle < idleTimeout && h.br.Buffered() == 0 && (idle < checkIdleAfter || quiet(h.pc.Conn)) {
			t.pool.take(h.pc)
			return h, true, nil
		}
		h.pc.Close()
	}
	w := &h1Waiter{got: make(chan *h1Conn, 1), notNeeded: make(chan struct{})}
	t.waiters[addr] = append(t.waiters[addr], w)
	t.mu.Unlock()

	pc, err := t.dial(ctx, addr, w.notNeeded)

	t.mu.Lock()
	ws := t.waiters[addr]
	if i := slices.Index(ws, w); i >= 0 {
		ws = slices.Delete(ws, i, i+1)
		if len(ws) == 0 {
			delete(t.waiters, addr)
		} else {
			t.waiters[addr] = ws
		}
	}
	t.mu.Unlock()
	select {
	case handed := <-w.got:
		// Another request's connection came free first (and was taken
		// for this one).
		if pc != nil {
			t.adopt(pc, addr, false)
		}
		return handed, true, nil
	default:
	}
	if err != nil {
		return nil, false, err
	}
	return t.adopt(pc, addr, true), false, nil
}

// dial makes a connection to addr through the pool on a goroutine of its
// own, as the Transport does, and waits for it. The dial's frames (the
// pool's, net.Dialer's) would otherwise grow the check's stack from 4 KB
// to 8 KB, which it then keeps while its request is in flight: 4 KB more
// per check held at once (BenchmarkStackPerCheck).
func (t *h1Transport) dial(ctx context.Context, addr string, notNeeded <-chan struct{}) (*poolConn, error) {
	type dialed struct {
		pc  *poolConn
		err error
	}
	ch := make(chan dialed, 1)
	go func() {
		pc, err := t.pool.dialFor(ctx, "tcp", addr, notNeeded)
		ch <- dialed{pc, err}
	}()
	d := <-ch
	return d.pc, d.err
}

// adopt wraps pc, a new connection to addr: taken by the caller when use is
// set, else offered to the next request for addr.
func (t *h1Transport) adopt(pc *poolConn, addr string, use bool) *h1Conn {
	h := &h1Conn{t: t, pc: pc, addr: addr, limit: -1}
	h.br = bufio.NewReaderSize(h, readBufferSize)
	if use {
		t.pool.take(pc)
	} else {
		t.offer(h, false)
	}
	return h
}

// popIdleLocked takes the connection to addr idle the shortest, if any.
// t.mu must be held.
func (t *h1Transport) popIdleLocked(addr string) *h1Conn {
	l := t.idle[addr]
	if len(l) == 0 {
		return nil
	}
	h := l[len(l)-1]
	l[len(l)-1] = nil
	if l = l[:len(l)-1]; len(l) == 0 {
		delete(t.idle, addr)
	} else {
		t.idle[addr] = l
	}
	return h
}

// put gives back h, whose response was read to its end.
func (t *h1Transport) put(h *h1Conn) { t.offer(h, true) }

// offer hands h to the first request waiting for its address, or lists it
// idle. taken says the pool counts it in use (it carried a request), else
// it is new and the pool already counts it idle.
func (t *h1Transport) offer(h *h1Conn, taken bool) {
	t.mu.Lock()
	if ws := t.waiters[h.addr]; len(ws) > 0 {
		w := ws[0]
		if len(ws) == 1 {
			delete(t.waiters, h.addr)
		} else {
			t.waiters[h.addr] = ws[1:]
		}
		if !taken {
			t.pool.take(h.pc) // the pool's lock is never held while taking t.mu
		}
		w.got <- h
		close(w.notNeeded)
		t.mu.Unlock()
		return
	}
	h.idleAt = time.Now()
	t.idle[h.addr] = append(t.idle[h.addr], h)
	t.armLocked(idleTimeout)
	t.mu.Unlock()
	if taken {
		t.pool.release(h.pc)
	}
}

// armLocked sets the sweep to run in d unless it is set already. t.mu must
// be held.
func (t *h1Transport) armLocked(d time.Duration) {
	switch {
	case t.armed:
	case t.sweep == nil:
		t.sweep = time.AfterFunc(d, t.sweepIdle)
	default:
		t.sweep.Reset(d)
	}
	t.armed = true
}

// sweepIdle closes the connections idle for idleTimeout, and sets itself
// to run again when the next one will have been.
func (t *h1Transport) sweepIdle() {
	now := time.Now()
	var stale []*h1Conn
	next := time.Duration(-1)
	t.mu.Lock()
	t.armed = false
	for addr, l := range t.idle {
		kept := l[:0]
		for _, h := range l {
			if left := idleTimeout - now.Sub(h.idleAt); left > 0 {
				kept = append(kept, h)
				if next < 0 || left < next {
					next = left
				}
			} else {
				stale = append(stale, h)
			}
		}
		clear(l[len(kept):])
		if len(kept) == 0 {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = kept
		}
	}
	if next >= 0 {
		t.armLocked(next)
	}
	t.mu.Unlock()
	for _, h := range stale {
		h.pc.Close()
	}
}

// forget drops a closed connection from the idle ones (the pool evicted
// it, or Close closed it); its buffer goes with it.
func (t *h1Transport) forget(pc *poolConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.idle[pc.addr]
	i := slices.IndexFunc(l, func(h *h1Conn) bool { return h.pc == pc })
	if i < 0 {
		return
	}
	if l = slices.Delete(l, i, i+1); len(l) == 0 {
		delete(t.idle, pc.addr)
	} else {
		t.idle[pc.addr] = l
	}
}

// closeIdle closes every idle connection.
func (t *h1Transport) closeIdle() {
	t.mu.Lock()
	var all []*h1Conn
	for _, l := range t.idle {
		all = append(all, l...)
	}
	if t.armed {
		t.sweep.Stop()
		t.armed = false
	}
	t.mu.Unlock()
	for _, h := range all {
		h.pc.Close()
	}
}

// dialAddr is the address a plain http URL's connections go to: its host
// and port, 80 by default.
func dialAddr(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return strings.TrimSuffix(u.Host, ":") + ":80"
}

// appendRequest appends req's request line and header to b, as net/http
// writes them for a request without a body: Host, then User-Agent, then
// the rest sorted. It reports false, and the Transport should send req,
// when a value holds what net/http would rewrite (a line break) or a host
// or name is not plain.
func appendRequest(b []byte, req *http.Request) ([]byte, bool) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !plainHost(host) || !plainHost(req.URL.Host) {
		return b, false
	}
	uri := req.URL.RequestURI()
	if strings.ContainsAny(uri, " \r\n") {
		return b, false
	}
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	var ok bool
	if ua, has := req.Header["User-Agent"]; has {
		// As net/http: the first value, none when it is empty.
		if len(ua) > 0 && strings.Trim(ua[0], " \t") != "" {
			if b, ok = appendField(b, "User-Agent", ua[0]); !ok {
				return b, false
			}
		}
	} else {
		b = append(b, "User-Agent: Go-http-client/1.1\r\n"...)
	}
	var keys [16]string
	names := keys[:0]
	for k := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range req.Header[k] {
			if b, ok = appendField(b, k, v); !ok {
				return b, false
			}
		}
	}
	return append(b, "\r\n"...), true
}

// appendField appends one header line, reporting false when the name is
// not a token or the value holds a control character other than a tab.
func appendField(b []byte, name, value string) ([]byte, bool) {
	if name == "" {
		return b, false
	}
	for i := 0; i < len(name); i++ {
		if !tokenByte(name[i]) {
			return b, false
		}
	}
	value = strings.Trim(value, " \t")
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return b, false
		}
	}
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...), true
}

// tokenByte reports whether c may appear in a header name (RFC 9110's
// tchar).
func tokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// plainHost reports whether host is a host name or IPv4 address with an
// optional port, in ASCII letters, digits, dots, dashes and underscores:
// written as is, where net/http would convert or reject anything else.
func plainHost(host string) bool {
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':') {
			return false
		}
	}
	return true
}
