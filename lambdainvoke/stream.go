package lambdainvoke

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"iter"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/fanout-go/fanout"
)

// Input is one payload to send. Err, when set, is a problem met while
// reading it (an unreadable input line): its call fails at once with
// KindInvalidPayload, or KindTooLarge when Err wraps ErrTooLarge, and
// nothing is sent.
type Input struct {
	Payload []byte
	Err     error
}

// Payloads returns an input sequence of the given JSON payloads.
func Payloads(payloads ...string) iter.Seq[Input] {
	return func(yield func(Input) bool) {
		for _, p := range payloads {
			if !yield(Input{Payload: []byte(p)}) {
				return
			}
		}
	}
}

// call is one payload's state while it is invoked. Its attempts run one
// after another, but its record may be built while an abandoned attempt
// still writes, hence the mutex.
type call struct {
	index int
	in    Input

	mu         sync.Mutex
	attempts   int
	first      time.Time // first attempt's start
	last       time.Time // last attempt's end
	out        *lambda.InvokeOutput
	lastErr    error // the last finished attempt's error
	status     int   // the last error's HTTP status
	mayHaveRun bool  // a finished attempt was sent and not answered with a 4xx
	sending    bool  // the running attempt was sent and has no answer yet
}

// run is the executor task of one call: one attempt per run.
func (iv *Invoker) run(ctx context.Context, c *call, ad *adaptive) (*call, error) {
	if c.in.Err != nil {
		pe := &PayloadError{TooLarge: errors.Is(c.in.Err, ErrTooLarge), Reason: c.in.Err.Error(), Err: c.in.Err}
		if pe.TooLarge {
			// Error says "payload too large" already.
			pe.Reason = strings.TrimPrefix(pe.Reason, ErrTooLarge.Error()+": ")
		}
		return c, fanout.Permanent(pe)
	}
	if err := iv.tmpl.checkPayload(c.in.Payload); err != nil {
		return c, fanout.Permanent(err)
	}
	c.mu.Lock()
	c.attempts++
	if c.first.IsZero() {
		c.first = time.Now()
	}
	c.mu.Unlock()
	started := ad.start()

	actx := ctx
	if iv.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, iv.cfg.Timeout)
		defer cancel()
	}
	// Whether the request may have gone out decides whether a retry is
	// safe: before that, Lambda cannot have run the function. The request
	// counts as sent from the moment it has a connection: the bytes may
	// reach Lambda before WroteRequest could tell, and a record built then
	// (the run interrupted) must say that the function may be running.
	var sent atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) {
			sent.Store(true)
			c.mu.Lock()
			c.sending = true
			c.mu.Unlock()
		},
	})
	out, err := iv.invoke(actx, c.in.Payload)

	status := httpStatus(err)
	c.mu.Lock()
	c.last = time.Now()
	c.lastErr = err
	c.sending = false
	if err == nil {
		c.out = out
	} else {
		c.status = status
		// A 4xx means Lambda refused the call; any other failure after
		// sending leaves its fate unknown.
		if sent.Load() && (status < 400 || status >= 500) {
			c.mayHaveRun = true
		}
	}
	c.mu.Unlock()
	ad.finish(started, err)
	if err != nil {
		aerr := error(&AttemptError{Sent: sent.Load(), Err: err})
		if d, ok := retryAfter(err); ok {
			aerr = fanout.RetryAfter(aerr, d)
		}
		return c, aerr
	}
	return c, nil
}

// result builds the record of c from the error its task ended with.
func (c *call) result(err error) Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := Result{Index: c.index, Attempts: c.attempts}
	if !c.first.IsZero() {
		r.Duration = c.last.Sub(c.first)
		if r.Duration < 0 { // interrupted while its first attempt ran
			r.Duration = time.Since(c.first)
		}
	}
	r.DurationMS = float64(r.Duration.Microseconds()) / 1000
	// A call whose last attempt succeeded is a success, even when its task
	// was canceled as the answer came.
	if c.out != nil && c.lastErr == nil {
		r.Status = int(c.out.StatusCode)
		r.FunctionError = aws.ToString(c.out.FunctionError)
		r.ExecutedVersion = aws.ToString(c.out.ExecutedVersion)
		r.Response = responseJSON(c.out.Payload)
		r.LogTail = decodeLog(aws.ToString(c.out.LogResult))
		return r
	}
	if err == nil { // cannot happen: a task without error ran a successful attempt
		err = errors.New("lambdainvoke: no answer")
	}
	r.Status = c.status
	r.Err = err
	r.Error = describe(err)
	r.ErrorKind = Classify(err)
	r.MayHaveRun = c.mayHaveRun || c.sending
	return r
}

