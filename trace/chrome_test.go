package trace

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fanout-go/fanout"
)

type chromeEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat"`
	Ph   string         `json:"ph"`
	Ts   *float64       `json:"ts"`
	Dur  *float64       `json:"dur"`
	Pid  *int           `json:"pid"`
	Tid  *int           `json:"tid"`
	S    string         `json:"s"`
	Args map[string]any `json:"args"`
}

func parseChrome(t *testing.T, b []byte) []chromeEvent {
	t.Helper()
	var doc struct {
		TraceEvents     []chromeEvent `json:"traceEvents"`
		DisplayTimeUnit string        `json:"displayTimeUnit"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not valid JSON: %v", err)
	}
	if doc.DisplayTimeUnit != "ms" || doc.TraceEvents == nil {
		t.Fatalf("not a Trace Event Format object: displayTimeUnit %q, %d events", doc.DisplayTimeUnit, len(doc.TraceEvents))
	}
	for i, e := range doc.TraceEvents {
		if e.Pid == nil || e.Name == "" {
			t.Fatalf("event %d lacks pid or name: %+v", i, e)
		}
		switch e.Ph {
		case "X":
			if e.Ts == nil || e.Dur == nil || e.Tid == nil || *e.Dur < 0 || *e.Ts < 0 {
				t.Fatalf("complete event %d lacks ts, dur or tid: %+v", i, e)
			}
		case "i":
			if e.Ts == nil || e.Tid == nil || e.S != "t" {
				t.Fatalf("instant event %d: %+v", i, e)
			}
		case "C":
			if e.Ts == nil || len(e.Args) != 1 {
				t.Fatalf("counter event %d: %+v", i, e)
			}
		case "M":
			if e.Args["name"] == nil && e.Args["sort_index"] == nil {
				t.Fatalf("metadata event %d: %+v", i, e)
			}
		default:
			t.Fatalf("event %d has phase %q", i, e.Ph)
		}
	}
	return doc.TraceEvents
}

func chromeOf(t *testing.T, r *Recorder) []chromeEvent {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteChromeTrace(&buf); err != nil {
		t.Fatal(err)
	}
	return parseChrome(t, buf.Bytes())
}

func TestChromeTraceOneEventPerTaskNoOverlapPerTrack(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	jobs := simulate(rng, 3000, 24, func(i int) float64 { return float64(i) * 0.2 },
		func(int) float64 { return 1 + rng.ExpFloat64()*5 })
	jobs = append(jobs, job{id: 99999, label: "timed out waiting", queued: 1, start: -1, finish: 50, err: errors.New("queue timeout")})
	r := New()
	r.LimitChanged(24, ms(0))
	r.LimitChanged(12, ms(300))
	replay(r, jobs)
	events := chromeOf(t, r)

	perTask := map[uint64]int{}
	byTid := map[int][][2]float64{}
	named := map[int]bool{}
	var limits []float64
	maxRunning := 0.0
	for _, e := range events {
		switch e.Ph {
		case "X":
			perTask[uint64(e.Args["id"].(float64))]++
			// In whole nanoseconds, as written, to compare exactly.
			start := math.Round(*e.Ts * 1e3)
			byTid[*e.Tid] = append(byTid[*e.Tid], [2]float64{start, start + math.Round(*e.Dur*1e3)})
			for _, k := range []string{"label", "outcome", "attempts"} {
				if _, ok := e.Args[k]; !ok {
					t.Fatalf("X event lacks args.%s: %+v", k, e)
				}
			}
			if e.Args["outcome"] != e.Cat {
				t.Fatalf("category %q differs from outcome %v", e.Cat, e.Args["outcome"])
			}
		case "i":
			if e.Args["id"].(float64) != 99999 || e.Args["outcome"] != "error" {
				t.Errorf("instant event for a task that ran: %+v", e)
			}
		case "M":
			if e.Name == "thread_name" {
				named[*e.Tid] = true
			}
		case "C":
			if v, ok := e.Args["limit"]; ok {
				limits = append(limits, v.(float64))
			}
			if v, ok := e.Args["running"]; ok {
				maxRunning = max(maxRunning, v.(float64))
			}
		}
	}
	if len(perTask) != 3000 {
		t.Errorf("%d tasks have X events, want 3000", len(perTask))
	}
	for id, n := range perTask {
		if n != 1 {
			t.Errorf("task %d has %d X events", id, n)
		}
	}
	for tid, spans := range byTid {
		if !named[tid] {
			t.Errorf("track %d has no thread_name", tid)
		}
		slices.SortFunc(spans, func(a, b [2]float64) int { return int(a[0] - b[0]) })
		for i := 1; i < len(spans); i++ {
			if spans[i][0] < spans[i-1][1] {
				t.Fatalf("track %d: event at %v starts before the previous one ends at %v", tid, spans[i][0], spans[i-1][1])
			}
		}
	}
	if !slices.Equal(limits, []float64{24, 12}) {
		t.Errorf("limit counter = %v, want [24 12]", limits)
	}
	if int(maxRunning) != r.Summary().Peak || len(byTid) != r.Summary().Peak {
		t.Errorf("running counter peaks at %v and %d tracks are used; summary peak %d", maxRunning, len(byTid), r.Summary().Peak)
	}
}

func TestChromeTraceEscapesLabels(t *testing.T) {
	labels := []string{
		`https://example.com/?q="a"&b=<c>`,
		"line\nbreak\ttab\x01\u2028",
		"</script><script>alert(1)</script>",
		"naïve ☃",
	}
	r := New()
	for i, l := range labels {
		replay(r, []job{{id: uint64(i + 1), label: l, key: l, queued: 0, start: 0, finish: 1, err: errors.New(l)}})
	}
	var buf bytes.Buffer
	if err := r.WriteChromeTrace(&buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("<script>")) {
		t.Errorf("raw <script> in the trace")
	}
	got := map[string]bool{}
	for _, e := range parseChrome(t, buf.Bytes()) {
		if e.Ph == "X" {
			got[e.Name] = e.Args["label"] == e.Name && e.Args["key"] == e.Name && e.Args["error"] == e.Name
		}
	}
	for _, l := range labels {
		if !got[l] {
			t.Errorf("label %q did not round-trip through name, args.label, args.key and args.error", l)
		}
	}
}

