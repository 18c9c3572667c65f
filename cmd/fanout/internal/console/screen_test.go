package console

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// render plays what a terminal shows for raw output: \r returns to the
// start of the line, ESC [ K erases to its end, other escape sequences are
// ignored, and \n ends the line. The pseudo-terminal test of the CLI uses
// the same rules (screenLines in the cli package).
func render(raw string) []string {
	var (
		lines []string
		line  []rune
		col   int
	)
	rs := []rune(raw)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\n':
			lines = append(lines, strings.TrimRight(string(line), " "))
			line, col = nil, 0
		case r == '\r':
			col = 0
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && (rs[j] < '@' || rs[j] > '~') {
				j++
			}
			if j < len(rs) && rs[j] == 'K' {
				line = line[:min(col, len(line))]
			}
			i = j
		default:
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
		}
	}
	if len(line) > 0 {
		lines = append(lines, strings.TrimRight(string(line), " "))
	}
	return lines
}

// Rows on stdout and messages on stderr, on one terminal, never share a
// line with the progress line, even when a row arrives in pieces.
func TestScreenKeepsProgressOffRows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var term lockedBuffer // stdout and stderr are one terminal
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
		got := render(raw)
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
