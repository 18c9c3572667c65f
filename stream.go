package fanout

import (
	"context"
	"errors"
	"iter"
	"reflect"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// stream is Map's fast path, taken when no input needs a task of its own:
// no per-input options (WithTaskOptions), and an executor without
// observers, rate limit, timeout or retries. Instead of a future and a
// goroutine per input, a few worker tasks hold the executor's slots and
// each runs input after input (slot reuse), claiming them from a ring of
// window cells in batches; results go back into the cells, and the caller
// yields them in input order. A worker gives its slot back after a batch
// when other tasks wait for one (fairness: Map and other submitters take
// turns, batch for task), and ends when no input is waiting.
//
// The hand-over takes no lock. Three counters, each written by one side,
// order it: the producer publishes an input by advancing pulled, workers
// claim a run of inputs by advancing claimed with a compare-and-swap, and
// the consumer frees cells by advancing yielded; a worker publishes a
// run's outcomes with one store on the run's first cell (cell.end).
// Invariant: yielded <= claimed <= pulled <= yielded + window, except that
// once stopped the consumer may yield (canceled) cells a worker still
// runs, and no cell is reused after that. The producer, waiting for room,
// spins briefly and then parks on its channel; the consumer parks at once.
// Each parks after raising its flag and checking again: the flag and the
// state it waits for are both atomic, so a waker either sees the flag or
// the waiter sees the state. Per input the cost is a few atomic operations
// shared with its batch and no allocation.
type stream[In, Out any] struct {
	ctx    context.Context
	cancel context.CancelFunc
	e      *Executor
	in     iter.Seq[In]
	fn     func(context.Context, In) (Out, error)
	// ins and outs are the ring of cells: a power of two, at least the
	// window. Apart, so that each cache line has one writer: the producer
	// writes ins, the workers outs.
	ins  []In
	outs []cell[Out]
	mask int64 // len(ins)-1: cell i is ins[i&mask] and outs[i&mask]
	// clear: In or Out holds pointers, so that a yielded cell is zeroed
	// for the collector; otherwise the consumer leaves it alone (a write
	// would take the cache line from the goroutine that writes it next).
	clear  bool
	window int64 // inputs pulled and not yielded, at most
	// maxWorkers is the executor's limit when Map started.
	maxWorkers int32

	// Each counter on a cache line of its own: they are written by
	// different goroutines on different cores.
	pulled  paddedInt // written by the producer
	claimed paddedInt // advanced by compare-and-swap: workers, failures, the consumer once stopped
	yielded paddedInt // written by the consumer

	workers atomic.Int32 // worker tasks admitted and not retired
	tiny    atomic.Bool  // calls take under tinyCall: batch them on few workers
	ended   atomic.Bool  // the producer returned
	inPanic inputPanic   // the producer's, raised by the consumer
	stopped atomic.Bool  // the consumer left, or ctx ended: pull and run nothing more
	failed  atomic.Bool  // fail is set

	consumerWaits atomic.Bool
	producerWaits atomic.Bool
	consumerWake  chan struct{} // cap 1
	producerWake  chan struct{} // cap 1

	mu   sync.Mutex
	fail error // why no worker could run: every input left fails with it

	live sync.WaitGroup // worker tasks submitted and not finished
}

type paddedInt struct {
	atomic.Int64
	_ [56]byte
}

type cell[Out any] struct {
	out Out
	err error
	// end, on the first cell of a run of inputs settled together (a
	// worker's batch, or inputs failed at once), is the index after the
	// run's last, stored once their outcomes are written: one atomic store
	// per run, and never reset, since indexes only grow (a cell's end from
	// an earlier round is at most its index now).
	end atomic.Int64
}

// fail settles the cell with err and no value.
func (c *cell[Out]) fail(err error) {
	var zero Out
	c.out, c.err = zero, err
}

// fastPath reports whether Map may use a stream.
func fastPath(e *Executor, c *mapConfig) bool {
	return c.taskOpts == nil && !e.observed && e.limiter == nil && e.timeout == 0 && e.queueTimeout == 0 && e.retry.MaxAttempts <= 1
}

func newStream[In, Out any](ctx context.Context, e *Executor, in iter.Seq[In], fn func(context.Context, In) (Out, error), window int) *stream[In, Out] {
	n := 1
	for n < window {
		n <<= 1
	}
	// The ring is a power of two so that finding a cell takes a mask, not
	// a division: several per input.
	m := &stream[In, Out]{e: e, in: in, fn: fn, mask: int64(n - 1), window: int64(window)}
	m.ins, m.outs = make([]In, n), make([]cell[Out], n)
	m.clear = hasPointers(reflect.TypeFor[In]()) || hasPointers(reflect.TypeFor[Out]())
	m.ctx, m.cancel = context.WithCancel(ctx)
	m.maxWorkers = int32(max(1, min(e.Limit(), window)))
	m.consumerWake = make(chan struct{}, 1)
	m.producerWake = make(chan struct{}, 1)
	return m
}

// wakeIf wakes the goroutine parked on ch if its flag is up, taking the
// flag down.
func wakeIf(waits *atomic.Bool, ch chan struct{}) {
	if waits.Load() && waits.CompareAndSwap(true, false) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (m *stream[In, Out]) wakeConsumer() { wakeIf(&m.consumerWaits, m.consumerWake) }
func (m *stream[In, Out]) wakeProducer() { wakeIf(&m.producerWaits, m.producerWake) }

// yieldChunk is how many cells the consumer yields before it hands their
// room back to the producer.
const yieldChunk = 16

// run yields each input with its outcome in input order.
func (m *stream[In, Out]) run(yield func(In, Result[Out]) bool) {
	defer m.stop()
	stopWatch := context.AfterFunc(m.ctx, m.halt)
	defer stopWatch()
	go m.produce()
	y := int64(0) // m.yielded, which only this goroutine writes
	for {
		// stopped before pulled: once stopped is seen, the pulled seen
		// after it is final but for inputs nobody runs (see produce).
		stopped := m.stopped.Load()
		p := m.pulled.Load()
		settled := y // cells [y, settled) hold outcomes
		for settled < p {
			end := m.outs[settled&m.mask].end.Load()
			if end <= settled {
				break
			}
			settled = end
		}
		n := settled - y
		if stopped {
			n = max(settled, p) - y // those not settled are yielded canceled
		}
		if n > 0 {
			if stopped {
				m.cancelUnclaimed(y + n)
			}
			unpublished := int64(0)
			for k := range n {
				i := (y + k) & m.mask
				c := &m.outs[i]
				var r Result[Out]
				if y+k < settled {
					r = Result[Out]{Value: c.out, Err: c.err}
				} else {
					r.Err = context.Cause(m.ctx)
				}
				if !yield(m.ins[i], r) {
					return
				}
				if !stopped { // else a worker may still write it; nothing reuses it
					if m.clear {
						var (
							zeroIn  In
							zeroOut Out
						)
						m.ins[i], c.out = zeroIn, zeroOut
					}
					if c.err != nil {
						c.err = nil
					}
				}
				// Hand the room back now and then, not only after the run.
				if unpublished++; unpublished == yieldChunk || k == n-1 {
					m.yielded.Store(y + k + 1)
					unpublished = 0
					m.wakeProducer()
				}
			}
			y += n
			continue
		}
		if stopped {
			m.inPanic.raise()
			return
		}
		if m.ended.Load() && m.pulled.Load() == y {
			// Every input yielded: let the workers go, and return once
			// their tasks are over, so that Map leaves nothing running.
			// None is in a call, and one queued is canceled at once.
			m.stop()
			m.live.Wait()
			m.inPanic.raise()
			return
		}
		// Park at once rather than spin: the consumer is woken by the
		// worker that settles the head, often on the same processor,
		// where a wake-up is cheap; yielding the processor to spin goes
		// through the scheduler's global queue and its lock, and measured
		// slower (BenchmarkMap: 63-70 ns per input against 75-130, spinning
		// 4 times, in one interleaved run).
		m.consumerWaits.Store(true)
		if m.headReady(y) || m.stopped.Load() || m.ended.Load() && m.pulled.Load() == y || m.orphaned() {
			m.consumerWaits.Store(false)
			m.restartIfOrphaned()
			continue
		}
		<-m.consumerWake
	}
}

// headReady reports whether the cell at y holds a settled input.
func (m *stream[In, Out]) headReady(y int64) bool {
	return y < m.pulled.Load() && m.outs[y&m.mask].end.Load() > y
}

// cancelUnclaimed claims every input before upTo that no worker took, for
// the consumer to yield canceled, and counts them.
func (m *stream[In, Out]) cancelUnclaimed(upTo int64) {
	for {
		c := m.claimed.Load()
		if c >= upTo {
			return
		}
		if m.claimed.CompareAndSwap(c, upTo) {
			m.e.nextID.Add(uint64(upTo - c))
			m.e.canceled.Add(uint64(upTo - c))
			return
		}
	}
}

// halt runs when m.ctx ends: the consumer's leaving, or the caller's ctx.
func (m *stream[In, Out]) halt() {
	m.stopped.Store(true)
	m.wakeConsumer()
	m.wakeProducer()
}

// stop cancels what is in flight and keeps the producer from pulling more;
// it does not wait for the producer, which may be blocked in the input.
func (m *stream[In, Out]) stop() {
	m.cancel()
	m.halt()
}

// produce pulls inputs into free cells and sees that workers run them.
//
// An input it publishes as the consumer stops is either seen by the
// consumer's last look at pulled, which comes after it sees stopped, or
// the producer sees stopped after publishing it; then the input is
// dropped, and no worker runs it: a worker checks stopped after claiming.
func (m *stream[In, Out]) produce() {
	defer func() {
		m.ended.Store(true)
		m.wakeConsumer()
	}()
	defer m.inPanic.catch()
	size := m.window
	p := int64(0) // m.pulled, which only this goroutine writes
	y := int64(0) // the last yielded seen
	for v := range m.in {
		// Room is certain: the producer waited for it before pulling v.
		m.ins[p&m.mask] = v
		p++
		m.pulled.Store(p)
		if m.stopped.Load() {
			return
		}
		if m.failed.Load() {
			m.failUnclaimed()
		}
		if m.needWorker(p) {
			m.workers.Add(1)
			m.startWorker(false)
		}
		// Wait for room for the next input before pulling it, and pull
		// nothing once stopped.
		for spins := 0; p-y >= size; spins++ {
			if y = m.yielded.Load(); p-y < size {
				break
			}
			if m.stopped.Load() {
				return
			}
			if m.restartIfOrphaned() {
				continue
			}
			if spins < spinMax {
				runtime.Gosched()
				continue
			}
			m.producerWaits.Store(true)
			if p-m.yielded.Load() < size || m.stopped.Load() || m.orphaned() {
				m.producerWaits.Store(false)
				continue
			}
			<-m.producerWake
		}
		// Room seen after a yield of a canceled input implies stopped,
		// stored before it: checked here, before the next pull.
		if m.stopped.Load() {
			return
		}
	}
}

// needWorker reports whether the inputs waiting, p pulled in all, need one
// more worker: calls that block get a worker each, up to the limit; tiny
// calls get one per batch waiting, since a batch on a worker that holds its
// slot costs less than a goroutine started. With no worker it is always
// yes: a worker that retires checks for inputs after counting itself out
// (see retire), so one of the two sees the other.
func (m *stream[In, Out]) needWorker(p int64) bool {
	w := m.workers.Load()
	if w == 0 {
		return !m.failed.Load() && p > m.claimed.Load()
	}
	if w >= m.maxWorkers {
		return false
	}
	if m.tiny.Load() {
		if p%batchMax != 0 {
			return false // checked once per batch's worth of inputs
		}
		return (p-m.claimed.Load())/batchMax > int64(w)
	}
	return p-m.claimed.Load() > int64(w)
}

// orphaned reports whether inputs wait for a worker and none is left to
// take them. Workers retire only when no input waits, or when another
// worker remains to take what comes (see retire), so this happens only
// when shutdown cancels the last worker; it is checked wherever the stream
// is about to wait, so that no way a worker ends can leave the producer
// and the consumer waiting for each other.
func (m *stream[In, Out]) orphaned() bool {
	return m.workers.Load() == 0 && m.pulled.Load() > m.claimed.Load() && !m.stopped.Load() && !m.failed.Load() && m.ctx.Err() == nil
}

// restartIfOrphaned starts a worker for orphaned inputs, and reports
// whether it did.
func (m *stream[In, Out]) restartIfOrphaned() bool {
	if !m.orphaned() || !m.workers.CompareAndSwap(0, 1) {
		return false
	}
	m.startWorker(false)
	return true
}

// failUnclaimed settles every input no worker took with m.fail.
func (m *stream[In, Out]) failUnclaimed() {
	m.mu.Lock()
	err := m.fail
	m.mu.Unlock()
	for {
		c, p := m.claimed.Load(), m.pulled.Load()
		if c >= p {
			return
		}
		if !m.claimed.CompareAndSwap(c, p) {
			continue
		}
		for i := c; i < p; i++ {
			m.outs[i&m.mask].fail(err)
		}
		m.outs[c&m.mask].end.Store(p)
		m.e.nextID.Add(uint64(p - c))
		m.e.failed.Add(uint64(p - c))
		m.wakeConsumer()
	}
}

// workerTask is a worker's task: its future and the stream it works for,
// in one allocation.
type workerTask[In, Out any] struct {
	Future[struct{}]
	m     *stream[In, Out]
	state atomic.Int32 // workerNew, then workerRan or workerDead: whichever comes first
	// first and n, if n > 0, are inputs claimed for it to run before
	// anything else (see handOver).
	first, n int64
}

const (
	workerNew int32 = iota
	workerRan
	workerDead
)

func (w *workerTask[In, Out]) call(ctx context.Context) error {
	w.m.work(ctx, w)
	return nil
}

func (w *workerTask[In, Out]) code() uintptr { return reflect.ValueOf(w.m.fn).Pointer() }

// finished is told by the executor once the task is over and its slot
// released, whether it ran or not.
func (w *workerTask[In, Out]) finished() {
	defer w.m.live.Done()
	if !w.state.CompareAndSwap(workerNew, workerDead) {
		return // it ran, and counted itself out
	}
	m := w.m
	if w.n > 0 { // inputs handed over to it fail as it did
		err := w.t.err
		for i := w.first; i < w.first+w.n; i++ {
			m.outs[i&m.mask].fail(err)
		}
		m.outs[w.first&m.mask].end.Store(w.first + w.n)
		m.e.nextID.Add(uint64(w.n))
		m.e.failed.Add(uint64(w.n))
		m.wakeConsumer()
	}
	if err := w.t.err; err != nil && !m.stopped.Load() && m.ctx.Err() == nil {
		// A worker that never ran was refused or canceled: the executor
		// is closed or shutting down and starts no more. The inputs no
		// worker took fail as their tasks would have; counting workers
		// left instead could miss a successor ending at the same time.
		m.failRest(err)
	}
	m.retire(false)
}

// failRest fails with err the inputs no worker took, and every input
// pulled after them.
func (m *stream[In, Out]) failRest(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
	m.failed.Store(true)
	m.failUnclaimed()
}

// startWorker submits a worker task, counted in m.workers by the caller.
// A worker replacing itself (try) must not block: it reports false, and
// goes on itself, if the queue has no room.
func (m *stream[In, Out]) startWorker(try bool) bool {
	return m.submitWorker(&workerTask[In, Out]{m: m}, try)
}

func (m *stream[In, Out]) submitWorker(w *workerTask[In, Out], try bool) bool {
	w.t.init(m.ctx, m.e, w, nil)
	w.t.helper = true
	m.live.Add(1)
	if !m.e.submit(&w.t, try) {
		m.live.Done()
		return false
	}
	return true
}

// handOver has a new worker run inputs [first, first+n), claimed by a
// worker whose goroutine ends, before anything else.
func (m *stream[In, Out]) handOver(first, n int64) {
	m.workers.Add(1)
	w := &workerTask[In, Out]{m: m, first: first, n: n}
	if !m.submitWorker(w, true) {
		m.submitWorker(w, false) // settles w at once if refused
	}
}

// retire counts a worker out. If it was the last and inputs came that no
// worker took, a worker that may resume (it still holds its slot) takes
// itself back in and reports true: the producer, publishing them, may have
// seen it and started none. Otherwise whoever waits is woken to check.
func (m *stream[In, Out]) retire(mayResume bool) bool {
	if m.workers.Add(-1) == 0 && m.orphaned() {
		if mayResume && m.workers.CompareAndSwap(0, 1) {
			return true
		}
		m.wakeConsumer()
		m.wakeProducer()
	}
	return false
}

// spinMax is how many times a goroutine of a stream yields the processor
// to let another make progress before it parks (or a worker ends): a
// wake-up through a channel costs more than a few yields when the work is
// tiny.
const spinMax = 4

// workerSpinMax is spinMax for a worker of tiny calls that finds no input:
// ending and being started anew costs a task submitted, some allocations
// and a goroutine, dozens of yields' worth.
const workerSpinMax = 32

// workerSpins is how many times a worker that finds no input yields
// before it ends: workerSpinMax for tiny calls, spinMax for the rest. Calls
// of a few microseconds on every worker keep the producer from running
// until the window is empty; a worker that ends then would be started anew
// (a task, an allocation, a goroutine) for the next input.
func workerSpins(tiny bool) int {
	if tiny {
		return workerSpinMax
	}
	return spinMax
}

// tinyCall is the time per call under which calls are batched.
const tinyCall = 2 * time.Microsecond

// batchMax bounds the inputs a worker takes at once: enough to share the
// cost of claiming, few enough that the head of the window is not held
// back.
const batchMax = 16

// errGoexit is the outcome of inputs whose call ended its goroutine.
var errGoexit = errors.New("fanout: task function called runtime.Goexit")

// work is a worker task's function: it runs inputs while there are some,
// and gives its slot back when other tasks wait for one.
func (m *stream[In, Out]) work(ctx context.Context, w *workerTask[In, Out]) {
	if !w.state.CompareAndSwap(workerNew, workerRan) {
		return // settled without running: counted out already
	}
	e := m.e
	if w.n > 0 {
		m.runBatch(ctx, w.first, w.n)
		m.wakeConsumer()
	}
	spins, batches := 0, 0
	for {
		if m.stopped.Load() {
			m.retire(false)
			return
		}
		if e.closedFlag.Load() {
			// Closed: the executor takes no new task, and a worker that
			// holds its slot must not run new inputs as if it did. The
			// inputs no worker took fail with ErrClosed, as the tasks of
			// Map's other path would, and Close's wait ends with the
			// calls already running.
			m.failRest(ErrClosed)
			m.retire(false)
			return
		}
		if ctx.Err() != nil {
			// Shutdown canceled this worker (or Map's ctx ended: then halt
			// stops the stream). If it is the last, a successor fails at
			// once on the closed executor, and with it the inputs no worker
			// took: nothing is left waiting for a worker.
			if m.ctx.Err() == nil && m.pulled.Load() > m.claimed.Load() && m.workers.Load() == 1 {
				m.workers.Add(1)
				if !m.startWorker(true) {
					m.workers.Add(-1)
				}
			}
			m.retire(false)
			return
		}
		tiny := m.tiny.Load()
		c, p := m.claimed.Load(), m.pulled.Load()
		n := min(p-c, 1)
		if tiny {
			n = min(p-c, batchMax)
		}
		if n == 0 {
			if spins < workerSpins(tiny) && !m.ended.Load() {
				// The producer is likely a moment away: wait for it a
				// little rather than end and have it start a worker anew.
				spins++
				runtime.Gosched()
				continue
			}
			if m.retire(true) {
				continue
			}
			return
		}
		if !m.claimed.CompareAndSwap(c, c+n) {
			continue
		}
		spins = 0
		if m.stopped.Load() {
			// Stopped as it claimed: run nothing; the consumer, once
			// stopped, yields cells not settled canceled, if it still yields.
			e.nextID.Add(uint64(n))
			e.canceled.Add(uint64(n))
			m.retire(false)
			return
		}
		// Measure once in a while whether calls are tiny: reading the
		// clock costs as much as a tiny call.
		var began time.Time
		measure := batches%8 == 0 || !tiny
		if measure {
			began = time.Now()
		}
		batches++
		m.runBatch(ctx, c, n)
		if measure {
			m.tiny.Store(time.Since(began) < time.Duration(n)*tinyCall)
		}
		if m.consumerWaits.Load() && m.headReady(m.yielded.Load()) {
			m.wakeConsumer()
		}
		if e.contended() && m.pulled.Load() > m.claimed.Load() {
			// Others wait for a slot: queue a successor behind them and
			// give this slot back. If the queue has no room, go on.
			m.workers.Add(1)
			if !m.startWorker(true) {
				m.workers.Add(-1)
				continue
			}
			// If the successor already ran and ended, and inputs came
			// since, retire takes this worker back in.
			if m.retire(true) {
				continue
			}
			return
		}
	}
}

// runBatch runs inputs [first, first+n) and settles their cells. If a call
// ends its goroutine (runtime.Goexit, as t.FailNow does), its input fails,
// the worker retires, and a new worker runs the rest of the batch.
func (m *stream[In, Out]) runBatch(ctx context.Context, first, n int64) {
	e := m.e
	var c batchCounts
	i := first
	defer func() {
		if i < first+n { // runtime.Goexit in the call of input i
			m.outs[i&m.mask].fail(errGoexit)
			c.failed++
			m.outs[first&m.mask].end.Store(i + 1)
			c.addTo(e)
			m.wakeConsumer()
			if rest := first + n - (i + 1); rest > 0 {
				m.handOver(i+1, rest)
			}
			m.retire(false)
		}
	}()
	var panics []*PanicError
	for i < first+n {
		m.runFrom(ctx, &i, first+n, &c, &panics)
	}
	m.outs[first&m.mask].end.Store(first + n)
	c.addTo(e)
	if e.onPanic != nil {
		for _, pe := range panics {
			e.onPanic(TaskInfo{}, pe)
		}
	}
}

// batchCounts counts a batch's outcomes for the executor's Stats.
type batchCounts struct{ ok, failed, canceled uint64 }

func (c *batchCounts) addTo(e *Executor) {
	e.nextID.Add(c.ok + c.failed + c.canceled)
	e.completed.Add(c.ok)
	e.failed.Add(c.failed)
	if c.canceled > 0 { // rare: spare the hot path a shared counter's write
		e.canceled.Add(c.canceled)
	}
}

// runFrom runs inputs from *i to end under one deferred recover, rather
// than one per call: a panic settles input *i with a *PanicError, as the
// package's panic policy has it (see catchPanic), and returns for the
// caller to go on with the rest. runtime.Goexit passes through, *i at the
// input whose call ended its goroutine. The panics, and *PanicErrors calls
// return, are added to panics for the executor's panic handler, told
// after the batch, outside any recover.
func (m *stream[In, Out]) runFrom(ctx context.Context, i *int64, end int64, n *batchCounts, panics *[]*PanicError) {
	defer func() {
		if *i >= end {
			return
		}
		r := recover()
		if r == nil {
			return // runtime.Goexit
		}
		pe := &PanicError{Value: r, Stack: debug.Stack()}
		m.outs[*i&m.mask].fail(pe)
		n.failed++
		*i++
		*panics = append(*panics, pe)
	}()
	for ; *i < end; *i++ {
		j := *i & m.mask
		out, err := m.fn(ctx, m.ins[j])
		c := &m.outs[j]
		c.out = out
		if err == nil {
			n.ok++
			continue
		}
		c.err = err
		if m.ctx.Err() != nil && errors.Is(err, context.Canceled) {
			// Map stopped (a break, ctx's end) and the call returned its
			// context's error: canceled, as a task of Map's other path
			// is counted in Stats.
			n.canceled++
		} else {
			n.failed++
		}
		if pe, isPanic := err.(*PanicError); isPanic {
			*panics = append(*panics, pe) // told after the batch, as a panic is
		}
	}
}

// hasPointers reports whether values of t hold pointers: if not, the
// collector needs no cell of t cleared.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}
