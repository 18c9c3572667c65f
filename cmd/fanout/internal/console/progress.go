package console

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress counts finished records and renders the status line:
//
//	fanout: 197/1000 URLs  31.2/s  ETA 26s
//
// The total is known when the records were counted (arguments, or a
// regular input file counted in the background and given to SetTotal).
// The rate is smoothed (an exponentially weighted mean
// over about five seconds) and shown from the first second on, so the
// first records do not claim a rate of 100,000/s. Add is one atomic add:
// call it for every record.
type Progress struct {
	noun  string
	start time.Time
	done  atomic.Int64
	total atomic.Int64 // < 0: unknown

	mu       sync.Mutex // guards the smoothing state, touched by Line
	lastAt   time.Time
	lastDone int64
	rate     float64 // records per second; < 0 until the first second passed
}

// NewProgress starts counting records named noun ("URLs"); total is their
// number, or -1 when unknown.
func NewProgress(noun string, total int, now time.Time) *Progress {
	p := &Progress{noun: noun, start: now, lastAt: now, rate: -1}
	p.total.Store(int64(total))
	return p
}

// Add counts n finished records.
func (p *Progress) Add(n int) { p.done.Add(int64(n)) }

// SetTotal sets the number of records once it is known.
func (p *Progress) SetTotal(n int) { p.total.Store(int64(n)) }

// smoothing is the weight of a new rate sample per second of its interval.
const smoothing = 0.2

// Line renders the status line at time now.
func (p *Progress) Line(now time.Time) string {
	done, total := p.done.Load(), p.total.Load()
	p.mu.Lock()
	elapsed := now.Sub(p.start).Seconds()
	if dt := now.Sub(p.lastAt).Seconds(); dt > 0 && elapsed >= 1 {
		sample := float64(done-p.lastDone) / dt
		if p.rate < 0 {
			p.rate = float64(done) / elapsed
		} else {
			w := min(1, smoothing*dt)
			p.rate = w*sample + (1-w)*p.rate
		}
		p.lastAt, p.lastDone = now, done
	}
	rate := p.rate
	p.mu.Unlock()

	var b strings.Builder
	fmt.Fprintf(&b, "fanout: %d", done)
	var eta time.Duration = -1
	switch {
	case total >= 0:
		total = max(total, done)
		fmt.Fprintf(&b, "/%d %s", total, p.noun)
		if rate > 0 && total >= done {
			eta = time.Duration(float64(total-done) / rate * float64(time.Second))
		}
	default:
		fmt.Fprintf(&b, " %s", p.noun)
	}
	if rate >= 0 {
		fmt.Fprintf(&b, "  %s/s", fmtRate(rate))
	}
	if eta >= 0 {
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	fmt.Fprintf(&b, "  [%s]", time.Duration(elapsed*float64(time.Second)).Round(time.Second))
	return b.String()
}

// fmtRate shows three significant digits at most: 0.52, 31.2, 1250.
func fmtRate(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.2f", r)
}
