package httpcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http/httptrace"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Connection pacing: at most newConnBurst connections to one host may be
// unconfirmed at once. A connection is confirmed when the server first
// answers on it, or newConnSettle after its connect completed, whichever
// comes first; a connect still waiting for the server's SYN-ACK counts
// until it ends. A server whose listen backlog is small (Python's
// http.server: 5) takes a burst this size at once, where twenty
// simultaneous SYNs would overflow it and the dropped ones wait a second to
// be sent again. The settle time lets a server that answers slowly but
// accepts at once (most servers: their backlog is in the thousands) get
// its connections in a few milliseconds. It is longer than the time a
// Python server's accept loop may wait for the interpreter's lock (its
// switch interval, 5 ms) while handler threads run: at 2 ms, 2 or 3 runs in
// 20 of 200 URLs against python3 -m http.server lost first-wave connects
// to its queue of 6 and waited 200 ms to make them again (connectPatience);
// at 5 ms none did, and 2,000 checks at C=500 took about 10 ms more
// (bench/README, "A lean HTTP/1.1 path"). Once a host has closed a
// connection after answering (HTTP/1.0 and Connection: close, as Python's
// http.server does), every request to it dials anew, so its connections
// are confirmed only by an answer: the server then never has more than
// newConnBurst of fanout's connections waiting to be accepted.
const (
	newConnBurst  = 4
	newConnSettle = 5 * time.Millisecond
	maxLearned    = 4096 // hosts whose traits are remembered
)

// A connect left unanswered for connectPatience times the host's quickest
// connect (at least minConnectWait) lost its SYN to a full accept queue:
// it is abandoned and made again at once, up to redials times with twice
// the patience each time, rather than waiting for the kernel to send the
// SYN again a second later. The host is then strict (see hostTraits).
// minConnectWait is well above a loopback or LAN connect on a busy machine:
// at 20 ms, a loaded two-core machine abandoned connects the server had
// accepted (37 extra connections in 20,000 checks at C=1000).
const (
	connectPatience = 10
	minConnectWait  = 200 * time.Millisecond
	redials         = 3
)

// When the pool is full, a dial for a host without connections closes the
// connection idle the longest; a dial for a host that has some (all in
// use) waits for one of them, and closes only a connection idle for
// evictIdle at least. Requests to a few hosts then keep their connections
// instead of churning them between hosts as the mix of hosts in flight
// varies, while connections to hosts no longer asked for still make room.
// A new connection no request has used yet is never evicted before
// unusedGrace: net/http may be handing it to the request it was dialed for,
// and retries a request only on a reused connection.
const (
	evictIdle   = time.Second
	unusedGrace = time.Second
)

// errDialNotNeeded ends a dial that waited for room while the request it
// was started for got a connection some other way.
var errDialNotNeeded = errors.New("httpcheck: dial no longer needed")

// connPool opens the transport's connections. It keeps the number of open
// connections (dialing, in use or idle) at most max, closing the connection
// idle the longest when a new one is needed and none is free, and paces new
// connections to each host (see newConnBurst). Which connections are idle
// it learns from the checks themselves (see requestConns): net/http's pool
// does not say. The lean path (h1Transport) keeps its own idle connections
// and tells the pool as it takes and gives them back.
type connPool struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	max     int
	perHost int // most connections to one host (dialing or open); 0: no limit
	settle  time.Duration
	// closed, if set, is told of each connection once it is closed (the
	// lean path drops it from its idle ones). Set before the first dial.
	closed func(*poolConn)

	mu    sync.Mutex
	open  int                   // connections dialing or open
	idle  idleList              // least recently used first
	hosts map[string]*hostConns // by dial address
	// learned is what past connections told of a host, kept after its
	// connections close.
	learned     map[string]hostTraits
	room        chan struct{} // closed (and replaced) when room may have appeared
	roomWaiters int           // dials waiting on room
	// newHostWaiters of the roomWaiters are for hosts without
	// connections: they may evict a connection as soon as it is idle.
	newHostWaiters int
}

// hostTraits is what the pool learned of a host.
type hostTraits struct {
	// strict: its new connections count as unconfirmed until answered.
	// Set for a host that closed a connection after answering on it
	// (HTTP/1.0, Connection: close), where every request dials anew, and
	// for one that left a connect unanswered (its accept queue was full).
	strict bool
	// connect is the quickest connect to it so far.
	connect time.Duration
}

// hostConns counts one host's connections.
type hostConns struct {
	open        int           // dialing or open
	unconfirmed int           // new ones not yet confirmed
	confirmed   chan struct{} // closed (and replaced) when one is confirmed or closed
	waiters     int           // dials waiting on confirmed
}

