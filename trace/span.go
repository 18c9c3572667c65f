package trace

import (
	"context"
	"errors"
	"time"

	"github.com/fanout-go/fanout"
)

// Kind is how a task ended, as recorded in a [Span].
type Kind uint8

// The kinds of outcome. Queued and Running are for tasks that had not
// finished when the spans were read.
const (
	Queued    Kind = iota // not started yet
	Running               // started, not finished yet
	OK                    // returned a nil error
	Error                 // returned an error
	Timeout               // an attempt or the wait for a slot timed out
	Canceled              // its context was canceled or the executor closed
	Panic                 // the function panicked
	Abandoned             // settled while the function ignored its context
)

// kinds lists every Kind in display order.
var kinds = [...]Kind{OK, Error, Timeout, Canceled, Panic, Abandoned, Running, Queued}

var kindNames = [...]string{
	Queued:    "queued",
	Running:   "running",
	OK:        "ok",
	Error:     "error",
	Timeout:   "timeout",
	Canceled:  "canceled",
	Panic:     "panic",
	Abandoned: "abandoned",
}

// String returns the lower-case name used in logs and exports.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// MarshalText encodes the kind as its name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// finished reports whether the kind is a final outcome.
func (k Kind) finished() bool { return k >= OK }

// classify maps a settled task to its Kind. An abandoned task is Abandoned
// whatever ended it: its error text says why.
func classify(err error, abandoned bool) Kind {
	switch {
	case abandoned:
		return Abandoned
	case err == nil:
		return OK
	case isPanic(err):
		return Panic
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, fanout.ErrQueueTimeout):
		return Timeout
	case errors.Is(err, context.Canceled), errors.Is(err, fanout.ErrClosed):
		return Canceled
	}
	return Error
}

// isPanic is apart from classify so that successful tasks do not pay for
// errors.As's allocation.
func isPanic(err error) bool {
	var p *fanout.PanicError
	return errors.As(err, &p)
}

// A Span is one task's life as recorded. Times are zero when the task did
// not reach that point (Started for a task that never ran, Finished for one
// still in flight).
type Span struct {
	ID       uint64    `json:"id"`
	Label    string    `json:"label,omitempty"`
	Key      string    `json:"key,omitempty"`
	Lane     int       `json:"lane"` // concurrency slot of its first attempt, from 0; -1 if it never started
	Queued   time.Time `json:"queued"`
	Started  time.Time `json:"started,omitzero"`  // first attempt
	Finished time.Time `json:"finished,omitzero"` // when its last attempt returned; if it never ran, when it settled
	Attempts int       `json:"attempts"`
	Outcome  Kind      `json:"outcome"`
	Err      string    `json:"error,omitempty"` // the error text, cut to 256 bytes
}

// QueueWait is how long the task waited before its first attempt.
func (s Span) QueueWait() time.Duration {
	if s.Started.IsZero() {
		return 0
	}
	return s.Started.Sub(s.Queued)
}

// Duration is how long the task ran: from its first attempt's start to its
// last attempt's end (retries and their backoff included).
func (s Span) Duration() time.Duration {
	if s.Started.IsZero() || s.Finished.IsZero() {
		return 0
	}
	return s.Finished.Sub(s.Started)
}
