package trace

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"unicode/utf8"
)

// WriteChromeTrace writes the run in the Chrome Trace Event Format (JSON
// object form), which ui.perfetto.dev and chrome://tracing open:
//
//   - one track (tid) per lane, named "slot N", with one complete ("X")
//     event per task that ran, from its first attempt to its finish, named
//     by its label and carrying id, label, key, outcome, attempts, queue
//     wait and error text in args. A task that waited between attempts (a
//     retry's backoff, holding no slot) has one event per stretch of
//     attempts instead, each on its own lane (usually one lane), so that
//     the wait does not look like running; their args add "stretch" ("2
//     of 3") and, after the first, "retry_wait_ms", the wait before it;
//   - tasks that never ran (a queue timeout, canceled while waiting) as
//     instant ("i") events on a track named "never started";
//   - counter ("C") tracks "running" and "waiting" (tasks holding a slot,
//     tasks queued), "backoff" (tasks waiting for a retry, when any did)
//     and "limit" (from LimitChanged).
//
// Timestamps are microseconds from the first event. Hooks wait while it
// writes; it streams, holding about 16 bytes per task besides the output.
func (r *Recorder) WriteChromeTrace(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	r.mu.Lock()
	r.writeChrome(bw)
	r.mu.Unlock()
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write chrome trace: %w", err)
	}
	return nil
}

