package fanout

import (
	"context"
	"errors"
	"fmt"
	"time"
)

var (
	// ErrClosed is the error of a task submitted to an Executor after Close
	// or Shutdown, or still waiting when Shutdown canceled it.
	ErrClosed = errors.New("fanout: executor closed")

	// ErrQueueTimeout is the error of a task that waited longer than the
	// executor's queue timeout (see WithQueueTimeout) for a slot. The task
	// never ran.
	ErrQueueTimeout = errors.New("fanout: timed out waiting for a slot")

	// ErrTimeout is the cause of an attempt that ran longer than the
	// executor's per-attempt timeout (see WithTimeout). It matches
	// context.DeadlineExceeded with errors.Is.
	ErrTimeout error = timeoutError{}
)

type timeoutError struct{}

func (timeoutError) Error() string { return "fanout: attempt timed out" }

// Is makes errors.Is(ErrTimeout, context.DeadlineExceeded) true, so code that
// checks for deadlines keeps working.
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// Timeout reports true, like net.Error.
func (timeoutError) Timeout() bool { return true }

// errShutdown is the cause given to tasks canceled by Shutdown: it matches
// both ErrClosed and context.Canceled.
var errShutdown = fmt.Errorf("%w: shut down: %w", ErrClosed, context.Canceled)

// PanicError is the error of a task whose function panicked. The executor
// recovers every panic in a task so that one bad call cannot take the
// process down; Value and Stack keep what is needed to debug it.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the stack of the panicking goroutine (runtime/debug.Stack)
}

func (p *PanicError) Error() string {
	return fmt.Sprintf("fanout: task panicked: %v", p.Value)
}

// Unwrap returns the panic value when it is an error, so errors.Is and
// errors.As see through a panic(err).
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// RetryAfterError carries a server's hint of how long to wait before the
// next attempt (an HTTP Retry-After header, Lambda's RetryAfterSeconds).
// The executor's backoff waits at least After, capped by
// RetryPolicy.MaxRetryAfter. Build one with RetryAfter.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %v)", e.Err, e.After)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns err annotated with a server's hint to wait at least d
// before retrying. It returns nil when err is nil.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryAfterError{Err: err, After: d}
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying, whatever the retry policy's
// predicate says. It returns nil when err is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