func newConnPool(dial func(ctx context.Context, network, addr string) (net.Conn, error), max, perHost int) *connPool {
	return &connPool{
		dial:    dial,
		max:     max,
		perHost: perHost,
		settle:  newConnSettle,
		hosts:   make(map[string]*hostConns),
		learned: make(map[string]hostTraits),
		room:    make(chan struct{}),
	}
}

// roomLocked wakes the dials waiting for room: a connection closed. p.mu
// must be held.
func (p *connPool) roomLocked() {
	if p.roomWaiters > 0 {
		close(p.room)
		p.room = make(chan struct{})
	}
}

// DialContext opens a connection to addr once there is room for it: fewer
// than max connections open, fewer than perHost to this host, and fewer
// than newConnBurst unconfirmed to it. It gives up when ctx ends or when
// the request it was started for got a connection while it waited.
func (p *connPool) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var notNeeded <-chan struct{}
	if rc := requestConnsFrom(ctx); rc != nil {
		notNeeded = rc.waiting()
	}
	c, err := p.dialFor(ctx, network, addr, notNeeded)
	if err != nil {
		return nil, err // not a nil *poolConn in an interface
	}
	return c, nil
}

// dialFor is DialContext for a request whose need of a new connection ends
// when notNeeded is closed.
func (p *connPool) dialFor(ctx context.Context, network, addr string, notNeeded <-chan struct{}) (_ *poolConn, err error) {
	var (
		aged   *time.Timer // when the next idle connection may be evicted
		waited []*int      // the waiter counts this dial is counted in
	)
	defer func() {
		if aged != nil {
			aged.Stop()
		}
	}()
	stopWaiting := func() {
		for _, n := range waited {
			*n--
		}
		waited = waited[:0]
	}
	for {
		p.mu.Lock()
		stopWaiting()
		h := p.hosts[addr]
		if h == nil {
			h = &hostConns{}
			p.hosts[addr] = h
		}
		var evictIn time.Duration // > 0: an idle connection may be evicted then
		if p.open >= p.max {
			var victim *poolConn
			victim, evictIn = p.evictableLocked(addr, h.open == 0, time.Now())
			if victim != nil {
				// Full, but a connection to another host sits idle:
				// close the one idle the longest. Its Close gives its
				// room back.
				p.mu.Unlock()
				victim.evict()
				continue
			}
		}
		if p.open < p.max && h.unconfirmed < newConnBurst && (p.perHost == 0 || h.open < p.perHost) {
			p.open++
			h.open++
			h.unconfirmed++
			p.mu.Unlock()
			break
		}
		var wake chan struct{}
		full := p.open >= p.max
		switch {
		case full && h.open == 0:
			wake, waited = p.room, append(waited, &p.roomWaiters, &p.newHostWaiters)
		case full:
			wake, waited = p.room, append(waited, &p.roomWaiters)
		default:
			if h.confirmed == nil {
				h.confirmed = make(chan struct{})
			}
			wake, waited = h.confirmed, append(waited, &h.waiters)
		}
		for _, n := range waited {
			*n++
		}
		p.mu.Unlock()
		var agedC <-chan time.Time
		if evictIn > 0 {
			if aged == nil {
				aged = time.NewTimer(evictIn)
			} else {
				aged.Reset(evictIn)
			}
			agedC = aged.C
		}
		select {
		case <-wake:
			continue
		case <-agedC:
			continue
		case <-notNeeded:
			err = errDialNotNeeded
		case <-ctx.Done():
			err = ctx.Err()
		}
		p.mu.Lock()
		stopWaiting()
		p.forgetLocked(addr, h)
		p.mu.Unlock()
		return nil, err
	}
	c, err := p.connect(ctx, network, addr)
	if err != nil {
		p.mu.Lock()
		p.open--
		p.hosts[addr].open--
		p.confirmLocked(addr)
		p.roomLocked()
		p.mu.Unlock()
		return nil, err
	}
	pc := &poolConn{Conn: c, pool: p, addr: addr, idleSince: time.Now()}
	// A new connection is idle until a request takes it; it goes at the
	// back of the line for eviction.
	p.mu.Lock()
	p.idle.pushBack(pc)
	strict := p.learned[addr].strict
	p.mu.Unlock()
	if !strict {
		pc.settle = time.AfterFunc(p.settle, pc.confirm)
	}
	return pc, nil
}

