package trace

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Summary describes a recorded run. Durations of tasks still in flight
// when it was taken are measured up to the latest recorded event.
type Summary struct {
	Tasks      int           // every task seen
	Started    int           // tasks that ran at least once
	Unfinished int           // tasks queued or running when the summary was taken
	Wall       time.Duration // from the first task queued to the last event
	// Busy is the time tasks ran, summed: each task's duration (first
	// attempt to finish) less its waits between attempts, when a retry's
	// backoff held no slot.
	Busy time.Duration
	// Effective is Busy / Wall: how many tasks ran at once on average.
	Effective float64
	Peak      int // most tasks running at once (a task waiting for its retry is not running)
	Demand    int // most tasks queued or running at once: the overlap the caller allowed
	Limit     int // the last concurrency limit reported (0 when never reported)
	LimitMax  int // the highest limit reported
	LimitMin  int // the lowest limit reported
	// KeyLimits are the ranges of the busiest keys' adaptive limits (see
	// fanout.WithKeyAdaptive), busiest first.
	KeyLimits []KeyLimit
	Attempts  int // function calls over all tasks
	Retried   int // tasks that needed more than one attempt
	QueueWait Percentiles
	Duration  Percentiles
	Outcomes  Outcomes
	Slowest   []Span // the longest tasks, longest first
	// Warnings says, in plain words, what looks wrong: tasks that ran one
	// after another though they could have overlapped, tasks still in
	// flight, abandoned tasks.
	Warnings []string
}

// Percentiles of a set of durations, by nearest rank.
type Percentiles struct {
	P50, P95, P99, Max time.Duration
}

// Outcomes counts tasks by [Kind].
type Outcomes struct {
	OK        int `json:"ok"`
	Error     int `json:"error"`
	Timeout   int `json:"timeout"`
	Canceled  int `json:"canceled"`
	Panic     int `json:"panic"`
	Abandoned int `json:"abandoned"`
	Running   int `json:"running"`
	Queued    int `json:"queued"`
}

func (o *Outcomes) add(k Kind) {
	*o.of(k)++
}

func (o *Outcomes) of(k Kind) *int {
	switch k {
	case OK:
		return &o.OK
	case Error:
		return &o.Error
	case Timeout:
		return &o.Timeout
	case Canceled:
		return &o.Canceled
	case Panic:
		return &o.Panic
	case Abandoned:
		return &o.Abandoned
	case Running:
		return &o.Running
	}
	return &o.Queued
}

// Serial reports whether the run was judged serial: tasks that could have
// overlapped ran one after another (see Warnings for why).
func (s Summary) Serial() bool {
	for _, w := range s.Warnings {
		if strings.HasPrefix(w, serialPrefix) {
			return true
		}
	}
	return false
}

// Summary computes the summary of everything recorded so far. It sorts the
// durations, so it costs O(n log n) for n tasks and about 40 bytes per task
// while it runs.
func (r *Recorder) Summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.spans.n
	var (
		s            Summary
		durs, waits  = make([]int64, 0, n), make([]int64, 0, n)
		starts, ends = make([]int64, 0, n), make([]int64, 0, n) // running intervals
		queued, gone = make([]int64, 0, n), make([]int64, 0, n) // queued-or-running intervals
		// waits between attempts, cut out of those intervals for the
		// serial-run check: a task backing off is not held back
		backTo, backFrom []int64
		done             = make([]finish, 0, n)
		first            int64
		keys             = keySet{}
	)
	first = r.last
	r.spans.each(func(i int32, sp *span) {
		s.Tasks++
		s.Outcomes.add(sp.kind)
		first = min(first, sp.queued)
		end := r.last
		if sp.has(flagFinished) {
			end = sp.finished
		} else {
			s.Unfinished++
		}
		queued = append(queued, sp.queued)
		gone = append(gone, end)
		s.Attempts += int(sp.attempts)
		if sp.attempts > 1 {
			s.Retried++
		}
		if !sp.has(flagStarted) {
			return
		}
		s.Started++
		keys.add(sp.key)
		waits = append(waits, sp.started-sp.queued)
		d := end - sp.started
		durs = append(durs, d)
		var waited int64
		starts, ends, waited = r.running(i, sp.started, end, starts, ends)
		for _, w := range r.waits[i] {
			backTo, backFrom = append(backTo, w.to), append(backFrom, w.from)
		}
		s.Busy += time.Duration(d - waited)
		if sp.has(flagFinished) {
			done = append(done, finish{queued: sp.queued, start: sp.started, end: end})
		}
	})
	if n := len(r.limits); n > 0 {
		s.Limit, s.LimitMin = r.limits[n-1].limit, r.limits[0].limit
		for _, l := range r.limits {
			s.LimitMax, s.LimitMin = max(s.LimitMax, l.limit), min(s.LimitMin, l.limit)
		}
	}
	s.KeyLimits, _ = r.busiestKeyLimits(maxKeyLines)
	if s.Tasks == 0 {
		return s
	}
	s.Wall = time.Duration(r.last - first)
	if s.Wall > 0 {
		s.Effective = float64(s.Busy) / float64(s.Wall)
	}
	s.Peak = maxOverlap(starts, ends)
	s.Demand = maxOverlap(queued, gone)
	s.QueueWait = percentiles(waits)
	s.Duration = percentiles(durs)
	s.Slowest = r.slowest(r.cfg.slowest)
	if len(backTo) > 0 {
		// [queued, gone) less each [from, to): as in running, the wait's
		// end starts an interval and its start ends one.
		queued = append(queued, backTo...)
		gone = append(gone, backFrom...)
		slices.Sort(queued)
		slices.Sort(gone)
	}
	s.Warnings = judge(&s, run{done: done, keys: keys, contended: contention(queued, gone, starts, ends)})
	return s
}

