package cli

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
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
	// Outcome classifies a record for the summary and the exit code: failed
	// is true when the record has an error, class is its error kind, or for
	// a success a class worth counting (such as "2xx").
	Outcome func(R) (class string, failed bool)
}

// flushEvery is how long a record may wait in the output buffer when stdout
// is not a terminal: a pipe gets large writes yet sees progress.
const flushEvery = 200 * time.Millisecond

// Writer writes records in one format. It is not safe for concurrent use:
// one goroutine (Drive's loop) writes every record, so records never
// interleave. It buffers; Flush writes what is left.
type Writer[R any] struct {
	bw        *bufio.Writer
	format    Format
	spec      Records[R]
	enc       *json.Encoder
	csv       *csv.Writer
	each      bool // flush after every record (a terminal)
	lastFlush time.Time
	started   bool
	row       []string

	// AfterFlush, if set, is called after each successful Flush, Write's
	// own included: every record given to Write by then has reached the
	// underlying writer.
	AfterFlush func()
}

// NewWriter returns a writer of spec's records to w in format. When
// interactive (w is a terminal) each record is flushed at once.
func NewWriter[R any](w io.Writer, format Format, spec Records[R], interactive bool) *Writer[R] {
	bw := bufio.NewWriterSize(w, 64<<10)
	out := &Writer[R]{bw: bw, format: format, spec: spec, each: interactive, lastFlush: time.Now()}
	switch format {
	case CSV:
		out.csv = csv.NewWriter(bw)
	case Table:
	default:
		out.format = JSONL
		out.enc = json.NewEncoder(bw)
		out.enc.SetEscapeHTML(false) // keep & < > in URLs readable
	}
	return out
}

// Write writes one record.
func (w *Writer[R]) Write(r R) error {
	var err error
	switch w.format {
	case JSONL:
		err = w.enc.Encode(r)
	case CSV:
		err = w.writeCSV(r)
	case Table:
		err = w.writeTable(r)
	}
	if err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if w.each || time.Since(w.lastFlush) >= flushEvery {
		return w.Flush()
	}
	return nil
}

// Flush writes the buffered records.
func (w *Writer[R]) Flush() error {
	w.lastFlush = time.Now()
	if w.csv != nil {
		w.csv.Flush()
		if err := w.csv.Error(); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if w.AfterFlush != nil {
		w.AfterFlush()
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
		w.row[i] = c.Value(r)
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
				b.WriteString(strings.Repeat(" ", max(0, c.Width-len([]rune(v)))))
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
		if _, err := w.bw.WriteString(b.String()); err != nil {
			return err
		}
	}
	line(func(c Column[R]) string { return c.Value(r) })
	_, err := w.bw.WriteString(b.String())
	return err
}

// printable replaces control characters, which would garble a terminal.
func printable(r rune) rune {
	if r < ' ' || r == 0x7f {
		return '?'
	}
	return r
}
