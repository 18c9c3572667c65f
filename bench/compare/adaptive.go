package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fanout-go/fanout/internal/testserver"
)

// The adaptive workload (-adaptive): `fanout http --adaptive` against fixed
// --per-host values, on adaptiveHosts ports of the test server's /capacity
// endpoint. Each host has adaptiveWorkers workers of adaptiveDelay per
// call and a queue of adaptiveQueue; past those it answers 429 with
// Retry-After: 1. The last host turns bad halfway through its calls: it
// keeps badWorkers workers.
const (
	adaptiveHosts   = 4
	adaptiveURLs    = 2000 // per host
	adaptiveWorkers = 8
	adaptiveQueue   = 24
	adaptiveDelay   = 20 * time.Millisecond
	badWorkers      = 2
	adaptiveC       = 256 // fanout's overall -c: never the bottleneck
)

var adaptiveFixed = []int{2, 4, 8, 16, 32, 64}

// adaptiveRun is one fanout run of the adaptive workload.
type adaptiveRun struct {
	name     string
	wall     time.Duration
	rejected int64   // 429s the hosts sent
	calls    []int64 // requests per host, retries included
	healthy  float64 // the healthy hosts' calls per second, while they had calls
	verdict  string
	hosts    string // --host-stats of the adaptive runs
	badHost  string
}

func runAdaptive(ctx context.Context, cfg config, work string) error {
	s, err := testserver.Start(testserver.WithPorts(adaptiveHosts))
	if err != nil {
		return err
	}
	defer s.Close()
	fanout := filepath.Join(cfg.bin, "fanout")
	var runs [][]adaptiveRun // per round
	for round := range cfg.rounds {
		var rs []adaptiveRun
		for _, n := range adaptiveFixed {
			r, err := adaptiveOnce(ctx, s, fanout, work, fmt.Sprintf("r%d-fixed%d", round, n), true,
				"--per-host", fmt.Sprint(n))
			if err != nil {
				return err
			}
			r.name = fmt.Sprintf("fixed --per-host %d", n)
			rs = append(rs, r)
		}
		r, err := adaptiveOnce(ctx, s, fanout, work, fmt.Sprintf("r%d-adaptive", round), true, "--adaptive", "--per-host", "64", "--host-stats")
		if err != nil {
			return err
		}
		r.name = "--adaptive --per-host 64"
		rs = append(rs, r)
		r, err = adaptiveOnce(ctx, s, fanout, work, fmt.Sprintf("r%d-adaptive-nobad", round), false, "--adaptive", "--per-host", "64", "--host-stats")
		if err != nil {
			return err
		}
		r.name = "--adaptive --per-host 64, no bad host (control)"
		rs = append(rs, r)
		// -c sizes the window of URLs read ahead (twice -c): one that holds
		// the whole input lets the healthy hosts run ahead of the bad one.
		r, err = adaptiveOnce(ctx, s, fanout, work, fmt.Sprintf("r%d-adaptive-c4096", round), true, "--adaptive", "--per-host", "64", "-c", "4096")
		if err != nil {
			return err
		}
		r.name = "--adaptive --per-host 64 -c 4096 (read-ahead window > input)"
		rs = append(rs, r)
		runs = append(runs, rs)
	}
	report := adaptiveReport(runs)
	fmt.Print(report)
	if cfg.out != "" {
		return os.WriteFile(cfg.out, []byte(report), 0o644)
	}
	return nil
}