// contention measures, over the time when at least two tasks were in
// flight (queued or running, not waiting between attempts), the share
// during which at most one of them ran. Its arguments are sorted, as maxOverlap leaves them.
func contention(queued, gone, starts, ends []int64) float64 {
	var contended, single int64
	inFlight, running := 0, 0
	var i, j, k, l int
	prev := int64(0)
	for i < len(queued) || j < len(gone) {
		t := gone[j] // gone ends never run out before queued starts do
		if i < len(queued) {
			t = min(t, queued[i])
		}
		if k < len(starts) {
			t = min(t, starts[k])
		}
		if l < len(ends) {
			t = min(t, ends[l])
		}
		if inFlight >= 2 {
			contended += t - prev
			if running <= 1 {
				single += t - prev
			}
		}
		for ; j < len(gone) && gone[j] == t; j++ {
			inFlight--
		}
		for ; l < len(ends) && ends[l] == t; l++ {
			running--
		}
		for ; i < len(queued) && queued[i] == t; i++ {
			inFlight++
		}
		for ; k < len(starts) && starts[k] == t; k++ {
			running++
		}
		prev = t
	}
	if contended == 0 {
		return 0
	}
	return float64(single) / float64(contended)
}

// finish is a finished task's times, for the serial-run check.
type finish struct{ queued, start, end int64 }

// keySet remembers whether every started task had the same key.
type keySet struct {
	key  string
	n    int
	many bool
}

func (k *keySet) add(key string) {
	if k.n > 0 && key != k.key {
		k.many = true
	}
	k.key = key
	k.n++
}

// maxOverlap returns the most intervals [starts[i], ends[i]) open at once;
// an interval ending when another starts does not overlap it. It sorts its
// arguments.
func maxOverlap(starts, ends []int64) int {
	slices.Sort(starts)
	slices.Sort(ends)
	open, peak, j := 0, 0, 0
	for _, s := range starts {
		for j < len(ends) && ends[j] <= s {
			open--
			j++
		}
		open++
		peak = max(peak, open)
	}
	return peak
}

func percentiles(v []int64) Percentiles {
	if len(v) == 0 {
		return Percentiles{}
	}
	slices.Sort(v)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(v))+0.999999) - 1 // nearest rank
		return time.Duration(v[min(max(i, 0), len(v)-1)])
	}
	return Percentiles{P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), Max: time.Duration(v[len(v)-1])}
}

// slowest returns the n longest started tasks, longest first; r.mu is held.
func (r *Recorder) slowest(n int) []Span {
	if n == 0 {
		return nil
	}
	top := make([]int32, 0, n+1) // longest first
	dur := func(sp *span) int64 {
		if sp.has(flagFinished) {
			return sp.finished - sp.started
		}
		return r.last - sp.started
	}
	r.spans.each(func(i int32, sp *span) {
		if !sp.has(flagStarted) {
			return
		}
		d := dur(sp)
		if len(top) == n && d <= dur(r.spans.at(top[n-1])) {
			return
		}
		at, _ := slices.BinarySearchFunc(top, d, func(t int32, d int64) int {
			if dur(r.spans.at(t)) >= d {
				return -1
			}
			return 1
		})
		top = slices.Insert(top, at, i)
		if len(top) > n {
			top = top[:n]
		}
	})
	if len(top) == 0 {
		return nil
	}
	lanes := r.assignLanes()
	out := make([]Span, len(top))
	for i, idx := range top {
		sp := r.spans.at(idx)
		out[i] = r.public(sp, lanes.first[idx])
		if !sp.has(flagFinished) {
			out[i].Finished = r.time(r.last)
		}
	}
	return out
}

