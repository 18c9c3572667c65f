package console

import (
	"github.com/fanout-go/fanout/cmd/fanout/internal/console/consoletest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// Rows on stdout and messages on stderr, on one terminal, never share a
// line with the progress line, even when a row arrives in pieces.
func TestScreenKeepsProgressOffRows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var term consoletest.Buffer // stdout and stderr are one terminal
		s := NewScreen(&term, &term, true, true, func() int { return 80 })
		p := NewProgress("URLs", 3, time.Now())
		stop := s.ShowProgress(p, 100*time.Millisecond)
		out, msg := s.Stdout(), s.Stderr()
		for i := range 3 {
			time.Sleep(150 * time.Millisecond) // the line is drawn
			out.Write([]byte("row "))
			time.Sleep(150 * time.Millisecond) // no redraw within a row
			out.Write([]byte("end\n"))
			p.Add(1)
			if i == 1 {
				msg.Write([]byte("fanout: a message\n"))
			}
		}
		time.Sleep(150 * time.Millisecond)
		stop()
		raw := term.String()
		if !strings.Contains(raw, "fanout: 2/3 URLs") {
			t.Fatalf("the progress line was never drawn: %q", raw)
		}
		want := []string{"row end", "row end", "fanout: a message", "row end"}
		got := consoletest.Lines(raw)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("the terminal shows:\n%s\nwant:\n%s\n(raw %q)", strings.Join(got, "\n"), strings.Join(want, "\n"), raw)
		}
	})
}

// Without a terminal on stderr nothing but the records and messages is
// written.
func TestScreenWithoutTerminal(t *testing.T) {
	var out, errs strings.Builder
	s := NewScreen(&out, &errs, false, false, nil)
	stop := s.ShowProgress(NewProgress("URLs", -1, time.Now()), time.Millisecond)
	s.Stdout().Write([]byte("a\n"))
	s.Stderr().Write([]byte("m\n"))
	stop()
	if out.String() != "a\n" || errs.String() != "m\n" {
		t.Errorf("stdout %q, stderr %q", out.String(), errs.String())
	}
}
