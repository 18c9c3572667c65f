package trace

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxBars is how many tasks the HTML timeline draws one bar each;
// see [WithMaxBars].
const DefaultMaxBars = 5000

// WithMaxBars sets how many tasks [Recorder.WriteHTML] draws as one bar
// each (default [DefaultMaxBars]). Above it, and above 200 lanes, each lane
// is cut into time buckets drawn as one cell each, so the page stays small
// and fast with any number of tasks; the page says so.
func WithMaxBars(n int) Option {
	return func(c *config) { c.maxBars = max(n, 1) }
}

const (
	svgWidth    = 1200.0
	plotLeft    = 64.0
	plotRight   = 28.0
	chartTop    = 8.0
	chartHeight = 80.0
	lanesTop    = chartTop + chartHeight + 26
	maxRows     = 200 // lanes drawn one row each; more lanes share rows
	buckets     = 300 // time buckets per row when aggregated
	columns     = 600 // resolution of the running-tasks chart
)

const plotWidth = svgWidth - plotLeft - plotRight

// bar is one stretch of a task (see Recorder.stretches) drawn on its
// lane: the whole task, unless it waited between attempts.
type bar struct {
	label, err string
	id         uint64
	start, end int64 // of the stretch
	dur        int64 // of the task, first attempt to finish
	wait       int64 // for the first attempt
	backoff    int64 // between attempts, summed
	lane       int32
	attempts   int32
	kind       Kind // the task's outcome
	stretch    Kind // how this stretch ended: its colour
}

// gap is a wait of a task between two stretches (a retry's backoff,
// holding no slot), drawn on the lane of the stretch before it.
type gap struct {
	label    string
	from, to int64
	lane     int32
}

// cell is a run of time buckets on one row, merged when they look alike.
type cell struct {
	row, from, to int   // buckets [from, to)
	kind          Kind  // the outcome that took most of the time
	level         int   // busy share in quarters, 1..4
	busy          int64 // summed busy time
	done          [len(kindNames)]int32
}

// timeline is what the HTML page draws, taken under r.mu.
type timeline struct {
	zero, end   int64
	lanes, rows int
	perRow      int // lanes per row
	aggregated  bool
	bars        []bar
	gaps        []gap
	cells       []cell
	running     []int // most tasks running in each column
	limits      []limitPoint
	keyLimits   []keyLimitSeries // the busiest keys' (keylimits.go)
	notStarted  int
}

// WriteHTML writes a self-contained HTML page (no scripts, fonts, images
// or fetches; a Content-Security-Policy forbids them) showing the summary,
// any warnings, and the timeline as SVG: a chart of the tasks running over
// time against the limit, then one lane per concurrency slot with a bar
// per task coloured by outcome (hover for label, duration, attempts and
// error), and a time axis. A task that waited between attempts (a retry's
// backoff, holding no slot) has a bar per stretch of attempts, each
// coloured by how its last attempt ended, and a dashed line for each
// wait, so that waiting does not look like running. Labels
// are escaped. Past [WithMaxBars] tasks the lanes are drawn as merged time
// buckets and the page says so.
func (r *Recorder) WriteHTML(w io.Writer) error {
	sum := r.Summary()
	r.mu.Lock()
	tl := r.timeline(0)
	r.mu.Unlock()
	bw := bufio.NewWriterSize(w, 64<<10)
	writePage(bw, sum, tl, r.cfg.maxBars)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write html timeline: %w", err)
	}
	return nil
}

// WriteHTMLFile writes [Recorder.WriteHTML] to a new file at path
// (replacing any file there).
func (r *Recorder) WriteHTMLFile(path string) error {
	return writeFile(path, r.WriteHTML)
}

