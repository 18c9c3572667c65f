package httpcheck

import (
	"context"
	"errors"
	"iter"
	"sync"
	"time"

	"github.com/fanout-go/fanout"
)

// Input is one URL to check. Err, when set, is a problem met while reading
// it (a line too long, not UTF-8): its check fails at once with
// KindInvalidURL and sends no request.
type Input struct {
	URL string
	Err error
}

// URLs returns an input sequence of the given URLs.
func URLs(urls ...string) iter.Seq[Input] {
	return func(yield func(Input) bool) {
		for _, u := range urls {
			if !yield(Input{URL: u}) {
				return
			}
		}
	}
}

// check is one URL's state while it is checked. Its attempts run one after
// another, but the record may be read while an abandoned attempt still
// writes, hence the mutex.
type check struct {
	index int
	in    Input

	mu       sync.Mutex
	attempts int
	answer   answer
	first    time.Time // first attempt's start
	last     time.Time // last attempt's end
}

// run is the executor task of one check: one attempt per call.
func (c *Checker) run(ctx context.Context, ch *check) (*check, error) {
	if ch.in.Err != nil {
		return ch, fanout.Permanent(&InvalidURLError{URL: ch.in.URL, Reason: ch.in.Err.Error(), Err: ch.in.Err})
	}
	u, text, err := parse(ch.in.URL)
	if err != nil {
		return ch, fanout.Permanent(err)
	}
	begin := time.Now()
	ch.mu.Lock()
	ch.attempts++
	if ch.first.IsZero() {
		ch.first = begin
	}
	ch.mu.Unlock()

	a, err := c.attempt(ctx, u, text)

	ch.mu.Lock()
	if a.status != 0 || ch.answer.status == 0 {
		ch.answer = a
	}
	ch.last = time.Now()
	ch.mu.Unlock()
	return ch, err
}

// result builds the record of ch from the error its task ended with.
func (ch *check) result(err error) Result {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	r := Result{
		Index:     ch.index,
		URL:       ch.in.URL,
		Status:    ch.answer.status,
		FinalURL:  ch.answer.finalURL,
		Redirects: ch.answer.redirects,
		Attempts:  ch.attempts,
	}
	if !ch.first.IsZero() {
		r.Duration = ch.last.Sub(ch.first)
		if r.Duration < 0 { // canceled while its first attempt ran
			r.Duration = time.Since(ch.first)
		}
	}
	r.DurationMS = float64(r.Duration.Microseconds()) / 1000
	if err != nil && !isStatus(err, r.Status) {
		r.Err = err
		r.Error = describe(err)
		r.ErrorKind = Classify(err)
	}
	return r
}

// isStatus reports whether err is the StatusError of status: the retries
// of a 429 or 503 ran out and the status is the result. (A function of its
// own so that errors.As's target is allocated only for an error.)
func isStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

// stopped marks err as a cancellation when it is the cause ctx ended with:
// the executor settles a task stopped by its context with that cause,
// which may be any error.
func stopped(ctx context.Context, err error) error {
	if err != nil && ctx.Err() == context.Canceled && !errors.Is(err, context.Canceled) && errors.Is(err, context.Cause(ctx)) {
		return &canceledError{err}
	}
	return err
}

// taskOptions labels a check's task with its URL and keys it by host.
func (c *Checker) taskOptions(_ int, ch *check) []fanout.TaskOption {
	opts := []fanout.TaskOption{fanout.WithLabel(ch.in.URL)}
	if c.cfg.PerHost > 0 || c.cfg.Adaptive {
		if u, _, err := parse(ch.in.URL); err == nil {
			opts = append(opts, fanout.WithKey(u.Host))
		}
	}
	return opts
}

// Check checks one URL on e and waits for its result. It never fails: a
// failed check is a Result with Err set.
func (c *Checker) Check(ctx context.Context, e *fanout.Executor, url string) Result {
	ch := &check{in: Input{URL: url}}
	f := fanout.Submit(ctx, e, func(ctx context.Context) (*check, error) { return c.run(ctx, ch) },
		c.taskOptions(0, ch)...)
	_, err := f.Await(ctx)
	return ch.result(stopped(ctx, err))
}

// CheckAll checks every input on e and yields one Result per input, in input
// order. It pulls inputs only as the executor has room (within fanout.Map's
// window), so memory stays bounded however long the input. When ctx ends,
// no new check starts, the running ones are canceled, and every input
// already pulled still gets its Result (KindCanceled when unfinished).
// Stopping the loop early cancels the checks in flight.
func (c *Checker) CheckAll(ctx context.Context, e *fanout.Executor, in iter.Seq[Input]) iter.Seq[Result] {
	return c.checkAll(ctx, e, in, false)
}

// CheckAllUnordered is CheckAll yielding in completion order: each Result
// as soon as its check ends.
func (c *Checker) CheckAllUnordered(ctx context.Context, e *fanout.Executor, in iter.Seq[Input]) iter.Seq[Result] {
	return c.checkAll(ctx, e, in, true)
}

func (c *Checker) checkAll(ctx context.Context, e *fanout.Executor, in iter.Seq[Input], unordered bool) iter.Seq[Result] {
	return func(yield func(Result) bool) {
		// Map hands back each check with its outcome, canceled ones too,
		// so the check carries everything its Result needs.
		checks := func(yield func(*check) bool) {
			next := 0
			for input := range in {
				if ctx.Err() != nil {
					return // stop reading input once interrupted
				}
				if !yield(&check{index: next, in: input}) {
					return
				}
				next++
			}
		}
		mapper := fanout.Map[*check, *check]
		if unordered {
			mapper = fanout.MapUnordered[*check, *check]
		}
		for ch, res := range mapper(ctx, e, checks, c.run, fanout.WithTaskOptions(c.taskOptions)) {
			if !yield(ch.result(stopped(ctx, res.Err))) {
				return
			}
		}
	}
}
