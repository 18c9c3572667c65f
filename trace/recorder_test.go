package trace

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
)

func TestSpanRecordsTimesAttemptsAndOutcome(t *testing.T) {
	r := New()
	defer r.Close()
	replay(r, []job{
		{id: 1, label: "https://example.com/a", key: "example.com", queued: 0, start: 5, finish: 25, attempts: 3, err: errors.New("boom")},
	})
	spans := r.Spans()
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	s := spans[0]
	want := Span{ID: 1, Label: "https://example.com/a", Key: "example.com", Lane: 0,
		Queued: ms(0), Started: ms(5), Finished: ms(25), Attempts: 3, Outcome: Error, Err: "boom"}
	if !s.Queued.Equal(want.Queued) || !s.Started.Equal(want.Started) || !s.Finished.Equal(want.Finished) {
		t.Errorf("times = %v %v %v, want %v %v %v", s.Queued, s.Started, s.Finished, want.Queued, want.Started, want.Finished)
	}
	s.Queued, s.Started, s.Finished = want.Queued, want.Started, want.Finished
	if s != want {
		t.Errorf("span = %+v\nwant   %+v", s, want)
	}
	if s.QueueWait() != 5*time.Millisecond || s.Duration() != 20*time.Millisecond {
		t.Errorf("QueueWait, Duration = %v, %v; want 5ms, 20ms", s.QueueWait(), s.Duration())
	}
}

func TestOutcomeKinds(t *testing.T) {
	panicErr := &fanout.PanicError{Value: "bad", Stack: []byte("stack")}
	cases := []struct {
		name      string
		err       error
		abandoned bool
		start     float64
		want      Kind
	}{
		{"ok", nil, false, 1, OK},
		{"error", errors.New("status 500"), false, 1, Error},
		{"attempt timeout", fmt.Errorf("%w after 1s: %w", fanout.ErrTimeout, context.DeadlineExceeded), false, 1, Timeout},
		{"queue timeout", fmt.Errorf("%w after 1s", fanout.ErrQueueTimeout), false, -1, Timeout},
		{"canceled", context.Canceled, false, 1, Canceled},
		{"closed", fanout.ErrClosed, false, -1, Canceled},
		{"panic", panicErr, false, 1, Panic},
		{"panic with an error value", &fanout.PanicError{Value: context.Canceled}, false, 1, Panic},
		{"abandoned", fanout.ErrTimeout, true, 1, Abandoned},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := New()
			replay(r, []job{{id: uint64(i), queued: 0, start: c.start, finish: 2, err: c.err, abandoned: c.abandoned}})
			s := r.Spans()[0]
			if s.Outcome != c.want {
				t.Errorf("outcome = %v, want %v", s.Outcome, c.want)
			}
			if c.err != nil && s.Err != c.err.Error() {
				t.Errorf("error text = %q, want %q", s.Err, c.err.Error())
			}
			if c.start < 0 && (s.Lane != -1 || !s.Started.IsZero() || s.Attempts != 0) {
				t.Errorf("never started task: lane %d, started %v, attempts %d", s.Lane, s.Started, s.Attempts)
			}
		})
	}
}

func TestErrorTextIsCut(t *testing.T) {
	r := New()
	long := strings.Repeat("é", 300) // 600 bytes
	replay(r, []job{{id: 1, queued: 0, start: 0, finish: 1, err: errors.New(long)}})
	got := r.Spans()[0].Err
	if len(got) > maxErrText+len("…") || !strings.HasSuffix(got, "…") {
		t.Fatalf("error text is %d bytes, want at most %d plus an ellipsis", len(got), maxErrText)
	}
	if !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) {
		t.Errorf("cut text is not a prefix of the error (split a UTF-8 sequence?)")
	}
}

