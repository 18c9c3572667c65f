package lambdainvoke

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
)

func TestClassifyWithoutAnswer(t *testing.T) {
	tests := []struct {
		err  error
		want ErrorKind
	}{
		{nil, ""},
		{&PayloadError{Reason: "x"}, KindInvalidPayload},
		{&PayloadError{TooLarge: true}, KindTooLarge},
		{fmt.Errorf("op: %w", context.Canceled), KindCanceled},
		{fanout.ErrClosed, KindCanceled},
		{fanout.ErrTimeout, KindTimeout},
		{fanout.ErrQueueTimeout, KindTimeout},
		{fmt.Errorf("op: %w", context.DeadlineExceeded), KindTimeout},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, KindConnect},
		{&net.DNSError{Err: "no such host", IsNotFound: true}, KindConnect},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, KindConnect},
		{errors.New("get identity: failed to refresh cached credentials, no EC2 IMDS role found"), KindAccessDenied},
		{errors.New("something else"), KindOther},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	safe := &Invoker{}
	unsafe := &Invoker{cfg: Config{RetryUnsafe: true}}
	refused := &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Err: syscall.ECONNRESET}
	tests := []struct {
		err          error
		safe, unsafe bool
	}{
		{&AttemptError{Sent: false, Err: refused}, true, true},
		{&AttemptError{Sent: true, Err: reset}, false, true},
		{&AttemptError{Sent: true, Err: context.DeadlineExceeded}, false, true},
		{&AttemptError{Sent: false, Err: context.DeadlineExceeded}, true, true},
		{&AttemptError{Sent: true, Err: context.Canceled}, false, false},
		{fanout.RetryAfter(&AttemptError{Sent: false, Err: refused}, time.Second), true, true},
		{fanout.ErrTimeout, false, true},
		{&PayloadError{Reason: "x"}, false, false},
	}
	for _, tt := range tests {
		if got := safe.Retryable(tt.err); got != tt.safe {
			t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.safe)
		}
		if got := unsafe.Retryable(tt.err); got != tt.unsafe {
			t.Errorf("with RetryUnsafe, Retryable(%v) = %v, want %v", tt.err, got, tt.unsafe)
		}
	}
}
