package trace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
)

// demoRecorder records n simulated tasks on an executor with the given
// limit: mostly ok, some errors, timeouts, a panic, retries, and labels
// that are URLs.
func demoRecorder(n, limit int, opts ...Option) *Recorder {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(limit)))
	jobs := simulate(rng, n, limit, func(i int) float64 { return float64(i) * 0.05 },
		func(int) float64 { return 20 + rng.ExpFloat64()*40 })
	for i := range jobs {
		jobs[i].label = fmt.Sprintf("https://example.com/items/%d?q=a&b=<%d>", i, i)
		switch rng.IntN(60) {
		case 0:
			jobs[i].err = fmt.Errorf("%w after 100ms", fanout.ErrTimeout)
		case 1:
			jobs[i].attempts = 3
		case 2:
			jobs[i].err = context.Canceled
		}
	}
	jobs[n/2].err = &fanout.PanicError{Value: "index out of range"}
	jobs[n/3].err = errors.New(`status 503 for "</title><script>alert(1)</script>"`)
	r := New(opts...)
	r.LimitChanged(limit, ms(0))
	replay(r, jobs)
	return r
}

func htmlOf(t *testing.T, r *Recorder) string {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var (
	rectRe  = regexp.MustCompile(`<rect class="(\w+)[^"]*"`)
	fetchRe = regexp.MustCompile(`(?i)<script|<link|<img|<iframe|<object|<embed|\ssrc\s*=|href\s*=|url\(|@import|@font-face`)
)

// checkSelfContained fails if the page could load anything: no element or
// attribute that fetches, and a CSP that forbids it anyway.
func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	if m := fetchRe.FindString(page); m != "" {
		t.Errorf("page contains %q, which could fetch", m)
	}
	if !strings.Contains(page, `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`) {
		t.Errorf("page lacks the Content-Security-Policy")
	}
}

