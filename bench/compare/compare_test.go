package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fanout-go/fanout/internal/testserver"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseRecord(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		f      format
		idx    int
		status int
		ok     bool
	}{
		{"fanout http", `{"index":7,"url":"http://127.0.0.1:1/status/200?delay=50ms&i=7","status":200}`, jsonLines, 7, 200, true},
		{"fanout http, url of another record", `{"index":7,"url":"http://127.0.0.1:1/status/200?i=8","status":200}`, jsonLines, 0, 0, false},
		{"fanout lambda", `{"index":3,"status":200,"function_error":""}`, jsonLines, 3, 200, true},
		{"fanout failure", `{"index":2,"url":"http://127.0.0.1:1/x?i=2","status":0,"error":"reset"}`, jsonLines, 2, 0, true},
		{"json without index", `{"status":200}`, jsonLines, 0, 0, false},
		{"httpx", `{"url":"http://127.0.0.1:1/status/200?delay=50ms\u0026i=12","input":"http://127.0.0.1:1/status/200?delay=50ms\u0026i=12","status_code":503}`, httpxJSON, 12, 503, true},
		{"curl", "200 http://127.0.0.1:1/status/200?i=41", statusKey, 41, 200, true},
		{"python lambda", "200 5", statusKey, 5, 200, true},
		{"no index in url", "200 http://127.0.0.1:1/status/200?xi=4", statusKey, 0, 0, false},
		{"progress noise", "DL% UL%  Dled  Uled", statusKey, 0, 0, false},
		{"fanout exec", `{"index":4,"input":"4","argv":["true","4"],"exit_code":0,"attempts":1}`, execJSON, 4, 200, true},
		{"fanout exec failure", `{"index":5,"exit_code":-1,"error_kind":"not_found"}`, execJSON, 5, 500, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, status, ok := parseRecord([]byte(tt.line), tt.f)
			if ok != tt.ok || (ok && (idx != tt.idx || status != tt.status)) {
				t.Errorf("parseRecord = %d, %d, %v; want %d, %d, %v", idx, status, ok, tt.idx, tt.status, tt.ok)
			}
		})
	}
}

func TestCheckVerdict(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		verdict string
		dropped bool
	}{
		{"all there", "200 0\n200 1\n200 2\n", "ok", false},
		{"one dropped", "200 0\n200 2\n", "dropped 1", true},
		{"duplicate and wrong status", "200 0\n200 0\n0 1\n503 2\n", "1 duplicates, 1 x status 0, 1 x status 503", false},
		{"junk ignored", "200 0\nnoise\n200 1\n\n200 2\n200 3\n", "ok", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCheck(3)
			if err := c.read(strings.NewReader(tt.out), statusKey); err != nil {
				t.Fatal(err)
			}
			v, dropped := c.verdict(200)
			if v != tt.verdict || dropped != tt.dropped {
				t.Errorf("verdict = %q, %v; want %q, %v", v, dropped, tt.verdict, tt.dropped)
			}
		})
	}
}

func TestIdeal(t *testing.T) {
	w := &workload{n: 20_000, delay: 50 * time.Millisecond}
	if got := w.ideal(500); got != 2*time.Second {
		t.Errorf("ideal(500) = %v, want 2s", got)
	}
	if got := w.ideal(300); got != 67*50*time.Millisecond { // 66.7 waves round up
		t.Errorf("ideal(300) = %v, want 3.35s", got)
	}
}

func TestSummarizeSkipsUntimedRuns(t *testing.T) {
	cl := &cell{runs: []outcome{
		{wall: 3 * time.Second, rssKB: 10 << 10, verdict: "ok"},
		{wall: time.Second, rssKB: 30 << 10, verdict: "dropped 4", dropped: true},
		{wall: 2 * time.Second, rssKB: 20 << 10, verdict: "ok"},
		{wall: 4 * time.Second, rssKB: 20 << 10, verdict: "ok"},
	}}
	s := summarize(cl)
	if s.median != 3*time.Second || len(s.timed) != 3 {
		t.Errorf("median %v of %d timed runs, want 3s of 3", s.median, len(s.timed))
	}
	if s.rssKB != 30<<10 || s.verdict != "dropped 4" {
		t.Errorf("rss %d, verdict %q; want the worst of the rounds", s.rssKB, s.verdict)
	}
}

