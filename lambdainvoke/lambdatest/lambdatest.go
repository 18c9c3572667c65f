// Package lambdatest is a loopback HTTP server that speaks the AWS Lambda
// Invoke API as the AWS SDK's model defines it, so that the tests of
// lambdainvoke and `fanout lambda`, and the benchmarks, can drive a real
// *lambda.Client without an AWS account.
//
// It answers POST /2015-03-31/functions/{name}/invocations?Qualifier=Q:
//
//   - 200 (RequestResponse), 202 (Event) or 204 (DryRun), as the
//     X-Amz-Invocation-Type header asks;
//   - X-Amz-Executed-Version: "$LATEST", the numeric qualifier, or the
//     version an alias (Options.Aliases) points to;
//   - X-Amz-Log-Result: a base64 log tail (START, the payload's log line,
//     END, REPORT; at most 4 KB) when X-Amz-Log-Type is Tail;
//   - X-Amz-Function-Error: Handled or Unhandled for a function error,
//     with an {"errorMessage", "errorType"} body;
//   - errors as Lambda sends them, an X-Amzn-ErrorType header and a JSON
//     body, so that the SDK's deserializer returns the modeled error type
//     (*types.TooManyRequestsException with Reason and the Retry-After
//     header, *types.ResourceNotFoundException, ...).
//
// It checks what Lambda checks: the function exists (Options.Functions),
// the qualifier is known, the payload is JSON (400
// InvalidRequestContentException), at most 6 MB for a synchronous call and
// 1 MB for an Event (413 RequestTooLargeException), and the client context
// is base64 JSON of at most 3,583 bytes.
//
// The payload drives each call's behaviour. A JSON object may hold:
//
//	"id": V             count the calls per id (see Server.Attempts)
//	"sleep_ms": N       run N ms (on top of the server's delay)
//	"fail": "handled"   a function error (200, X-Amz-Function-Error);
//	        "unhandled"   Unhandled
//	"error": E          answer an API error instead of running: throttle,
//	                    not_found, access_denied, too_large, invalid,
//	                    service, not_ready, any exception name of the table
//	                    in errors.go, or drop (close the connection without
//	                    an answer) and reset (reset it), after the sleep
//	"fail_times": K     fail (fail or error) only the first K calls of this
//	                    id; later calls succeed
//	"retry_after": S    the Retry-After header (seconds) of a throttle
//	"reason": R         the Reason of a throttle
//	"log": "text"       a line for the log tail
//	"response": V       the function's result (default: the payload itself)
//	"echo": "request"   the result describes the request: function,
//	                    qualifier, executed version, invocation and log
//	                    types, the decoded client context and the payload
//
// Other payloads (arrays, strings, numbers, null) are echoed.
//
// The server options add a concurrency limit (calls beyond it answer 429
// ReservedFunctionConcurrentInvocationLimitExceeded, as Lambda does) and a
// delay for every call, both settable while it runs.
//
// A Server is safe for concurrent use and cheap: per call, the JSON decode
// of the payload, a few atomic operations and, for calls with an id, one
// map update under a mutex. 2,000 calls of 100 ms at 200 at once is its
// design load.
package lambdatest

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Server.
type Options struct {
	// Functions are the function names that exist; empty means every name
	// does. Calls to any other name answer 404 ResourceNotFoundException.
	Functions []string
	// Aliases maps an alias to the version it points to. "$LATEST" and
	// version numbers are always valid qualifiers; another qualifier
	// answers 404.
	Aliases map[string]string
	// Limit is how many calls may run at once (0: no limit). Calls beyond
	// it answer 429 TooManyRequestsException.
	Limit int
	// Delay is how long every synchronous call runs, on top of the
	// payload's sleep_ms.
	Delay time.Duration
	// RetryAfter, when positive, is sent as the Retry-After header (whole
	// seconds) with the 429 of the concurrency limit.
	RetryAfter time.Duration
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	Requests    int64 // HTTP requests received
	Invocations int64 // calls that ran the function (Event ones included, DryRun not)
	Throttled   int64 // calls answered 429, by the limit or by the payload
	InFlight    int64 // requests being handled now
	MaxInFlight int64 // the most requests handled at once since Start
	Connections int64 // connections accepted
}

