package procrun

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
)

// Capture says what to keep of one output stream (stdout or stderr) of a
// job.
type Capture struct {
	// Limit is the most bytes kept; the rest is read and dropped (Output
	// then reports Truncated). 0 keeps everything.
	Limit int64
	// Memory is how many bytes are held in memory before the rest spills
	// to a temporary file (in TempDir, or the system's); 0 means 64 KiB.
	// The file is unlinked as soon as it is made, so nothing is left
	// behind even if the process dies; Output.Close releases it.
	Memory  int
	TempDir string
	// Lines, when set, receives the stream as it comes, a whole line at a
	// time, instead of keeping it. A last line without a newline gets one.
	Lines *LineWriter
}

// DefaultMemory is Capture.Memory's default.
const DefaultMemory = 64 << 10

// Output is what a job wrote on one stream. It is written by the job's
// reader goroutine and read once the job has ended.
type Output struct {
	cfg       Capture
	mem       bytes.Buffer
	file      *os.File
	kept      int64 // bytes kept (memory and file)
	total     int64 // bytes received
	partial   []byte
	err       error // the first error of spilling or of Lines
	truncated bool
}

func newOutput(c Capture) *Output {
	if c.Memory <= 0 {
		c.Memory = DefaultMemory
	}
	return &Output{cfg: c}
}

// Write takes a chunk of the job's output. It never fails, so the job's
// pipe is always drained: problems are kept for Err.
func (o *Output) Write(p []byte) (int, error) {
	n := len(p)
	o.total += int64(n)
	if o.cfg.Lines != nil {
		o.writeLines(p)
		return n, nil
	}
	if o.cfg.Limit > 0 && o.kept+int64(len(p)) > o.cfg.Limit {
		p = p[:max(0, o.cfg.Limit-o.kept)]
		o.truncated = true
	}
	if len(p) == 0 {
		return n, nil
	}
	if o.file == nil && o.mem.Len()+len(p) > o.cfg.Memory && o.err == nil {
		f, err := os.CreateTemp(o.cfg.TempDir, "fanout-exec-*")
		if err == nil {
			os.Remove(f.Name()) // lives until closed
			o.file = f
			if _, err := o.file.Write(o.mem.Bytes()); err != nil {
				o.err = fmt.Errorf("spilling output to a temporary file: %w", err)
			}
			o.mem = bytes.Buffer{}
		} else {
			o.err = fmt.Errorf("spilling output to a temporary file: %w", err)
		}
	}
	if o.file != nil {
		if _, err := o.file.Write(p); err != nil && o.err == nil {
			o.err = fmt.Errorf("spilling output to a temporary file: %w", err)
		}
	} else if o.err == nil {
		o.mem.Write(p)
	} else {
		o.truncated = true // no room: keep what memory holds
		return n, nil
	}
	o.kept += int64(len(p))
	return n, nil
}

// maxLine is the longest line --line-buffer holds: a longer one is written
// in pieces of this size (each still whole against other jobs' lines).
const maxLine = 64 << 10

func (o *Output) writeLines(p []byte) {
	for len(p) > 0 {
		i := bytes.LastIndexByte(p, '\n')
		if i < 0 {
			o.partial = append(o.partial, p...)
			if len(o.partial) >= maxLine {
				o.flushPartial()
			}
			return
		}
		if len(o.partial) > 0 {
			// Complete the held line with the first line of p, then the rest.
			j := bytes.IndexByte(p, '\n')
			o.partial = append(o.partial, p[:j+1]...)
			o.flushPartial()
			p = p[j+1:]
			continue
		}
		o.lineWrite(p[:i+1])
		p = p[i+1:]
	}
}

func (o *Output) flushPartial() {
	if len(o.partial) > 0 {
		o.lineWrite(o.partial)
		o.partial = o.partial[:0]
	}
}

func (o *Output) lineWrite(p []byte) {
	if err := o.cfg.Lines.write(p); err != nil && o.err == nil {
		o.err = err
	}
}

// finish writes a last unterminated line in line mode, with a newline so
// that it cannot run into another job's line.
func (o *Output) finish() {
	if o.cfg.Lines != nil && len(o.partial) > 0 {
		o.partial = append(o.partial, '\n')
		o.flushPartial()
	}
}

// Len returns how many bytes are kept.
func (o *Output) Len() int64 { return o.kept }

// Total returns how many bytes the job wrote on the stream.
func (o *Output) Total() int64 { return o.total }

// Truncated reports whether some output was dropped (beyond Capture.Limit,
// or when spilling failed).
func (o *Output) Truncated() bool { return o.truncated }

// Err returns a problem met while keeping or forwarding the output.
func (o *Output) Err() error { return o.err }

// WriteTo writes the kept output to w, byte for byte.
func (o *Output) WriteTo(w io.Writer) (int64, error) {
	if o.file == nil {
		return io.Copy(w, bytes.NewReader(o.mem.Bytes()))
	}
	if _, err := o.file.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	return io.Copy(w, o.file)
}

// String returns the kept output. Prefer WriteTo for output that may be
// large.
func (o *Output) String() string {
	if o.file == nil {
		return o.mem.String()
	}
	var b bytes.Buffer
	o.WriteTo(&b)
	return b.String()
}

// Close releases the memory and the temporary file.
func (o *Output) Close() error {
	o.mem = bytes.Buffer{}
	if o.file != nil {
		err := o.file.Close()
		o.file = nil
		return err
	}
	return nil
}

// LineWriter is the destination shared by the jobs of a --line-buffer run:
// each write is one or more whole lines of one job, so lines of different
// jobs never mix. It is safe for concurrent use.
type LineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLineWriter returns a LineWriter writing to w.
func NewLineWriter(w io.Writer) *LineWriter { return &LineWriter{w: w} }

func (l *LineWriter) write(p []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.w.Write(p)
	return err
}
