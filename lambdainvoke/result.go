package lambdainvoke

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fanout-go/fanout"
)

// Result is the outcome of one payload: one record of `fanout lambda`'s
// output. A function error (Handled or Unhandled) is a result with
// FunctionError set, not an error: the call worked and the function failed.
// Err is set only when the call itself failed.
type Result struct {
	// Index is the payload's position in the input, from 0.
	Index int `json:"index"`
	// Status is the HTTP status: 200 (RequestResponse), 202 (Event) or
	// 204 (DryRun); for a failed call the error's status (429, 404, 500...)
	// or 0 when no answer came.
	Status int `json:"status"`
	// FunctionError is "", "Handled" or "Unhandled".
	FunctionError string `json:"function_error"`
	// ExecutedVersion is the version that ran, such as "$LATEST" or "3".
	ExecutedVersion string `json:"executed_version"`
	// Response is the function's answer: the JSON value when it parses,
	// else a JSON string of its text. Absent when there is none (Event,
	// DryRun, errors).
	Response json.RawMessage `json:"response,omitempty"`
	// LogTail is the decoded log tail, when the template asked for Tail.
	LogTail string `json:"log_tail,omitempty"`
	// Attempts is how many calls were sent or tried (0 when none was).
	Attempts int `json:"attempts"`
	// DurationMS is the time from the first attempt's start to the last
	// attempt's end, in milliseconds, retry waits included.
	DurationMS float64 `json:"duration_ms"`
	// Error is Err's text.
	Error string `json:"error,omitempty"`
	// ErrorKind classifies Err (see Classify).
	ErrorKind ErrorKind `json:"error_kind,omitempty"`
	// MayHaveRun is true on a failed result when an attempt was sent and
	// its outcome is unknown (a connection lost after sending, a timeout
	// or an interruption while waiting for the answer) or was a 5xx: the
	// function may have run, and Invoke is not idempotent.
	MayHaveRun bool `json:"may_have_run,omitempty"`

	// Err is the error of a failed call; nil on success.
	Err error `json:"-"`
	// Duration is DurationMS as a time.Duration.
	Duration time.Duration `json:"-"`
}

// ErrorKind names the class of a failed call.
type ErrorKind string

// The error kinds, as `fanout lambda` writes them in error_kind.
const (
	KindInvalidPayload ErrorKind = "invalid_payload" // not JSON, or an unreadable input line; nothing sent
	KindTooLarge       ErrorKind = "too_large"       // over Lambda's payload limit (checked before sending, or 413)
	KindThrottled      ErrorKind = "throttled"       // 429 TooManyRequestsException after every retry
	KindNotFound       ErrorKind = "not_found"       // 404: no such function, version or alias
	KindAccessDenied   ErrorKind = "access_denied"   // 403, or no usable credentials
	KindTimeout        ErrorKind = "timeout"         // the attempt ran out of time (or waited too long for a slot)
	KindConnect        ErrorKind = "connect"         // no connection, or it was lost (see MayHaveRun)
	KindService        ErrorKind = "service"         // a 5xx from Lambda
	KindCanceled       ErrorKind = "canceled"        // the run was interrupted before the call ended
	KindOther          ErrorKind = "other"           // anything else, such as a 400 for a bad parameter
)

// ErrTooLarge marks an input error as a payload over the limit: an Input
// whose Err wraps it fails with KindTooLarge rather than
// KindInvalidPayload.
var ErrTooLarge = errors.New("payload too large")

// PayloadError is the error of a payload that was not sent: not JSON, over
// the limit, or an input line that could not be read.
type PayloadError struct {
	TooLarge bool
	Reason   string
	Err      error // the input's error, if any
}

func (e *PayloadError) Error() string {
	if e.TooLarge {
		return "payload too large: " + e.Reason
	}
	return "invalid payload: " + e.Reason
}

func (e *PayloadError) Unwrap() error { return e.Err }

// AttemptError is the error of one attempt that was tried: it says whether
// the request may have been sent, which decides whether a retry is safe.
type AttemptError struct {
	// Sent is true once the request had a connection to Lambda: from then
	// on its bytes may have arrived and the function may have run, even if
	// no answer came. A failure to resolve or connect leaves it false.
	Sent bool
	Err  error
}

func (e *AttemptError) Error() string { return e.Err.Error() }
func (e *AttemptError) Unwrap() error { return e.Err }