// adaptiveOnce runs fanout once on fresh pools named after tag.
func adaptiveOnce(ctx context.Context, s *testserver.Server, fanout, work, tag string, bad bool, args ...string) (adaptiveRun, error) {
	bases := s.BaseURLs()
	path := filepath.Join(work, tag+".urls")
	var b strings.Builder
	pool := func(h int) string { return fmt.Sprintf("%s-h%d", tag, h) }
	for i := range adaptiveHosts * adaptiveURLs {
		h := i % adaptiveHosts
		q := fmt.Sprintf("n=%d&queue=%d&delay=%s&retry-after=1", adaptiveWorkers, adaptiveQueue, adaptiveDelay)
		if bad && h == adaptiveHosts-1 {
			q += fmt.Sprintf("&bad-after=%d&bad-n=%d", adaptiveURLs/2, badWorkers)
		}
		fmt.Fprintf(&b, "%s/capacity/%s?%s&i=%d\n", bases[h], pool(h), q, i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return adaptiveRun{}, err
	}
	argv := append([]string{"http", "-c", fmt.Sprint(adaptiveC), "--retries", "50", "--max-retry-after", "5s",
		"--unordered", "-o", "jsonl", "-i", path}, args...)
	cmd := exec.CommandContext(ctx, fanout, argv...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	err := cmd.Run()
	r := adaptiveRun{wall: time.Since(start), verdict: "ok"}
	if err != nil {
		r.verdict = fmt.Sprintf("fanout: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	r.hosts = stderr.String()
	r.badHost = strings.TrimPrefix(bases[adaptiveHosts-1], "http://")
	ok := 0
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var rec struct {
			Status int `json:"status"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Status == 200 {
			ok++
		}
	}
	if want := adaptiveHosts * adaptiveURLs; ok != want && r.verdict == "ok" {
		r.verdict = fmt.Sprintf("%d of %d records 200", ok, want)
	}
	var healthyCalls int64
	var healthyTime time.Duration
	for h := range adaptiveHosts {
		st := s.Capacity(pool(h))
		r.rejected += st.Rejected
		r.calls = append(r.calls, st.Calls)
		if h < adaptiveHosts-1 {
			healthyCalls += st.Calls - st.Rejected
			healthyTime += st.Last.Sub(st.First)
		}
	}
	if healthyTime > 0 {
		r.healthy = float64(healthyCalls) / healthyTime.Seconds() // per host: summed calls over summed busy times
	}
	return r, nil
}

// adaptiveReport renders the median of each setting over the rounds.
func adaptiveReport(runs [][]adaptiveRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Adaptive per-host concurrency\n\n")
	fmt.Fprintf(&b, "%d hosts x %d URLs, %d workers of %v per host and a queue of %d, 429 + Retry-After: 1 beyond; "+
		"the last host drops to %d workers after its %dth call. `fanout http -c %d --retries 50 --unordered`; medians of %d rounds.\n\n",
		adaptiveHosts, adaptiveURLs, adaptiveWorkers, adaptiveDelay, adaptiveQueue, badWorkers, adaptiveURLs/2, adaptiveC, len(runs))
	fmt.Fprintf(&b, "| setting | wall | vs best fixed | 429s | calls per host | healthy hosts' 2xx/s each | check |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|\n")
	med := make([]adaptiveRun, len(runs[0]))
	for i := range med {
		var walls []time.Duration
		var rej []int64
		var rates []float64
		for _, rs := range runs {
			walls = append(walls, rs[i].wall)
			rej = append(rej, rs[i].rejected)
			rates = append(rates, rs[i].healthy)
		}
		slices.Sort(walls)
		slices.Sort(rej)
		slices.Sort(rates)
		med[i] = runs[len(runs)/2][i]
		med[i].wall, med[i].rejected, med[i].healthy = walls[len(walls)/2], rej[len(rej)/2], rates[len(rates)/2]
	}
	best := med[0].wall
	for _, r := range med[:len(adaptiveFixed)] {
		best = min(best, r.wall)
	}
	for _, r := range med {
		calls := make([]string, len(r.calls))
		for i, c := range r.calls {
			calls[i] = fmt.Sprint(c)
		}
		fmt.Fprintf(&b, "| %s | %.2fs | %.2fx | %d | %s | %.0f | %s |\n", r.name, r.wall.Seconds(),
			r.wall.Seconds()/best.Seconds(), r.rejected, strings.Join(calls, " / "), r.healthy, r.verdict)
	}
	for _, r := range med[len(adaptiveFixed):] {
		if !strings.Contains(r.hosts, "HOST") {
			continue
		}
		bad := ""
		if !strings.Contains(r.name, "no bad host") {
			bad = fmt.Sprintf(" (the host that turns bad is %s)", r.badHost)
		}
		fmt.Fprintf(&b, "\n`%s`, --host-stats of the middle round%s:\n\n```\n%s```\n", r.name, bad, r.hosts)
	}
	return b.String()
}
