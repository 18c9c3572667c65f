package cli

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is the progress bar on stderr, or nothing when it is off. Other
// stderr messages go through Writer, which clears the bar first so lines do
// not mix with it.
type progress struct {
	mu  sync.Mutex
	bar *progressbar.ProgressBar // nil when off
	w   io.Writer
}

// newProgress starts a bar counting records; total < 0 means unknown.
func newProgress(w io.Writer, on bool, total int, noun string) *progress {
	p := &progress{w: w}
	if !on {
		return p
	}
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("fanout"),
		progressbar.OptionSetItsString(noun),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(100*time.Millisecond),
		// No ticker goroutine for an unknown total: the bar moves as
		// records come.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionClearOnFinish(),
	)
	return p
}

// Add counts one record.
func (p *progress) Add() {
	if p.bar != nil {
		p.bar.Add(1)
	}
}

// Finish removes the bar.
func (p *progress) Finish() {
	if p.bar != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.bar.Finish()
		p.bar.Clear()
		p.bar.Exit()
	}
}

// Write writes a message line to stderr below a cleared bar.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	return p.w.Write(b)
}
