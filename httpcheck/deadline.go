package httpcheck

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"time"
)

// deadlineCtx is an attempt's context under Config.Timeout: its parent
// with the attempt's deadline. context.WithTimeout would make a timer and a
// cancelable context for every attempt, and ask the parent, a fanout task,
// for the Done channel it makes only when asked: together seven to nine
// allocations and 5-8% of a check's time (BenchmarkCheckAllTimeout against
// BenchmarkCheckAll, bench/README "An attempt's timeout without a timer"). The lean
// path needs none of it: it sets the deadline on the connection and
// watches the parent alone (see watchCtx). So a deadlineCtx makes the
// real context (context.WithDeadline) only when something asks for its
// Done channel: the Transport, a dial, a context derived from it.
//
// Its Err is context.DeadlineExceeded once the deadline has passed (or the
// lean path saw the connection's deadline pass: see expireOn), and its
// Cause is then context.DeadlineExceeded too, as with WithTimeout.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time
	expired  atomic.Bool // the connection's deadline passed on the lean path
	real     atomic.Pointer[realDeadline]
}

// realDeadline is a deadlineCtx made real, or stopped (ctx nil).
type realDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// stoppedDeadline marks a deadlineCtx whose attempt ended before anything
// made it real: it is then canceled, as WithTimeout's context is after its
// cancel.
var stoppedDeadline = &realDeadline{}

func newDeadlineCtx(parent context.Context, deadline time.Time) *deadlineCtx {
	return &deadlineCtx{parent: parent, deadline: deadline}
}

// lazy reports whether nothing has made d real (nor stopped it) yet: its
// deadline is then enforced by whoever holds it, on the lean path by the
// connection's deadline.
func (d *deadlineCtx) lazy() bool { return d.real.Load() == nil }

func (d *deadlineCtx) Deadline() (time.Time, bool) {
	if p, ok := d.parent.Deadline(); ok && p.Before(d.deadline) {
		return p, true
	}
	return d.deadline, true
}

func (d *deadlineCtx) Done() <-chan struct{} {
	r := d.real.Load()
	if r == nil {
		ctx, cancel := context.WithDeadline(d.parent, d.deadline)
		if d.real.CompareAndSwap(nil, &realDeadline{ctx: ctx, cancel: cancel}) {
			return ctx.Done()
		}
		cancel() // made real, or stopped, meanwhile
		r = d.real.Load()
	}
	if r.ctx == nil {
		return closedChan
	}
	return r.ctx.Done()
}

func (d *deadlineCtx) Err() error {
	if r := d.real.Load(); r != nil {
		if r.ctx == nil {
			return context.Canceled
		}
		return r.ctx.Err()
	}
	if err := d.parent.Err(); err != nil {
		return err
	}
	if d.expired.Load() || !time.Now().Before(d.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (d *deadlineCtx) Value(key any) any {
	if r := d.real.Load(); r != nil && r.ctx != nil {
		return r.ctx.Value(key) // the real context answers for the context package's key
	}
	return d.parent.Value(key)
}

// stop ends the attempt's context, as WithTimeout's cancel does.
func (d *deadlineCtx) stop() {
	if !d.real.CompareAndSwap(nil, stoppedDeadline) {
		if r := d.real.Load(); r.ctx != nil {
			r.cancel()
		}
	}
}

// watchCtx returns what the lean path must do for a request's context:
// the deadline to set on the connection (zero for none), and the context
// whose end must end the request sooner. A lazy deadlineCtx gives its own
// deadline and its parent; any other context gives no deadline and
// itself, and ends the request through its Done channel.
func watchCtx(ctx context.Context) (deadline time.Time, watch context.Context) {
	if d, ok := ctx.(*deadlineCtx); ok && d.lazy() {
		return d.deadline, d.parent
	}
	return time.Time{}, ctx
}

// expireOn tells a deadlineCtx that err, met on its connection, was the
// connection's deadline passing: the poller may see it a moment before the
// clock that Err reads does. (Once d is real, its real context answers Err
// and this changes nothing.)
func expireOn(ctx context.Context, err error) {
	if d, ok := ctx.(*deadlineCtx); ok && errors.Is(err, os.ErrDeadlineExceeded) {
		d.expired.Store(true)
	}
}

// afterFuncer is a context that runs a function when it ends without being
// asked for its Done channel: a fanout task's.
type afterFuncer interface {
	AfterFunc(f func()) (stop func() bool)
}

// afterFunc is context.AfterFunc, through the context's own AfterFunc
// method when it has one.
func afterFunc(ctx context.Context, f func()) (stop func() bool) {
	if a, ok := ctx.(afterFuncer); ok {
		return a.AfterFunc(f)
	}
	if ctx.Done() == nil {
		return h1NoStop
	}
	return context.AfterFunc(ctx, f)
}
