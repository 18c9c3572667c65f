package bench

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/fanout-go/fanout"
	"github.com/panjf2000/ants/v2"
	"github.com/sourcegraph/conc/iter"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"
)

// A runner is one executor library opened with a concurrency limit. Every
// benchmark drives every contender through this interface, and
// TestContendersAgree checks that each one really computes the results, so
// no contender can look fast by skipping work.
type runner interface {
	// one submits a single task and waits for its result.
	one(fn func() int) int
	// batch runs fn over every element of in, at most limit at once, and
	// stores fn(in[i]) in out[i].
	batch(in, out []int, fn func(int) int)
	close()
}

type contender struct {
	name string
	open func(limit int) runner
}

// contenders lists the libraries in the order they appear in the tables.
var contenders = []contender{
	{"fanout", openFanoutMap},
	{"fanout-futures", openFanoutFutures},
	{"goroutines", openGoroutines},
	{"errgroup", openErrgroup},
	{"conc", openConc},
	{"pond", openPond},
	{"ants", openAnts},
}

// fanoutRunner submits single tasks as futures; its batch goes through Map,
// which streams the input and yields results in input order.
type fanoutRunner struct{ e *fanout.Executor }

func openFanoutMap(limit int) runner {
	return fanoutRunner{fanout.New(fanout.WithLimit(limit))}
}

func (r fanoutRunner) one(fn func() int) int {
	ctx := context.Background()
	v, _ := fanout.Submit(ctx, r.e, func(context.Context) (int, error) { return fn(), nil }).Await(ctx)
	return v
}

func (r fanoutRunner) batch(in, out []int, fn func(int) int) {
	ctx := context.Background()
	task := func(_ context.Context, x int) (int, error) { return fn(x), nil }
	i := 0
	for _, res := range fanout.Map(ctx, r.e, slices.Values(in), task) {
		out[i] = res.Value
		i++
	}
}

func (r fanoutRunner) close() { r.e.Close() }

// fanoutFutures runs a batch as one future per element gathered in order:
// the cost of the futures API without Map's streaming window.
type fanoutFutures struct{ fanoutRunner }

func openFanoutFutures(limit int) runner {
	return fanoutFutures{fanoutRunner{fanout.New(fanout.WithLimit(limit))}}
}

func (r fanoutFutures) batch(in, out []int, fn func(int) int) {
	ctx := context.Background()
	fs := make([]*fanout.Future[int], len(in))
	for i, x := range in {
		fs[i] = fanout.Submit(ctx, r.e, func(context.Context) (int, error) { return fn(x), nil })
	}
	for i, f := range fs {
		out[i], _ = f.Await(ctx)
	}
}

// goroutinesRunner is the hand-written baseline: one goroutine per task, a
// WaitGroup, and a buffered channel as the semaphore for the limit.
type goroutinesRunner struct{ limit int }

func openGoroutines(limit int) runner { return goroutinesRunner{limit} }

func (goroutinesRunner) one(fn func() int) int {
	var wg sync.WaitGroup
	var v int
	wg.Add(1)
	go func() {
		defer wg.Done()
		v = fn()
	}()
	wg.Wait()
	return v
}

func (r goroutinesRunner) batch(in, out []int, fn func(int) int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.limit)
	for i, x := range in {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = fn(x)
		}()
	}
	wg.Wait()
}

func (goroutinesRunner) close() {}

// errgroupRunner uses a fresh errgroup.Group with SetLimit per call, as
// errgroup is meant to be used (a group cannot be reused after Wait).
type errgroupRunner struct{ limit int }

func openErrgroup(limit int) runner { return errgroupRunner{limit} }

func (r errgroupRunner) one(fn func() int) int {
	var g errgroup.Group
	g.SetLimit(r.limit)
	var v int
	g.Go(func() error { v = fn(); return nil })
	_ = g.Wait()
	return v
}

func (r errgroupRunner) batch(in, out []int, fn func(int) int) {
	var g errgroup.Group
	g.SetLimit(r.limit)
	for i, x := range in {
		g.Go(func() error { out[i] = fn(x); return nil })
	}
	_ = g.Wait()
}

func (errgroupRunner) close() {}

// concRunner uses a ResultPool for single tasks and iter.Mapper for
// batches; a conc pool cannot be reused after Wait, so each call makes one.
type concRunner struct{ limit int }

func openConc(limit int) runner { return concRunner{limit} }

func (r concRunner) one(fn func() int) int {
	p := pool.NewWithResults[int]().WithMaxGoroutines(r.limit)
	p.Go(fn)
	return p.Wait()[0]
}

func (r concRunner) batch(in, out []int, fn func(int) int) {
	m := iter.Mapper[int, int]{MaxGoroutines: r.limit}
	copy(out, m.Map(in, func(x *int) int { return fn(*x) }))
}

func (concRunner) close() {}

// pondRunner keeps one result pool; a batch is a result task group, whose
// Wait returns the results in submission order.
type pondRunner struct{ p pond.ResultPool[int] }

func openPond(limit int) runner { return pondRunner{pond.NewResultPool[int](limit)} }

func (r pondRunner) one(fn func() int) int {
	v, _ := r.p.Submit(fn).Wait()
	return v
}

func (r pondRunner) batch(in, out []int, fn func(int) int) {
	g := r.p.NewGroup()
	for _, x := range in {
		g.Submit(func() int { return fn(x) })
	}
	res, _ := g.Wait()
	copy(out, res)
}

func (r pondRunner) close() { r.p.StopAndWait() }

// antsRunner keeps one ants pool; ants has no results, so tasks write into
// the output and a WaitGroup says when they are done.
type antsRunner struct{ p *ants.Pool }

func openAnts(limit int) runner {
	p, err := ants.NewPool(limit)
	if err != nil {
		panic(err)
	}
	return antsRunner{p}
}

func (r antsRunner) one(fn func() int) int {
	var wg sync.WaitGroup
	var v int
	wg.Add(1)
	if err := r.p.Submit(func() { defer wg.Done(); v = fn() }); err != nil {
		panic(err)
	}
	wg.Wait()
	return v
}

func (r antsRunner) batch(in, out []int, fn func(int) int) {
	var wg sync.WaitGroup
	for i, x := range in {
		wg.Add(1)
		if err := r.p.Submit(func() { defer wg.Done(); out[i] = fn(x) }); err != nil {
			panic(err)
		}
	}
	wg.Wait()
}

func (r antsRunner) close() {
	// ReleaseTimeout, unlike Release, waits for the workers to exit, so
	// goleak sees no stray goroutine.
	if err := r.p.ReleaseTimeout(5 * time.Second); err != nil {
		panic(err)
	}
}
