// Package trace records what a [fanout.Executor] did, task by task, and
// turns it into proof of concurrency: a summary with percentiles and a
// warning when work that could have overlapped ran one task after another,
// a log of slow and stuck tasks, a Chrome/Perfetto trace and a
// self-contained HTML timeline.
//
// A [Recorder] is a [fanout.Observer]; give it to the executor and read it
// when the work is done:
//
//	rec := trace.New(trace.WithSlow(time.Second, nil), trace.WithStuck(time.Minute, nil))
//	defer rec.Close()
//	ex := fanout.New(fanout.WithObserver(rec))
//	// ... submit and await tasks, ex.Close() ...
//	fmt.Fprint(os.Stderr, rec.Summary())
//	err := rec.WriteChromeTraceFile("run.trace.json") // open in ui.perfetto.dev or chrome://tracing
//	err = rec.WriteHTMLFile("run.html")
//
// The slow-task log is the counterpart of Python asyncio's debug mode
// ("Executing <Task ...> took 0.699 seconds"), and the stuck-task log
// reports a task while it is still running, which asyncio cannot.
//
// A task's span runs from its first attempt's start to its last attempt's
// end (retries and their backoff included). The exports draw only the
// times a task ran: a task that waited between attempts (a retry's
// backoff, holding no slot) is drawn as one bar per stretch of attempts,
// and the wait apart from them. Each stretch is drawn on a lane, a
// concurrency slot the recorder assigns itself from the recorded times:
// the lowest lane free when the stretch started (or the lane of the
// task's previous stretch, if free), held until it ended, so bars on one
// lane never overlap and the number of lanes is the highest concurrency
// observed. A stretch is coloured by how its last attempt ended: a task
// that failed, waited and then succeeded shows an error, then ok (in the
// Perfetto export, the event's category and "stretch_outcome"; its
// "outcome" is the task's).
//
// The summary's serial-run warning is a heuristic on timing alone; see
// [Summary.Serial] and the comment on judge in serial.go for what it
// catches and what it cannot tell apart.
//
// One Recorder watches one Executor: task IDs of two executors would
// collide.
package trace

import (
	"context"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/fanout-go/fanout"
)

// An Option configures a [Recorder].
type Option func(*config)

type config struct {
	slow     time.Duration
	slowLog  *slog.Logger
	stuck    time.Duration
	stuckLog *slog.Logger
	slowest  int
	maxBars  int
	now      func() time.Time // the watcher's clock; replaced in tests
}

// WithSlow logs, at level Warn, every task that held its slot for at least
// threshold, when it finishes: its label, duration, queue wait, attempts and
// outcome. A nil logger means [slog.Default]. A threshold <= 0 turns the log
// off.
func WithSlow(threshold time.Duration, logger *slog.Logger) Option {
	return func(c *config) { c.slow, c.slowLog = threshold, logger }
}

// WithStuck logs, at level Warn, every task still running threshold after
// its first attempt started, once, while it runs, so a hung call shows
// before it ends. It starts one watcher goroutine, stopped by
// [Recorder.Close]. A nil logger means [slog.Default]; a threshold <= 0
// turns the log off.
func WithStuck(threshold time.Duration, logger *slog.Logger) Option {
	return func(c *config) { c.stuck, c.stuckLog = threshold, logger }
}

// WithSlowest sets how many of the slowest tasks [Recorder.Summary] lists;
// the default is 5.
func WithSlowest(n int) Option {
	return func(c *config) { c.slowest = max(n, 0) }
}

