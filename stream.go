package fanout

import (
	"context"
	"iter"
	"runtime"
	"sync"
	"time"
)

// stream is Map's fast path, taken when no input needs a task of its own:
// no per-input options (WithTaskOptions), and an executor without
// observers, rate limit, timeout or retries. Instead of a future and a
// goroutine per input, a few worker tasks hold the executor's slots and
// each runs input after input (slot reuse), taking them from a ring of
// window cells in batches; results go back into the cells, and the caller
// yields them in input order. A worker gives its slot back after a batch
// when other tasks wait for one (fairness: Map and other submitters take
// turns, batch for task), and ends when no input is waiting. Per input the
// cost is a few lock operations shared with its batch and no allocation.
//
// Invariant, under mu: yielded <= claimed <= pulled <= yielded + len(ring).
// Cells [yielded, pulled) are in use: written by the producer before
// pulled passes them, by one worker (out, err) before done is set, read by
// the consumer once done.
type stream[In, Out any] struct {
	ctx    context.Context
	cancel context.CancelFunc
	e      *Executor
	in     iter.Seq[In]
	fn     func(context.Context, In) (Out, error)
	ring   []cell[In, Out]

	mu            sync.Mutex
	pulled        int
	claimed       int
	yielded       int
	workers       int   // worker tasks admitted and not ended
	maxWorkers    int   // the executor's limit when Map started
	fail          error // why no worker could run: every input left fails with it
	ended         bool  // the producer returned
	stopped       bool  // the consumer left, or ctx ended: pull and run nothing more
	left          bool  // the consumer returned: hand nothing more over
	tiny          bool  // calls take under tinyCall: batch them on few workers
	consumerWaits bool
	producerWaits bool
	consumerWake  chan struct{} // cap 1
	producerWake  chan struct{} // cap 1
}

type cell[In, Out any] struct {
	in   In
	out  Out
	err  error
	done bool
}

// fastPath reports whether Map may use a stream.
func fastPath(e *Executor, c *mapConfig) bool {
	return c.taskOpts == nil && !e.observed && e.limiter == nil && e.timeout == 0 && e.retry.MaxAttempts <= 1
}