// Server is a running Invoke API server. Create it with Start; stop it with
// Close.
type Server struct {
	url       string
	srv       *http.Server
	functions map[string]bool
	aliases   map[string]string

	limit      atomic.Int64
	delay      atomic.Int64 // nanoseconds
	retryAfter atomic.Int64 // nanoseconds

	requests    atomic.Int64
	invocations atomic.Int64
	throttled   atomic.Int64
	running     atomic.Int64 // calls holding a slot of the limit
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	accepted    atomic.Int64
	requestSeq  atomic.Uint64

	mu       sync.Mutex
	calls    map[string]int64       // per function name
	attempts map[string][]time.Time // per payload id: when each call came

	done      chan struct{} // closed by Close: releases sleeping handlers
	closeOnce sync.Once
	handlers  sync.WaitGroup
	serving   sync.WaitGroup
}

// Start starts a server on 127.0.0.1 on a random port.
func Start(o Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdatest: listen: %w", err)
	}
	s := &Server{
		url:      "http://" + ln.Addr().String(),
		aliases:  o.Aliases,
		calls:    make(map[string]int64),
		attempts: make(map[string][]time.Time),
		done:     make(chan struct{}),
	}
	if len(o.Functions) > 0 {
		s.functions = make(map[string]bool, len(o.Functions))
		for _, f := range o.Functions {
			s.functions[f] = true
		}
	}
	s.SetLimit(o.Limit)
	s.SetDelay(o.Delay)
	s.SetRetryAfter(o.RetryAfter)
	mux := http.NewServeMux()
	mux.HandleFunc("/2015-03-31/functions/{name}/invocations", s.invoke)
	s.srv = &http.Server{
		Handler: s.count(mux),
		// Dropped and reset connections are the point of this server;
		// net/http's complaints about them are noise.
		ErrorLog: log.New(io.Discard, "", 0),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.accepted.Add(1)
			}
		},
	}
	s.serving.Go(func() { s.srv.Serve(ln) })
	return s, nil
}

// URL returns the server's base URL, such as http://127.0.0.1:41234: the
// endpoint URL to give the SDK.
func (s *Server) URL() string { return s.url }

// SetLimit sets how many calls may run at once; 0 or less removes the limit.
func (s *Server) SetLimit(n int) { s.limit.Store(int64(max(n, 0))) }

// SetDelay sets how long each synchronous call runs, on top of its
// payload's sleep_ms.
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(max(d, 0))) }

// SetRetryAfter sets the Retry-After of the limit's 429 answers (rounded up
// to whole seconds); 0 sends none.
func (s *Server) SetRetryAfter(d time.Duration) { s.retryAfter.Store(int64(max(d, 0))) }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Requests:    s.requests.Load(),
		Invocations: s.invocations.Load(),
		Throttled:   s.throttled.Load(),
		InFlight:    s.inFlight.Load(),
		MaxInFlight: s.maxInFlight.Load(),
		Connections: s.accepted.Load(),
	}
}

// Calls returns how many calls ran the function named name.
func (s *Server) Calls(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

// Attempts returns how many requests carried a payload with this id
// (a JSON string's value, or another value's JSON text), throttled and
// failed ones included.
func (s *Server) Attempts(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.attempts[id])
}

// AttemptTimes returns when each request with this id arrived, in order.
func (s *Server) AttemptTimes(id string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts[id])
}

// Close stops the server: it closes the listener and the connections,
// releases the sleeping calls and returns when every handler has returned.
// It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.srv.Close()
		s.serving.Wait()
		close(s.done)
		s.handlers.Wait()
	})
}

// count wraps h with the request counters.
func (s *Server) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.handlers.Add(1)
		defer s.handlers.Done()
		s.requests.Add(1)
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		raise(&s.maxInFlight, n)
		h.ServeHTTP(w, r)
	})
}

// raise makes highest at least n.
func raise(highest *atomic.Int64, n int64) {
	for {
		h := highest.Load()
		if n <= h || highest.CompareAndSwap(h, n) {
			return
		}
	}
}

// TB is the part of testing.TB that StartTest uses; this package does not
// import testing, since benchmarks and commands link it too.
type TB interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// StartTest starts a server for a test, failing the test when it cannot,
// and closes it when the test ends.
func StartTest(t TB, o Options) *Server {
	t.Helper()
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
