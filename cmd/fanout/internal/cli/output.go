package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"

	"github.com/fanout-go/fanout/cmd/fanout/internal/console"
)

// Column is one column of the csv and table output.
type Column[R any] struct {
	Name string
	// Width pads the column in a table; 0 for none (the last column).
	Width int
	Value func(R) string
}

// Records describes a subcommand's output records of type R. In jsonl each
// record is R encoded by encoding/json (so R's field tags name the fields);
// csv and table use the columns.
type Records[R any] struct {
	// Noun names the records in messages, plural: "URLs".
	Noun string
	// CSV lists the csv columns: the jsonl fields, by the same names.
	CSV []Column[R]
	// Table lists the columns people read on a terminal.
	Table []Column[R]
	// Index is the record's position in the input, from 0: the task that
	// made it is the Index-th queued on the run's executor.
	Index func(R) int
	// Outcome classifies a record for the exit code and every summary.
	Outcome func(R) Outcome
	// Attempts, when set, says how many attempts the record counts: with
	// 0, the trace counts its task as never started (the executor may
	// have called a function that returned at once).
	Attempts func(R) int
	// JSON, when set, appends the jsonl form of a record to dst, without
	// the newline: the same bytes as encoding/json with HTML escaping off,
	// without its reflection and allocations (about 2% of `fanout http`'s
	// CPU at 7,000 records a second). nil: encoding/json.
	JSON func(dst []byte, r R) []byte
}

// Writer writes records in one format. It is not safe for concurrent use:
// one goroutine (Drive's loop) writes every record, so records never
// interleave. It buffers, and flushes on its own when idle for
// console.IdleDelay (so a reader at the end of a pipe gets each record
// promptly); on a terminal it flushes every record. Close flushes what is
// left.
type Writer[R any] struct {
	out     *console.IdleWriter
	format  Format
	spec    Records[R]
	enc     *json.Encoder
	csv     *csv.Writer
	each    bool // flush after every record (a terminal)
	started bool
	row     []string
	buf     []byte // a record being encoded by spec.JSON
}

// NewWriter returns a writer of spec's records to w in format. When
// interactive (w is a terminal) each record is flushed at once.
func NewWriter[R any](w io.Writer, format Format, spec Records[R], interactive bool) *Writer[R] {
	iw := console.NewIdleWriter(w, 64<<10, console.IdleDelay)
	out := &Writer[R]{out: iw, format: format, spec: spec, each: interactive}
	switch format {
	case CSV:
		out.csv = csv.NewWriter(iw)
	case Table:
	default:
		out.format = JSONL
		out.enc = json.NewEncoder(iw)
		out.enc.SetEscapeHTML(false) // keep & < > in URLs readable
	}
	return out
}

// Write writes one record.
func (w *Writer[R]) Write(r R) error {
	var err error
	switch w.format {
	case JSONL:
		if w.spec.JSON != nil {
			w.buf = append(w.spec.JSON(w.buf[:0], r), '\n')
			_, err = w.out.Write(w.buf)
			break
		}
		err = w.enc.Encode(r)
	case CSV:
		err = w.writeCSV(r)
		if err == nil {
			// The csv package buffers on its own: hand the row on, so the
			// idle flush sees it.
			w.csv.Flush()
			err = w.csv.Error()
		}
	case Table:
		err = w.writeTable(r)
	}
	if err == nil && w.each {
		err = w.out.Flush()
	}
	if err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// Flush writes the buffered records.
func (w *Writer[R]) Flush() error {
	if err := w.out.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// AfterFlush makes f run after every successful flush of the output, the
// idle flush on its timer's goroutine included, while the flush still holds
// the output: every record that Write had returned from by then has reached
// the underlying writer.
func (w *Writer[R]) AfterFlush(f func()) { w.out.AfterFlush(f) }

// Close stops the idle flushes and writes what is left.
func (w *Writer[R]) Close() error {
	if err := w.out.Close(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

func (w *Writer[R]) writeCSV(r R) error {
	if !w.started {
		w.started = true
		for _, c := range w.spec.CSV {
			w.row = append(w.row, c.Name)
		}
		if err := w.csv.Write(w.row); err != nil {
			return err
		}
	}
	for i, c := range w.spec.CSV {
		w.row[i] = strings.Map(csvSafe, c.Value(r))
	}
	return w.csv.Write(w.row)
}

func (w *Writer[R]) writeTable(r R) error {
	var b strings.Builder
	line := func(value func(Column[R]) string) {
		b.Reset()
		for i, c := range w.spec.Table {
			if i > 0 {
				b.WriteString("  ")
			}
			v := strings.Map(printable, value(c))
			b.WriteString(v)
			if c.Width > 0 && i < len(w.spec.Table)-1 {
				b.WriteString(strings.Repeat(" ", max(0, c.Width-displayWidth(v))))
			}
		}
		trimmed := strings.TrimRight(b.String(), " ")
		b.Reset()
		b.WriteString(trimmed)
		b.WriteByte('\n')
	}
	if !w.started {
		w.started = true
		line(func(c Column[R]) string { return c.Name })
		if _, err := io.WriteString(w.out, b.String()); err != nil {
			return err
		}
	}
	line(func(c Column[R]) string { return c.Value(r) })
	_, err := io.WriteString(w.out, b.String())
	return err
}

// csvSafe replaces control characters but tab and newline (which a quoted
// CSV field keeps) in a CSV field: an escape sequence or a carriage return
// in a URL or an error text would garble a terminal or a spreadsheet.
func csvSafe(r rune) rune {
	if r == '\t' || r == '\n' {
		return r
	}
	return printable(r)
}

// displayWidth is how many terminal columns s takes: East Asian wide and
// full-width characters take two, combining marks and format characters
// none.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		case width.LookupRune(r).Kind() == width.EastAsianWide, width.LookupRune(r).Kind() == width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// printable replaces control characters (C0, DEL and C1, whose CSI some
// terminals obey), which would garble a terminal.
func printable(r rune) rune {
	if isControl(r) {
		return '?'
	}
	return r
}

func isControl(r rune) bool { return r < ' ' || r >= 0x7f && r <= 0x9f }

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it with HTML escaping off: quote, backslash and control
// characters escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029 as
// \u2028 and \u2029.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= ' ' && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSONFloat appends f as encoding/json writes a float64: like %g,
// but exponents only below 1e-6 and from 1e21, and not padded. f must be
// finite.
func appendJSONFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
