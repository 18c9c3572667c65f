package trace

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fanout-go/fanout"
)

// serialJobs returns n tasks queued together at 0 that ran as the given
// shape: "slots" one at a time, "lock" all started at 0 but finishing one
// work-time apart, "parallel" all overlapping.
func serialJobs(n int, shape string, work float64) []job {
	jobs := make([]job, n)
	for i := range jobs {
		j := job{id: uint64(i + 1), queued: 0}
		switch shape {
		case "slots":
			j.start, j.finish = float64(i)*work, float64(i+1)*work
		case "lock":
			j.start, j.finish = 0.01*float64(i), float64(i+1)*work
		case "parallel":
			j.start, j.finish = 0.01*float64(i), work+0.05*float64(i)
		}
		jobs[i] = j
	}
	return jobs
}

func summarize(limit int, jobs []job) Summary {
	r := New()
	if limit > 0 {
		r.LimitChanged(limit, ms(0))
	}
	replay(r, jobs)
	return r.Summary()
}

func TestSerialWarning(t *testing.T) {
	cases := []struct {
		name   string
		limit  int
		jobs   []job
		serial bool
		says   string
	}{
		{"one slot at a time under limit 8", 8, serialJobs(8, "slots", 20), true, "while tasks waited, at most 1 ran 100% of the time"},
		{"limit unknown", 0, serialJobs(8, "slots", 20), true, "limit unknown"},
		{"lock inside the task", 8, serialJobs(8, "lock", 20), true, "held slots together (up to 8 at once, limit 8)"},
		{"overlapping tasks", 8, serialJobs(8, "parallel", 20), false, ""},
		{"limit 1 is what the caller asked for", 1, serialJobs(8, "slots", 20), false, ""},
		{"too few tasks", 8, serialJobs(3, "slots", 20), false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := summarize(c.limit, c.jobs)
			if s.Serial() != c.serial {
				t.Fatalf("Serial() = %v, want %v; warnings %q", s.Serial(), c.serial, s.Warnings)
			}
			if c.serial && !strings.Contains(s.Warnings[0], c.says) {
				t.Errorf("warning %q does not say %q", s.Warnings[0], c.says)
			}
		})
	}
}

func TestSerialWarningNamesCauses(t *testing.T) {
	jobs := serialJobs(6, "slots", 10)
	for i := range jobs {
		jobs[i].key = "example.com"
	}
	w := summarize(8, jobs).Warnings[0]
	for _, cause := range []string{"a concurrency limit of 1", `every task had key "example.com"`, "a rate limit"} {
		if !strings.Contains(w, cause) {
			t.Errorf("warning %q does not name %q", w, cause)
		}
	}
	w = summarize(8, serialJobs(6, "lock", 10)).Warnings[0]
	for _, cause := range []string{"sync.Mutex", "one call at a time", "one connection per host"} {
		if !strings.Contains(w, cause) {
			t.Errorf("warning %q does not name %q", w, cause)
		}
	}
	if !strings.Contains(summarize(8, jobs).String(), "warning: serial run: ") {
		t.Errorf("String() does not show the warning")
	}
}

// lockJobs returns n tasks queued together under a concurrency limit whose
// work runs under one shared lock (FIFO): each holds a slot while it waits.
func lockJobs(n, limit int, work func() float64) []job {
	free := make([]float64, limit) // when each slot frees up
	lock := 0.0                    // when the lock frees up
	jobs := make([]job, n)
	for i := range n {
		slot := 0
		for s := range free {
			if free[s] < free[slot] {
				slot = s
			}
		}
		start := free[slot]
		lock = max(start, lock) + work()
		free[slot] = lock
		jobs[i] = job{id: uint64(i + 1), queued: 0, start: start, finish: lock}
	}
	return jobs
}