func TestHTMLTimeline(t *testing.T) {
	r := demoRecorder(300, 8)
	page := htmlOf(t, r)
	checkSelfContained(t, page)
	s := r.Summary()
	if !strings.Contains(page, `<dd id="tasks">300</dd>`) {
		t.Errorf("summary does not show 300 tasks")
	}
	bars := rectRe.FindAllStringSubmatch(page, -1)
	if len(bars) != 300 {
		t.Errorf("%d bars, want one per task (300)", len(bars))
	}
	byKind := map[string]int{}
	for _, b := range bars {
		byKind[b[1]]++
	}
	if byKind["ok"] != s.Outcomes.OK || byKind["error"] != s.Outcomes.Error || byKind["timeout"] != s.Outcomes.Timeout {
		t.Errorf("bars by outcome %v, summary %+v", byKind, s.Outcomes)
	}
	if strings.Contains(page, "aggregated") {
		t.Errorf("300 tasks were aggregated")
	}
	for _, want := range []string{
		"<title>https://example.com/items/0?q=a&amp;b=&lt;0&gt;&#10;", // hover text: label, then duration
		`status 503 for &#34;&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#34;`,
		`<g id="concurrency">`,
		`class="limit"`,
		`<table id="slowest">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Errorf("a label was not escaped")
	}
}

func TestHTMLWarnings(t *testing.T) {
	r := New()
	r.LimitChanged(8, ms(0))
	replay(r, serialJobs(8, "lock", 20))
	page := htmlOf(t, r)
	if !strings.Contains(page, `<p class="warning" role="alert">Warning: serial run: `) {
		t.Errorf("serial-run warning missing from the page")
	}
}

func TestHTMLAggregatesManyTasks(t *testing.T) {
	const n = 100_000
	r := demoRecorder(n, 64)
	page := htmlOf(t, r)
	checkSelfContained(t, page)
	t.Logf("page for %d tasks: %d bytes", n, len(page))
	if len(page) > 4<<20 {
		t.Errorf("page for %d tasks is %d bytes, want at most 4 MiB", n, len(page))
	}
	if !strings.Contains(page, `<p class="notice" id="aggregated">Aggregated view: 100000 tasks ran, more than the 5000 drawn one bar each`) {
		t.Errorf("page does not say it is aggregated")
	}
	if !strings.Contains(page, `<dd id="tasks">100000</dd>`) {
		t.Errorf("summary does not show %d tasks", n)
	}
	cells := len(rectRe.FindAllString(page, -1))
	if cells == 0 || cells > 64*buckets {
		t.Errorf("%d cells, want between 1 and %d", cells, 64*buckets)
	}
}

func TestHTMLManyLanesShareRows(t *testing.T) {
	r := demoRecorder(3000, 1000)
	page := htmlOf(t, r)
	if !strings.Contains(page, "lanes are more than 200 rows") {
		t.Errorf("page does not say lanes share rows")
	}
	// Each row's label fits the 58 px left of the plot at about 7 px a
	// character: before, "slots 103-104" was cut to "ts 103-104".
	labels := regexp.MustCompile(`<text x="58" y="[0-9.]+" text-anchor="end">([^<]*)</text>`).FindAllStringSubmatch(page, -1)
	if len(labels) == 0 {
		t.Fatal("no row labels")
	}
	for _, l := range labels {
		if len(l[1])*7 > 58 {
			t.Errorf("row label %q is wider than the space left of the plot", l[1])
		}
	}
}

func TestHTMLMaxBarsOption(t *testing.T) {
	page := htmlOf(t, demoRecorder(300, 8, WithMaxBars(100)))
	if !strings.Contains(page, "more than the 100 drawn one bar each") {
		t.Errorf("WithMaxBars(100) did not aggregate 300 tasks")
	}
}

func TestHTMLEmptyRecorder(t *testing.T) {
	page := htmlOf(t, New())
	checkSelfContained(t, page)
	if !strings.Contains(page, `<dd id="tasks">0</dd>`) {
		t.Errorf("empty page lacks the task count")
	}
}

func TestWriteHTMLFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "timeline.html")
	if err := demoRecorder(10, 2).WriteHTMLFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), "<!DOCTYPE html>") {
		t.Fatalf("file: %v, %.40q", err, b)
	}
}

func TestTickStep(t *testing.T) {
	for _, c := range []struct{ span, want int64 }{{1e9, 1e8}, {1234e6, 1e8}, {5e6, 5e5}, {59e9, 5e9}} {
		if got := tickStep(timeDur(c.span)); int64(got) != c.want {
			t.Errorf("tickStep(%d) = %d, want %d", c.span, got, c.want)
		}
	}
}

func timeDur(ns int64) time.Duration { return time.Duration(ns) }

// drawn is a bar, gap line or cell of a timeline page: times in
// milliseconds from the first event, read back from the coordinates.
type drawn struct {
	label    string // the first line of its hover text
	from, to float64
	y        float64 // the same for everything on one lane
	title    string
}

var (
	barRe  = regexp.MustCompile(`<rect class="\w+[^"]*" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="[\d.]+"><title>([^<]*)</title>`)
	waitRe = regexp.MustCompile(`<line class="wait" x1="([\d.]+)" x2="([\d.]+)" y1="([\d.]+)" y2="[\d.]+"><title>([^<]*)</title>`)
)

// drawnOn reads the bars (or cells) and gap lines of a page whose timeline
// spans spanMs milliseconds.
func drawnOn(t *testing.T, page string, spanMs float64) (bars, gaps []drawn) {
	t.Helper()
	num := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	ms := func(x float64) float64 { return math.Round((x-plotLeft)/plotWidth*spanMs*10) / 10 }
	label := func(title string) string { return strings.SplitN(title, "&#10;", 2)[0] }
	for _, m := range barRe.FindAllStringSubmatch(page, -1) {
		x, w := num(m[1]), num(m[3])
		bars = append(bars, drawn{label: label(m[4]), from: ms(x), to: ms(x + w), y: num(m[2]), title: m[4]})
	}
	for _, m := range waitRe.FindAllStringSubmatch(page, -1) {
		gaps = append(gaps, drawn{label: label(m[4]), from: ms(num(m[1])), to: ms(num(m[2])), y: num(m[3]), title: m[4]})
	}
	return bars, gaps
}