// responseJSON returns the function's answer as JSON: itself when it
// parses, else a JSON string of its text; nil when empty.
func responseJSON(p []byte) json.RawMessage {
	if len(p) == 0 {
		return nil
	}
	if json.Valid(p) {
		return p
	}
	b, _ := json.Marshal(strings.ToValidUTF8(string(p), "\uFFFD")) // a string always marshals
	return b
}

// decodeLog decodes a base64 log tail; text that is not base64 is kept.
func decodeLog(s string) string {
	if s == "" {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return s
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// taskOptions labels a call's task with its index and the start of its
// payload, for traces and slow-task logs.
func taskOptions(i int, c *call) []fanout.TaskOption {
	p := c.in.Payload
	label := "#" + strconv.Itoa(i)
	if len(p) > 48 {
		label += " " + strings.ToValidUTF8(string(p[:48]), "") + "..."
	} else if len(p) > 0 {
		label += " " + strings.ToValidUTF8(string(p), "")
	}
	return []fanout.TaskOption{fanout.WithLabel(label)}
}

// Invoke invokes the function with one payload on e and waits for the
// result. It never fails: a failed call is a Result with Err set.
func (iv *Invoker) Invoke(ctx context.Context, e *fanout.Executor, payload []byte) Result {
	c := &call{in: Input{Payload: payload}}
	f := fanout.Submit(ctx, e, func(ctx context.Context) (*call, error) { return iv.run(ctx, c, nil) }, taskOptions(0, c)...)
	_, err := f.Await(ctx)
	return c.result(err)
}

// InvokeAll invokes the function with every input on e and yields one
// Result per input, in input order. It pulls inputs only as the executor
// has room (within fanout.Map's window), so memory stays bounded however
// long the input. When ctx ends, no new call starts, the running ones are
// canceled, and every input already pulled still gets its Result
// (KindCanceled when unfinished). Stopping the loop early cancels the calls
// in flight. With Config.Adaptive it changes e's limit as the package
// documentation says, starting from e's limit now.
func (iv *Invoker) InvokeAll(ctx context.Context, e *fanout.Executor, in iter.Seq[Input]) iter.Seq[Result] {
	return iv.invokeAll(ctx, e, in, false)
}

// InvokeAllUnordered is InvokeAll yielding in completion order: each Result
// as soon as its call ends.
func (iv *Invoker) InvokeAllUnordered(ctx context.Context, e *fanout.Executor, in iter.Seq[Input]) iter.Seq[Result] {
	return iv.invokeAll(ctx, e, in, true)
}

func (iv *Invoker) invokeAll(ctx context.Context, e *fanout.Executor, in iter.Seq[Input], unordered bool) iter.Seq[Result] {
	return func(yield func(Result) bool) {
		var ad *adaptive
		if iv.cfg.Adaptive {
			ad = newAdaptive(e)
		}
		// Map hands back each call with its outcome, canceled ones too.
		calls := func(yield func(*call) bool) {
			i := 0
			for input := range in {
				if ctx.Err() != nil {
					return // an interrupted run reads no more input
				}
				c := &call{index: i, in: input}
				i++
				if !yield(c) {
					return
				}
			}
		}
		mapper := fanout.Map[*call, *call]
		if unordered {
			mapper = fanout.MapUnordered[*call, *call]
		}
		fn := func(ctx context.Context, c *call) (*call, error) { return iv.run(ctx, c, ad) }
		for c, res := range mapper(ctx, e, calls, fn, fanout.WithTaskOptions(taskOptions)) {
			if !yield(c.result(res.Err)) {
				return
			}
		}
	}
}
