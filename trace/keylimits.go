package trace

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fanout-go/fanout"
)

// maxKeyLines is how many keys' adaptive limits the HTML chart draws and
// the summary lists: the busiest (most tasks).
const maxKeyLines = 5

var _ fanout.KeyLimitObserver = (*Recorder)(nil)

// KeyLimitChanged implements [fanout.KeyLimitObserver]: the adaptive limits
// of the busiest keys are drawn over time in the HTML timeline, and the
// summary says the range each moved through.
func (r *Recorder) KeyLimitChanged(key string, limit int, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keyLimits == nil {
		r.keyLimits = make(map[string][]limitPoint)
	}
	r.keyLimits[key] = append(r.keyLimits[key], limitPoint{at: r.offset(at), limit: limit})
}

// KeyLimit is the range a key's adaptive limit moved through.
type KeyLimit struct {
	Key   string `json:"key"`
	Tasks int    `json:"tasks"` // the key's tasks
	Min   int    `json:"min"`
	Max   int    `json:"max"`
	Last  int    `json:"last"`
}

// keyLimitSeries is one key's limit over time, for the chart.
type keyLimitSeries struct {
	key    string
	points []limitPoint
}

// busiestKeyLimits returns the ranges of the n keys with an adaptive limit
// that had the most tasks, busiest first, and their series; r.mu is held.
func (r *Recorder) busiestKeyLimits(n int) ([]KeyLimit, []keyLimitSeries) {
	if len(r.keyLimits) == 0 {
		return nil, nil
	}
	tasks := make(map[string]int, len(r.keyLimits))
	r.spans.each(func(_ int32, sp *span) {
		if _, ok := r.keyLimits[sp.key]; ok {
			tasks[sp.key]++
		}
	})
	out := make([]KeyLimit, 0, len(r.keyLimits))
	for key, pts := range r.keyLimits {
		k := KeyLimit{Key: key, Tasks: tasks[key], Min: pts[0].limit, Max: pts[0].limit, Last: pts[len(pts)-1].limit}
		for _, p := range pts {
			k.Min, k.Max = min(k.Min, p.limit), max(k.Max, p.limit)
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tasks != out[j].Tasks {
			return out[i].Tasks > out[j].Tasks
		}
		return out[i].Key < out[j].Key
	})
	out = out[:min(n, len(out))]
	series := make([]keyLimitSeries, len(out))
	for i, k := range out {
		series[i] = keyLimitSeries{key: k.Key, points: r.keyLimits[k.Key]}
	}
	return out, series
}

// limitRanges formats the summary's line of limit ranges, or "".
func (s Summary) limitRanges() string {
	var parts []string
	if s.Limit > 0 && s.LimitMin != s.LimitMax {
		parts = append(parts, fmt.Sprintf("overall %d..%d (last %d)", s.LimitMin, s.LimitMax, s.Limit))
	}
	for _, k := range s.KeyLimits {
		parts = append(parts, fmt.Sprintf("%s %d..%d (last %d)", k.Key, k.Min, k.Max, k.Last))
	}
	return strings.Join(parts, ", ")
}

// keyLimitColors tell the busiest keys' limit lines apart.
var keyLimitColors = []string{"#8e24aa", "#00897b", "#f4511e", "#3949ab", "#6d4c41"}

// keyLimitLines draws each busy key's adaptive limit as a thin step line.
func (p page) keyLimitLines(y func(int) float64) {
	for i, s := range p.tl.keyLimits {
		var d strings.Builder
		for j, l := range s.points {
			x := max(p.x(l.at), plotLeft)
			if j == 0 {
				fmt.Fprintf(&d, "M%.1f %.1f", x, y(l.limit))
			} else {
				fmt.Fprintf(&d, "H%.1fV%.1f", x, y(l.limit))
			}
		}
		fmt.Fprintf(&d, "H%.1f", svgWidth-plotRight)
		p.f(`<path class="keylimit" stroke="%s" d="%s"><title>limit of %s</title></path>`,
			keyLimitColors[i%len(keyLimitColors)], d.String(), esc(s.key))
	}
	if len(p.tl.keyLimits) == 0 {
		return
	}
	p.f(`<text x="%.0f" y="%.1f" text-anchor="end">limits of the busiest keys:`, svgWidth-plotRight, chartTop+chartHeight+16)
	for i, s := range p.tl.keyLimits {
		p.f(` <tspan fill="%s">&#9472; %s</tspan>`, keyLimitColors[i%len(keyLimitColors)], esc(cut(s.key, 40)))
	}
	p.f("</text>")
}