// A Recorder is a [fanout.Observer] and [fanout.LimitObserver] that keeps
// one span per task. It is safe for concurrent use; hooks take one mutex
// briefly and do not allocate beyond the span store, which grows in chunks.
//
// Cost: 88 bytes per task (measured by BenchmarkHooks: no allocation per
// task beyond that) plus, while a task is queued or running, one map entry;
// the label, key and error strings are kept (the label and key are the
// caller's strings, error text is cut to 256 bytes). A million tasks take
// about 90 MB plus their labels. The four hooks of a task cost about 300ns
// together. With WithStuck, the watcher also keeps 16 bytes per task
// started within the last stuck threshold.
//
// Summary and the exports read every span under the mutex, so hooks wait
// while they run; call them when the work is done (or rarely during it).
// For a million tasks Summary takes about 0.3s and 90 MB of scratch
// memory, WriteChromeTrace 0.5s, WriteHTML 0.3s (on a 2-core machine).
type Recorder struct {
	cfg config

	mu    sync.Mutex
	based bool
	base  time.Time // time of the first event; offsets are from here
	last  int64     // latest event offset
	spans store
	live  map[uint64]int32 // tasks not finished yet: ID to span index
	// waits holds, by span index, the times a task spent between the end
	// of one attempt and the start of the next (a retry's backoff, when it
	// holds no slot), each with how the attempt before it ended: kept
	// apart because few tasks have any.
	waits     map[int32][]wait
	limits    []limitPoint
	keyLimits map[string][]limitPoint // per key (keylimits.go)
	closed    bool
	stuckQ    []watchEntry // started tasks in start order, for the watcher
	stuckHead int

	wake   chan struct{} // nudges the watcher when stuckQ gets its first entry
	done   chan struct{} // closed by Close
	exited chan struct{} // closed when the watcher returns
	once   sync.Once
}

type limitPoint struct {
	at    int64
	limit int
}

var (
	_ fanout.Observer      = (*Recorder)(nil)
	_ fanout.LimitObserver = (*Recorder)(nil)
)

// New returns a Recorder. With [WithStuck] it starts a watcher goroutine:
// call [Recorder.Close] when done.
func New(opts ...Option) *Recorder {
	r := &Recorder{
		cfg:  config{slowest: 5, maxBars: DefaultMaxBars, now: time.Now},
		live: make(map[uint64]int32),
		done: make(chan struct{}),
	}
	for _, o := range opts {
		o(&r.cfg)
	}
	if r.cfg.slowLog == nil {
		r.cfg.slowLog = slog.Default()
	}
	if r.cfg.stuckLog == nil {
		r.cfg.stuckLog = slog.Default()
	}
	if r.cfg.stuck > 0 {
		r.wake = make(chan struct{}, 1)
		r.exited = make(chan struct{})
		go r.watch()
	}
	return r
}

// Close stops the stuck-task watcher and waits for it to return. The
// recorder keeps recording and can still be read and exported. Close is
// idempotent.
func (r *Recorder) Close() {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.stuckQ, r.stuckHead = nil, 0
		r.mu.Unlock()
		close(r.done)
		if r.exited != nil {
			<-r.exited
		}
	})
}

// offset converts at to nanoseconds since the first event; r.mu is held.
func (r *Recorder) offset(at time.Time) int64 {
	if !r.based {
		r.based, r.base = true, at
	}
	o := int64(at.Sub(r.base))
	r.last = max(r.last, o)
	return o
}

func (r *Recorder) time(o int64) time.Time { return r.base.Add(time.Duration(o)) }

// task returns the span of a task not finished yet, creating it when a
// hook arrives for a task never queued (the executor always calls
// TaskQueued first; this keeps the recorder whole if it does not).
func (r *Recorder) task(t fanout.TaskInfo, o int64) *span {
	if i, ok := r.live[t.ID]; ok {
		return r.spans.at(i)
	}
	i := r.spans.add()
	r.live[t.ID] = i
	sp := r.spans.at(i)
	*sp = span{id: t.ID, label: t.Label, key: t.Key, queued: o, kind: Queued}
	return sp
}

// TaskQueued implements [fanout.Observer].
func (r *Recorder) TaskQueued(t fanout.TaskInfo, at time.Time) {
	r.mu.Lock()
	r.task(t, r.offset(at))
	r.mu.Unlock()
}