// timeline lays the run out over at least minSpan nanoseconds from its
// start (0: its own length); r.mu is held.
func (r *Recorder) timeline(minSpan int64) *timeline {
	lanes := r.assignLanes()
	tl := &timeline{zero: r.zero(), end: r.last, lanes: lanes.count, limits: r.limits}
	tl.end = max(tl.end, tl.zero+minSpan)
	_, tl.keyLimits = r.busiestKeyLimits(maxKeyLines)
	if tl.end <= tl.zero {
		tl.end = tl.zero + 1
	}
	tl.rows, tl.perRow = tl.lanes, 1
	if tl.lanes > maxRows {
		tl.perRow = (tl.lanes + maxRows - 1) / maxRows
		tl.rows = (tl.lanes + tl.perRow - 1) / tl.perRow
	}
	started := 0
	r.spans.each(func(_ int32, sp *span) {
		if sp.has(flagStarted) {
			started++
		} else {
			tl.notStarted++
		}
	})
	tl.aggregated = started > r.cfg.maxBars || tl.perRow > 1
	end := func(sp *span) int64 {
		if sp.has(flagFinished) {
			return sp.finished
		}
		return r.last
	}
	if tl.aggregated {
		tl.cells = r.cells(tl, &lanes, end)
	} else {
		tl.bars = make([]bar, 0, started)
		r.spans.each(func(i int32, sp *span) {
			if !sp.has(flagStarted) {
				return
			}
			b := bar{
				label: displayLabel(sp), err: sp.err, id: sp.id, dur: end(sp) - sp.started,
				wait: sp.started - sp.queued, attempts: sp.attempts, kind: sp.kind,
			}
			for _, w := range r.waits[i] {
				b.backoff += w.to - w.from
			}
			k := 0
			for st := range r.stretches(i, sp.started, end(sp)) {
				b.start, b.end, b.lane = st.from, st.to, lanes.of(i, k)
				b.stretch = r.stretchKind(i, sp, k)
				if k > 0 {
					prev := tl.bars[len(tl.bars)-1]
					tl.gaps = append(tl.gaps, gap{label: b.label, from: prev.end, to: st.from, lane: prev.lane})
				}
				tl.bars = append(tl.bars, b)
				k++
			}
		})
	}
	tl.running = make([]int, columns)
	width := float64(tl.end - tl.zero)
	col := func(t int64) int { return min(int(float64(t-tl.zero)/width*columns), columns-1) }
	pts := r.counts(true)
	for i, p := range pts {
		last := r.last
		if i+1 < len(pts) {
			last = pts[i+1].at
		}
		for c := col(p.at); c <= col(max(last-1, p.at)); c++ {
			tl.running[c] = max(tl.running[c], p.n)
		}
	}
	return tl
}

// cells sums busy time per row, bucket and outcome, then merges
// neighbouring buckets of one row that look the same; r.mu is held.
func (r *Recorder) cells(tl *timeline, lanes *lanes, end func(*span) int64) []cell {
	width := float64(tl.end-tl.zero) / buckets
	busy := make([][len(kindNames)]int64, tl.rows*buckets)
	done := make([][len(kindNames)]int32, tl.rows*buckets)
	bucket := func(t int64) int { return min(int(float64(t-tl.zero)/width), buckets-1) }
	r.spans.each(func(i int32, sp *span) {
		if !sp.has(flagStarted) {
			return
		}
		k, row := 0, 0
		for st := range r.stretches(i, sp.started, end(sp)) {
			row = int(lanes.of(i, k)) / tl.perRow
			kind := r.stretchKind(i, sp, k)
			for b := bucket(st.from); b <= bucket(st.to); b++ {
				lo := tl.zero + int64(float64(b)*width)
				hi := tl.zero + int64(float64(b+1)*width)
				if d := min(st.to, hi) - max(st.from, lo); d > 0 {
					busy[row*buckets+b][kind] += d
				}
			}
			k++
		}
		done[row*buckets+bucket(end(sp))][sp.kind]++
	})
	capacity := width * float64(tl.perRow)
	var out []cell
	for row := range tl.rows {
		var cur *cell
		for b := range buckets {
			i := row*buckets + b
			var total int64
			kind := OK
			for k, d := range busy[i] {
				total += d
				if d > busy[i][kind] {
					kind = Kind(k)
				}
			}
			var finished int32
			for _, n := range done[i] {
				finished += n
			}
			if total == 0 && finished == 0 {
				cur = nil
				continue
			}
			level := min(max(int(math.Ceil(float64(total)/capacity*4)), 1), 4)
			if cur == nil || cur.kind != kind || cur.level != level {
				out = append(out, cell{row: row, from: b, kind: kind, level: level})
				cur = &out[len(out)-1]
			}
			cur.to = b + 1
			cur.busy += total
			for k, n := range done[i] {
				cur.done[k] += n
			}
		}
	}
	return out
}

