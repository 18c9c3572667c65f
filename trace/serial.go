package trace

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// serialPrefix starts every warning about a serial run.
const serialPrefix = "serial run: "

// MinSerialTasks is how many tasks must have been able to overlap before a
// run is judged serial (see Summary.Serial): fewer, run one after another,
// are no proof of anything.
const MinSerialTasks = 4

// run is what the serial-run checks read besides the summary.
type run struct {
	done      []finish // finished tasks that ran
	keys      keySet
	contended float64 // share of the time with 2+ tasks in flight when at most 1 ran
}

// judge returns the summary's warnings. done holds the finished tasks that
// ran; it is sorted here.
//
// A serial run is judged from timing alone. First, could the tasks have
// overlapped? At least 4 of them were queued or running at the same moment
// (Demand) and the limit was not 1. Then either of two shapes is serial:
//
//   - Serial in the slots: while two or more tasks were in flight, at most
//     one ran 90% of that time or more, and one was running at least half
//     of the wall time (effective concurrency 0.5 or more; below that the
//     tasks were not what took the time, as with tasks of a microsecond or
//     a rate limit pacing short ones). Tasks waited though the limit had
//     room, so something else held them back: a per-key limit, a rate
//     limit, or a limit that was really 1.
//   - Serial inside the tasks, such as a lock: every task holds a slot
//     while it waits, so busy time and effective concurrency look high, and
//     in steady state that is indistinguishable from parallel work of
//     varied length (Little's law holds for both). The start of the run
//     tells them apart: at least 4 tasks began before the first one
//     finished. If they ran serially, the j-th of them to finish waited for
//     j-1 others, so its duration over j estimates one task's work (the
//     median over the burst resists a task delayed by chance). Serial work
//     then finishes one work length apart: sorted by finish time, the
//     median gap between finishes, over the burst and over the whole run,
//     is at least half that work; gaps seldom (1 in 8) fall below half the
//     median; and their interquartile range is at most their median.
//     Parallel tasks started together finish together instead, and
//     overlapping work in steady state finishes in clusters or in a
//     Poisson-like stream whose gaps spread far wider. On simulated runs
//     this catches a lock around work of consistent length (within about
//     30%) almost always and parallel work of any spread almost never
//     (see TestSerialCheckOnSimulatedRuns); work that varies more is not
//     judged.
//
// Separately, tasks that never had a companion in flight, each queued only
// once the previous one had finished, while the executor was busy most of
// the time, point at a caller awaiting each future before submitting the
// next.
func judge(s *Summary, r run) []string {
	var w []string
	if msg := serialSlots(s, r); msg != "" {
		w = append(w, msg)
	} else if msg := serialWork(s, r.done); msg != "" {
		w = append(w, msg)
	} else if msg := serialSubmits(s, r.done); msg != "" {
		w = append(w, msg)
	}
	if s.Outcomes.Abandoned > 0 {
		w = append(w, fmt.Sprintf("%s ignored cancellation and kept a slot after settling (abandoned): make the function return when its context ends",
			plural(s.Outcomes.Abandoned, "task")))
	}
	if s.Unfinished > 0 {
		w = append(w, fmt.Sprintf("%s had not finished when this summary was taken (%d running, %d queued)",
			plural(s.Unfinished, "task"), s.Outcomes.Running, s.Outcomes.Queued))
	}
	return w
}

// couldOverlap says whether enough tasks were in flight together, under a
// limit that allowed them to run together, to judge the run.
func couldOverlap(s *Summary) bool {
	return s.Demand >= MinSerialTasks && s.Started >= MinSerialTasks && s.LimitMax != 1
}

func limitText(s *Summary) string {
	if s.LimitMax > 0 {
		return fmt.Sprintf("limit %d", s.LimitMax)
	}
	return "limit unknown"
}