// String formats the summary for people, one aligned line per figure.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fanout: %d tasks in %s", s.Tasks, fmtDur(s.Wall))
	if s.Limit > 0 {
		fmt.Fprintf(&b, ", limit %d", s.Limit)
		if s.LimitMax != s.Limit {
			fmt.Fprintf(&b, " (at most %d)", s.LimitMax)
		}
	}
	b.WriteString("\n")
	line := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "  %-12s "+format+"\n", append([]any{name}, args...)...)
	}
	line("outcomes", "%s", s.Outcomes)
	if lr := s.limitRanges(); lr != "" {
		line("limits", "%s", lr)
	}
	line("concurrency", "effective %.2f, peak %d, demand %d (most tasks waiting or running at once)", s.Effective, s.Peak, s.Demand)
	line("busy", "%s over %d started tasks", fmtDur(s.Busy), s.Started)
	line("attempts", "%d (%s retried)", s.Attempts, plural(s.Retried, "task"))
	if s.Started > 0 {
		line("queue wait", "%s", s.QueueWait)
		line("duration", "%s", s.Duration)
	}
	for i, sp := range s.Slowest {
		name := ""
		if i == 0 {
			name = "slowest"
		}
		label := sp.Label
		if label == "" {
			label = fmt.Sprintf("task %d", sp.ID)
		}
		line(name, "%-9s %s (%s, %s)", fmtDur(sp.Duration()), controlsOut(cut(label, 100)), sp.Outcome, plural(sp.Attempts, "attempt"))
	}
	for _, w := range s.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", w)
	}
	return b.String()
}

// String lists the non-zero counts, e.g. "18 ok, 2 error".
func (o Outcomes) String() string {
	var parts []string
	for _, k := range kinds {
		if n := *o.of(k); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// String formats the percentiles in aligned columns.
func (p Percentiles) String() string {
	return fmt.Sprintf("p50 %-9s p95 %-9s p99 %-9s max %s", fmtDur(p.P50), fmtDur(p.P95), fmtDur(p.P99), fmtDur(p.Max))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// fmtDur rounds d to three significant digits (1.23s, 45.6ms, 789µs), or
// to the second from a minute up.
func fmtDur(d time.Duration) string {
	if d >= time.Minute {
		return d.Round(time.Second).String()
	}
	for _, unit := range []time.Duration{time.Second, time.Millisecond, time.Microsecond} {
		if d >= unit*100 {
			return d.Round(unit).String()
		}
		if d >= unit*10 {
			return d.Round(unit / 10).String()
		}
		if d >= unit {
			return d.Round(unit / 100).String()
		}
	}
	return d.String()
}

// MarshalJSON encodes the summary for machines: durations in seconds.
func (s Summary) MarshalJSON() ([]byte, error) {
	slowest := make([]spanJSON, len(s.Slowest))
	for i, sp := range s.Slowest {
		slowest[i] = newSpanJSON(sp)
	}
	return json.Marshal(summaryJSON{
		Tasks: s.Tasks, Started: s.Started, Unfinished: s.Unfinished,
		Wall: s.Wall.Seconds(), Busy: s.Busy.Seconds(), Effective: s.Effective,
		Peak: s.Peak, Demand: s.Demand, Limit: s.Limit, LimitMax: s.LimitMax, LimitMin: s.LimitMin, KeyLimits: s.KeyLimits,
		Attempts: s.Attempts, Retried: s.Retried,
		QueueWait: newPercentilesJSON(s.QueueWait), Duration: newPercentilesJSON(s.Duration),
		Outcomes: s.Outcomes, Slowest: slowest, Serial: s.Serial(), Warnings: s.Warnings,
	})
}

type summaryJSON struct {
	Tasks      int             `json:"tasks"`
	Started    int             `json:"started"`
	Unfinished int             `json:"unfinished"`
	Wall       float64         `json:"wall_s"`
	Busy       float64         `json:"busy_s"`
	Effective  float64         `json:"effective_concurrency"`
	Peak       int             `json:"peak_concurrency"`
	Demand     int             `json:"demand"`
	Limit      int             `json:"limit"`
	LimitMax   int             `json:"limit_max"`
	LimitMin   int             `json:"limit_min"`
	KeyLimits  []KeyLimit      `json:"key_limits,omitempty"`
	Attempts   int             `json:"attempts"`
	Retried    int             `json:"retried"`
	QueueWait  percentilesJSON `json:"queue_wait"`
	Duration   percentilesJSON `json:"duration"`
	Outcomes   Outcomes        `json:"outcomes"`
	Slowest    []spanJSON      `json:"slowest"`
	Serial     bool            `json:"serial"`
	Warnings   []string        `json:"warnings"`
}

type percentilesJSON struct {
	P50 float64 `json:"p50_s"`
	P95 float64 `json:"p95_s"`
	P99 float64 `json:"p99_s"`
	Max float64 `json:"max_s"`
}

func newPercentilesJSON(p Percentiles) percentilesJSON {
	return percentilesJSON{p.P50.Seconds(), p.P95.Seconds(), p.P99.Seconds(), p.Max.Seconds()}
}

type spanJSON struct {
	Span
	QueueWait float64 `json:"queue_wait_s"`
	Duration  float64 `json:"duration_s"`
}

func newSpanJSON(s Span) spanJSON {
	return spanJSON{Span: s, QueueWait: s.QueueWait().Seconds(), Duration: s.Duration().Seconds()}
}
