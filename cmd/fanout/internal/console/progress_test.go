package console

import (
	"strings"
	"testing"
	"time"
)

// The rate is not shown before a second has passed, so the first records
// do not claim an absurd rate, and afterwards it follows the recent rate
// smoothly; the ETA comes from it and the total.
func TestProgressLine(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewProgress("URLs", 1000, t0)
	p.Add(50)
	if got := p.Line(t0.Add(time.Millisecond)); strings.Contains(got, "/s") || got != "fanout: 50/1000 URLs  [0s]" {
		t.Errorf("first tick: %q", got)
	}
	p.Add(50) // 100 in the first second
	if got := p.Line(t0.Add(time.Second)); got != "fanout: 100/1000 URLs  100/s  ETA 9s  [1s]" {
		t.Errorf("after 1s: %q", got)
	}
	// A burst of 1000/s for 0.2s moves the shown rate only part of the way.
	p.Add(200)
	got := p.Line(t0.Add(1200 * time.Millisecond))
	if !strings.Contains(got, "fanout: 300/1000 URLs  136/s") {
		t.Errorf("after a burst: %q, want the rate smoothed to 136/s", got)
	}
}

// Without a total the line shows the count and rate only.
func TestProgressLineUnknownTotal(t *testing.T) {
	t0 := time.Now()
	p := NewProgress("invocations", -1, t0)
	p.Add(7)
	if got := p.Line(t0.Add(2 * time.Second)); got != "fanout: 7 invocations  3.50/s  [2s]" {
		t.Errorf("line = %q", got)
	}
	p.SetTotal(14)
	if got := p.Line(t0.Add(3 * time.Second)); !strings.HasPrefix(got, "fanout: 7/14 invocations") || !strings.Contains(got, "ETA") {
		t.Errorf("once the total is known: %q", got)
	}
}