func TestAppendJSONStringInvalidUTF8(t *testing.T) {
	b := appendJSONString(nil, "a\xffb")
	var s string
	if err := json.Unmarshal(b, &s); err != nil || s != "a\uFFFDb" || !utf8.Valid(b) {
		t.Errorf("encoded %q, decoded %q (%v)", b, s, err)
	}
}

func TestWriteChromeTraceFile(t *testing.T) {
	r := New()
	replay(r, []job{{id: 1, queued: 0, start: 0, finish: 1}})
	path := filepath.Join(t.TempDir(), "run.trace.json")
	if err := r.WriteChromeTraceFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if events := parseChrome(t, b); len(events) == 0 {
		t.Errorf("empty trace file")
	}
	if err := r.WriteChromeTraceFile(filepath.Join(t.TempDir(), "missing", "x.json")); err == nil {
		t.Errorf("writing into a missing directory succeeded")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteChromeTraceReportsWriteErrors(t *testing.T) {
	r := New()
	replay(r, []job{{id: 1, queued: 0, start: 0, finish: 1}})
	if err := r.WriteChromeTrace(failingWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error = %v, want the writer's error", err)
	}
}

// TestChromeTraceBackoffIsNotASlice checks, at limit 1, that a task
// waiting for its retry has no slice over its wait: one per stretch of
// attempts, all on the one track the limit allows, and the wait on a
// counter of its own.
func TestChromeTraceBackoffIsNotASlice(t *testing.T) {
	events := chromeOf(t, backoffRecorder())
	ran := map[string][][3]float64{} // label: start, end (ms), track
	tracks := 0
	counters := map[string][][2]float64{} // name: at (ms), value
	var retryWait any
	for _, e := range events {
		switch e.Ph {
		case "X":
			ran[e.Name] = append(ran[e.Name], [3]float64{*e.Ts / 1e3, (*e.Ts + *e.Dur) / 1e3, float64(*e.Tid)})
			if e.Name == "a" && e.Args["stretch"] == "2 of 2" {
				retryWait = e.Args["retry_wait_ms"]
			}
		case "M":
			if e.Name == "thread_name" && strings.HasPrefix(e.Args["name"].(string), "slot ") {
				tracks++
			}
		case "C":
			for k, v := range e.Args {
				counters[k] = append(counters[k], [2]float64{*e.Ts / 1e3, v.(float64)})
			}
		}
	}
	want := map[string][][3]float64{
		"a": {{0, 100, 1}, {1100, 1200, 1}},
		"b": {{100, 900, 1}},
	}
	for label, w := range want {
		if !slices.Equal(ran[label], w) {
			t.Errorf("task %s exported as slices %v (start ms, end ms, track), want %v", label, ran[label], w)
		}
	}
	if tracks != 1 {
		t.Errorf("%d slot tracks at a limit of 1", tracks)
	}
	if retryWait != 1000.0 {
		t.Errorf("a's second slice has retry_wait_ms %v, want 1000", retryWait)
	}
	if got, want := counters["backoff"], [][2]float64{{100, 1}, {1100, 0}}; !slices.Equal(got, want) {
		t.Errorf("backoff counter %v, want %v", got, want)
	}
	for _, p := range counters["running"] {
		if p[1] > 1 {
			t.Errorf("running counter %v at %vms", p[1], p[0])
		}
	}
}

// TestChromeTraceRetriedTasksShareTracks records random tasks that wait
// between attempts and checks the slices: one per stretch of attempts,
// none overlapping another on its track, and as many tracks as the most
// tasks running at once.
func TestChromeTraceRetriedTasksShareTracks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	r := New()
	const n = 500
	infos := make([]fanout.TaskInfo, n)
	for i := range infos {
		infos[i] = fanout.TaskInfo{ID: uint64(i + 1)}
		r.TaskQueued(infos[i], ms(0))
	}
	stretches := map[uint64][][2]float64{}
	for _, info := range infos {
		at := float64(rng.IntN(2000))
		for k := range 1 + rng.IntN(3) {
			if k > 0 {
				at += float64(1 + rng.IntN(50)) // backoff
			}
			end := at + float64(1+rng.IntN(30))
			r.AttemptStarted(info, k+1, ms(at))
			r.AttemptFinished(info, k+1, nil, ms(end))
			stretches[info.ID] = append(stretches[info.ID], [2]float64{at, end})
			at = end
		}
		r.TaskFinished(info, fanout.Outcome{Attempts: len(stretches[info.ID])}, ms(at))
	}
	got := map[uint64][][2]float64{}
	byTid := map[int][][2]float64{}
	for _, e := range chromeOf(t, r) {
		if e.Ph == "X" {
			from, to := *e.Ts/1e3, (*e.Ts+*e.Dur)/1e3
			id := uint64(e.Args["id"].(float64))
			got[id] = append(got[id], [2]float64{from, to})
			byTid[*e.Tid] = append(byTid[*e.Tid], [2]float64{from, to})
		}
	}
	for id, want := range stretches {
		if !slices.Equal(got[id], want) {
			t.Fatalf("task %d exported as %v, want its stretches %v", id, got[id], want)
		}
	}
	for tid, spans := range byTid {
		slices.SortFunc(spans, func(a, b [2]float64) int { return cmp.Compare(a[0], b[0]) })
		for i := 1; i < len(spans); i++ {
			if spans[i][0] < spans[i-1][1] {
				t.Fatalf("track %d: slice at %v starts before the previous one ends at %v", tid, spans[i][0], spans[i-1][1])
			}
		}
	}
	if peak := r.Summary().Peak; len(byTid) != peak {
		t.Errorf("%d tracks used, but at most %d tasks ran at once", len(byTid), peak)
	}
}

// TestChromeTraceRetriedStretchOutcome checks that each slice of a retried
// task carries its own stretch's outcome as its category: a's first
// attempt failed, its retry succeeded, and the task's outcome is ok.
func TestChromeTraceRetriedStretchOutcome(t *testing.T) {
	var got [][3]any // category, stretch_outcome, outcome
	for _, e := range chromeOf(t, backoffRecorder()) {
		if e.Ph == "X" && e.Name == "a" {
			got = append(got, [3]any{e.Cat, e.Args["stretch_outcome"], e.Args["outcome"]})
		}
	}
	want := [][3]any{{"error", "error", "ok"}, {"ok", "ok", "ok"}}
	if !slices.Equal(got, want) {
		t.Errorf("a's slices (category, stretch_outcome, outcome) %v, want %v", got, want)
	}
}