func TestInFlightTasks(t *testing.T) {
	r := New()
	info := fanout.TaskInfo{ID: 7, Label: "slow"}
	r.TaskQueued(fanout.TaskInfo{ID: 6}, ms(0))
	r.TaskQueued(info, ms(0))
	r.AttemptStarted(info, 1, ms(10))
	r.AttemptFinished(info, 1, nil, ms(40)) // only moves the clock
	s := r.Summary()
	if s.Tasks != 2 || s.Unfinished != 2 || s.Outcomes.Running != 1 || s.Outcomes.Queued != 1 {
		t.Fatalf("summary = %+v, want 2 tasks, both unfinished: 1 running, 1 queued", s)
	}
	if s.Duration.Max != 30*time.Millisecond {
		t.Errorf("running task measured %v, want 30ms (up to the latest event)", s.Duration.Max)
	}
	if len(s.Warnings) == 0 || !strings.Contains(strings.Join(s.Warnings, "\n"), "2 tasks had not finished") {
		t.Errorf("warnings %q do not mention the unfinished tasks", s.Warnings)
	}
}

func TestHooksWithoutTaskQueued(t *testing.T) {
	r := New()
	info := fanout.TaskInfo{ID: 3, Label: "x"}
	r.AttemptStarted(info, 1, ms(5))
	r.TaskFinished(info, fanout.Outcome{Attempts: 1}, ms(9))
	s := r.Spans()
	if len(s) != 1 || s[0].Outcome != OK || s[0].Duration() != 4*time.Millisecond {
		t.Fatalf("spans = %+v, want one ok task of 4ms", s)
	}
}

// simulate runs n tasks with random durations through an ideal executor
// with limit slots, replaying the hooks in time order.
func simulate(rng *rand.Rand, n, limit int, queuedAt func(i int) float64, duration func(i int) float64) []job {
	free := make([]float64, limit) // when each slot frees up
	jobs := make([]job, n)
	for i := range n {
		q := queuedAt(i)
		slot := 0
		for s := range free {
			if free[s] < free[slot] {
				slot = s
			}
		}
		start := max(q, free[slot])
		d := duration(i)
		free[slot] = start + d
		jobs[i] = job{id: uint64(i + 1), label: fmt.Sprintf("https://example.com/%d", i), queued: q, start: start, finish: start + d}
		if rng.IntN(10) == 0 {
			jobs[i].err = errors.New("status 503")
		}
	}
	return jobs
}

func TestLanesNeverOverlapAndReuseTheLowestFree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	jobs := simulate(rng, 2000, 16, func(i int) float64 { return float64(i) * 0.3 },
		func(int) float64 { return 1 + rng.Float64()*20 })
	r := New()
	replay(r, jobs)
	spans := r.Spans()
	byLane := map[int][]Span{}
	for _, s := range spans {
		if s.Lane < 0 {
			t.Fatalf("task %d has no lane", s.ID)
		}
		byLane[s.Lane] = append(byLane[s.Lane], s)
	}
	if len(byLane) > 16 {
		t.Errorf("%d lanes for a limit of 16", len(byLane))
	}
	for lane, ss := range byLane {
		for i := 1; i < len(ss); i++ {
			if ss[i].Started.Before(ss[i-1].Finished) {
				t.Fatalf("lane %d: task %d starts at %v before task %d ends at %v",
					lane, ss[i].ID, ss[i].Started, ss[i-1].ID, ss[i-1].Finished)
			}
		}
	}
	sum := r.Summary()
	if sum.Peak != len(byLane) {
		t.Errorf("peak concurrency %d, but %d lanes were used", sum.Peak, len(byLane))
	}
}

func TestLaneIsLowestFree(t *testing.T) {
	r := New()
	replay(r, []job{
		{id: 1, queued: 0, start: 0, finish: 10}, // lane 0
		{id: 2, queued: 0, start: 1, finish: 5},  // lane 1
		{id: 3, queued: 0, start: 2, finish: 20}, // lane 2
		{id: 4, queued: 0, start: 6, finish: 8},  // lane 1 is free again
		{id: 5, queued: 0, start: 11, finish: 12},
	})
	want := map[uint64]int{1: 0, 2: 1, 3: 2, 4: 1, 5: 0}
	for _, s := range r.Spans() {
		if s.Lane != want[s.ID] {
			t.Errorf("task %d on lane %d, want %d", s.ID, s.Lane, want[s.ID])
		}
	}
}