func newStream[In, Out any](ctx context.Context, e *Executor, in iter.Seq[In], fn func(context.Context, In) (Out, error), window int) *stream[In, Out] {
	m := &stream[In, Out]{e: e, in: in, fn: fn, ring: make([]cell[In, Out], window)}
	m.ctx, m.cancel = context.WithCancel(ctx)
	m.maxWorkers = max(1, min(e.Limit(), window))
	m.consumerWake = make(chan struct{}, 1)
	m.producerWake = make(chan struct{}, 1)
	return m
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// run yields each input with its outcome in input order.
func (m *stream[In, Out]) run(yield func(In, Result[Out]) bool) {
	defer m.stop()
	stopWatch := context.AfterFunc(m.ctx, m.halt)
	defer stopWatch()
	go m.produce()
	var batch []Result[Out]
	spins := 0
	for {
		// Take the run of settled cells at the head, then yield them
		// without the lock.
		m.mu.Lock()
		for {
			n := 0
			for i := m.yielded; i < m.pulled && n < len(m.ring); i++ {
				c := &m.ring[i%len(m.ring)]
				if !c.done && !m.stopped {
					break
				}
				n++
			}
			if n > 0 {
				batch = m.collectLocked(batch[:0], n)
				break
			}
			if m.ended && m.yielded == m.pulled || m.stopped {
				m.leaveLocked()
				m.mu.Unlock()
				return
			}
			if spins < spinMax {
				// The head is likely a moment away: a worker runs it.
				// Letting it run is cheaper than parking on a channel.
				spins++
				m.mu.Unlock()
				runtime.Gosched()
			} else if m.orphanedLocked() {
				m.restartLocked()
				continue
			} else {
				spins = 0
				m.consumerWaits = true // under the lock that saw the head not done
				m.mu.Unlock()
				<-m.consumerWake
			}
			m.mu.Lock()
		}
		first, stopped := m.yielded, m.stopped
		m.mu.Unlock()
		for k, r := range batch {
			if !yield(m.ring[(first+k)%len(m.ring)].in, r) {
				return
			}
		}
		m.mu.Lock()
		if !stopped { // else a worker may still write a cell; nothing reuses them
			for k := range batch {
				m.ring[(first+k)%len(m.ring)] = cell[In, Out]{} // drop references
			}
		}
		m.yielded += len(batch)
		if m.producerWaits {
			m.producerWaits = false
			wake(m.producerWake)
		}
		m.mu.Unlock()
	}
}

// collectLocked copies the outcomes of the n cells at the head. Once
// stopped, a cell not done is yielded canceled: its call, if running,
// goes on abandoned (the worker still writes its cell, which nobody
// reads any more).
func (m *stream[In, Out]) collectLocked(batch []Result[Out], n int) []Result[Out] {
	canceled := 0
	for i := m.yielded; i < m.yielded+n; i++ {
		c := &m.ring[i%len(m.ring)]
		if c.done {
			batch = append(batch, Result[Out]{Value: c.out, Err: c.err})
			continue
		}
		batch = append(batch, Result[Out]{Err: context.Cause(m.ctx)})
		if i >= m.claimed {
			canceled++ // a running one is counted by its worker
		}
	}
	if canceled > 0 {
		m.e.nextID.Add(uint64(canceled))
		m.e.canceled.Add(uint64(canceled))
	}
	m.claimed = max(m.claimed, m.yielded+n) // no worker takes them now
	return batch
}

// halt runs when m.ctx ends: the consumer's leaving, or the caller's ctx.
func (m *stream[In, Out]) halt() {
	m.mu.Lock()
	m.stopped = true
	m.wakeWaitersLocked()
	m.mu.Unlock()
}

// leaveLocked marks the consumer gone: an input the producer pulls now is
// dropped, never handed over.
func (m *stream[In, Out]) leaveLocked() {
	m.left, m.stopped = true, true
	if m.producerWaits {
		m.producerWaits = false
		wake(m.producerWake)
	}
}

// stop cancels what is in flight and keeps the producer from pulling more;
// it does not wait for the producer, which may be blocked in the input.
func (m *stream[In, Out]) stop() {
	m.cancel()
	m.mu.Lock()
	m.leaveLocked()
	m.mu.Unlock()
}

// produce pulls inputs into free cells and sees that workers run them.
func (m *stream[In, Out]) produce() {
	defer func() {
		m.mu.Lock()
		m.ended = true
		if m.consumerWaits {
			m.consumerWaits = false
			wake(m.consumerWake)
		}
		m.mu.Unlock()
	}()
	for v := range m.in {
		m.mu.Lock()
		if m.left {
			m.mu.Unlock()
			return
		}
		// Room is certain: the producer waited for it before pulling v.
		c := &m.ring[m.pulled%len(m.ring)]
		c.in = v
		m.pulled++
		if m.fail != nil {
			m.failLocked()
		}
		start := !m.stopped && m.needWorkerLocked()
		if start {
			m.workers++
		}
		if m.stopped && m.consumerWaits { // it yields v canceled
			m.consumerWaits = false
			wake(m.consumerWake)
		}
		if start {
			m.mu.Unlock()
			m.startWorker(false)
			m.mu.Lock()
		}
		// Wait for room for the next input before pulling it, and pull
		// nothing once stopped.
		for spins := 0; m.pulled-m.yielded >= len(m.ring) && !m.stopped; spins++ {
			if m.orphanedLocked() {
				m.restartLocked()
				continue
			}
			if spins < spinMax {
				m.mu.Unlock()
				runtime.Gosched()
			} else {
				m.producerWaits = true // under the lock that saw no room
				m.mu.Unlock()
				<-m.producerWake
			}
			m.mu.Lock()
		}
		stopped := m.stopped
		m.mu.Unlock()
		if stopped {
			return
		}
	}
}

// needWorkerLocked reports whether the inputs waiting need one more
// worker: calls that block get a worker each, up to the limit; tiny calls
// get one per batch waiting, since a batch on a worker that holds its slot
// costs less than a goroutine started.
func (m *stream[In, Out]) needWorkerLocked() bool {
	backlog := m.pulled - m.claimed
	if m.workers == 0 {
		return backlog > 0
	}
	if m.tiny {
		backlog /= batchMax
	}
	return m.workers < m.maxWorkers && backlog > m.workers
}

// orphanedLocked reports whether inputs wait for a worker and none is
// left to take them. Workers end only when no input waits, or when another
// worker remains to take what comes, so this should not happen; it once
// did (a worker handing its slot to a successor that ran and ended before
// the hand-over returned: TestStressMap hung with the executor idle), and
// it is checked wherever the stream is about to wait, so that no path a
// worker ends by can leave the producer and the consumer waiting for each
// other.
func (m *stream[In, Out]) orphanedLocked() bool {
	return m.workers == 0 && m.pulled > m.claimed && !m.stopped && m.fail == nil
}

// restartLocked starts a worker for orphaned inputs. It unlocks m.mu while
// it submits, and returns with it held.
func (m *stream[In, Out]) restartLocked() {
	m.workers++
	m.mu.Unlock()
	m.startWorker(false)
	m.mu.Lock()
}

// wakeWaitersLocked wakes the consumer and the producer if they wait.
func (m *stream[In, Out]) wakeWaitersLocked() {
	if m.consumerWaits {
		m.consumerWaits = false
		wake(m.consumerWake)
	}
	if m.producerWaits {
		m.producerWaits = false
		wake(m.producerWake)
	}
}

// failLocked settles every input no worker took with m.fail.
func (m *stream[In, Out]) failLocked() {
	for i := m.claimed; i < m.pulled; i++ {
		c := &m.ring[i%len(m.ring)]
		c.err, c.done = m.fail, true
	}
	n := m.pulled - m.claimed
	m.claimed = m.pulled
	m.e.nextID.Add(uint64(n))
	m.e.failed.Add(uint64(n))
	if m.consumerWaits {
		m.consumerWaits = false
		wake(m.consumerWake)
	}
}

// worker is one worker task's bookkeeping.
type worker struct {
	ran, dead bool // guarded by stream.mu
}

// startWorker submits a worker task, counted in m.workers by the caller.
// A worker replacing itself (try) must not block: it reports false, and
// goes on itself, if the queue has no room.
func (m *stream[In, Out]) startWorker(try bool) bool {
	w := new(worker)
	fn := func(ctx context.Context) (struct{}, error) { m.work(ctx, w); return struct{}{}, nil }
	f := &Future[struct{}]{fn: fn}
	f.t.init(m.ctx, m.e, f, nil)
	f.t.helper = true
	if !m.e.submit(&f.t, try) {
		return false
	}
	f.t.onSettle(func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if w.ran {
			return // the worker counts itself out
		}
		w.dead = true
		m.workers--
		if err := f.t.err; err != nil && !m.stopped {
			// A worker that never ran was refused or canceled: the executor
			// is closed or shutting down and starts no more. The inputs no
			// worker took fail as their tasks would have; counting workers
			// left instead could miss a successor ending at the same time.
			m.fail = err
			m.failLocked()
		}
	})
	return true
}