// The serial check judges timing only, so it is a heuristic; this measures
// it on simulated runs (seeded, so the figures are fixed): parallel work of
// any spread must almost never be called serial, and work serialized by a
// lock must be caught when its length is consistent. Work whose length
// varies widely (the rows with detect 0) looks the same whether a lock
// serialized it or not: the check does not promise to catch it, and those
// rows test only that its parallel runs raise no false alarm.
func TestSerialCheckOnSimulatedRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	works := []struct {
		name   string
		work   func() float64
		detect float64 // share of locked runs that must be caught
	}{
		{"constant", func() float64 { return 20 + rng.Float64()*0.5 }, 1},
		{"lognormal sigma 0.3", func() float64 { return 50 * math.Exp(rng.NormFloat64()*0.3) }, 0.6},
		{"lognormal sigma 0.8", func() float64 { return 50 * math.Exp(rng.NormFloat64()*0.8) }, 0},
		{"exponential", func() float64 { return 5 + rng.ExpFloat64()*50 }, 0},
		{"uniform 10-100", func() float64 { return 10 + rng.Float64()*90 }, 0},
	}
	const runs = 60
	falseAlarms, total := 0, 0
	for _, w := range works {
		caught, alarms := 0, 0
		for i := range runs {
			limit := []int{4, 8, 64}[i%3]
			n := 8 + rng.IntN(200)
			parallel := simulate(rng, n, limit, func(int) float64 { return 0 }, func(int) float64 { return w.work() })
			if summarize(limit, parallel).Serial() {
				alarms++
			}
			total++
			if summarize(limit, lockJobs(n, limit, w.work)).Serial() {
				caught++
			}
		}
		falseAlarms += alarms
		t.Logf("%s work: %d of %d locked runs caught, %d parallel runs judged serial", w.name, caught, runs, alarms)
		if float64(caught) < w.detect*runs {
			t.Errorf("%s work: caught %d of %d locked runs, want at least %.0f%%", w.name, caught, runs, 100*w.detect)
		}
		if alarms > runs/30 {
			t.Errorf("%s work: %d of %d parallel runs judged serial, want at most %d", w.name, alarms, runs, runs/30)
		}
	}
	t.Logf("parallel runs judged serial: %d of %d", falseAlarms, total)
	if falseAlarms*100 > total*2 {
		t.Errorf("%d of %d parallel runs judged serial, want at most 2%%", falseAlarms, total)
	}
}

func TestSerialSubmission(t *testing.T) {
	var jobs []job
	for i := range 6 {
		at := float64(i) * 10.2
		jobs = append(jobs, job{id: uint64(i + 1), queued: at, start: at, finish: at + 10})
	}
	s := summarize(8, jobs)
	if !s.Serial() || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "each was submitted only after the previous one had finished") {
		t.Fatalf("warnings = %q, want one about awaiting each task before submitting the next", s.Warnings)
	}
	// Tasks arriving slowly on their own (the executor mostly idle) are fine.
	for i := range jobs {
		jobs[i].queued, jobs[i].start, jobs[i].finish = float64(i)*100, float64(i)*100, float64(i)*100+10
	}
	if s := summarize(8, jobs); len(s.Warnings) != 0 {
		t.Errorf("sparse arrivals warned: %q", s.Warnings)
	}
}

func TestAbandonedWarning(t *testing.T) {
	s := summarize(8, []job{{id: 1, queued: 0, start: 0, finish: 10, abandoned: true}})
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "1 task ignored cancellation") {
		t.Errorf("warnings = %q", s.Warnings)
	}
}

func TestSerialSlotsWithVariedWork(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var jobs []job
	start := 0.0
	for i := range 20 { // one at a time (a per-key limit, say), tasks of 1 to 90ms
		finish := start + 1 + rng.Float64()*89
		jobs = append(jobs, job{id: uint64(i + 1), queued: 0, start: start, finish: finish})
		start = finish + 0.5
	}
	if s := summarize(16, jobs); !s.Serial() || !strings.Contains(s.Warnings[0], "or a rate limit") {
		t.Errorf("run one at a time not judged serial: %q", s.Warnings)
	}
}

// Tasks far shorter than the time between their starts (a microsecond of
// work, or a rate limit pacing short tasks) were not slowed by running one
// at a time: no warning.
func TestNoSerialWarningForTasksThatTookNoTime(t *testing.T) {
	var jobs []job
	for i := range 20 {
		start := float64(i) * 100
		jobs = append(jobs, job{id: uint64(i + 1), queued: 0, start: start, finish: start + 1})
	}
	if s := summarize(16, jobs); len(s.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", s.Warnings)
	}
}