// AttemptStarted implements [fanout.Observer]. The first attempt gives the
// task its start time.
func (r *Recorder) AttemptStarted(t fanout.TaskInfo, attempt int, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.offset(at)
	sp := r.task(t, o)
	if sp.has(flagNotStarted) {
		return
	}
	sp.attempts = max(sp.attempts, int32(attempt))
	if sp.has(flagStarted) {
		// A retry after the previous attempt returned: the task did not
		// run in between. (A retry beside an abandoned attempt that has
		// not returned leaves no gap.)
		if sp.has(flagAttemptEnded) && o > sp.finished {
			if r.waits == nil {
				r.waits = make(map[int32][]wait)
			}
			i := r.live[t.ID]
			r.waits[i] = append(r.waits[i], wait{from: sp.finished, to: o, before: sp.lastAttempt})
		}
		sp.flags &^= flagAttemptEnded
		return
	}
	sp.flags &^= flagAttemptEnded
	sp.flags |= flagStarted
	sp.started = max(o, sp.queued)
	sp.kind = Running
	if r.wake != nil && !r.closed {
		r.stuckQ = append(r.stuckQ, watchEntry{idx: r.live[t.ID], started: sp.started})
		if len(r.stuckQ)-r.stuckHead == 1 {
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
	}
}

// AttemptFinished implements [fanout.Observer]. The end of the latest
// attempt becomes the task's end: the executor reads the clock for it
// before giving the slot back, so a task started in the freed slot starts
// at or after it, and spans overlap no more than the limit allowed.
//
// How the attempt ended colours its stretch of the task when a retry
// follows; the task's last stretch takes the task's outcome.
func (r *Recorder) AttemptFinished(t fanout.TaskInfo, _ int, err error, at time.Time) {
	kind := OK
	if err != nil {
		kind = classify(err, false) // outside r.mu: errors.As may allocate
	}
	r.mu.Lock()
	o := r.offset(at)
	sp := r.task(t, o)
	if sp.has(flagStarted) && !sp.has(flagNotStarted) {
		sp.finished = max(o, sp.started)
		sp.flags |= flagAttemptEnded
		sp.lastAttempt = kind
	}
	r.mu.Unlock()
}

// maxErrText bounds the error text kept per task.
const maxErrText = 256

// TaskFinished implements [fanout.Observer]: it closes the span and logs
// the task if it was slow.
func (r *Recorder) TaskFinished(t fanout.TaskInfo, out fanout.Outcome, at time.Time) {
	r.mu.Lock()
	o := r.offset(at)
	sp := r.task(t, o)
	delete(r.live, t.ID)
	if !sp.has(flagAttemptEnded) { // no attempt, or it never returned (runtime.Goexit)
		sp.finished = max(o, sp.queued)
	}
	sp.flags |= flagFinished
	if !sp.has(flagNotStarted) {
		sp.attempts = max(sp.attempts, int32(out.Attempts))
	}
	if !sp.has(flagOutcomeSet) {
		sp.kind = classify(out.Err, out.Abandoned)
	}
	if out.Err != nil {
		sp.err = cut(out.Err.Error(), maxErrText)
	}
	var slow bool
	if sp.has(flagStarted) {
		sp.finished = max(sp.finished, sp.started)
		slow = r.cfg.slow > 0 && time.Duration(sp.finished-sp.started) >= r.cfg.slow
	}
	var s Span
	if slow {
		s = r.public(sp, -1)
	}
	r.mu.Unlock()
	if slow {
		attrs := []slog.Attr{
			slog.Uint64("id", s.ID),
			slog.String("label", s.Label),
			slog.Duration("duration", s.Duration()),
			slog.Duration("queue_wait", s.QueueWait()),
			slog.Int("attempts", s.Attempts),
			slog.String("outcome", s.Outcome.String()),
		}
		if s.Err != "" {
			attrs = append(attrs, slog.String("error", s.Err))
		}
		r.cfg.slowLog.LogAttrs(context.Background(), slog.LevelWarn, "fanout: slow task", attrs...)
	}
}

// LimitChanged implements [fanout.LimitObserver]: the limit is drawn over
// time in the exports and judged by the serial-run check.
func (r *Recorder) LimitChanged(limit int, at time.Time) {
	r.mu.Lock()
	r.limits = append(r.limits, limitPoint{at: r.offset(at), limit: limit})
	r.mu.Unlock()
}

// SetOutcome sets the outcome of the n-th task the recorder saw (from 0, in
// the order tasks were queued), replacing the one its error implies. A
// caller whose own records class outcomes differently from a task's error
// (an HTTP status counted as a failure, a Lambda function error, a task
// canceled while a record was being made) uses it so that the summary and
// the exports tell the same story as its records. It is kept when the task
// finishes later. An n not recorded yet is ignored.
func (r *Recorder) SetOutcome(n int, k Kind) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n < 0 || n >= r.spans.n || !k.finished() {
		return
	}
	sp := r.spans.at(int32(n))
	sp.kind = k
	sp.flags |= flagOutcomeSet
}