// spinMax is how many times a goroutine of a stream yields the processor
// to let another make progress before it parks (or a worker ends): a
// wake-up through a channel costs more than a few yields when the work is
// tiny.
const spinMax = 4

// tinyCall is the time per call under which calls are batched.
const tinyCall = 2 * time.Microsecond

// batchMax bounds the inputs a worker takes at once: enough to share the
// lock's cost, few enough that the head of the window is not held back.
const batchMax = 16

// work is a worker task's function: it runs inputs while there are some,
// and gives its slot back when other tasks wait for one.
func (m *stream[In, Out]) work(ctx context.Context, w *worker) {
	e := m.e
	m.mu.Lock()
	if w.dead {
		m.mu.Unlock()
		return
	}
	w.ran = true
	defer func() {
		m.workers--
		if m.orphanedLocked() {
			// The last worker leaves inputs no worker took: the
			// producer or the consumer, whichever waits, starts one.
			m.wakeWaitersLocked()
		}
		m.mu.Unlock()
	}()
	var ok, failed uint64
	spins := 0
	for {
		if m.stopped {
			return
		}
		if ctx.Err() != nil {
			// Shutdown canceled this worker. If it is the last, a successor
			// fails at once on the closed executor, and with it the inputs
			// no worker took: nothing is left waiting for a worker.
			if m.pulled > m.claimed && m.workers == 1 {
				m.workers++
				m.mu.Unlock()
				queued := m.startWorker(true)
				m.mu.Lock()
				if !queued {
					m.workers--
				}
			}
			return
		}
		n := min(m.pulled-m.claimed, 1)
		if m.tiny {
			n = min(m.pulled-m.claimed, batchMax)
		}
		if n == 0 {
			if m.tiny && spins < spinMax && !m.ended {
				// The producer is likely a moment away: wait for it a
				// little rather than end and have it start a worker anew.
				spins++
				m.mu.Unlock()
				runtime.Gosched()
				m.mu.Lock()
				continue
			}
			return
		}
		spins = 0
		first := m.claimed
		m.claimed += n
		m.mu.Unlock()
		ok, failed = 0, 0
		began := time.Now()
		for i := first; i < first+n; i++ {
			c := &m.ring[i%len(m.ring)]
			out, err := m.call(ctx, c.in)
			c.out, c.err = out, err
			if err == nil {
				ok++
				continue
			}
			failed++
			if pe, isPanic := err.(*PanicError); isPanic && e.onPanic != nil {
				e.onPanic(TaskInfo{}, pe)
			}
		}
		e.nextID.Add(ok + failed)
		e.completed.Add(ok)
		e.failed.Add(failed)
		tiny := time.Since(began) < time.Duration(n)*tinyCall
		contended := e.contended()
		m.mu.Lock()
		m.tiny = tiny
		for i := first; i < first+n; i++ {
			m.ring[i%len(m.ring)].done = true
		}
		if m.consumerWaits && m.ring[m.yielded%len(m.ring)].done {
			m.consumerWaits = false
			wake(m.consumerWake)
		}
		if contended && m.pulled > m.claimed {
			// Others wait for a slot: queue a successor behind them and
			// give this slot back. If the queue has no room, go on.
			m.workers++
			m.mu.Unlock()
			queued := m.startWorker(true)
			m.mu.Lock()
			switch {
			case !queued:
				m.workers-- // no successor: go on
			case m.workers > 1 || m.pulled == m.claimed:
				return // the successor, or another worker, takes what comes
			default:
				// The successor found a slot at once, ran and ended while
				// this worker queued it, and inputs came since: leaving now
				// would leave them to no worker (the producer saw this one
				// and started none). Go on.
			}
		}
	}
}

// call runs fn on one input under the package's panic policy (see
// catchPanic).
func (m *stream[In, Out]) call(ctx context.Context, in In) (out Out, err error) {
	returned := false
	defer catchPanic(&err, &returned)
	out, err = m.fn(ctx, in)
	returned = true
	return out, err
}