func serialSlots(s *Summary, r run) string {
	if !couldOverlap(s) || r.contended < 0.9 || s.Effective < 0.5 {
		return ""
	}
	keyCause := "a per-key (per-host) limit"
	if !r.keys.many && r.keys.key != "" {
		keyCause = fmt.Sprintf("a per-key (per-host) limit: every task had key %q", r.keys.key)
	}
	return fmt.Sprintf("%s%d tasks could have run together (up to %d in flight at once, %s), "+
		"yet they ran one after another: while tasks waited, at most 1 ran %.0f%% of the time; "+
		"effective concurrency %.2f. Likely causes: a concurrency limit of 1, %s, or a rate limit",
		serialPrefix, s.Started, s.Demand, limitText(s), 100*r.contended, s.Effective, keyCause)
}

func serialWork(s *Summary, done []finish) string {
	if !couldOverlap(s) || len(done) < MinSerialTasks {
		return ""
	}
	slices.SortFunc(done, func(a, b finish) int { return cmp.Compare(a.end, b.end) })
	var burst []finish // started before the first finish, in finish order
	for _, f := range done {
		if f.start < done[0].end {
			burst = append(burst, f)
		}
	}
	if len(burst) < MinSerialTasks {
		return ""
	}
	work := staircase(burst)
	median, ok := oneAtATime(done, work, 8)
	if !ok || !steady(done) {
		return ""
	}
	if _, ok := oneAtATime(burst, work, 8); !ok {
		return ""
	}
	return fmt.Sprintf("%s%d tasks held slots together (up to %d at once, %s), "+
		"yet they finished one at a time, one every %s, each after about %s of its own work: the work inside them did not overlap. "+
		"Likely causes: a lock (such as a sync.Mutex) held around the work, "+
		"a resource or server that serves one call at a time, "+
		"or an HTTP client limited to one connection per host",
		serialPrefix, s.Started, s.Peak, limitText(s), fmtDur(time.Duration(median)), fmtDur(time.Duration(work)))
}

// staircase estimates the work in each task of a burst that started
// together, sorted by finish, as if it had run serially: the j-th to
// finish waited for j-1 others, so its duration over j is one task's work.
// The median over the burst resists a task delayed by chance.
func staircase(burst []finish) int64 {
	per := make([]int64, len(burst))
	for j, f := range burst {
		per[j] = (f.end - f.start) / int64(j+1)
	}
	slices.Sort(per)
	return per[len(per)/2]
}

// steady reports whether the gaps between finishes vary little: their
// interquartile range is at most their median, as when each
// finish waits for the work of the one before. Finishes of overlapping
// tasks cluster (a median gap near zero), or approach a Poisson stream,
// whose gaps spread over 1.5 times their median. Quartiles ignore the odd
// task delayed by a busy machine.
func steady(done []finish) bool {
	gaps := make([]int64, 0, len(done)-1)
	for i := 1; i < len(done); i++ {
		gaps = append(gaps, done[i].end-done[i-1].end)
	}
	slices.Sort(gaps)
	n := len(gaps)
	median, q1, q3 := gaps[n/2], gaps[n/4], gaps[(3*n)/4]
	return median > 0 && q3-q1 <= median
}

// oneAtATime reports whether tasks, sorted by finish, finished one work
// length apart: the median gap between finishes is at least half of
// work, and at most 1 in every `per` gaps is shorter than half the median
// (finishes do not cluster).
func oneAtATime(done []finish, work int64, per int) (median int64, ok bool) {
	if work <= 0 || len(done) < 2 {
		return 0, false
	}
	gaps := make([]int64, 0, len(done)-1)
	for i := 1; i < len(done); i++ {
		gaps = append(gaps, done[i].end-done[i-1].end)
	}
	slices.Sort(gaps)
	median = gaps[len(gaps)/2]
	short, _ := slices.BinarySearch(gaps, (median+1)/2) // gaps below half the median
	return median, short*per <= len(gaps) && median*2 >= work
}

func serialSubmits(s *Summary, done []finish) string {
	if s.Demand != 1 || len(done) < MinSerialTasks || s.Effective < 0.5 {
		return ""
	}
	return fmt.Sprintf(serialPrefix+"%d tasks ran one after another because each was submitted "+
		"only after the previous one had finished (never more than 1 in flight). "+
		"Likely cause: awaiting each future before submitting the next; submit them all first, then await them "+
		"(or use Map or Gather)", len(done))
}