// connect dials addr, dialing again when a connect goes unanswered (see
// connectPatience).
func (p *connPool) connect(ctx context.Context, network, addr string) (net.Conn, error) {
	for attempt := 0; ; attempt++ {
		p.mu.Lock()
		quickest := p.learned[addr].connect
		p.mu.Unlock()
		dctx, cancel := ctx, context.CancelFunc(func() {})
		limited := quickest > 0 && attempt < redials
		if limited {
			wait := max(minConnectWait, connectPatience*quickest) << attempt
			dctx, cancel = context.WithTimeout(ctx, wait)
		}
		start := time.Now()
		c, err := p.dial(dctx, network, addr)
		took := max(time.Since(start), time.Microsecond) // 0 means unknown
		// The dialer's own deadline, taken from dctx, may fire a moment
		// before dctx reports it.
		unanswered := err != nil && limited && ctx.Err() == nil &&
			(dctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded))
		cancel()
		p.mu.Lock()
		switch {
		case err == nil:
			p.learnLocked(addr, func(h *hostTraits) {
				if h.connect == 0 || took < h.connect {
					h.connect = took
				}
			})
		case unanswered:
			p.learnLocked(addr, func(h *hostTraits) { h.strict = true })
		}
		p.mu.Unlock()
		if !unanswered {
			return c, err
		}
	}
}

// learnLocked updates what the pool knows of addr.
func (p *connPool) learnLocked(addr string, update func(*hostTraits)) {
	h, ok := p.learned[addr]
	if !ok && len(p.learned) >= maxLearned {
		clear(p.learned)
	}
	update(&h)
	p.learned[addr] = h
}

// evictableLocked takes out of the idle list the connection idle the
// longest that may be evicted for a dial to addr (see evictIdle; any age
// when newHost), or returns nil and how long until one may be (0: none
// will without a change). An idle connection to addr itself is left
// alone: net/http hands it to a request waiting for addr, the one dialing
// perhaps, which then stops waiting.
func (p *connPool) evictableLocked(addr string, newHost bool, now time.Time) (*poolConn, time.Duration) {
	var wait time.Duration
	for c := p.idle.front; c != nil; c = c.next {
		if c.addr == addr {
			continue
		}
		var in time.Duration
		if !c.used {
			in = c.idleSince.Add(unusedGrace).Sub(now)
		} else if !newHost {
			in = c.idleSince.Add(evictIdle).Sub(now)
		}
		if in <= 0 {
			p.idle.remove(c)
			return c, 0
		}
		if wait == 0 || in < wait {
			wait = in
		}
	}
	return nil, wait
}

// confirmLocked counts one new connection to addr as confirmed.
func (p *connPool) confirmLocked(addr string) {
	h := p.hosts[addr]
	h.unconfirmed--
	p.hostRoomLocked(h)
	p.forgetLocked(addr, h)
}

// hostRoomLocked wakes the dials waiting for room at h: one of its
// connections was confirmed or closed. p.mu must be held.
func (p *connPool) hostRoomLocked(h *hostConns) {
	if h.waiters > 0 {
		close(h.confirmed)
		h.confirmed = make(chan struct{})
	}
}

// forgetLocked drops the counts of a host without connections or dials.
func (p *connPool) forgetLocked(addr string, h *hostConns) {
	if h.open == 0 && h.unconfirmed == 0 && h.waiters == 0 {
		delete(p.hosts, addr)
	}
}

// take marks c as used by one more request.
func (p *connPool) take(c *poolConn) {
	p.mu.Lock()
	c.users++
	c.used = true
	if c.idling {
		p.idle.remove(c)
	}
	p.mu.Unlock()
}

// release marks c as used by one request fewer; unused, it may be evicted.
func (p *connPool) release(c *poolConn) {
	p.mu.Lock()
	if c.users > 0 {
		c.users--
	}
	if c.users == 0 && !c.idling && !c.closed {
		c.idleSince = time.Now()
		p.idle.pushBack(c)
		if p.newHostWaiters > 0 {
			p.roomLocked()
		}
	}
	p.mu.Unlock()
}

// poolConn is a connection of a connPool.
type poolConn struct {
	net.Conn
	pool *connPool
	addr string

	settle    *time.Timer
	confirmed atomic.Bool
	evicted   atomic.Bool
	closeOnce sync.Once

	// Guarded by pool.mu.
	idleSince  time.Time // when the last request gave it back, or it was dialed
	users      int       // requests using it (HTTP/2 shares one)
	used       bool      // by a request, ever
	idling     bool      // in pool.idle
	prev, next *poolConn // in pool.idle
	closed     bool
}

// evict closes c to make room. Should net/http have just handed it to a
// request, that request then reads the end of file of a server that
// closed an idle connection, and net/http retries it on another.
func (c *poolConn) evict() {
	c.evicted.Store(true)
	c.Close()
}

func (c *poolConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && c.evicted.Load() {
		return n, io.EOF
	}
	if n > 0 && !c.confirmed.Load() {
		c.confirm()
	}
	return n, err
}

// confirm counts c as accepted by the server: the server answered on it,
// or it has been open for the settle time.
func (c *poolConn) confirm() {
	if c.confirmed.CompareAndSwap(false, true) {
		c.pool.mu.Lock()
		c.pool.confirmLocked(c.addr)
		c.pool.mu.Unlock()
	}
}