// lanesOf returns where each of the labelled task's bars starts and ends,
// and the lane (counted by distinct y from the top) of each.
func lanesOf(bars []drawn, label string) (times [][2]float64, lanes []int) {
	var ys []float64
	for _, b := range bars {
		if !slices.Contains(ys, b.y) {
			ys = append(ys, b.y)
		}
	}
	slices.Sort(ys)
	for _, b := range bars {
		if b.label == label {
			times = append(times, [2]float64{b.from, b.to})
			lanes = append(lanes, slices.Index(ys, b.y))
		}
	}
	return times, lanes
}

// TestHTMLBackoffIsNotABar checks, at limit 1, that a task waiting for its
// retry is not drawn as running and holds no lane: the task that ran in
// the freed slot shares its lane, and the page has one lane, not two.
func TestHTMLBackoffIsNotABar(t *testing.T) {
	page := htmlOf(t, backoffRecorder())
	checkSelfContained(t, page)
	if !strings.Contains(page, `aria-label="timeline of 2 tasks on 1 lanes"`) {
		t.Errorf("page does not draw 1 lane at a limit of 1: %s", regexp.MustCompile(`aria-label="[^"]*"`).FindString(page))
	}
	bars, gaps := drawnOn(t, page, 1200)
	for _, c := range []struct {
		label string
		want  [][2]float64
	}{
		{"a", [][2]float64{{0, 100}, {1100, 1200}}},
		{"b", [][2]float64{{100, 900}}},
	} {
		times, lanes := lanesOf(bars, c.label)
		if !slices.Equal(times, c.want) {
			t.Errorf("task %s drawn running over %v (ms), want %v", c.label, times, c.want)
		}
		for _, l := range lanes {
			if l != 0 {
				t.Errorf("task %s drawn on lane %d, want 0", c.label, l)
			}
		}
	}
	if len(gaps) != 1 || gaps[0].label != "a" || gaps[0].from != 100 || gaps[0].to != 1100 ||
		!strings.Contains(gaps[0].title, "waiting 1s for a retry") || gaps[0].y <= bars[0].y || gaps[0].y >= bars[0].y+18 {
		t.Errorf("wait lines %+v, want one for a from 100 to 1100ms on its lane, saying it waited for a retry", gaps)
	}
	for _, b := range bars {
		if b.label == "a" && !strings.Contains(b.title, "ran 200ms; waited 1s between attempts") {
			t.Errorf("hover text of a's bar %q does not tell running from waiting", b.title)
		}
	}
	if !strings.Contains(page, "waiting for a retry (counts are tasks by how they ended; a bar before a wait has the colour of the attempt that failed)</span>") {
		t.Errorf("legend does not explain the wait line")
	}
}

// TestHTMLRetryLane checks where a retried task's later attempts go: on
// its own lane when that is free, even if a lower one is, and on another
// free lane rather than a new one when its own is taken.
func TestHTMLRetryLane(t *testing.T) {
	type run struct {
		label     string
		stretches [][2]float64 // attempts, each retried after a wait
	}
	for _, c := range []struct {
		name   string
		runs   []run
		lanes  int
		aLanes []int
	}{
		{
			name: "own lane free",
			runs: []run{
				{"x", [][2]float64{{0, 50}}},                 // lane 0
				{"a", [][2]float64{{10, 100}, {1100, 1200}}}, // lane 1, and again at 1100 though 0 is free
				{"y", [][2]float64{{60, 1050}}},              // lane 0
			},
			lanes: 2, aLanes: []int{1, 1},
		},
		{
			name: "own lane taken",
			runs: []run{
				{"a", [][2]float64{{0, 100}, {1000, 1100}}}, // lane 0, then lane 1: b holds lane 0
				{"x", [][2]float64{{0, 500}}},               // lane 1
				{"b", [][2]float64{{100, 1200}}},            // lane 0, which a left
			},
			lanes: 2, aLanes: []int{0, 1},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := New()
			for i, run := range c.runs {
				info := fanout.TaskInfo{ID: uint64(i + 1), Label: run.label}
				r.TaskQueued(info, ms(0))
				for k, st := range run.stretches {
					r.AttemptStarted(info, k+1, ms(st[0]))
					r.AttemptFinished(info, k+1, nil, ms(st[1]))
				}
				r.TaskFinished(info, fanout.Outcome{Attempts: len(run.stretches)}, ms(run.stretches[len(run.stretches)-1][1]))
			}
			if p := r.Summary().Peak; p != c.lanes {
				t.Fatalf("peak %d, want %d", p, c.lanes)
			}
			page := htmlOf(t, r)
			if want := fmt.Sprintf(`on %d lanes"`, c.lanes); !strings.Contains(page, want) {
				t.Errorf("page lacks %q: %s", want, regexp.MustCompile(`aria-label="[^"]*"`).FindString(page))
			}
			bars, _ := drawnOn(t, page, 1200)
			if _, lanes := lanesOf(bars, "a"); !slices.Equal(lanes, c.aLanes) {
				t.Errorf("a's attempts drawn on lanes %v, want %v", lanes, c.aLanes)
			}
		})
	}
}

