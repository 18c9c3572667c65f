// Package consoletest helps tests of terminal output: it plays back what a
// terminal shows for the raw bytes written to it, so a test can assert on
// the lines a person would see (no progress text inside a row, no torn
// rows).
package consoletest

import (
	"strings"
	"sync"
)

// Lines plays raw terminal output as a terminal shows it: \r returns
// to the start of the line, ESC [ K erases to its end, other escape
// sequences draw nothing, \n ends the line. Trailing blanks are dropped.
func Lines(raw string) []string {
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
		case r < ' ':
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

// Buffer collects what a program writes while the test reads it: a
// strings.Builder safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
