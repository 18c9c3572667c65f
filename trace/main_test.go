package trace

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fanout-go/fanout"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is the synthetic start of recorded runs in tests.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// ms returns t0 plus n milliseconds.
func ms(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Millisecond))) }

// job is a synthetic task: times in milliseconds from t0; start < 0 means
// it never started.
type job struct {
	id            uint64
	label, key    string
	queued, start float64
	finish        float64
	attempts      int
	err           error
	abandoned     bool
}

// replay calls the recorder's hooks for jobs in time order, as an executor
// would; at equal times finishes come before starts.
func replay(r *Recorder, jobs []job) {
	type ev struct {
		at    float64
		order int // 0 finish, 1 queued, 2 start
		j     job
	}
	var evs []ev
	for _, j := range jobs {
		evs = append(evs, ev{j.queued, 1, j}, ev{j.finish, 0, j})
		if j.start >= 0 {
			evs = append(evs, ev{j.start, 2, j})
		}
	}
	slices.SortStableFunc(evs, func(a, b ev) int {
		if a.at != b.at {
			if a.at < b.at {
				return -1
			}
			return 1
		}
		return a.order - b.order
	})
	for _, e := range evs {
		info := fanout.TaskInfo{ID: e.j.id, Label: e.j.label, Key: e.j.key}
		switch e.order {
		case 1:
			r.TaskQueued(info, ms(e.at))
		case 2:
			n := max(e.j.attempts, 1)
			for a := 1; a <= n; a++ {
				r.AttemptStarted(info, a, ms(e.at))
			}
		case 0:
			attempts := 0
			if e.j.start >= 0 {
				attempts = max(e.j.attempts, 1)
				r.AttemptFinished(info, attempts, e.j.err, ms(e.at))
			}
			r.TaskFinished(info, fanout.Outcome{Err: e.j.err, Attempts: attempts, Abandoned: e.j.abandoned, Settled: ms(e.at)}, ms(e.at))
		}
	}
}

// logSink is a slog handler that keeps every record.
type logSink struct {
	mu      sync.Mutex
	records []slog.Record
	added   chan struct{}
}

func newLogSink() *logSink { return &logSink{added: make(chan struct{}, 1000)} }

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *logSink) WithGroup(string) slog.Handler            { return s }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	s.records = append(s.records, r.Clone())
	s.mu.Unlock()
	select {
	case s.added <- struct{}{}:
	default:
	}
	return nil
}

// all returns the records so far, each as its message and attributes.
func (s *logSink) all() []logged {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logged
	for _, r := range s.records {
		l := logged{msg: r.Message, level: r.Level, attrs: map[string]slog.Value{}}
		r.Attrs(func(a slog.Attr) bool {
			l.attrs[a.Key] = a.Value
			return true
		})
		out = append(out, l)
	}
	return out
}

type logged struct {
	msg   string
	level slog.Level
	attrs map[string]slog.Value
}

func newSlogger(h slog.Handler) *slog.Logger { return slog.New(h) }
