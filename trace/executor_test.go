package trace

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
)

// runTasks submits n tasks running fn on a real executor observed by r,
// awaits them all and closes the executor.
func runTasks(t *testing.T, r *Recorder, n int, fn func(ctx context.Context, i int) (int, error), opts ...fanout.Option) {
	t.Helper()
	ex := fanout.New(append(opts, fanout.WithObserver(r))...)
	ctx := context.Background()
	fs := make([]*fanout.Future[int], n)
	for i := range n {
		fs[i] = fanout.Submit(ctx, ex, func(ctx context.Context) (int, error) { return fn(ctx, i) },
			fanout.WithLabel(fmt.Sprintf("https://example.com/%d", i)), fanout.WithKey("example.com"))
	}
	fanout.GatherAll(ctx, fs...)
	ex.Close()
}

// The seed article's bug, in Go: tasks that look concurrent but take a
// shared lock around their work. The executor runs them together, yet they
// finish one at a time, and the summary says so.
func TestSerialWarningForTasksSharingAMutex(t *testing.T) {
	r := New()
	var mu sync.Mutex
	runTasks(t, r, 16, func(context.Context, int) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		return 0, nil
	}, fanout.WithLimit(16))
	s := r.Summary()
	if !s.Serial() {
		t.Fatalf("tasks sharing a mutex not judged serial:\n%s", s)
	}
	if !strings.Contains(s.Warnings[0], "held slots together") || !strings.Contains(s.Warnings[0], "sync.Mutex") {
		t.Errorf("warning does not blame work inside the tasks: %q", s.Warnings[0])
	}
	if s.Tasks != 16 || s.Outcomes.OK != 16 || s.Peak < 4 {
		t.Errorf("summary: %d tasks, %d ok, peak %d; want 16, 16, and several running at once", s.Tasks, s.Outcomes.OK, s.Peak)
	}
}

// The same tasks without the lock overlap: no warning. A barrier makes
// every task wait until all have started, so the overlap is certain.
func TestNoSerialWarningWhenTasksOverlap(t *testing.T) {
	r := New()
	var started sync.WaitGroup
	started.Add(8)
	runTasks(t, r, 8, func(context.Context, int) (int, error) {
		started.Done()
		started.Wait()
		time.Sleep(30 * time.Millisecond)
		return 0, nil
	}, fanout.WithLimit(8))
	s := r.Summary()
	if s.Serial() || len(s.Warnings) != 0 {
		t.Fatalf("overlapping tasks warned: %q\n%s", s.Warnings, s)
	}
	if s.Peak != 8 {
		t.Errorf("peak concurrency %d, want 8 (all tasks waited for each other)", s.Peak)
	}
}

// A per-key limit of 1 serializes tasks of one host although the overall
// limit allows 8: the warning names the key.
func TestSerialWarningForAPerKeyLimit(t *testing.T) {
	r := New()
	runTasks(t, r, 6, func(context.Context, int) (int, error) {
		time.Sleep(5 * time.Millisecond)
		return 0, nil
	}, fanout.WithLimit(8), fanout.WithKeyLimit(1))
	s := r.Summary()
	if !s.Serial() || !strings.Contains(s.Warnings[0], `every task had key "example.com"`) {
		t.Fatalf("per-key serial run: warnings %q\n%s", s.Warnings, s)
	}
}

func TestRecordsARealRun(t *testing.T) {
	sink := newLogSink()
	r := New(WithSlow(20*time.Millisecond, nil))
	r.cfg.slowLog = newSlogger(sink)
	boom := errors.New("boom")
	runTasks(t, r, 40, func(ctx context.Context, i int) (int, error) {
		switch i % 10 {
		case 1:
			return 0, boom
		case 2:
			panic("bad input")
		case 3:
			<-ctx.Done() // the attempt timeout ends it
			return 0, ctx.Err()
		case 4:
			time.Sleep(25 * time.Millisecond) // slow
		}
		return i, nil
	}, fanout.WithLimit(4), fanout.WithTimeout(200*time.Millisecond))
	s := r.Summary()
	// A timed-out task returns at once; on a very busy machine it may miss
	// the executor's grace period and count as abandoned.
	got := s.Outcomes
	got.Timeout += got.Abandoned
	got.Abandoned = 0
	want := Outcomes{OK: 28, Error: 4, Panic: 4, Timeout: 4}
	if got != want || s.Tasks != 40 || s.Unfinished != 0 {
		t.Errorf("outcomes %+v (%d tasks, %d unfinished), want %+v", s.Outcomes, s.Tasks, s.Unfinished, want)
	}
	// A span ends when its last attempt returned, which the executor reads
	// before giving the slot back, and the next task's attempt starts
	// after it took the slot: spans never overlap more than the limit.
	if s.Peak > 4 {
		t.Errorf("peak %d above the limit of 4", s.Peak)
	}
	slow := 0
	for _, l := range sink.all() {
		if l.msg == "fanout: slow task" {
			slow++
		}
	}
	if slow < 8 { // 4 slow ones and 4 timeouts at least
		t.Errorf("%d slow-task records, want at least 8", slow)
	}
	for _, sp := range r.Spans() {
		if sp.Started.Before(sp.Queued) || sp.Finished.Before(sp.Started) || sp.Attempts != 1 || sp.Lane < 0 {
			t.Errorf("span %+v is inconsistent", sp)
		}
	}
}

// Submitting a task only after awaiting the previous one runs them one
// after another; the summary points at the caller.
func TestSerialSubmissionWarning(t *testing.T) {
	r := New()
	ex := fanout.New(fanout.WithLimit(8), fanout.WithObserver(r))
	ctx := context.Background()
	for range 6 {
		f := fanout.Submit(ctx, ex, func(context.Context) (int, error) {
			time.Sleep(20 * time.Millisecond)
			return 0, nil
		})
		if _, err := f.Await(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ex.Close()
	s := r.Summary()
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "awaiting each future before submitting the next") {
		t.Errorf("warnings = %q, want the serial-submission hint\n%s", s.Warnings, s)
	}
}

func TestLimitChangesAreRecorded(t *testing.T) {
	r := New()
	ex := fanout.New(fanout.WithLimit(4), fanout.WithObserver(r))
	ex.SetLimit(2)
	ex.SetLimit(6)
	ex.Close()
	if s := r.Summary(); s.Limit != 6 || s.LimitMax != 6 {
		t.Errorf("limit %d (max %d), want 6", s.Limit, s.LimitMax)
	}
}