// Classify returns the kind of a call's error ("" for nil). It looks
// through wrapping with errors.Is and errors.As.
func Classify(err error) ErrorKind {
	if err == nil {
		return ""
	}
	var (
		payload  *PayloadError
		throttle *types.TooManyRequestsException
		notFound *types.ResourceNotFoundException
		tooLarge *types.RequestTooLargeException
		invalid  *types.InvalidRequestContentException
		api      smithy.APIError
		netErr   net.Error
	)
	status := httpStatus(err)
	switch {
	case errors.As(err, &payload):
		if payload.TooLarge {
			return KindTooLarge
		}
		return KindInvalidPayload
	case errors.Is(err, context.Canceled), errors.Is(err, fanout.ErrClosed):
		return KindCanceled
	case errors.As(err, &throttle), status == http.StatusTooManyRequests:
		return KindThrottled
	case errors.As(err, &notFound), status == http.StatusNotFound:
		return KindNotFound
	case errors.As(err, &tooLarge), status == http.StatusRequestEntityTooLarge:
		return KindTooLarge
	case errors.As(err, &invalid):
		return KindInvalidPayload
	case status == http.StatusForbidden || status == http.StatusUnauthorized,
		errors.As(err, &api) && strings.Contains(api.ErrorCode(), "AccessDenied"),
		isCredentialsError(err):
		return KindAccessDenied
	case status >= 500:
		return KindService
	case status != 0:
		return KindOther
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, fanout.ErrQueueTimeout),
		errors.As(err, &netErr) && netErr.Timeout():
		return KindTimeout
	case isTransport(err):
		return KindConnect
	}
	return KindOther
}

// isTransport reports whether err is a failure to reach Lambda or to get
// its answer: DNS, dial, TLS, a connection reset or closed.
func isTransport(err error) bool {
	var (
		dnsErr  *net.DNSError
		opErr   *net.OpError
		sendErr *smithyhttp.RequestSendError
	)
	return errors.As(err, &dnsErr) || errors.As(err, &opErr) || errors.As(err, &sendErr) || isTLS(err) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func isTLS(err error) bool {
	var (
		header  tls.RecordHeaderError
		alert   tls.AlertError
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
	)
	return errors.As(err, &header) || errors.As(err, &alert) || errors.As(err, &verify) ||
		errors.As(err, &unknown) || errors.As(err, &host)
}

// isCredentialsError reports whether the SDK could not get credentials to
// sign with. The SDK has no exported type for a failed identity look-up;
// its messages are stable.
func isCredentialsError(err error) bool {
	var signing *v4.SigningError
	if errors.As(err, &signing) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "get identity: ") || strings.Contains(msg, "failed to retrieve credentials") ||
		strings.Contains(msg, "failed to refresh cached credentials")
}

// httpStatus returns the HTTP status of an answered error, 0 when there was
// no answer.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// retryAfter returns the server's hint of how long to wait: a throttle's
// RetryAfterSeconds, else a Retry-After header in seconds.
func retryAfter(err error) (time.Duration, bool) {
	var (
		throttle *types.TooManyRequestsException
		re       *awshttp.ResponseError
		v        string
	)
	switch {
	case errors.As(err, &throttle) && throttle.RetryAfterSeconds != nil:
		v = *throttle.RetryAfterSeconds
	case errors.As(err, &re) && re.Response != nil:
		v = re.Response.Header.Get("Retry-After")
	}
	secs, perr := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if perr != nil || secs < 0 {
		return 0, false
	}
	return time.Duration(min(secs, 24*3600) * float64(time.Second)), true
}

// describe returns a short text for a call's error: the API error's code
// and message, or the transport error without the SDK's operation prefix.
func describe(err error) string {
	var (
		payload  *PayloadError
		throttle *types.TooManyRequestsException
		api      smithy.APIError
		op       *smithy.OperationError
	)
	switch {
	case errors.As(err, &payload):
		return payload.Error()
	case errors.Is(err, context.Canceled), errors.Is(err, fanout.ErrClosed):
		return "canceled"
	case errors.As(err, &throttle):
		s := "TooManyRequestsException: " + throttle.ErrorMessage()
		if throttle.Reason != "" {
			s += " (" + string(throttle.Reason) + ")"
		}
		return s
	case errors.As(err, &api):
		s := api.ErrorCode()
		if msg := api.ErrorMessage(); msg != "" && msg != s {
			s += ": " + msg
		}
		if st := httpStatus(err); st != 0 {
			s += " (HTTP " + strconv.Itoa(st) + ")"
		}
		return s
	case errors.As(err, &op):
		return describeTransport(op.Err)
	}
	return describeTransport(err)
}

// describeTransport strips the SDK's wrapping of a transport error.
func describeTransport(err error) string {
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) {
		err = sendErr.Err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the connection closed without an answer (" + err.Error() + ")"
	}
	return err.Error()
}
