package trace

import (
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
)

// record feeds n finished tasks to r, 64 at a time, 1ms each.
func record(r *Recorder, n int) {
	t0 := time.Now()
	for i := range n {
		info := fanout.TaskInfo{ID: uint64(i + 1), Label: "https://example.com/item"}
		q := t0.Add(time.Duration(i/64) * time.Millisecond)
		r.TaskQueued(info, q)
		r.AttemptStarted(info, 1, q)
		r.AttemptFinished(info, 1, nil, q.Add(time.Millisecond))
		r.TaskFinished(info, fanout.Outcome{Attempts: 1}, q.Add(time.Millisecond))
	}
}

// BenchmarkHooks is the recorder's cost per task: the four hooks of one
// task, and the memory kept for it.
func BenchmarkHooks(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := New()
	b.ResetTimer()
	record(r, b.N)
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-B/task")
	runtime.KeepAlive(r)
}

func benchmarkOutput(b *testing.B, n int, write func(*Recorder) error) {
	r := New()
	record(r, n)
	b.ResetTimer()
	for b.Loop() {
		if err := write(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSummary1M(b *testing.B) {
	benchmarkOutput(b, 1_000_000, func(r *Recorder) error { r.Summary(); return nil })
}

func BenchmarkWriteChromeTrace1M(b *testing.B) {
	benchmarkOutput(b, 1_000_000, func(r *Recorder) error { return r.WriteChromeTrace(io.Discard) })
}

func BenchmarkWriteHTML1M(b *testing.B) {
	benchmarkOutput(b, 1_000_000, func(r *Recorder) error { return r.WriteHTML(io.Discard) })
}
