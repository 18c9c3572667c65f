package trace

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fanout-go/fanout"
)

func TestSummaryFigures(t *testing.T) {
	r := New(WithSlowest(2))
	r.LimitChanged(4, ms(0))
	replay(r, []job{
		{id: 1, label: "a", queued: 0, start: 0, finish: 10},
		{id: 2, label: "b", queued: 0, start: 0, finish: 40, attempts: 2, err: errors.New("status 500")},
		{id: 3, label: "c", queued: 0, start: 10, finish: 30},
		{id: 4, label: "d", queued: 0, start: -1, finish: 50, err: errors.New("fanout: timed out waiting for a slot")},
	})
	r.LimitChanged(2, ms(50))
	s := r.Summary()
	got := map[string]any{
		"tasks": s.Tasks, "started": s.Started, "unfinished": s.Unfinished,
		"wall": s.Wall, "busy": s.Busy, "effective": s.Effective,
		"peak": s.Peak, "demand": s.Demand, "limit": s.Limit, "limitMax": s.LimitMax,
		"attempts": s.Attempts, "retried": s.Retried,
		"wait": s.QueueWait, "duration": s.Duration, "outcomes": s.Outcomes,
	}
	want := map[string]any{
		"tasks": 4, "started": 3, "unfinished": 0,
		"wall": 50 * time.Millisecond, "busy": 70 * time.Millisecond, "effective": 1.4,
		"peak": 2, "demand": 4, "limit": 2, "limitMax": 4,
		"attempts": 4, "retried": 1,
		"wait":     Percentiles{P50: 0, P95: 10 * time.Millisecond, P99: 10 * time.Millisecond, Max: 10 * time.Millisecond},
		"duration": Percentiles{P50: 20 * time.Millisecond, P95: 40 * time.Millisecond, P99: 40 * time.Millisecond, Max: 40 * time.Millisecond},
		"outcomes": Outcomes{OK: 2, Error: 2},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}
	if len(s.Slowest) != 2 || s.Slowest[0].Label != "b" || s.Slowest[1].Label != "c" {
		t.Errorf("slowest = %+v, want b then c", s.Slowest)
	}
}

func TestPercentilesNearestRank(t *testing.T) {
	v := make([]int64, 200)
	for i := range v {
		v[i] = int64(200 - i) // 200..1, unsorted
	}
	p := percentiles(v)
	want := Percentiles{P50: 100, P95: 190, P99: 198, Max: 200}
	if p != want {
		t.Errorf("percentiles = %+v, want %+v", p, want)
	}
	if (percentiles(nil) != Percentiles{}) {
		t.Errorf("percentiles of nothing are not zero")
	}
}

