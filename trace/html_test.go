package trace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
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
