package httpcheck

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
)

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "http://example.com/", Err: err} }
	tests := []struct {
		err  error
		want ErrorKind
	}{
		{nil, ""},
		{&InvalidURLError{Reason: "x"}, KindInvalidURL},
		{wrap(fmt.Errorf("%w: more than 3", ErrTooManyRedirects)), KindTooManyRedirects},
		{wrap(context.Canceled), KindCanceled},
		{fanout.ErrClosed, KindCanceled},
		{wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", IsNotFound: true}}), KindDNS},
		{wrap(x509.HostnameError{}), KindTLS},
		{wrap(x509.UnknownAuthorityError{}), KindTLS},
		{wrap(context.DeadlineExceeded), KindTimeout},
		{fanout.ErrTimeout, KindTimeout},
		{fanout.ErrQueueTimeout, KindTimeout},
		{&timeoutError{after: time.Second, err: wrap(context.DeadlineExceeded)}, KindTimeout},
		{wrap(&net.OpError{Op: "read", Err: syscall.ECONNRESET}), KindReset},
		{wrap(io.EOF), KindReset},
		{wrap(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), KindConnect},
		{wrap(&net.OpError{Op: "dial", Err: errors.New("odd")}), KindConnect},
		{wrap(errors.New("odd")), KindOther},
		{fanout.RetryAfter(wrap(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), time.Second), KindConnect},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	for err, want := range map[error]bool{
		&StatusError{Status: 429}:                                 true,
		fanout.RetryAfter(&StatusError{Status: 503}, time.Second): true,
		&StatusError{Status: 500}:                                 false,
		&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}:       true,
		&timeoutError{after: time.Second}:                         true,
		&net.OpError{Op: "read", Err: syscall.ECONNRESET}:         false,
		&InvalidURLError{}:                                        false,
	} {
		if got := Retryable(err); got != want {
			t.Errorf("Retryable(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		d    time.Duration
		okay bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 3 ", 3 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"99999999999", 24 * time.Hour, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		d, ok := retryAfter(tt.v, now)
		if d != tt.d || ok != tt.okay {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.v, d, ok, tt.d, tt.okay)
		}
	}
}