func (c *poolConn) Close() error {
	c.closeOnce.Do(func() {
		if c.settle != nil {
			c.settle.Stop()
		}
		c.confirm()
		p := c.pool
		p.mu.Lock()
		if c.used && !c.evicted.Load() {
			p.learnLocked(c.addr, func(h *hostTraits) { h.strict = true })
		}
		c.closed = true
		if c.idling {
			p.idle.remove(c)
		}
		p.open--
		h := p.hosts[c.addr]
		h.open--
		if p.perHost > 0 {
			p.hostRoomLocked(h)
		}
		p.forgetLocked(c.addr, h)
		p.roomLocked()
		p.mu.Unlock()
		if p.closed != nil {
			p.closed(c)
		}
	})
	return c.Conn.Close()
}

// idleList is the pool's idle connections, least recently used first,
// linked through the connections themselves: a connection going idle after
// every check costs no allocation. Guarded by pool.mu.
type idleList struct{ front, back *poolConn }

func (l *idleList) pushBack(c *poolConn) {
	c.prev, c.next, c.idling = l.back, nil, true
	if l.back != nil {
		l.back.next = c
	} else {
		l.front = c
	}
	l.back = c
}

func (l *idleList) remove(c *poolConn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.front = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.back = c.prev
	}
	c.prev, c.next, c.idling = nil, nil, false
}

// requestConns follows the connections one check's requests use (one per
// redirect hop), so that the pool knows which connections are idle. It
// holds the check's client trace, so that a check costs one allocation for
// both, and makes the channel a waiting dial needs only when a dial asks
// for it: most checks reuse an idle connection and never dial.
type requestConns struct {
	pool  *connPool
	trace httptrace.ClientTrace

	mu    sync.Mutex
	conns []*poolConn
	first [1]*poolConn // conns' room for the usual single hop
	// want is closed when the hop waiting for a connection got one; made
	// on demand by waiting.
	want   chan struct{}
	wanted bool // want is made and still open
	got    bool // the current hop has its connection
}

type requestConnsKey struct{}

// closedChan is a channel closed for good: what waiting returns once the
// hop has its connection, and the Done channel of a stopped deadlineCtx.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func requestConnsFrom(ctx context.Context) *requestConns {
	rc, _ := ctx.Value(requestConnsKey{}).(*requestConns)
	return rc
}

// withRequestConns returns ctx carrying rc and the client trace that feeds
// it.
func (p *connPool) withRequestConns(ctx context.Context) (context.Context, *requestConns) {
	rc := &requestConns{pool: p}
	rc.conns = rc.first[:0]
	rc.trace.GetConn = func(string) { rc.getConn() }
	rc.trace.GotConn = rc.gotConn
	ctx = context.WithValue(ctx, requestConnsKey{}, rc)
	return httptrace.WithClientTrace(ctx, &rc.trace), rc
}

// waiting returns a channel closed when the current hop no longer needs a
// new connection.
func (rc *requestConns) waiting() <-chan struct{} {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.want == nil {
		if rc.got {
			return closedChan
		}
		rc.want, rc.wanted = make(chan struct{}), true
	}
	return rc.want
}

// gotOneLocked marks the hop as having its connection and closes want.
// rc.mu must be held.
func (rc *requestConns) gotOneLocked() {
	rc.got = true
	if rc.wanted {
		close(rc.want)
		rc.wanted = false
	}
}

// releaseLocked gives back the connections of the hops so far. rc.mu must
// be held (the pool's lock is taken inside it, never the other way round).
func (rc *requestConns) releaseLocked() {
	for i, c := range rc.conns {
		rc.pool.release(c)
		rc.conns[i] = nil
	}
	rc.conns = rc.conns[:0]
}

// getConn starts a hop: the connections of earlier hops were given back
// when their responses were closed.
func (rc *requestConns) getConn() {
	rc.mu.Lock()
	rc.releaseLocked()
	rc.gotOneLocked()
	rc.want, rc.got = nil, false
	rc.mu.Unlock()
}

func (rc *requestConns) gotConn(info httptrace.GotConnInfo) {
	c := asPoolConn(info.Conn)
	rc.mu.Lock()
	rc.gotOneLocked()
	if c != nil {
		rc.conns = append(rc.conns, c)
		rc.pool.take(c)
	}
	rc.mu.Unlock()
}

// done gives back every connection the check used: its response is
// closed.
func (rc *requestConns) done() {
	rc.mu.Lock()
	rc.releaseLocked()
	rc.gotOneLocked()
	rc.mu.Unlock()
}

// asPoolConn finds the pool's connection under a TLS one.
func asPoolConn(c net.Conn) *poolConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	pc, _ := c.(*poolConn)
	return pc
}
