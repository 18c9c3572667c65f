package trace

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
