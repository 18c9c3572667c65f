package console

import (
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// Screen serializes every write to stdout and stderr with a status line
// drawn on stderr. When stderr is a terminal the status line sits on the
// terminal's last line: each write erases it first, and it is drawn again
// (by ShowProgress's redraw loop) only when the cursor is at the start of
// a line, so it never splits a row or a message. When stderr is not a
// terminal there is no status line and writes pass straight through.
//
// A Screen is safe for concurrent use. Writes cost one mutex; erasing the
// status line costs one extra small write to stderr, only when it is shown.
type Screen struct {
	mu          sync.Mutex
	stdout      io.Writer
	stderr      io.Writer
	tty         bool       // stderr is a terminal: the status line may be drawn
	sameTTY     bool       // stdout is that terminal too: its writes erase the line
	width       func() int // the terminal's width; nil or <= 0 for unknown
	shown       bool       // the status line is on the terminal now
	atLineStart bool       // the last byte written to the terminal ended a line

	wg sync.WaitGroup // the redraw loop of ShowProgress
}

// NewScreen returns a screen over the standard streams. stderrTTY and
// stdoutTTY say which of them are terminals (both the same one when both
// are); width reports the terminal's width, so the status line never wraps.
func NewScreen(stdout, stderr io.Writer, stdoutTTY, stderrTTY bool, width func() int) *Screen {
	return &Screen{
		stdout: stdout, stderr: stderr,
		tty: stderrTTY, sameTTY: stderrTTY && stdoutTTY,
		width: width, atLineStart: true,
	}
}

// Stdout returns the writer of records.
func (s *Screen) Stdout() io.Writer { return screenWriter{s, false} }

// Stderr returns the writer of messages: whole lines, such as fanout's
// warnings and log lines.
func (s *Screen) Stderr() io.Writer { return screenWriter{s, true} }

type screenWriter struct {
	s      *Screen
	stderr bool
}

func (w screenWriter) Write(p []byte) (int, error) {
	s := w.s
	if !w.stderr && !s.sameTTY {
		// Records to a file or a pipe cannot disturb the terminal: write
		// them without the lock, so that a reader that stops reading
		// blocks only the records, never a message such as the interrupt
		// warning.
		return s.stdout.Write(p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stdout
	if w.stderr {
		out = s.stderr
	}
	onTTY := w.stderr && s.tty || !w.stderr && s.sameTTY
	if onTTY {
		s.eraseLocked()
	}
	n, err := out.Write(p)
	if onTTY && n > 0 {
		s.atLineStart = p[n-1] == '\n'
	}
	return n, err
}

// eraseLocked removes the status line; s.mu is held.
func (s *Screen) eraseLocked() {
	if s.shown {
		io.WriteString(s.stderr, "\r\x1b[K")
		s.shown = false
	}
}

// drawLocked shows line as the status line; s.mu is held. It waits while
// a row or message is half written.
func (s *Screen) drawLocked(line string) {
	if !s.tty || !s.atLineStart {
		return
	}
	if s.width != nil {
		if w := s.width(); w > 1 {
			line = clip(line, w-1)
		}
	}
	io.WriteString(s.stderr, "\r"+line+"\x1b[K")
	s.shown = true
}

// clip cuts s to n runes (the status line is ASCII but for the noun).
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// ShowProgress draws p's status line every interval until the returned
// stop function is called; stop erases the line and waits for the redraw
// loop to end. Without a terminal on stderr it does nothing.
func (s *Screen) ShowProgress(p *Progress, interval time.Duration) (stop func()) {
	if !s.tty || p == nil {
		return func() {}
	}
	done := make(chan struct{})
	s.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.mu.Lock()
			s.drawLocked(p.Line(time.Now()))
			s.mu.Unlock()
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			s.wg.Wait()
			s.mu.Lock()
			s.eraseLocked()
			s.mu.Unlock()
		})
	}
}