// TestHTMLAggregatedBackoffIsNotBusy checks the aggregated view: a task
// waiting for its retry makes no lane busy, and holds no lane.
func TestHTMLAggregatedBackoffIsNotBusy(t *testing.T) {
	page := htmlOf(t, backoffRecorder(WithMaxBars(1)))
	if !strings.Contains(page, `id="aggregated"`) || !strings.Contains(page, `on 1 lanes"`) {
		t.Errorf("page is not aggregated on 1 lane: %s", regexp.MustCompile(`aria-label="[^"]*"`).FindString(page))
	}
	cells, _ := drawnOn(t, page, 1200)
	if len(cells) == 0 {
		t.Fatal("no cells")
	}
	for _, c := range cells {
		if c.from < 1000 && c.to > 1000 {
			t.Errorf("a cell from %vms to %vms is busy while a only waited for its retry: %s", c.from, c.to, c.title)
		}
	}
}

// rectClassRe finds each bar's or cell's class and hover text.
var rectClassRe = regexp.MustCompile(`<rect class="(\w+)[^"]*" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+"><title>([^<]*)</title>`)

// TestHTMLRetriedStretchColours checks that a task whose first attempt
// failed and whose retry succeeded is drawn as an error, then ok: each
// stretch in the colour of its own last attempt, not of the task's end.
func TestHTMLRetriedStretchColours(t *testing.T) {
	page := htmlOf(t, backoffRecorder())
	var classes []string
	for _, m := range rectClassRe.FindAllStringSubmatch(page, -1) {
		if strings.HasPrefix(m[2], "a&#10;") {
			classes = append(classes, m[1])
		}
	}
	if want := []string{"error", "ok"}; !slices.Equal(classes, want) {
		t.Errorf("a's bars drawn as %v, want %v", classes, want)
	}
	bars, _ := drawnOn(t, page, 1200)
	for _, b := range bars {
		if b.label != "a" {
			continue
		}
		// The hover text gives the task's outcome, and a failed stretch's own.
		if !strings.Contains(b.title, ", ok, 2 attempts") {
			t.Errorf("a's hover text %q does not give the task's outcome", b.title)
		}
		if failed := strings.Contains(b.title, "last attempt: error, then a retry"); failed != (b.from == 0) {
			t.Errorf("a's bar from %vms: hover text %q", b.from, b.title)
		}
	}
}

// TestHTMLAggregatedRetriedStretchColours checks the same in the
// aggregated view: the lane's time in a's failed attempt is an error.
func TestHTMLAggregatedRetriedStretchColours(t *testing.T) {
	page := htmlOf(t, backoffRecorder(WithMaxBars(1)))
	cells, _ := drawnOn(t, page, 1200)
	ms := rectClassRe.FindAllStringSubmatch(page, -1)
	if len(cells) == 0 || len(ms) != len(cells) {
		t.Fatalf("%d cells, %d classes", len(cells), len(ms))
	}
	if ms[0][1] != "error" || cells[0].from != 0 || cells[0].to > 100 {
		t.Errorf("first cell from %vms to %vms drawn as %s, want a's failed attempt (0 to 100ms) as error", cells[0].from, cells[0].to, ms[0][1])
	}
	for i, c := range cells {
		want := "ok"
		if c.to <= 100 {
			want = "error"
		}
		if ms[i][1] != want {
			t.Errorf("cell from %vms to %vms drawn as %s, want %s: %s", c.from, c.to, ms[i][1], want, c.title)
		}
	}
}
