package cli

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/url"
	"slices"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/httpcheck"
)

// hostFlags are `fanout http`'s flags for per-host adaptive concurrency and
// per-host statistics.
type hostFlags struct {
	adaptive, stats bool
	hosts           *hostStats // with --host-stats
}

func (h *hostFlags) register(fs *FlagSet) {
	fs.BoolVar(&h.adaptive, "", "adaptive", false, "adapt each host's concurrency between 1 and --per-host (-c without it) to its 429s, 503s, timeouts and latency; a host's Retry-After pauses that host only")
	fs.BoolVar(&h.stats, "", "host-stats", false, "at the end, print per host to stderr: calls, statuses by class, throttles, concurrency limit min/mean/max, p50/p95 latency")
}

// execOpts adds the statistics' observer to opts when asked for.
func (h *hostFlags) execOpts(opts []fanout.Option) []fanout.Option {
	if !h.stats {
		return opts
	}
	h.hosts = &hostStats{hosts: map[string]*hostStat{}, start: time.Now()}
	return append(opts, fanout.WithObserver(h.hosts))
}

// tap makes a check function count each result in the statistics.
func (h *hostFlags) tap(all checkFunc) checkFunc {
	if !h.stats {
		return all
	}
	return all.each(func(r httpcheck.Result) httpcheck.Result {
		h.hosts.result(r)
		return r
	})
}

// checkFunc is a Checker's CheckAll or CheckAllUnordered.
type checkFunc func(context.Context, *fanout.Executor, iter.Seq[httpcheck.Input]) iter.Seq[httpcheck.Result]

// each returns all with f applied to each result, in the order all
// yields them: what --host-stats and --accept do to the records.
func (all checkFunc) each(f func(httpcheck.Result) httpcheck.Result) checkFunc {
	return func(ctx context.Context, e *fanout.Executor, in iter.Seq[httpcheck.Input]) iter.Seq[httpcheck.Result] {
		return func(yield func(httpcheck.Result) bool) {
			for r := range all(ctx, e, in) {
				if !yield(f(r)) {
					return
				}
			}
		}
	}
}

// report prints the statistics, if asked for, to w.
func (h *hostFlags) report(w io.Writer) {
	if h.hosts != nil {
		h.hosts.print(w, time.Now())
	}
}

// hostStats gathers --host-stats: results by host, and from the executor
// the throttled attempts and each host's limit over time. It keeps one
// float32 per result for the latency percentiles.
type hostStats struct {
	mu    sync.Mutex
	start time.Time
	hosts map[string]*hostStat
}

type hostStat struct {
	calls     int
	classes   map[string]int // "2xx".."5xx", or the error kind
	throttles int            // attempts answered 429 or 503, or timed out
	latencies []float32      // ms, one per result
	limits    []limitPoint
}

type limitPoint struct {
	at    time.Time
	limit int
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "-"
	}
	return u.Host
}

func (s *hostStats) hostLocked(h string) *hostStat {
	st := s.hosts[h]
	if st == nil {
		st = &hostStat{classes: map[string]int{}}
		s.hosts[h] = st
	}
	return st
}

func (s *hostStats) result(r httpcheck.Result) {
	class := string(r.ErrorKind)
	if r.Err == nil || r.Status != 0 && class == "" {
		class = fmt.Sprintf("%dxx", r.Status/100)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.hostLocked(hostOf(r.URL))
	st.calls++
	st.classes[class]++
	st.latencies = append(st.latencies, float32(r.DurationMS))
}

func (s *hostStats) TaskQueued(fanout.TaskInfo, time.Time)                   {}
func (s *hostStats) AttemptStarted(fanout.TaskInfo, int, time.Time)          {}
func (s *hostStats) TaskFinished(fanout.TaskInfo, fanout.Outcome, time.Time) {}

func (s *hostStats) AttemptFinished(t fanout.TaskInfo, _ int, err error, _ time.Time) {
	if err == nil || !httpcheck.Overloaded(err) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hostLocked(hostOf(t.Label)).throttles++
}

// KeyLimitChanged records an adaptive host limit (the key is the host).
func (s *hostStats) KeyLimitChanged(key string, limit int, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.hostLocked(key)
	st.limits = append(st.limits, limitPoint{at, limit})
}

// limitRange returns the lowest, time-weighted mean and highest limit up
// to end; ok is false when the host's limit never adapted.
func (st *hostStat) limitRange(end time.Time) (lo int, mean float64, hi int, ok bool) {
	if len(st.limits) == 0 {
		return 0, 0, 0, false
	}
	lo, hi = st.limits[0].limit, st.limits[0].limit
	var sum, total float64
	for i, p := range st.limits {
		lo, hi = min(lo, p.limit), max(hi, p.limit)
		next := end
		if i+1 < len(st.limits) {
			next = st.limits[i+1].at
		}
		d := next.Sub(p.at).Seconds()
		sum += d * float64(p.limit)
		total += d
	}
	if total <= 0 {
		return lo, float64(st.limits[len(st.limits)-1].limit), hi, true
	}
	return lo, sum / total, hi, true
}

func percentile(sorted []float32, p float64) float32 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// print writes one line per host, busiest first, each prefixed "fanout:"
// as everything fanout writes to stderr.
func (s *hostStats) print(w io.Writer, end time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hosts := make([]string, 0, len(s.hosts))
	for h := range s.hosts {
		hosts = append(hosts, h)
	}
	sort.Slice(hosts, func(i, j int) bool {
		a, b := s.hosts[hosts[i]], s.hosts[hosts[j]]
		if a.calls != b.calls {
			return a.calls > b.calls
		}
		return hosts[i] < hosts[j]
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "fanout: HOST\tCALLS\tSTATUSES\tTHROTTLES\tLIMIT MIN/MEAN/MAX\tP50\tP95")
	for _, h := range hosts {
		st := s.hosts[h]
		classes := make([]string, 0, len(st.classes))
		for c, n := range st.classes {
			classes = append(classes, fmt.Sprintf("%s=%d", c, n))
		}
		slices.Sort(classes)
		limit := "-"
		if lo, mean, hi, ok := st.limitRange(end); ok {
			limit = fmt.Sprintf("%d/%.1f/%d", lo, mean, hi)
		}
		slices.Sort(st.latencies)
		ms := func(v float32) string {
			return shortDuration(time.Duration(float64(v) * float64(time.Millisecond)))
		}
		classText := "-"
		if len(classes) > 0 {
			classText = fmt.Sprint(classes)
			classText = classText[1 : len(classText)-1]
		}
		fmt.Fprintf(tw, "fanout: %s\t%d\t%s\t%d\t%s\t%s\t%s\n", h, st.calls, classText, st.throttles, limit,
			ms(percentile(st.latencies, 0.50)), ms(percentile(st.latencies, 0.95)))
	}
	tw.Flush()
}
