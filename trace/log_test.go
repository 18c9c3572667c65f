package trace

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
)

func TestSlowTaskLog(t *testing.T) {
	sink := newLogSink()
	r := New(WithSlow(50*time.Millisecond, slog.New(sink)))
	replay(r, []job{
		{id: 1, label: "https://example.com/slow", queued: 0, start: 10, finish: 709, attempts: 2, err: errors.New("status 500")},
		{id: 2, label: "https://example.com/fast", queued: 0, start: 0, finish: 49.9},
		{id: 3, label: "exactly the threshold", queued: 0, start: 0, finish: 50},
		{id: 4, label: "never ran", queued: 0, start: -1, finish: 900, err: fanout.ErrQueueTimeout},
	})
	got := sink.all()
	if len(got) != 2 {
		t.Fatalf("logged %d records, want 2 (the slow task and the one at the threshold): %+v", len(got), got)
	}
	// Logged as they finish: the one at the threshold first.
	if got[0].attrs["label"].String() != "exactly the threshold" {
		t.Errorf("first record is %v", got[0].attrs)
	}
	l := got[1]
	if l.msg != "fanout: slow task" || l.level != slog.LevelWarn {
		t.Errorf("record = %q at %v, want \"fanout: slow task\" at WARN", l.msg, l.level)
	}
	want := map[string]string{
		"id": "1", "label": "https://example.com/slow", "duration": "699ms", "queue_wait": "10ms",
		"attempts": "2", "outcome": "error", "error": "status 500",
	}
	for k, v := range want {
		if l.attrs[k].String() != v {
			t.Errorf("attribute %s = %q, want %q", k, l.attrs[k].String(), v)
		}
	}
}

func TestStuckTaskLoggedOnceWhileRunning(t *testing.T) {
	sink := newLogSink()
	r := New(WithStuck(30*time.Millisecond, slog.New(sink)))
	defer r.Close()
	stuck := fanout.TaskInfo{ID: 1, Label: "https://example.com/hang", Key: "example.com"}
	now := time.Now()
	r.TaskQueued(stuck, now)
	r.AttemptStarted(stuck, 1, now)
	// A task that finishes at once is never reported.
	quick := fanout.TaskInfo{ID: 2, Label: "quick"}
	r.TaskQueued(quick, now)
	r.AttemptStarted(quick, 1, now)
	r.TaskFinished(quick, fanout.Outcome{Attempts: 1}, now)

	<-sink.added // the watcher reports the hung task while it still runs
	got := sink.all()
	if len(got) != 1 {
		t.Fatalf("got %d records, want 1: %+v", len(got), got)
	}
	l := got[0]
	if l.msg != "fanout: stuck task" || l.attrs["label"].String() != stuck.Label || l.attrs["key"].String() != "example.com" {
		t.Errorf("record = %q %v", l.msg, l.attrs)
	}
	if d := l.attrs["running"].Duration(); d < 30*time.Millisecond {
		t.Errorf("reported running for %v, less than the 30ms threshold", d)
	}

	// Another task started later is reported too, and the first is not
	// reported again.
	later := fanout.TaskInfo{ID: 3, Label: "later"}
	r.TaskQueued(later, time.Now())
	r.AttemptStarted(later, 1, time.Now())
	<-sink.added
	r.TaskFinished(stuck, fanout.Outcome{Attempts: 1}, time.Now())
	r.TaskFinished(later, fanout.Outcome{Attempts: 1}, time.Now())
	r.Close()
	got = sink.all()
	if len(got) != 2 || got[1].attrs["label"].String() != "later" {
		t.Errorf("records after the second task: %+v", got)
	}
}

func TestCloseStopsTheWatcher(t *testing.T) {
	r := New(WithStuck(time.Hour, nil))
	info := fanout.TaskInfo{ID: 1}
	r.TaskQueued(info, time.Now())
	r.AttemptStarted(info, 1, time.Now())
	r.Close()
	r.Close() // idempotent
	// Recording goes on after Close; goleak in TestMain checks the watcher
	// is gone.
	r.TaskFinished(info, fanout.Outcome{Attempts: 1}, time.Now())
	if s := r.Summary(); s.Outcomes.OK != 1 {
		t.Errorf("summary after Close: %+v", s)
	}
}

func TestOverdueWithInjectedClock(t *testing.T) {
	r := New()
	r.cfg.stuck = 100 * time.Millisecond
	r.wake = make(chan struct{}, 1) // enables the queue without starting the watcher
	for i := range 3 {
		info := fanout.TaskInfo{ID: uint64(i + 1), Label: string(rune('a' + i))}
		r.TaskQueued(info, ms(0))
		r.AttemptStarted(info, 1, ms(float64(i*50)))
	}
	r.TaskFinished(fanout.TaskInfo{ID: 2}, fanout.Outcome{Attempts: 1}, ms(120))
	due, next, waiting := r.overdue(ms(120))
	if len(due) != 1 || due[0].label != "a" || due[0].running != 120*time.Millisecond {
		t.Fatalf("due at 120ms = %+v, want task a running 120ms", due)
	}
	if !waiting || next != 80*time.Millisecond {
		t.Errorf("next deadline in %v (waiting %v), want 80ms (task c, started at 100ms)", next, waiting)
	}
	due, _, waiting = r.overdue(ms(500))
	if len(due) != 1 || due[0].label != "c" || waiting {
		t.Errorf("due at 500ms = %+v, waiting %v; want only task c (b finished, a already reported)", due, waiting)
	}
}
