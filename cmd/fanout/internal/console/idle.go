package console

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// IdleDelay is how long written output may wait in an [IdleWriter]'s
// buffer: short enough that a reader at the end of a pipe sees a record
// at once to a person, long enough that a fast run still writes in large
// blocks.
const IdleDelay = 100 * time.Millisecond

// IdleWriter is a buffered writer that flushes on its own at most delay
// after the first byte that is waiting, and when the buffer fills. One
// flush per delay costs nothing next to a run's throughput, and a record
// never waits in the buffer for the next one: a record written into a
// pipe reaches the reader within delay even when the input is quiet.
//
// It is safe for concurrent use (the idle flush runs on a timer's
// goroutine). A write error, including one met by an idle flush, is
// returned by the next Write, Flush or Close.
type IdleWriter struct {
	mu     sync.Mutex
	bw     *bufio.Writer
	delay  time.Duration
	timer  *time.Timer
	armed  bool
	closed bool
	err    error
	after  func()
}

// AfterFlush makes f run after every successful flush that wrote
// something, under the writer's lock: what Write had returned from before
// the flush began has reached the underlying writer when f runs.
func (w *IdleWriter) AfterFlush(f func()) {
	w.mu.Lock()
	w.after = f
	w.mu.Unlock()
}

// NewIdleWriter returns a writer to w with a buffer of size bytes that
// flushes delay after the first unflushed write.
func NewIdleWriter(w io.Writer, size int, delay time.Duration) *IdleWriter {
	iw := &IdleWriter{bw: bufio.NewWriterSize(w, size), delay: delay}
	iw.timer = time.AfterFunc(time.Hour, iw.idleFlush)
	iw.timer.Stop()
	return iw
}

// Write buffers p.
func (w *IdleWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.err = err
		return n, err
	}
	if w.bw.Buffered() > 0 && !w.armed && !w.closed {
		w.armed = true
		w.timer.Reset(w.delay)
	}
	return n, nil
}

func (w *IdleWriter) idleFlush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	if !w.closed {
		w.flushLocked()
	}
}

func (w *IdleWriter) flushLocked() error {
	if w.err == nil {
		w.err = w.bw.Flush()
		if w.err == nil && w.after != nil {
			w.after()
		}
	}
	return w.err
}

// Flush writes what is buffered now.
func (w *IdleWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

// Close stops the idle flushes and flushes what is left. It does not close
// the underlying writer.
func (w *IdleWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.timer.Stop()
	return w.flushLocked()
}