func TestSummaryString(t *testing.T) {
	r := New()
	r.LimitChanged(8, ms(0))
	replay(r, []job{
		{id: 1, label: "https://example.com/slow", queued: 0, start: 0, finish: 1500},
		{id: 2, label: "https://example.com/fast", queued: 0, start: 0, finish: 12.5, err: errors.New("x")},
	})
	out := r.Summary().String()
	for _, want := range []string{
		"fanout: 2 tasks in 1.5s, limit 8\n",
		"  outcomes     1 ok, 1 error\n",
		"  concurrency  effective 1.01, peak 2, demand 2 (most tasks waiting or running at once)\n",
		"  duration     p50 12.5ms    p95 1.5s      p99 1.5s      max 1.5s\n",
		"  slowest      1.5s      https://example.com/slow (ok, 1 attempt)\n",
		"               12.5ms    https://example.com/fast (error, 1 attempt)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestSummaryJSON(t *testing.T) {
	r := New()
	replay(r, []job{
		{id: 1, label: "a", queued: 0, start: 250, finish: 1250},
	})
	b, err := json.Marshal(r.Summary())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tasks     int     `json:"tasks"`
		Wall      float64 `json:"wall_s"`
		Effective float64 `json:"effective_concurrency"`
		Duration  struct {
			P50 float64 `json:"p50_s"`
		} `json:"duration"`
		QueueWait struct {
			Max float64 `json:"max_s"`
		} `json:"queue_wait"`
		Outcomes map[string]int `json:"outcomes"`
		Slowest  []struct {
			Label    string  `json:"label"`
			Outcome  string  `json:"outcome"`
			Duration float64 `json:"duration_s"`
		} `json:"slowest"`
		Serial bool `json:"serial"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	if got.Tasks != 1 || got.Wall != 1.25 || got.Effective != 0.8 || got.Duration.P50 != 1 || got.QueueWait.Max != 0.25 ||
		got.Outcomes["ok"] != 1 || len(got.Slowest) != 1 || got.Slowest[0].Outcome != "ok" || got.Slowest[0].Duration != 1 || got.Serial {
		t.Errorf("JSON summary decoded to %+v from %s", got, b)
	}
}

func TestEmptySummary(t *testing.T) {
	s := New().Summary()
	if s.Tasks != 0 || len(s.Warnings) != 0 {
		t.Errorf("empty recorder summary = %+v", s)
	}
	if !strings.HasPrefix(s.String(), "fanout: 0 tasks") {
		t.Errorf("empty summary string = %q", s.String())
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                        "0s",
		999:                      "999ns",
		1234 * time.Nanosecond:   "1.23µs",
		45678 * time.Microsecond: "45.7ms",
		699 * time.Millisecond:   "699ms",
		1234 * time.Millisecond:  "1.23s",
		83 * time.Second:         "1m23s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%d) = %q, want %q", d, got, want)
		}
	}
}

// backoffRecorder records two tasks at limit 1: a runs from 0 to 100ms,
// fails and waits for its retry until 1100ms; b runs in the freed slot
// from 100 to 900ms; a's second attempt runs from 1100 to 1200ms.
func backoffRecorder(opts ...Option) *Recorder {
	r := New(opts...)
	r.LimitChanged(1, ms(0))
	a := fanout.TaskInfo{ID: 1, Label: "a"}
	b := fanout.TaskInfo{ID: 2, Label: "b"}
	r.TaskQueued(a, ms(0))
	r.TaskQueued(b, ms(0))
	r.AttemptStarted(a, 1, ms(0))
	r.AttemptFinished(a, 1, errors.New("status 503"), ms(100))
	// a backs off for a second; b takes the slot meanwhile.
	r.AttemptStarted(b, 1, ms(100))
	r.AttemptFinished(b, 1, nil, ms(900))
	r.TaskFinished(b, fanout.Outcome{Attempts: 1}, ms(900))
	r.AttemptStarted(a, 2, ms(1100))
	r.AttemptFinished(a, 2, nil, ms(1200))
	r.TaskFinished(a, fanout.Outcome{Attempts: 2}, ms(1200))
	return r
}

// TestBackoffIsNotRunning checks that the time a task waits between its
// attempts (a retry's backoff, holding no slot) does not count as running:
// at limit 1, task b runs while a waits for its retry, and the figures must
// not show two tasks running at once.
func TestBackoffIsNotRunning(t *testing.T) {
	r := backoffRecorder()
	s := r.Summary()
	if s.Peak != 1 {
		t.Errorf("peak %d, want 1: a waiting for its retry is not running", s.Peak)
	}
	if want := time.Second; s.Busy != want {
		t.Errorf("busy %v, want %v (a's two attempts, 200ms, and b's one, 800ms)", s.Busy, want)
	}
	if s.Effective > 1 {
		t.Errorf("effective concurrency %.2f at a limit of 1", s.Effective)
	}
	// The task's own duration still spans its attempts and the wait.
	if s.Duration.Max != 1200*time.Millisecond {
		t.Errorf("longest task %v, want 1.2s", s.Duration.Max)
	}
	r.mu.Lock()
	pts := r.counts(true)
	r.mu.Unlock()
	for _, p := range pts {
		if p.n > 1 {
			t.Errorf("running count %d at %v: the timeline counts a waiting task", p.n, p.at)
		}
	}
}

// A label from hostile input (an escape sequence in a URL or an input
// line) reached the terminal raw in the summary's slowest tasks: it could
// clear the screen or retitle the window.
func TestSummaryStringHasNoControlCharacters(t *testing.T) {
	r := New()
	hostile := "x\x1b]0;pwned\x07\x1b[2J\u009b31m\x7fy"
	replay(r, []job{{id: 1, label: hostile, queued: 0, start: 0, finish: 10}})
	out := r.Summary().String()
	if strings.ContainsFunc(out, func(c rune) bool { return c < ' ' && c != '\n' || c >= 0x7f && c <= 0x9f }) {
		t.Errorf("summary carries control characters: %q", out)
	}
	if !strings.Contains(out, "x?]0;pwned??[2J?31m?y") {
		t.Errorf("summary lacks the label with its controls replaced: %q", out)
	}
}
