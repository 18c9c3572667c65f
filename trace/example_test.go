package trace_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/trace"
)

// Five lines give a run a summary, a slow-task log, a stuck-task log, a
// Perfetto trace and an HTML timeline.
func Example() {
	rec := trace.New(trace.WithSlow(time.Second, nil), trace.WithStuck(time.Minute, nil))
	defer rec.Close()
	ex := fanout.New(fanout.WithLimit(4), fanout.WithObserver(rec))

	ctx := context.Background()
	var fs []*fanout.Future[int]
	for i := range 10 {
		fs = append(fs, fanout.Submit(ctx, ex, func(context.Context) (int, error) { return i * i, nil },
			fanout.WithLabel(fmt.Sprintf("https://example.com/%d", i))))
	}
	fanout.GatherAll(ctx, fs...)
	ex.Close()

	s := rec.Summary()
	fmt.Fprint(os.Stderr, s) // for people; json.Marshal(s) for machines
	dir, _ := os.MkdirTemp("", "trace-example")
	defer os.RemoveAll(dir)
	if err := rec.WriteChromeTraceFile(filepath.Join(dir, "run.trace.json")); err != nil { // open in ui.perfetto.dev
		fmt.Println(err)
	}
	if err := rec.WriteHTMLFile(filepath.Join(dir, "run.html")); err != nil {
		fmt.Println(err)
	}
	fmt.Println(s.Tasks, "tasks,", s.Outcomes.OK, "ok")
	// Output: 10 tasks, 10 ok
}

// hooks replays one task's life on rec as an executor would report it.
func hooks(rec *trace.Recorder, id uint64, label string, queued, start, end time.Time, err error) {
	t := fanout.TaskInfo{ID: id, Label: label}
	rec.TaskQueued(t, queued)
	rec.AttemptStarted(t, 1, start)
	rec.AttemptFinished(t, 1, err, end)
	rec.TaskFinished(t, fanout.Outcome{Err: err, Attempts: 1, Settled: end}, end)
}

// The summary of three requests that ran one after another although the
// limit allowed 8 at once: the warning says so, as in the seed article's
// asyncio bug. (The hooks are called directly here to fix the times.)
func ExampleSummary_String() {
	rec := trace.New(trace.WithSlowest(2))
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	rec.LimitChanged(8, t0)
	hooks(rec, 1, "https://example.com/a", t0, at(0), at(699), nil)
	hooks(rec, 2, "https://example.com/b", t0, at(699), at(1336), nil)
	hooks(rec, 3, "https://example.com/c", t0, at(1336), at(2023), nil)
	hooks(rec, 4, "https://example.com/d", t0, at(2023), at(2700), fmt.Errorf("status 503"))
	fmt.Print(rec.Summary())
	// Output:
	// fanout: 4 tasks in 2.7s, limit 8
	//   outcomes     3 ok, 1 error
	//   concurrency  effective 1.00, peak 1, demand 4 (most tasks waiting or running at once)
	//   busy         2.7s over 4 started tasks
	//   attempts     4 (0 tasks retried)
	//   queue wait   p50 699ms     p95 2.02s     p99 2.02s     max 2.02s
	//   duration     p50 677ms     p95 699ms     p99 699ms     max 699ms
	//   slowest      699ms     https://example.com/a (ok, 1 attempt)
	//                687ms     https://example.com/c (ok, 1 attempt)
	//   warning: serial run: 4 tasks could have run together (up to 4 in flight at once, limit 8), yet they ran one after another: while tasks waited, at most 1 ran 100% of the time; effective concurrency 1.00. Likely causes: a concurrency limit of 1, a per-key (per-host) limit, or a rate limit
}

// The slow-task log is asyncio debug mode's "Executing <Task ...> took
// 0.699 seconds", logged through log/slog as each task finishes.
func ExampleWithSlow() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	}))
	rec := trace.New(trace.WithSlow(500*time.Millisecond, logger))
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	hooks(rec, 58, "https://example.com/slow", t0, t0, t0.Add(699*time.Millisecond), nil)
	hooks(rec, 59, "https://example.com/fast", t0, t0, t0.Add(120*time.Millisecond), nil)
	// Output:
	// level=WARN msg="fanout: slow task" id=58 label=https://example.com/slow duration=699ms queue_wait=0s attempts=1 outcome=ok
}
