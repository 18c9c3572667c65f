package lambdainvoke_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/lambdainvoke"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

// limitLog records an executor's limit changes.
type limitLog struct {
	mu     sync.Mutex
	limits []int
}

func (l *limitLog) TaskQueued(fanout.TaskInfo, time.Time)                   {}
func (l *limitLog) AttemptStarted(fanout.TaskInfo, int, time.Time)          {}
func (l *limitLog) AttemptFinished(fanout.TaskInfo, int, error, time.Time)  {}
func (l *limitLog) TaskFinished(fanout.TaskInfo, fanout.Outcome, time.Time) {}
func (l *limitLog) LimitChanged(limit int, _ time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits = append(l.limits, limit)
}

func (l *limitLog) snapshot() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.limits...)
}

func payloads(n int, format string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

// TestConcurrencyNeverExceedsLimit checks, under load with throttles and
// retries, that no more calls run at once than the executor's limit.
func TestConcurrencyNeverExceedsLimit(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{Retries: 2}, 8)
	got := invokeAll(t, t.Context(), iv, e, payloads(160, `{"id":%d,"sleep_ms":5,"error":"throttle","fail_times":1}`)...)
	for _, r := range got {
		if r.Err != nil || r.Attempts != 2 {
			t.Fatalf("result %+v", r)
		}
	}
	st := s.Stats()
	if st.MaxInFlight > 8 || st.MaxInFlight < 2 {
		t.Errorf("at most %d requests at once, want 2..8", st.MaxInFlight)
	}
	if st.Requests != 320 || st.Throttled != 160 {
		t.Errorf("server stats %+v, want 320 requests, 160 throttled", st)
	}
}

// TestAdaptiveConverges runs far more calls at once than the server's
// limit allows: the adaptive limit must come down to about the server's
// and stay there, with every call done in the end.
func TestAdaptiveConverges(t *testing.T) {
	const serverLimit, limit, n = 8, 64, 600
	s := startServer(t, lambdatest.Options{Limit: serverLimit})
	log := &limitLog{}
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{},
		lambdainvoke.Config{Retries: 50, Adaptive: true}, limit, fanout.WithObserver(log))
	got := invokeAll(t, t.Context(), iv, e, payloads(n, `{"id":%d,"sleep_ms":10}`)...)
	for _, r := range got {
		if r.Err != nil {
			t.Fatalf("result %+v", r)
		}
	}
	// The executor reports its limit from New, then each change.
	limits := log.snapshot()
	if len(limits) < 2 || limits[0] != limit || limits[1] != limit/2 {
		t.Fatalf("limits %v, want %d then a first cut to %d", limits, limit, limit/2)
	}
	low, high := limit, 0
	for _, l := range limits[1:] {
		low, high = min(low, l), max(high, l)
	}
	last := e.Limit()
	t.Logf("limit changes: %d, lowest %d, last %d; server: %+v", len(limits)-1, low, last, s.Stats())
	if low > serverLimit || high >= limit {
		t.Errorf("limits went from %d to %d, want below %d at some point and never back to %d", low, high, serverLimit, limit)
	}
	// Once down, each rise past the server's limit is cut again: the limit
	// stays within twice the server's.
	if last > 2*serverLimit {
		t.Errorf("last limit %d, want at most %d", last, 2*serverLimit)
	}
	// Without the adaptive limit every round would throttle 56 of 64
	// calls; with it most calls must pass at the first try.
	if st := s.Stats(); st.Throttled > n/2 {
		t.Errorf("%d throttles for %d calls", st.Throttled, n)
	}
}

// TestAdaptiveNeverAboveStart checks that successes do not raise the limit
// above where it started.
func TestAdaptiveNeverAboveStart(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	log := &limitLog{}
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{Retries: 3, Adaptive: true}, 4, fanout.WithObserver(log))
	got := invokeAll(t, t.Context(), iv, e, append([]string{`{"error":"throttle","fail_times":1,"id":"t"}`}, payloads(100, `{"id":%d}`)...)...)
	for _, r := range got {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	limits := log.snapshot()
	if len(limits) < 4 || limits[0] != 4 || limits[1] != 2 {
		t.Fatalf("limits %v, want 4, a cut to 2, then rises", limits)
	}
	for _, l := range limits {
		if l > 4 {
			t.Errorf("limit rose to %d, above the starting 4", l)
		}
	}
	if e.Limit() != 4 {
		t.Errorf("limit %d after 100 successes, want back at 4", e.Limit())
	}
}