// TestRunOnceCurl runs two real contenders, curl and xargs + curl, against
// the project's test server through the same code path as the harness, and
// checks the verdict on their real output.
func TestRunOnceCurl(t *testing.T) {
	for _, tool := range []string{"curl", "xargs", "/usr/bin/time"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	srv, err := testserver.Start(testserver.WithPorts(3))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	w := &workload{name: "t", kind: "http", n: 30, delay: 10 * time.Millisecond, concs: []int{10}, timeout: time.Minute}
	in, err := writeInputs(dir, w, srv.BaseURLs())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"curl --parallel --parallel-max C", "xargs -P C curl"} {
		t.Run(name, func(t *testing.T) {
			ct := contenderNamed(t, name)
			argv, stdin := ct.cmd(&env{}, in, w, 10)
			o := runOnce(context.Background(), dir, argv, stdin, nil, w.timeout, w.n, ct.format)
			if o.err != nil || o.verdict != "ok" || !o.timed() {
				t.Fatalf("outcome %+v, want a timed run with verdict ok", o)
			}
			if o.rssKB <= 0 {
				t.Errorf("peak RSS %d KB, want the figure from /usr/bin/time", o.rssKB)
			}
		})
	}
	// The same run checked as if the list were five calls longer: the five
	// missing records make it untimed.
	t.Run("dropped records are not timed", func(t *testing.T) {
		ct := contenderNamed(t, "xargs -P C curl")
		argv, stdin := ct.cmd(&env{}, in, w, 10)
		o := runOnce(context.Background(), dir, argv, stdin, nil, w.timeout, w.n+5, ct.format)
		if o.verdict != "dropped 5" || o.timed() {
			t.Errorf("verdict %q, timed %v; want dropped 5, not timed", o.verdict, o.timed())
		}
	})
	if got := srv.Stats().Requests; got != 3*30 {
		t.Errorf("server saw %d requests, want 90", got)
	}
	if _, err := os.Stat(dir + "/stdout"); !os.IsNotExist(err) {
		t.Errorf("runOnce left its output file behind (%v)", err)
	}
}

func contenderNamed(t *testing.T, name string) *contender {
	t.Helper()
	for i := range contenders {
		if contenders[i].name == name {
			return &contenders[i]
		}
	}
	t.Fatalf("no contender %q", name)
	return nil
}

func TestFanoutFailures(t *testing.T) {
	ref := &contender{name: "fanout http -c C", ref: true}
	peer := &contender{name: "curl"}
	w := &workload{name: "w"}
	good := outcome{wall: time.Second, verdict: "ok"}
	tests := []struct {
		name  string
		cells []*cell
		fail  bool
	}{
		{"all good", []*cell{{c: ref, runs: []outcome{good, good}}}, false},
		{"a peer dropped records", []*cell{{c: ref, runs: []outcome{good}}, {c: peer, runs: []outcome{{verdict: "dropped 3", dropped: true}}}}, false},
		{"fanout skipped", []*cell{{c: ref, skipped: "not built"}}, false},
		{"fanout dropped records", []*cell{{c: ref, runs: []outcome{good, {verdict: "dropped 1", dropped: true}}}}, true},
		{"fanout wrong status", []*cell{{c: ref, runs: []outcome{{wall: time.Second, verdict: "2 x status 0"}}}}, true},
		{"fanout timed out", []*cell{{c: ref, runs: []outcome{{timedOut: true, verdict: "ok"}}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fanoutFailures([]*group{{w: w, conc: 5, cells: tt.cells}})
			if (err != nil) != tt.fail {
				t.Errorf("fanoutFailures = %v, want failure %v", err, tt.fail)
			}
		})
	}
}

func TestParseCounts(t *testing.T) {
	for _, tc := range []struct {
		line string
		want serverCounts
		ok   bool
	}{
		{"stats requests=20000 connections=517 peak=500", serverCounts{20000, 517, 500, 0}, true},
		{"stats requests=20000 connections=517 peak=500 cpu=1250000", serverCounts{20000, 517, 500, 1250 * time.Millisecond}, true},
		{"stats requests=10 connections=3 cpu=x", serverCounts{}, false},
		// The Lambda server does not say its peak.
		{"stats requests=10 connections=3", serverCounts{10, 3, 0, 0}, true},
		{"stats requests=10", serverCounts{requests: 10}, false},
		{"stats requests=x connections=3", serverCounts{}, false},
		{"requests=1 connections=1", serverCounts{}, false},
	} {
		got, ok := parseCounts(tc.line)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseCounts(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// TestSummarizeKeepsPeakConnections checks that a cell's peak of open
// connections is the highest of its rounds, not the last round's.
func TestSummarizeKeepsPeakConnections(t *testing.T) {
	cl := &cell{runs: []outcome{
		{wall: time.Second, verdict: "ok", requests: 100, conns: 110, peakConns: 100},
		{wall: time.Second, verdict: "ok", requests: 100, conns: 104, peakConns: 101},
		{wall: time.Second, verdict: "ok", requests: 100, conns: 103, peakConns: 99},
	}}
	s := summarize(cl)
	if s.peakConns != 101 || s.conns != 103 {
		t.Errorf("peak %d, connections %d; want 101 (the highest round) and 103 (the last)", s.peakConns, s.conns)
	}
}
