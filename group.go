package fanout

import (
	"context"
	"reflect"
	"sync"
)

// A Group is errgroup's Group on an Executor: tasks without a value, run
// under the executor's limits, waited for together, the first error
// canceling the rest. Use it where Gather's values are not wanted.
//
// A Group costs a context and a WaitGroup; each Go costs what Submit does.
// Its methods are safe for concurrent use; Go must not be called after
// Wait has returned.
type Group struct {
	e      *Executor
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

// NewGroup returns a Group running its tasks on e, and the context they
// receive: derived from ctx, and canceled with the first error as its
// cause (context.Cause), or when Wait returns.
func NewGroup(ctx context.Context, e *Executor) (*Group, context.Context) {
	if e == nil {
		panic("fanout: NewGroup needs an executor")
	}
	g := &Group{e: e}
	g.ctx, g.cancel = context.WithCancelCause(ctx)
	return g, g.ctx
}

// Go submits fn to the group's executor, blocking as Submit does while the
// executor's queue is full. The first fn to fail (a panic is a
// *PanicError) cancels the group's context. It panics if fn is nil.
func (g *Group) Go(fn func(context.Context) error, opts ...TaskOption) {
	t := g.task(fn, opts)
	g.wg.Add(1)
	g.e.submit(&t.t, false)
	g.watch(&t.Future)
}

// groupTask is a Group's task: fn itself, not a closure around it, so that
// Close's look for its own tasks on the caller's stack (see onStack) finds
// fn and not a wrapper every Group task shares: a Group task closing
// another executor that runs Group tasks is not one of its tasks.
type groupTask struct {
	Future[struct{}]
	fn func(context.Context) error
}

func (t *groupTask) call(ctx context.Context) (err error) {
	returned := false
	defer catchPanic(&err, &returned)
	err = t.fn(ctx)
	returned = true
	return err
}

func (t *groupTask) code() uintptr { return reflect.ValueOf(t.fn).Pointer() }

func (g *Group) task(fn func(context.Context) error, opts []TaskOption) *groupTask {
	if fn == nil {
		panic("fanout: Group.Go needs a function")
	}
	t := &groupTask{fn: fn}
	t.t.init(g.ctx, g.e, t, opts)
	return t
}

// TryGo is Go that never blocks, like errgroup's TryGo: it reports false,
// running nothing, when the executor's queue is full and fn could not
// start at once.
func (g *Group) TryGo(fn func(context.Context) error, opts ...TaskOption) bool {
	t := g.task(fn, opts)
	g.wg.Add(1)
	if !g.e.submit(&t.t, true) {
		g.wg.Done()
		return false
	}
	g.watch(&t.Future)
	return true
}

func (g *Group) watch(f *Future[struct{}]) {
	f.t.onSettle(func() {
		if err := f.t.err; err != nil {
			g.once.Do(func() {
				g.err = err
				g.cancel(err)
			})
		}
		g.wg.Done()
	})
}

// Wait waits until every task given to Go has settled, cancels the group's
// context, and returns the first error, if any. A task abandoned by its
// cancellation has settled; its call may still run (see Stats.Abandoned).
func (g *Group) Wait() error {
	g.wg.Wait()
	g.cancel(context.Canceled)
	return g.err
}
