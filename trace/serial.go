package trace

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// serialPrefix starts every warning about a serial run.
const serialPrefix = "serial run: "

// minSerialTasks is how many tasks must have been able to overlap before a
// serial run is worth a warning.
const minSerialTasks = 4

// judge returns the summary's warnings. done holds the finished tasks that
// ran; it is sorted here.
//
// A serial run is judged from timing alone, in two steps:
//
//  1. Could the tasks have overlapped? At least 4 of them were queued or
//     running at the same moment (Demand), and the limit was not 1.
//  2. Did they finish one at a time? Sorted by finish time, the gap between
//     one finish and the next is almost never (at most 1 in 10) shorter
//     than a quarter of the shortest task, and the median gap is at least
//     two thirds of the shortest task. Tasks that truly overlap finish in
//     clusters or faster than one per task duration; serialized tasks
//     cannot finish closer together than the work each one does.
//
// Step 2 also catches a lock inside the task: there every task holds a
// slot (so busy time, and effective concurrency, look high) while it waits
// for the lock, but the finishes still come one work-duration apart. The
// warning names the likely causes according to whether tasks held slots
// at the same time.
//
// Separately, tasks that never had a companion in flight, each queued
// only once the previous one had finished, while the executor was busy
// most of the time, point at a caller awaiting each future before
// submitting the next.
func judge(s *Summary, done []finish, keys keySet) []string {
	var w []string
	if msg := serialFinishes(s, done, keys); msg != "" {
		w = append(w, msg)
	} else if msg := serialSubmits(s, done); msg != "" {
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

func serialFinishes(s *Summary, done []finish, keys keySet) string {
	if s.Demand < minSerialTasks || len(done) < minSerialTasks || s.LimitMax == 1 {
		return ""
	}
	slices.SortFunc(done, func(a, b finish) int { return cmp.Compare(a.end, b.end) })
	shortest := done[0].end - done[0].start
	for _, f := range done {
		shortest = min(shortest, f.end-f.start)
	}
	if shortest <= 0 {
		return ""
	}
	gaps := make([]int64, 0, len(done)-1)
	tiny := 0
	for i := 1; i < len(done); i++ {
		g := done[i].end - done[i-1].end
		gaps = append(gaps, g)
		if g*4 < shortest {
			tiny++
		}
	}
	slices.Sort(gaps)
	median := gaps[len(gaps)/2]
	if tiny*10 > len(gaps) || median*3 < shortest*2 {
		return ""
	}
	limit := "limit unknown"
	if s.LimitMax > 0 {
		limit = fmt.Sprintf("limit %d", s.LimitMax)
	}
	if s.Peak <= 1 || s.Effective < 1.5 {
		keyCause := "a per-key (per-host) limit"
		if !keys.many && keys.key != "" {
			keyCause = fmt.Sprintf("a per-key (per-host) limit: every task had key %q", keys.key)
		}
		return fmt.Sprintf("%s%d tasks could have run together (up to %d in flight at once, %s), "+
			"yet they ran one after another: at most %d running at a time, effective concurrency %.2f. "+
			"Likely causes: a concurrency limit of 1, %s, or a rate limit",
			serialPrefix, s.Started, s.Demand, limit, s.Peak, s.Effective, keyCause)
	}
	return fmt.Sprintf("%s%d tasks held slots together (up to %d at once, %s), "+
		"yet they finished one at a time, one every %s (the shortest task took %s): the work inside them did not overlap. "+
		"Likely causes: a lock (such as a sync.Mutex) held around the work, "+
		"a resource or server that serves one call at a time, "+
		"or an HTTP client limited to one connection per host",
		serialPrefix, s.Started, s.Peak, limit, fmtDur(time.Duration(median)), fmtDur(time.Duration(shortest)))
}

func serialSubmits(s *Summary, done []finish) string {
	if s.Demand != 1 || len(done) < minSerialTasks || s.Effective < 0.5 {
		return ""
	}
	return fmt.Sprintf("serial submission: %d tasks ran one after another because each was submitted "+
		"only after the previous one had finished (never more than 1 in flight). "+
		"Likely cause: awaiting each future before submitting the next; submit them all first, then await them "+
		"(or use Map or Gather)", len(done))
}