// page writes the HTML; b keeps going after a write error, which the
// bufio.Writer remembers and Flush returns.
type page struct {
	*bufio.Writer
	tl *timeline
	// suffix makes the element ids of one run of several unique ("-2").
	suffix string
}

// id returns an element id for the page's run.
func (p page) id(name string) string { return name + p.suffix }

func (p page) f(format string, args ...any) { fmt.Fprintf(p, format, args...) }

func (p page) x(t int64) float64 {
	return plotLeft + float64(t-p.tl.zero)/float64(p.tl.end-p.tl.zero)*plotWidth
}

func (p page) rowHeight() float64 {
	return min(max(math.Floor(600/float64(max(p.tl.rows, 1))), 3), 18)
}

var kindColors = [...]string{
	Queued:    "#b0bec5",
	Running:   "#1e88e5",
	OK:        "#43a047",
	Error:     "#e53935",
	Timeout:   "#fb8c00",
	Canceled:  "#9e9e9e",
	Panic:     "#8e24aa",
	Abandoned: "#6d4c41",
}

const pageStyle = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 12px}
h2{font-size:16px;margin:20px 0 8px}
.figures{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 12px;padding:0}
.figures div{border:1px solid #ddd;border-radius:6px;padding:6px 12px;min-width:96px}
.figures dt{font-size:12px;color:#666}
.figures dd{margin:0;font-size:18px;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
td,th{padding:3px 12px 3px 0;text-align:right;white-space:nowrap}
th{font-weight:600;color:#555}
td.label,th.label{text-align:left;white-space:normal;word-break:break-all;max-width:640px}
.warning{background:#fff4e5;border-left:4px solid #fb8c00;padding:8px 12px;margin:8px 0;border-radius:4px}
.notice{background:#e8f1fb;border-left:4px solid #1e88e5;padding:8px 12px;margin:8px 0;border-radius:4px}
.legend{display:flex;flex-wrap:wrap;gap:16px;margin:8px 0}
.legend span{display:inline-flex;align-items:center;gap:6px}
.legend i{display:inline-block;width:14px;height:14px;border-radius:3px}
svg{display:block;width:100%;height:auto;border:1px solid #eee;border-radius:6px}
svg text{font:11px system-ui,sans-serif;fill:#555}
svg .grid{stroke:#eee}
svg .axis{stroke:#999}
svg .area{fill:#1e88e5;fill-opacity:.25;stroke:#1e88e5;stroke-width:1}
svg .limit{fill:none;stroke:#e53935;stroke-dasharray:4 3;stroke-width:1.5}
g.lanes rect{stroke:#fff;stroke-width:.6}
g.lanes rect:hover{stroke:#000;stroke-width:1}
g.lanes line.wait{stroke:#757575;stroke-width:2;stroke-dasharray:4 3}
g.lanes line.wait:hover{stroke:#000}
.code{background:#f6f8fa;border-radius:6px;padding:8px 12px;font:13px/1.4 ui-monospace,monospace;white-space:pre;overflow-x:auto}
svg .keylimit{fill:none;stroke-width:1.2}
svg .l1{fill-opacity:.3}svg .l2{fill-opacity:.55}svg .l3{fill-opacity:.8}
`

func writePage(w *bufio.Writer, s Summary, tl *timeline, maxBars int) {
	writeHead(w, fmt.Sprintf("fanout timeline: %d tasks", s.Tasks))
	w.WriteString("<h1>fanout timeline</h1>\n")
	page{Writer: w, tl: tl}.run(s, maxBars)
	w.WriteString("</body>\n</html>\n")
}

func writeHead(w *bufio.Writer, title string) {
	fmt.Fprintf(w, `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>%s`, esc(title), pageStyle)
	for k, c := range kindColors {
		fmt.Fprintf(w, "svg .%s{fill:%s}\n", Kind(k), c)
	}
	w.WriteString("</style>\n</head>\n<body>\n")
}

// run writes one run's summary, warnings, legend, timeline and slowest
// tasks.
func (p page) run(s Summary, maxBars int) {
	tl := p.tl
	p.summary(s)
	for _, warn := range s.Warnings {
		p.f("<p class=\"warning\" role=\"alert\">Warning: %s</p>\n", esc(warn))
	}
	if tl.aggregated {
		why := fmt.Sprintf("%d tasks ran, more than the %d drawn one bar each", s.Started, maxBars)
		if tl.perRow > 1 {
			why = fmt.Sprintf("%d lanes are more than %d rows; each row holds %d lanes, and is labelled with their numbers", tl.lanes, maxRows, tl.perRow)
		}
		p.f(`<p class="notice" id="%s">Aggregated view: %s, so each lane is cut into %d time buckets of %s. `+
			`A bucket's colour is the outcome that took most of its time, its shade how busy the lane was; `+
			`hover a bucket for its counts. The slowest tasks are listed below the timeline.</p>`+"\n",
			p.id("aggregated"), esc(why), buckets, fmtDur(time.Duration(float64(tl.end-tl.zero)/buckets)))
	}
	p.legend(s.Outcomes, len(tl.gaps) > 0)
	p.svg(s)
	p.slowest(s.Slowest)
}

func (p page) summary(s Summary) {
	p.f(`<section id="%s"><dl class="figures">`+"\n", p.id("summary"))
	fig := func(id, name, value string) {
		p.f(`<div><dt>%s</dt><dd id="%s">%s</dd></div>`+"\n", name, p.id(id), esc(value))
	}
	fig("tasks", "tasks", strconv.Itoa(s.Tasks))
	fig("wall", "wall time", fmtDur(s.Wall))
	fig("busy", "busy time", fmtDur(s.Busy))
	fig("effective", "effective concurrency", strconv.FormatFloat(s.Effective, 'f', 2, 64))
	fig("peak", "peak concurrency", strconv.Itoa(s.Peak))
	limit := "unknown"
	if s.Limit > 0 {
		limit = strconv.Itoa(s.Limit)
		if s.LimitMax != s.Limit {
			limit += fmt.Sprintf(" (max %d)", s.LimitMax)
		}
	}
	fig("limit", "limit", limit)
	fig("attempts", "attempts", fmt.Sprintf("%d (%d retried)", s.Attempts, s.Retried))
	p.f("</dl>\n<table><tr><th></th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>\n")
	for _, row := range []struct {
		name string
		p    Percentiles
	}{{"queue wait", s.QueueWait}, {"duration", s.Duration}} {
		p.f("<tr><th>%s</th><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			row.name, fmtDur(row.p.P50), fmtDur(row.p.P95), fmtDur(row.p.P99), fmtDur(row.p.Max))
	}
	p.f("</table></section>\n")
}

// legend names the outcomes' colours and, when a task waited between
// attempts (waits true), the line drawn for its wait.
func (p page) legend(o Outcomes, waits bool) {
	p.f(`<div class="legend" id="%s">`, p.id("legend"))
	for _, k := range kinds {
		n := *o.of(k)
		if n == 0 && !k.finished() {
			continue
		}
		p.f(`<span><i style="background:%s"></i>%s %d</span>`, kindColors[k], k, n)
	}
	if waits {
		p.f(`<span><i style="height:0;border-top:2px dashed #757575;border-radius:0"></i>waiting for a retry (counts are tasks by how they ended; a bar before a wait has the colour of the attempt that failed)</span>`)
	}
	p.f("</div>\n")
}

func (p page) svg(s Summary) {
	tl := p.tl
	rh := p.rowHeight()
	lanesBottom := lanesTop + rh*float64(tl.rows)
	height := lanesBottom + 30
	p.f(`<svg id="%s" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" role="img" aria-label="timeline of %d tasks on %d lanes">`+"\n",
		p.id("timeline"), svgWidth, height, s.Tasks, tl.lanes)
	// Time grid and axis.
	step := tickStep(time.Duration(tl.end - tl.zero))
	for t := time.Duration(0); t <= time.Duration(tl.end-tl.zero); t += step {
		x := p.x(tl.zero + int64(t))
		p.f(`<line class="grid" x1="%.1f" x2="%.1f" y1="%.0f" y2="%.1f"/>`, x, x, chartTop, lanesBottom)
		p.f(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, lanesBottom+18, tickLabel(t, step))
	}
	p.f(`<line class="axis" x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f"/>`+"\n", plotLeft, svgWidth-plotRight, lanesBottom, lanesBottom)
	p.chart()
	p.f(`<g id="%s" class="lanes">`, p.id("lanes"))
	for row := range tl.rows {
		y := lanesTop + rh*float64(row)
		every := int(math.Ceil(12 / rh))
		if row%every == 0 {
			name := "slot " + strconv.Itoa(row+1)
			if tl.perRow > 1 {
				// The range alone: "slots 103-104" is wider than the
				// space left of the plot (the page says rows hold slots).
				name = fmt.Sprintf("%d-%d", row*tl.perRow+1, min((row+1)*tl.perRow, tl.lanes))
			}
			p.f(`<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`, plotLeft-6, y+min(rh, 12)-2, name)
		}
	}
	p.f("\n")
	if tl.aggregated {
		p.cells()
	} else {
		p.bars()
	}
	p.f("</g>\n</svg>\n")
}

// chart draws the tasks running over time as an area, and the limit.
func (p page) chart() {
	tl := p.tl
	top := 1
	for _, n := range tl.running {
		top = max(top, n)
	}
	for _, l := range tl.limits {
		top = max(top, l.limit)
	}
	for _, s := range tl.keyLimits {
		for _, l := range s.points {
			top = max(top, l.limit)
		}
	}
	y := func(n int) float64 { return chartTop + chartHeight - float64(n)/float64(top)*chartHeight }
	colW := plotWidth / columns
	var d strings.Builder
	fmt.Fprintf(&d, "M%.1f %.1f", plotLeft, y(0))
	for c, n := range tl.running {
		fmt.Fprintf(&d, "V%.1fH%.1f", y(n), plotLeft+colW*float64(c+1))
	}
	fmt.Fprintf(&d, "V%.1fZ", y(0))
	p.f(`<g id="%s"><text x="%.0f" y="%.1f" text-anchor="end">%d</text><text x="%.0f" y="%.1f" text-anchor="end">0</text>`,
		p.id("concurrency"), plotLeft-6, chartTop+9, top, plotLeft-6, chartTop+chartHeight)
	p.f(`<text x="%.0f" y="%.1f">running tasks (blue)%s</text>`, plotLeft+4, chartTop+chartHeight+16,
		map[bool]string{true: ", limit (red dashes)", false: ""}[len(tl.limits) > 0])
	p.f(`<path class="area" d="%s"><title>tasks running over time (most per %s)</title></path>`,
		d.String(), fmtDur(time.Duration(float64(tl.end-tl.zero)/columns)))
	if len(tl.limits) > 0 {
		d.Reset()
		for i, l := range tl.limits {
			x := max(p.x(l.at), plotLeft)
			if i == 0 {
				fmt.Fprintf(&d, "M%.1f %.1f", x, y(l.limit))
			} else {
				fmt.Fprintf(&d, "H%.1fV%.1f", x, y(l.limit))
			}
		}
		fmt.Fprintf(&d, "H%.1f", svgWidth-plotRight)
		p.f(`<path class="limit" d="%s"><title>concurrency limit</title></path>`, d.String())
	}
	p.keyLimitLines(y)
	p.f("</g>\n")
}

// bars draws the gaps, then the bars over them: where another task ran on
// a lane while a task waited there for its retry, the other task's bar
// hides that part of the gap.
func (p page) bars() {
	rh := p.rowHeight()
	for _, g := range p.tl.gaps {
		y := lanesTop + rh*float64(g.lane) + rh/2
		p.f(`<line class="wait" x1="%.2f" x2="%.2f" y1="%.1f" y2="%.1f"><title>%s&#10;waiting %s for a retry, holding no slot</title></line>`+"\n",
			p.x(g.from), p.x(g.to), y, y, esc(g.label), fmtDur(time.Duration(g.to-g.from)))
	}
	for _, b := range p.tl.bars {
		x := p.x(b.start)
		w := max(p.x(b.end)-x, 0.5)
		y := lanesTop + rh*float64(b.lane) + 1
		p.f(`<rect class="%s" x="%.2f" y="%.1f" width="%.2f" height="%.1f"><title>%s&#10;%s, %s, %s, waited %s`,
			b.stretch, x, y, w, max(rh-2, 1), esc(b.label), fmtDur(time.Duration(b.dur)), b.kind,
			plural(int(b.attempts), "attempt"), fmtDur(time.Duration(b.wait)))
		if b.stretch != b.kind {
			p.f("&#10;this stretch's last attempt: %s, then a retry", b.stretch)
		}
		if b.backoff > 0 {
			p.f("&#10;ran %s; waited %s between attempts for retries, holding no slot",
				fmtDur(time.Duration(b.dur-b.backoff)), fmtDur(time.Duration(b.backoff)))
		}
		if b.err != "" {
			p.f("&#10;%s", esc(b.err))
		}
		p.f("</title></rect>\n")
	}
}

func (p page) cells() {
	tl := p.tl
	rh := p.rowHeight()
	width := float64(tl.end-tl.zero) / buckets
	for _, c := range tl.cells {
		from, to := tl.zero+int64(float64(c.from)*width), tl.zero+int64(float64(c.to)*width)
		x := p.x(from)
		level := ""
		if c.level < 4 {
			level = " l" + strconv.Itoa(c.level)
		}
		busy := float64(c.busy) / (float64(to-from) * float64(tl.perRow)) * 100
		p.f(`<rect class="%s%s" x="%.2f" y="%.1f" width="%.2f" height="%.1f"><title>%s to %s: %.0f%% busy, mostly %s`,
			c.kind, level, x, lanesTop+rh*float64(c.row)+1, p.x(to)-x, max(rh-2, 1),
			fmtDur(time.Duration(from-tl.zero)), fmtDur(time.Duration(to-tl.zero)), busy, c.kind)
		var done []string
		total := 0
		for _, k := range kinds {
			if n := c.done[k]; n > 0 {
				done = append(done, fmt.Sprintf("%d %s", n, k))
				total += int(n)
			}
		}
		if total > 0 {
			p.f("; %d finished: %s", total, strings.Join(done, ", "))
		}
		p.f("</title></rect>\n")
	}
}

func (p page) slowest(spans []Span) {
	if len(spans) == 0 {
		return
	}
	p.f("<h2>Slowest tasks</h2>\n<table id=\"%s\"><tr>", p.id("slowest"))
	p.f("<th>duration</th><th>waited</th><th>outcome</th><th>attempts</th><th>slot</th><th class=\"label\">label</th></tr>\n")
	for _, s := range spans {
		label := s.Label
		if label == "" {
			label = "task " + strconv.FormatUint(s.ID, 10)
		}
		if s.Err != "" {
			label += " (" + s.Err + ")"
		}
		p.f("<tr><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td class=\"label\">%s</td></tr>\n",
			fmtDur(s.Duration()), fmtDur(s.QueueWait()), s.Outcome, s.Attempts, s.Lane+1, esc(label))
	}
	p.f("</table>\n")
}

// tickStep picks a round step giving about 6 to 12 ticks over d.
func tickStep(d time.Duration) time.Duration {
	step := time.Duration(1)
	for {
		for _, m := range []time.Duration{1, 2, 5} {
			if d/(step*m) <= 12 {
				return step * m
			}
		}
		step *= 10
	}
}

func tickLabel(t, step time.Duration) string {
	if t == 0 {
		return "0"
	}
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "µs"}} {
		if step >= u.d/10 && t >= u.d {
			return strconv.FormatFloat(float64(t)/float64(u.d), 'f', -1, 64) + u.name
		}
	}
	return t.String()
}

// esc escapes text for HTML content and attributes, and replaces invalid
// UTF-8 and control characters, which labels (user input) may hold.
func esc(s string) string {
	clean := strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, s)
	return html.EscapeString(clean)
}
