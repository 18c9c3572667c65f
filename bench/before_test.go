//go:build before

package bench

import (
	"context"
	"slices"

	before "github.com/fanout-go/fanout/bench/internal/before"
)

// With -tags before, the core as before.sh extracted it from an earlier
// revision runs as one more contender, right after fanout, so that one run
// measures both.
func init() {
	contenders = slices.Insert(contenders, 1, contender{"fanout-before", openBefore})
}

type beforeRunner struct{ e *before.Executor }

func openBefore(limit int) runner { return beforeRunner{before.New(before.WithLimit(limit))} }

func (r beforeRunner) one(fn func() int) int {
	ctx := context.Background()
	v, _ := before.Submit(ctx, r.e, func(context.Context) (int, error) { return fn(), nil }).Await(ctx)
	return v
}

func (r beforeRunner) batch(in, out []int, fn func(int) int) {
	ctx := context.Background()
	task := func(_ context.Context, x int) (int, error) { return fn(x), nil }
	for i, res := range before.Map(ctx, r.e, slices.Values(in), task) {
		out[i] = res.Value
	}
}

func (r beforeRunner) close() { r.e.Close() }
