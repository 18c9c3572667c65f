package testserver

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// A capacityPool is the shared state of the /capacity/{pool} calls that
// name one pool: a server with a fixed number of workers and a bounded
// queue in front of them.
type capacityPool struct {
	mu      sync.Mutex
	busy    int             // calls holding a worker
	waiters []chan struct{} // queued calls, FIFO; closed when given a worker
	stats   CapacityStats
}

// CapacityStats counts one /capacity pool's calls.
type CapacityStats struct {
	Calls    int64 // calls received
	Rejected int64 // calls answered 429 (workers and queue full)
	MaxBusy  int   // the most calls holding a worker at once
	// Busy and Queued are the calls holding a worker and waiting for one
	// now.
	Busy, Queued int
	// First and Last are when the first and the latest call came.
	First, Last time.Time
}

// Capacity returns the counters of the /capacity pool named pool.
func (s *Server) Capacity(pool string) CapacityStats {
	p := s.capacityPool(pool)
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	st.Busy, st.Queued = p.busy, len(p.waiters)
	return st
}

func (s *Server) capacityPool(name string) *capacityPool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pools == nil {
		s.pools = make(map[string]*capacityPool)
	}
	p := s.pools[name]
	if p == nil {
		p = &capacityPool{}
		s.pools[name] = p
	}
	return p
}

// capacity answers /capacity/{pool}?n=N&queue=Q&delay=D&retry-after=R&bad-after=K&bad-n=M:
// N workers (default 8) each take D (default 20ms) per call; up to Q more
// calls (default 0) wait for a worker, so the server slows down under load;
// beyond that, a call is answered 429 at once with Retry-After: R (seconds,
// default 1). After the pool's K-th call (0: never) it has M workers (the
// host turns bad).
func (s *Server) capacity(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err1 := intParam(q.Get("n"), 8)
	queue, err2 := intParam(q.Get("queue"), 0)
	badAfter, err3 := intParam(q.Get("bad-after"), 0)
	badN, err4 := intParam(q.Get("bad-n"), 1)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || n < 1 || badN < 1 {
		http.Error(w, "bad n, queue, bad-after or bad-n", http.StatusBadRequest)
		return
	}
	delay, ok := durationParam(w, r, "delay", 20*time.Millisecond)
	if !ok {
		return
	}
	retryAfter := q.Get("retry-after")
	if retryAfter == "" {
		retryAfter = "1"
	}
	p := s.capacityPool(r.PathValue("pool"))
	p.mu.Lock()
	p.stats.Calls++
	p.stats.Last = time.Now()
	if p.stats.First.IsZero() {
		p.stats.First = p.stats.Last
	}
	workers := func() int {
		if badAfter > 0 && p.stats.Calls > int64(badAfter) {
			return badN
		}
		return n
	}
	var wait chan struct{}
	switch {
	case p.busy < workers():
		p.busy++
	case len(p.waiters) < queue:
		wait = make(chan struct{})
		p.waiters = append(p.waiters, wait)
	default:
		p.stats.Rejected++
		p.mu.Unlock()
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
		return
	}
	p.stats.MaxBusy = max(p.stats.MaxBusy, p.busy)
	p.mu.Unlock()
	if wait != nil {
		select {
		case <-wait: // given a worker: busy counts it already
		case <-r.Context().Done():
			p.leave(wait, workers)
			return
		case <-s.done:
			p.leave(wait, workers)
			panic(http.ErrAbortHandler)
		}
	}
	defer p.release(workers)
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	case <-s.done:
		panic(http.ErrAbortHandler)
	}
	w.Write([]byte("ok " + strconv.Itoa(n) + "\n"))
}

// release gives a worker back, or hands it to the first queued call while
// the pool is within its workers.
func (p *capacityPool) release(workers func() int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiters) > 0 && p.busy <= workers() {
		close(p.waiters[0])
		p.waiters = p.waiters[1:]
		p.stats.MaxBusy = max(p.stats.MaxBusy, p.busy)
		return
	}
	p.busy--
}

// leave takes a queued call that gave up out of the queue, or gives back
// the worker it was handed meanwhile.
func (p *capacityPool) leave(wait chan struct{}, workers func() int) {
	p.mu.Lock()
	for i, c := range p.waiters {
		if c == wait {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			p.mu.Unlock()
			return
		}
	}
	p.mu.Unlock()
	p.release(workers)
}