func TestNoSerialWarningForBurstThenTrickle(t *testing.T) {
	var jobs []job
	for i := range 4 {
		jobs = append(jobs, job{id: uint64(i + 1), queued: 0, start: 0, finish: 10 + float64(i)*0.01})
	}
	for i := range 20 { // then a slow producer
		at := 20 + float64(i)*100
		jobs = append(jobs, job{id: uint64(i + 5), queued: at, start: at, finish: at + 5})
	}
	if s := summarize(8, jobs); len(s.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", s.Warnings)
	}
}

func TestContention(t *testing.T) {
	// In flight: [0,10) [0,10) [5,20); running: [0,10) [5,20).
	// Two or more in flight over [0,10): 10ms, of which [0,5) had one running.
	got := contention([]int64{0, 0, 5}, []int64{10, 10, 20}, []int64{0, 5}, []int64{10, 20})
	if got != 0.5 {
		t.Errorf("contention = %v, want 0.5", got)
	}
}

// Tasks that back off between attempts are not held back by anything: a
// run where three tasks wait a second between quick retries while a fourth
// runs is not serial. Before, the waits counted as time in flight with one
// task running, and the summary blamed a limit of 1, a per-key limit or a
// rate limit that the run did not have.
func TestNoSerialWarningForRetryWaits(t *testing.T) {
	r := New()
	r.LimitChanged(50, ms(0))
	boom := errors.New("429")
	attempt := func(id uint64, n int, from, to float64, err error) {
		info := fanout.TaskInfo{ID: id}
		r.AttemptStarted(info, n, ms(from))
		r.AttemptFinished(info, n, err, ms(to))
	}
	for id := uint64(1); id <= 4; id++ {
		r.TaskQueued(fanout.TaskInfo{ID: id}, ms(0))
	}
	// Task 1 hangs until its 1 s timeout, twice.
	attempt(1, 1, 0, 1000, context.DeadlineExceeded)
	// Tasks 2-4 are told to come back in a second, three times.
	for id := uint64(2); id <= 4; id++ {
		for n := range 3 {
			attempt(id, n+1, float64(n)*1000+1, float64(n)*1000+3, boom)
		}
	}
	attempt(1, 2, 1500, 2500, context.DeadlineExceeded)
	r.TaskFinished(fanout.TaskInfo{ID: 1}, fanout.Outcome{Err: context.DeadlineExceeded}, ms(2500))
	for id := uint64(2); id <= 4; id++ {
		r.TaskFinished(fanout.TaskInfo{ID: id}, fanout.Outcome{Err: boom}, ms(2003))
	}
	s := r.Summary()
	if s.Serial() {
		t.Errorf("tasks waiting between retries judged serial: %q", s.Warnings)
	}
	if s.Retried != 4 {
		t.Errorf("%d tasks retried, want 4", s.Retried)
	}
}

// A task its caller's record says never began (a job halted as it was
// handed its slot, a URL refused before any request) is counted as never
// started, whatever the executor reported: before, the summary counted
// its attempt and the trace drew it as having run.
func TestSetNotStarted(t *testing.T) {
	r := New()
	ran, refused := fanout.TaskInfo{ID: 1}, fanout.TaskInfo{ID: 2}
	r.TaskQueued(ran, ms(0))
	r.TaskQueued(refused, ms(0))
	r.AttemptStarted(ran, 1, ms(0))
	r.AttemptStarted(refused, 1, ms(1))
	r.AttemptFinished(refused, 1, errors.New("not started"), ms(1))
	r.SetNotStarted(1)
	r.TaskFinished(refused, fanout.Outcome{Err: errors.New("not started"), Attempts: 1}, ms(1))
	r.AttemptFinished(ran, 1, nil, ms(10))
	r.TaskFinished(ran, fanout.Outcome{Attempts: 1}, ms(10))
	s := r.Summary()
	if s.Started != 1 || s.Attempts != 1 || s.Tasks != 2 {
		t.Errorf("summary: %d started, %d attempts of %d tasks; want 1, 1, 2", s.Started, s.Attempts, s.Tasks)
	}
	for _, sp := range r.Spans() {
		if sp.ID == 2 && (!sp.Started.IsZero() || sp.Attempts != 0) {
			t.Errorf("the refused task's span: %+v", sp)
		}
	}
}
