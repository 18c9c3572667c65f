package console

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fanout-go/fanout/cmd/fanout/internal/console/consoletest"
)

// A record written and then left alone reaches the underlying writer within
// the idle delay, without a further write or a Flush: the bug was a record
// held until the next one came.
func TestIdleWriterFlushesWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out consoletest.Buffer
		w := NewIdleWriter(&out, 4096, 100*time.Millisecond)
		w.Write([]byte("one\n"))
		time.Sleep(99 * time.Millisecond)
		if got := out.String(); got != "" {
			t.Fatalf("flushed after 99ms: %q", got)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if got := out.String(); got != "one\n" {
			t.Fatalf("after the idle delay: %q, want the record", got)
		}
		// A steady trickle is flushed every delay, not held until a pause.
		for range 10 {
			w.Write([]byte("x"))
			time.Sleep(30 * time.Millisecond)
		}
		synctest.Wait()
		if got := out.String(); !strings.HasPrefix(got, "one\nxxx") {
			t.Errorf("during a trickle: %q, want the first records out", got)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); got != "one\n"+strings.Repeat("x", 10) {
			t.Errorf("after Close: %q", got)
		}
	})
}

// Many small writes in a burst go out in few large writes.
func TestIdleWriterBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c countingWriter
		w := NewIdleWriter(&c, 64<<10, 100*time.Millisecond)
		for range 10000 {
			w.Write([]byte("0123456789\n"))
		}
		w.Close()
		if c.writes > 3 || c.bytes != 110000 {
			t.Errorf("%d writes of %d bytes for 10000 records, want 2 large ones", c.writes, c.bytes)
		}
	})
}

type countingWriter struct{ writes, bytes int }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	c.bytes += len(p)
	return len(p), nil
}

// AfterFlush is how --resume commits journal lines: it must run after every
// successful flush, the idle one on the timer's goroutine too, when the
// bytes written before it are in the underlying writer, and never after a
// failed flush.
func TestIdleWriterAfterFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out consoletest.Buffer
		w := NewIdleWriter(&out, 4096, 100*time.Millisecond)
		var seen []string
		w.AfterFlush(func() { seen = append(seen, out.String()) })
		w.Write([]byte("one\n"))
		time.Sleep(150 * time.Millisecond) // the idle flush
		synctest.Wait()
		w.Write([]byte("two\n"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		want := []string{"one\n", "one\ntwo\n"}
		if !slices.Equal(seen, want) {
			t.Errorf("AfterFlush saw %q, want %q", seen, want)
		}
	})

	w := NewIdleWriter(failingWriter{}, 4096, time.Hour)
	called := false
	w.AfterFlush(func() { called = true })
	w.Write([]byte("lost\n"))
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed write returned nil")
	}
	if called {
		t.Error("AfterFlush ran after a failed flush: a journal would mark unwritten records done")
	}
}

type failingWriter struct{}

func (failingWriter) Write(p []byte) (int, error) { return 0, errors.New("disk full") }