// WriteChromeTraceFile writes [Recorder.WriteChromeTrace] to a new file at
// path (replacing any file there).
func (r *Recorder) WriteChromeTraceFile(path string) error {
	return writeFile(path, r.WriteChromeTrace)
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("trace: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	return nil
}

// chromeWriter appends events to a buffer and flushes it now and then.
type chromeWriter struct {
	w     *bufio.Writer
	b     []byte
	zero  int64 // offset shown as ts 0
	first bool
}

func (c *chromeWriter) begin() {
	if !c.first {
		c.b = append(c.b, ",\n"...)
	}
	c.first = false
	c.b = append(c.b, '{')
}

func (c *chromeWriter) end() {
	c.b = append(c.b, '}')
	if len(c.b) > 32<<10 {
		c.w.Write(c.b) // errors stick in the bufio.Writer and surface at Flush
		c.b = c.b[:0]
	}
}

func (c *chromeWriter) ts(key string, o int64) {
	c.b = append(c.b, `,"`...)
	c.b = append(c.b, key...)
	c.b = append(c.b, `":`...)
	c.b = appendMicros(c.b, o)
}

func appendMicros(b []byte, ns int64) []byte {
	return strconv.AppendFloat(b, float64(ns)/1e3, 'f', 3, 64)
}

func (c *chromeWriter) meta(tid int, name, argKey string, arg any) {
	c.begin()
	c.b = fmt.Appendf(c.b, `"ph":"M","pid":1,"tid":%d,"name":"%s","args":{"%s":`, tid, name, argKey)
	switch v := arg.(type) {
	case string:
		c.b = appendJSONString(c.b, v)
	case int:
		c.b = strconv.AppendInt(c.b, int64(v), 10)
	}
	c.b = append(c.b, "}"...)
	c.end()
}

func (c *chromeWriter) counter(name string, at int64, v int) {
	c.begin()
	c.b = append(c.b, `"ph":"C","pid":1,"name":"`...)
	c.b = append(c.b, name...)
	c.b = append(c.b, '"')
	c.ts("ts", at-c.zero)
	c.b = append(c.b, `,"args":{"`...)
	c.b = append(c.b, name...)
	c.b = append(c.b, `":`...)
	c.b = strconv.AppendInt(c.b, int64(v), 10)
	c.b = append(c.b, "}"...)
	c.end()
}

// task appends the category, name and arguments of an event of sp, which
// waited queueWait for its first attempt, leaving the arguments open for
// more. The category is stretch, how the part of the task the event draws
// ended; the "outcome" argument is the task's.
func (c *chromeWriter) task(sp *span, queueWait int64, stretch Kind) {
	c.b = append(c.b, `,"cat":"`...)
	c.b = append(c.b, stretch.String()...)
	c.b = append(c.b, `","name":`...)
	c.b = appendJSONString(c.b, displayLabel(sp))
	c.b = append(c.b, `,"args":{"id":`...)
	c.b = strconv.AppendUint(c.b, sp.id, 10)
	c.b = append(c.b, `,"label":`...)
	c.b = appendJSONString(c.b, sp.label)
	if sp.key != "" {
		c.b = append(c.b, `,"key":`...)
		c.b = appendJSONString(c.b, sp.key)
	}
	c.b = append(c.b, `,"outcome":"`...)
	c.b = append(c.b, sp.kind.String()...)
	c.b = append(c.b, `","attempts":`...)
	c.b = strconv.AppendInt(c.b, int64(sp.attempts), 10)
	c.b = append(c.b, `,"queue_wait_ms":`...)
	c.b = strconv.AppendFloat(c.b, float64(queueWait)/1e6, 'f', 3, 64)
	if sp.err != "" {
		c.b = append(c.b, `,"error":`...)
		c.b = appendJSONString(c.b, sp.err)
	}
}

// r.mu is held.
func (r *Recorder) writeChrome(w *bufio.Writer) {
	c := &chromeWriter{w: w, first: true, zero: r.zero()}
	c.b = append(c.b, `{"displayTimeUnit":"ms","otherData":{"producer":"fanout trace"},"traceEvents":[`+"\n"...)
	c.meta(0, "process_name", "name", "fanout")
	neverStarted := false
	r.spans.each(func(_ int32, sp *span) { neverStarted = neverStarted || !sp.has(flagStarted) })
	if neverStarted {
		c.meta(0, "thread_name", "name", "never started")
		c.meta(0, "thread_sort_index", "sort_index", 1<<20)
	}
	lanes := r.assignLanes()
	for lane := range lanes.count {
		c.meta(lane+1, "thread_name", "name", "slot "+strconv.Itoa(lane+1))
		c.meta(lane+1, "thread_sort_index", "sort_index", lane+1)
	}
	r.spans.each(func(i int32, sp *span) {
		end := r.last
		if sp.has(flagFinished) {
			end = sp.finished
		}
		if !sp.has(flagStarted) {
			c.begin()
			c.b = append(c.b, `"ph":"i","s":"t","pid":1,"tid":0`...)
			c.ts("ts", end-c.zero)
			c.task(sp, end-sp.queued, sp.kind)
			c.b = append(c.b, "}"...)
			c.end()
			return
		}
		n := len(r.waits[i]) + 1
		k, prev := 0, int64(0)
		for st := range r.stretches(i, sp.started, end) {
			c.begin()
			c.b = append(c.b, `"ph":"X","pid":1,"tid":`...)
			c.b = strconv.AppendInt(c.b, int64(lanes.of(i, k))+1, 10)
			c.ts("ts", st.from-c.zero)
			c.ts("dur", st.to-st.from)
			kind := r.stretchKind(i, sp, k)
			c.task(sp, sp.started-sp.queued, kind)
			if n > 1 {
				c.b = fmt.Appendf(c.b, `,"stretch":"%d of %d","stretch_outcome":"%s"`, k+1, n, kind)
				if k > 0 {
					c.b = append(c.b, `,"retry_wait_ms":`...)
					c.b = strconv.AppendFloat(c.b, float64(st.from-prev)/1e6, 'f', 3, 64)
				}
			}
			c.b = append(c.b, "}"...)
			c.end()
			k, prev = k+1, st.to
		}
	})
	for _, l := range r.limits {
		c.counter("limit", l.at, l.limit)
	}
	for _, p := range r.counts(true) {
		c.counter("running", p.at, p.n)
	}
	for _, p := range r.counts(false) {
		c.counter("waiting", p.at, p.n)
	}
	for _, p := range r.backoffs() {
		c.counter("backoff", p.at, p.n)
	}
	c.b = append(c.b, "\n]}\n"...)
	w.Write(c.b)
}

// zero is the earliest offset recorded, shown as time 0; r.mu is held.
func (r *Recorder) zero() int64 {
	z := int64(0)
	r.spans.each(func(_ int32, sp *span) { z = min(z, sp.queued) })
	for _, l := range r.limits {
		z = min(z, l.at)
	}
	return z
}

func displayLabel(sp *span) string {
	if sp.label != "" {
		return sp.label
	}
	return "task " + strconv.FormatUint(sp.id, 10)
}

// countPoint is the number of tasks running (or waiting) from at on.
type countPoint struct {
	at int64
	n  int
}

// counts returns how many tasks were running (running true) or waiting
// for their first attempt over time, one point per change; r.mu is held.
func (r *Recorder) counts(running bool) []countPoint {
	starts, ends := make([]int64, 0, r.spans.n), make([]int64, 0, r.spans.n)
	r.spans.each(func(i int32, sp *span) {
		end := r.last
		if sp.has(flagFinished) {
			end = sp.finished
		}
		switch {
		case running && sp.has(flagStarted):
			starts, ends, _ = r.running(i, sp.started, end, starts, ends)
		case !running && sp.has(flagStarted):
			starts, ends = append(starts, sp.queued), append(ends, sp.started)
		case !running:
			starts, ends = append(starts, sp.queued), append(ends, end)
		}
	})
	return sweep(starts, ends)
}

// backoffs returns how many tasks were waiting for a retry over time, one
// point per change; r.mu is held.
func (r *Recorder) backoffs() []countPoint {
	var starts, ends []int64
	for _, ws := range r.waits {
		for _, w := range ws {
			starts, ends = append(starts, w.from), append(ends, w.to)
		}
	}
	return sweep(starts, ends)
}

// sweep returns how many of the intervals [starts[i], ends[i]) hold over
// time, one point per change. It sorts its arguments.
func sweep(starts, ends []int64) []countPoint {
	slices.Sort(starts)
	slices.Sort(ends)
	var pts []countPoint
	n, i, j := 0, 0, 0
	for i < len(starts) || j < len(ends) {
		// Ends first at equal times: a task ending as another starts does
		// not overlap it.
		at := ends[min(j, len(ends)-1)]
		if j == len(ends) || (i < len(starts) && starts[i] < at) {
			at = starts[i]
		}
		for j < len(ends) && ends[j] == at {
			n--
			j++
		}
		for i < len(starts) && starts[i] == at {
			n++
			i++
		}
		if len(pts) > 0 && pts[len(pts)-1].n == n {
			continue
		}
		pts = append(pts, countPoint{at: at, n: n})
	}
	return pts
}

const hex = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, and <, > and & are escaped so the text is safe inside HTML too.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
