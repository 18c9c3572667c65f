package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"unicode/utf8"
)

// Line is one input record: a non-blank, non-comment line, trimmed.
type Line struct {
	// Index numbers the records from 0 in input order (skipped lines do
	// not count).
	Index int
	// Text is the line, trimmed unless LineRules.Exact. For a line with Err
	// it is a shortened, valid UTF-8 form, fit for a record's output.
	Text string
	// Err is set when the line cannot be used: ErrLineTooLong, ErrNotUTF8
	// or ErrNUL. The record still exists and should fail with this error.
	Err error
}

// Errors of unusable input lines.
var (
	ErrLineTooLong = errors.New("line too long")
	ErrNotUTF8     = errors.New("line is not valid UTF-8")
	ErrNUL         = errors.New("line holds a NUL byte, which no program argument can")
)

// shownBytes is how much of an over-long line Line.Text keeps.
const shownBytes = 256

// LineRules say how a line becomes a record.
type LineRules struct {
	// SkipComments skips lines whose first non-blank byte is "#".
	SkipComments bool
	// Exact keeps each line as it is, but for a \r before its newline,
	// and takes any bytes: exec's arguments, file names among them, which
	// may have surrounding spaces and need not be UTF-8. Otherwise a line
	// is trimmed of surrounding white space and must be valid UTF-8 (URLs,
	// JSON).
	Exact bool
}

// LineReader streams the records of a line-oriented input: one per line
// (see LineRules), blank lines (empty or only white space) skipped. A line
// longer than the limit
// does not stop the input: it becomes a record with ErrLineTooLong (even a
// long comment), and reading goes on at the next line. Memory is bounded by
// MaxLineBytes, whatever the input's size.
type LineReader struct {
	r     *bufio.Reader
	max   int
	rules LineRules
	err   error
}

// NewLineReader returns a reader of r's records, lines of at most maxBytes
// bytes (before trimming).
func NewLineReader(r io.Reader, maxBytes int, rules LineRules) *LineReader {
	return newLineReader(r, maxBytes, rules, 64<<10)
}

// newLineReader lets tests use a small buffer, so that lines span reads.
func newLineReader(r io.Reader, maxBytes int, rules LineRules, bufSize int) *LineReader {
	return &LineReader{r: bufio.NewReaderSize(r, bufSize), max: maxBytes, rules: rules}
}

// Lines yields the records. It stops early at a read error, which Err then
// returns. It may be ranged over only once.
func (lr *LineReader) Lines() iter.Seq[Line] {
	return func(yield func(Line) bool) {
		var (
			buf   []byte
			index int
			first = true
		)
		for {
			line, tooLong, err := lr.readLine(buf[:0])
			buf = line
			if err != nil && err != io.EOF {
				lr.err = err
				return
			}
			if len(line) > 0 || tooLong {
				if first {
					line = bytes.TrimPrefix(line, []byte("\uFEFF")) // a byte order mark
				}
				if rec, ok := lr.record(line, tooLong); ok {
					rec.Index = index
					index++
					if !yield(rec) {
						return
					}
				}
			}
			first = false
			if err == io.EOF {
				return
			}
		}
	}
}

// Err returns the read error that stopped Lines, or nil at the end of the
// input.
func (lr *LineReader) Err() error { return lr.err }

// readLine appends the next line, without its newline, to buf. For a line
// over the limit it keeps the first bytes, discards the rest and reports
// tooLong. At the end of the input err is io.EOF (the line may be non-empty).
func (lr *LineReader) readLine(buf []byte) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if err == nil {
			chunk = chunk[:len(chunk)-1] // the newline
		}
		switch {
		case tooLong:
		case len(buf)+len(chunk) > lr.max+1: // +1: a CRLF line's \r is not the line's
			tooLong = true
			buf = append(buf, chunk[:min(len(chunk), max(0, shownBytes-len(buf)))]...)
		default:
			buf = append(buf, chunk...)
		}
		if err != bufio.ErrBufferFull {
			if !tooLong && len(buf) > lr.max && (len(buf) > lr.max+1 || buf[lr.max] != '\r') {
				tooLong = true
			}
			return buf, tooLong, err
		}
	}
}

// record makes the record of a raw line; ok is false for a skipped line.
func (lr *LineReader) record(line []byte, tooLong bool) (Line, bool) {
	text := bytes.TrimSpace(line)
	if lr.rules.Exact {
		line = bytes.TrimSuffix(line, []byte("\r"))
	} else {
		line = text
	}
	switch {
	case tooLong: // always a record, even if it might be a comment
		return Line{Text: shorten(line), Err: fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, lr.max)}, true
	case len(text) == 0, lr.rules.SkipComments && text[0] == '#':
		return Line{}, false
	case !lr.rules.Exact && !utf8.Valid(line):
		return Line{Text: shorten(line), Err: ErrNotUTF8}, true
	case lr.rules.Exact && bytes.IndexByte(line, 0) >= 0:
		return Line{Text: shorten(line), Err: ErrNUL}, true
	}
	return Line{Text: string(line)}, true
}

// shorten returns a valid UTF-8 form of line, cut to shownBytes.
func shorten(line []byte) string {
	cut := len(line) > shownBytes
	s := strings.ToValidUTF8(string(line[:min(len(line), shownBytes)]), "\uFFFD")
	if cut {
		s += "..."
	}
	return s
}

// ArgLines yields command-line arguments as records, with the same rules as
// a LineReader (blank arguments skipped).
func ArgLines(args []string, maxBytes int, rules LineRules) iter.Seq[Line] {
	return func(yield func(Line) bool) {
		lr := &LineReader{max: maxBytes, rules: rules}
		index := 0
		for _, a := range args {
			rec, ok := lr.record([]byte(a), len(a) > maxBytes)
			if !ok {
				continue
			}
			rec.Index = index
			index++
			if !yield(rec) {
				return
			}
		}
	}
}
