package httpcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/fanout-go/fanout"
)

// Result is the outcome of checking one URL: one record of `fanout http`'s
// output. A 4xx or 5xx answer is a result (Status), not an error; Err is set
// only when no usable answer came.
type Result struct {
	// Index is the position of the URL in the input, from 0.
	Index int `json:"index"`
	// URL is the URL as given.
	URL string `json:"url"`
	// Status is the final HTTP status code; 0 when no response came. A
	// failed check may carry the last status seen, such as the 302 of a
	// redirect loop or the 429 of a retry cut short.
	Status int `json:"status"`
	// FinalURL is the URL that gave Status, after redirects. A check that
	// failed after a response (a redirect to a URL that failed, or to a
	// Location that could not be followed) has the URL of its last
	// request, and the redirects it followed.
	FinalURL string `json:"final_url"`
	// Redirects is how many redirects were followed.
	Redirects int `json:"redirects"`
	// Attempts is how many requests were tried (retries included; 0 when
	// the check never started).
	Attempts int `json:"attempts"`
	// DurationMS is the time from the first attempt's start to the last
	// attempt's end, in milliseconds, retry waits included.
	DurationMS float64 `json:"duration_ms"`
	// Error is Err's text, without the URL the record already names.
	Error string `json:"error,omitempty"`
	// ErrorKind classifies Err (see Classify).
	ErrorKind ErrorKind `json:"error_kind,omitempty"`

	// Err is the error of a failed check; nil on success.
	Err error `json:"-"`
	// Duration is DurationMS as a time.Duration.
	Duration time.Duration `json:"-"`
}

// ErrorKind names the class of a failed check.
type ErrorKind string

// The error kinds, as `fanout http` writes them in error_kind.
const (
	KindInvalidURL       ErrorKind = "invalid_url"        // not an absolute http(s) URL, or an unreadable input line
	KindDNS              ErrorKind = "dns"                // the host name did not resolve
	KindConnect          ErrorKind = "connect"            // the TCP connection could not be made (refused, unreachable)
	KindReset            ErrorKind = "reset"              // the server reset or closed the connection without an answer
	KindTLS              ErrorKind = "tls"                // TLS handshake or certificate verification failed
	KindTimeout          ErrorKind = "timeout"            // the attempt ran out of time
	KindTooManyRedirects ErrorKind = "too_many_redirects" // more redirects than allowed
	KindCanceled         ErrorKind = "canceled"           // the run was interrupted before the check ended
	KindOther            ErrorKind = "other"              // anything else
)

// ErrTooManyRedirects is the error of a check that met more redirects than
// Config.MaxRedirects allows.
var ErrTooManyRedirects = errors.New("too many redirects")

// InvalidURLError is the error of an input that is not an absolute http or
// https URL, or a line that could not be read as one.
type InvalidURLError struct {
	URL    string
	Reason string
	Err    error // the parse error, if any
}

func (e *InvalidURLError) Error() string { return "invalid URL: " + e.Reason }
func (e *InvalidURLError) Unwrap() error { return e.Err }

// StatusError is the error a check's attempt returns for a status worth
// retrying (429, 503) so that the executor's retry policy sees it. When the
// retries run out the status becomes the result, not an error.
type StatusError struct{ Status int }

func (e *StatusError) Error() string { return "HTTP status " + strconv.Itoa(e.Status) }

// Classify returns the kind of a check's error ("" for nil). It looks through
// wrapping with errors.Is and errors.As, in this order: invalid URL, too many
// redirects, interruption, DNS, TLS, timeout, reset, connect.
func Classify(err error) ErrorKind {
	if err == nil {
		return ""
	}
	var (
		invalid *InvalidURLError
		dnsErr  *net.DNSError
		netErr  net.Error
		opErr   *net.OpError
	)
	switch {
	case errors.As(err, &invalid):
		return KindInvalidURL
	case errors.Is(err, ErrTooManyRedirects):
		return KindTooManyRedirects
	case errors.Is(err, context.Canceled), errors.Is(err, fanout.ErrClosed):
		return KindCanceled
	case errors.As(err, &dnsErr):
		return KindDNS
	case isTLS(err):
		return KindTLS
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, fanout.ErrQueueTimeout),
		errors.As(err, &netErr) && netErr.Timeout():
		return KindTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return KindReset
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EADDRNOTAVAIL),
		errors.As(err, &opErr) && opErr.Op == "dial":
		return KindConnect
	}
	return KindOther
}

func isTLS(err error) bool {
	var (
		header     tls.RecordHeaderError
		alert      tls.AlertError
		verify     *tls.CertificateVerificationError
		unknown    x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		systemRoot x509.SystemRootsError
	)
	return errors.As(err, &header) || errors.As(err, &alert) || errors.As(err, &verify) ||
		errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &systemRoot)
}

// describe returns err's text without the "Get "URL": " prefix of a
// *url.Error: the record names the URL already.
func describe(err error) string {
	var (
		invalid *InvalidURLError
		timeout *timeoutError
	)
	switch {
	case errors.As(err, &invalid):
		return invalid.Error()
	case errors.As(err, &timeout):
		return timeout.Error()
	}
	var ue *url.Error
	for errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the server closed the connection without a complete response (" + err.Error() + ")"
	}
	return err.Error()
}

// canceledError marks the error of an attempt whose context was canceled.
type canceledError struct{ err error }

func (e *canceledError) Error() string   { return e.err.Error() }
func (e *canceledError) Unwrap() error   { return e.err }
func (e *canceledError) Is(t error) bool { return t == context.Canceled }

// timeoutError is the error of an attempt that ran out of Config.Timeout.
type timeoutError struct {
	after time.Duration
	err   error
}

func (e *timeoutError) Error() string   { return "timed out after " + e.after.String() }
func (e *timeoutError) Unwrap() error   { return e.err }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Is(t error) bool { return t == context.DeadlineExceeded }