// SetNotStarted marks the n-th task the recorder saw as one whose work
// never began, as its caller's record says (a job stopped by --halt as it
// was handed its slot, before its process started; a URL refused before
// any request): the summary, the exports and the serial-run check count it
// as never started, as a task canceled in the queue, whatever attempts the
// executor reported for it, before or after. An n not recorded yet is
// ignored.
func (r *Recorder) SetNotStarted(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n < 0 || n >= r.spans.n {
		return
	}
	sp := r.spans.at(int32(n))
	sp.flags = sp.flags&^(flagStarted|flagAttemptEnded) | flagNotStarted
	sp.attempts = 0
	delete(r.waits, int32(n))
	if sp.has(flagFinished) {
		sp.finished = max(sp.finished, sp.queued)
	}
}

// public converts a span on the given lane; r.mu is held.
func (r *Recorder) public(sp *span, lane int32) Span {
	s := Span{
		ID:       sp.id,
		Label:    sp.label,
		Key:      sp.key,
		Lane:     int(lane),
		Queued:   r.time(sp.queued),
		Attempts: int(sp.attempts),
		Outcome:  sp.kind,
		Err:      sp.err,
	}
	if sp.has(flagStarted) {
		s.Started = r.time(sp.started)
	}
	if sp.has(flagFinished) {
		s.Finished = r.time(sp.finished)
	}
	return s
}

// Spans returns a copy of every span in the order tasks were first seen.
// It allocates about 150 bytes per task; the exports and Summary do not
// need it.
func (r *Recorder) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	lanes := r.assignLanes()
	out := make([]Span, 0, r.spans.n)
	r.spans.each(func(i int32, sp *span) { out = append(out, r.public(sp, lanes.first[i])) })
	return out
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence,
// and copies it so a long error string is not kept alive.
// controlsOut replaces the control characters of s (C0, DEL, C1) with
// '?': a label from hostile input (a URL, an input line) must not move
// the cursor, clear the screen or retitle the window of the terminal a
// summary is printed on.
func controlsOut(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r >= 0x7f && r <= 0x9f {
			return '?'
		}
		return r
	}, s)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return string([]byte(s[:i])) + "…"
}

// interval is a span of time [from, to) in offsets.
type interval struct{ from, to int64 }

// wait is a task's time between two attempts, [from, to) in offsets, and
// how the attempt that ended at from ended.
type wait struct {
	from, to int64
	before   Kind
}

// stretchKind is how the task of span sp ended its k-th stretch (see
// stretches): the attempt before its k-th wait, or the task's outcome for
// its last. r.mu is held.
func (r *Recorder) stretchKind(i int32, sp *span, k int) Kind {
	if ws := r.waits[i]; k < len(ws) {
		return ws[k].before
	}
	return sp.kind
}

// stretches yields, in time order, the intervals in which the task of
// span i ran: from its first attempt's start to end, cut by its waits
// between attempts. A stretch runs from the start of an attempt to the end
// of the last attempt before the task waited for a retry, or finished; a
// task that never waited has one. r.mu is held.
func (r *Recorder) stretches(i int32, start, end int64) iter.Seq[interval] {
	return func(yield func(interval) bool) {
		from := start
		for _, w := range r.waits[i] {
			if !yield(interval{from, max(w.from, from)}) {
				return
			}
			from = w.to
		}
		yield(interval{from, max(end, from)})
	}
}

// running adds to starts and ends the intervals in which the task of span
// i ran, from its first attempt's start to end, less its waits between
// attempts; it returns how long it waited. r.mu is held.
func (r *Recorder) running(i int32, start, end int64, starts, ends []int64) ([]int64, []int64, int64) {
	starts, ends = append(starts, start), append(ends, end)
	var waited int64
	for _, w := range r.waits[i] {
		// [start, end) less [from, to) is [start, from) and [to, end).
		starts, ends = append(starts, w.to), append(ends, w.from)
		waited += w.to - w.from
	}
	return starts, ends, waited
}
