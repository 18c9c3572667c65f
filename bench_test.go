package fanout_test

import (
	"context"
	"slices"
	"testing"

	"github.com/fanout-go/fanout"
)

// Side-by-side comparisons with other libraries live in bench/; these track
// the executor's own costs.

func BenchmarkSubmitAwait(b *testing.B) {
	ex := fanout.New()
	defer ex.Close()
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fanout.Submit(ctx, ex, fn).Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSubmitThenGather(b *testing.B) {
	ex := fanout.New()
	defer ex.Close()
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	fs := make([]*fanout.Future[int], 1000)
	b.ReportAllocs()
	for b.Loop() {
		for i := range fs {
			fs[i] = fanout.Submit(ctx, ex, fn)
		}
		if _, err := fanout.Gather(ctx, fs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fs)), "ns/task")
}

func BenchmarkMap(b *testing.B) {
	ex := fanout.New()
	defer ex.Close()
	ctx := context.Background()
	in := make([]int, 10_000)
	fn := func(_ context.Context, i int) (int, error) { return i, nil }
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range fanout.Map(ctx, ex, slices.Values(in), fn) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(in)), "ns/task")
}