// Lanes follow the recorded times, not the order hooks arrive in: a task
// whose start is reported before its neighbour's finish, but timed after
// it, reuses the lane; one timed before it does not.
func TestLanesFollowTimesNotHookOrder(t *testing.T) {
	for _, c := range []struct {
		start float64
		same  bool
	}{{11, true}, {9, false}} {
		r := New()
		a, b := fanout.TaskInfo{ID: 1}, fanout.TaskInfo{ID: 2}
		r.TaskQueued(a, ms(0))
		r.TaskQueued(b, ms(0))
		r.AttemptStarted(a, 1, ms(0))
		r.AttemptStarted(b, 1, ms(c.start)) // reported before a's finish
		r.TaskFinished(a, fanout.Outcome{Attempts: 1}, ms(10))
		r.TaskFinished(b, fanout.Outcome{Attempts: 1}, ms(20))
		s := r.Spans()
		if (s[0].Lane == s[1].Lane) != c.same {
			t.Errorf("b starting at %vms: lanes %d and %d, want same lane %v", c.start, s[0].Lane, s[1].Lane, c.same)
		}
	}
}

func TestConcurrentHooks(t *testing.T) {
	r := New(WithSlow(time.Hour, nil), WithStuck(time.Hour, nil))
	defer r.Close()
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				info := fanout.TaskInfo{ID: uint64(w*each + i + 1), Label: "t"}
				now := time.Now()
				r.TaskQueued(info, now)
				r.AttemptStarted(info, 1, now)
				r.AttemptFinished(info, 1, nil, now)
				r.TaskFinished(info, fanout.Outcome{Attempts: 1}, now)
				if i%100 == 0 {
					r.Summary()
				}
			}
		})
	}
	wg.Wait()
	s := r.Summary()
	if s.Tasks != workers*each || s.Outcomes.OK != workers*each || s.Unfinished != 0 {
		t.Fatalf("summary = %d tasks, %d ok, %d unfinished; want %d ok", s.Tasks, s.Outcomes.OK, s.Unfinished, workers*each)
	}
	if s.Peak > workers {
		t.Errorf("peak %d with %d workers", s.Peak, workers)
	}
}

// SetOutcome replaces the outcome a task's error implies, by the task's
// position in queue order, for the summary and the exports alike; it holds
// when the task finishes afterwards, and ignores tasks not seen.
func TestSetOutcome(t *testing.T) {
	r := New()
	defer r.Close()
	replay(r, []job{
		{id: 10, label: "a", queued: 0, start: 1, finish: 5},                                // ok, counted a failure
		{id: 11, label: "b", queued: 1, start: 2, finish: 6, err: errors.New("HTTP 503")},   // an error, counted ok
		{id: 12, label: "c", queued: 2, start: 3, finish: 7, err: context.DeadlineExceeded}, // stays a timeout
	})
	r.SetOutcome(0, Error)
	r.SetOutcome(1, OK)
	r.SetOutcome(7, Error)   // no such task
	r.SetOutcome(2, Running) // not a final outcome: ignored
	info := fanout.TaskInfo{ID: 13, Label: "d"}
	r.TaskQueued(info, ms(8))
	r.SetOutcome(3, Canceled) // set before the task finishes
	r.TaskFinished(info, fanout.Outcome{Err: nil}, ms(9))

	got := r.Summary().Outcomes
	if want := (Outcomes{OK: 1, Error: 1, Timeout: 1, Canceled: 1}); got != want {
		t.Errorf("outcomes = %+v, want %+v", got, want)
	}
	var kinds []string
	for _, s := range r.Spans() {
		kinds = append(kinds, s.Label+" "+s.Outcome.String())
	}
	if got, want := strings.Join(kinds, ", "), "a error, b ok, c timeout, d canceled"; got != want {
		t.Errorf("spans: %s, want %s", got, want)
	}
}
