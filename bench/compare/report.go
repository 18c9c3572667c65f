package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Targets from the issues; the report says whether each was met.
const (
	targetHTTPIdeal   = 1.10 // fanout http, 20,000 URLs x 50 ms at C=500
	targetHTTPStart   = 1.3  // fanout http, 2,000 URLs x 50 ms at C=500: start-up costs
	targetRSSMB       = 64   // fanout http, 1,000,000 URLs from stdin at C=1000
	targetLambdaIdeal = 1.10 // fanout lambda, 2,000 calls x 100 ms at C=200
	targetLambdaWide  = 1.15 // fanout lambda, 10,000 calls x 100 ms at C=1000
	targetExecXargs   = 1.10 // fanout exec, 10,000 x true at C=8, against xargs -P
	targetExecIdeal   = 1.05 // fanout exec, 1,000 x sleep 0.1 at C=100 (or no slower than xargs -P)
)

// summary is a cell's figures over its rounds.
type summary struct {
	timed  []time.Duration
	median time.Duration
	rssKB  int64
	cpu    time.Duration // of the run with the median wall time
	// serverCPU is the server's CPU during that run (0: not known).
	serverCPU time.Duration
	// requests and conns are what the server saw in the last run;
	// peakConns is the most connections open at once in any run (0 when
	// the server does not say).
	requests, conns, peakConns int64
	verdict                    string
	note                       string
}

func summarize(cl *cell) summary {
	var s summary
	s.verdict = "ok"
	for _, o := range cl.runs {
		s.rssKB = max(s.rssKB, o.rssKB)
		if o.requests > 0 {
			s.requests, s.conns = o.requests, o.conns
		}
		s.peakConns = max(s.peakConns, o.peakConns)
		switch {
		case o.err != nil:
			s.note = "error: " + o.err.Error()
		case o.timedOut:
			s.note = "timed out"
		}
		if o.verdict != "" && o.verdict != "ok" && s.verdict == "ok" {
			s.verdict = o.verdict
		}
		if o.timed() {
			s.timed = append(s.timed, o.wall)
		}
	}
	if len(s.timed) > 0 {
		sorted := slices.Clone(s.timed)
		slices.Sort(sorted)
		s.median = sorted[len(sorted)/2]
		for _, o := range cl.runs {
			if o.timed() && o.wall == s.median {
				s.cpu, s.serverCPU = o.cpu, o.serverCPU
			}
		}
	}
	return s
}

func render(cfg config, e *env, groups []*group) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Side-by-side results (`go run ./compare%s`)\n\n", map[bool]string{true: " -quick"}[cfg.quick])
	b.WriteString(machine(e))
	if cfg.before != "" {
		fmt.Fprintf(&b, "\nRows marked \"before\" run `fanout` built from `%s`, in the same rounds.\n", cfg.before)
	}
	b.WriteString("\n")
	rounds := fmt.Sprintf("median of %d", cfg.rounds)
	if cfg.rounds == 1 {
		rounds = "1 run"
	}
	for _, g := range groups {
		if !g.measured() {
			continue // not reached yet: an interrupted run
		}
		w := g.w
		fmt.Fprintf(&b, "### %s, C=%d", w.name, g.conc)
		if ideal := w.ideal(g.conc); ideal > 0 {
			fmt.Fprintf(&b, " (ideal %s)", fmtDur(ideal))
		}
		b.WriteString("\n\n")
		fmt.Fprintf(&b, "| contender | concurrency | wall (%s) | x ideal | x fanout | peak RSS | CPU | server CPU | calls/s | requests / connections (most open at once) | correct |\n", rounds)
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
		ref := refMedian(g)
		for _, cl := range g.cells {
			c := fmt.Sprint(g.conc)
			name := strings.NewReplacer(" C", " "+c, "(C)", "("+c+")").Replace(cl.c.name)
			if cl.skipped != "" {
				fmt.Fprintf(&b, "| %s | | %s | | | | | | | | |\n", name, cl.skipped)
				continue
			}
			s := summarize(cl)
			wall, xIdeal, xRef, rate := "—", "—", "—", "—"
			if s.median > 0 {
				wall = fmtDur(s.median)
				switch {
				case len(s.timed) > 1:
					wall += fmt.Sprintf(" (%s–%s)", fmtDur(slices.Min(s.timed)), fmtDur(slices.Max(s.timed)))
				case cfg.rounds > 1:
					wall += " (1 run)"
				}
				if ideal := w.ideal(g.conc); ideal > 0 {
					xIdeal = fmt.Sprintf("%.2f", float64(s.median)/float64(ideal))
				}
				if ref > 0 {
					xRef = fmt.Sprintf("%.2f", float64(s.median)/float64(ref))
				}
				rate = fmt.Sprintf("%.0f", float64(w.n)/s.median.Seconds())
			}
			if s.note != "" {
				wall = s.note
			}
			conns := "—"
			if s.requests > 0 {
				conns = fmt.Sprintf("%d / %d", s.requests, s.conns)
				if s.peakConns > 0 {
					conns += fmt.Sprintf(" (%d)", s.peakConns)
				}
			}
			cpu := "—"
			if s.cpu > 0 {
				cpu = fmtDur(s.cpu)
			}
			serverCPU := "—"
			if s.serverCPU > 0 {
				serverCPU = fmtDur(s.serverCPU)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d MB | %s | %s | %s | %s | %s |\n",
				name, cl.c.conc(g.conc), wall, xIdeal, xRef, s.rssKB>>10, cpu, serverCPU, rate, conns, s.verdict)
		}
		b.WriteString("\n")
	}
	b.WriteString(targets(cfg, groups))
	return b.String()
}

// measured reports whether any contender of g ran or was left out.
func (g *group) measured() bool {
	for _, cl := range g.cells {
		if len(cl.runs) > 0 || cl.skipped != "" {
			return true
		}
	}
	return false
}

// refMedian is the median wall time of fanout at the group's concurrency.
func refMedian(g *group) time.Duration {
	for _, cl := range g.cells {
		if cl.c.ref && cl.skipped == "" {
			return summarize(cl).median
		}
	}
	return 0
}

func targets(cfg config, groups []*group) string {
	var b strings.Builder
	b.WriteString("### Targets\n\n")
	if cfg.quick {
		b.WriteString("A quick run: the workloads are smaller than the targets name, so these are indications only.\n\n")
	}
	verdict := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**missed**"
	}
	byName := func(name string, c int) *group {
		for _, g := range groups {
			if g.w.name == name && g.conc == c {
				return g
			}
		}
		return nil
	}
	ideal := func(g *group, what string, target float64) {
		if g == nil {
			return
		}
		if m := refMedian(g); m > 0 {
			x := float64(m) / float64(g.w.ideal(g.conc))
			fmt.Fprintf(&b, "- `%s` at %s, C=%d: %.2fx the ideal (target at most %.2fx): %s\n",
				what, g.w.name, g.conc, x, target, verdict(x <= target))
		}
	}
	ideal(byName("http 20,000 x 50 ms", 500), "fanout http", targetHTTPIdeal)
	ideal(byName("http 2,000 x 50 ms", 500), "fanout http", targetHTTPStart)
	ideal(byName("lambda 2,000 x 100 ms", 200), "fanout lambda", targetLambdaIdeal)
	ideal(byName("lambda 10,000 x 100 ms", 1000), "fanout lambda", targetLambdaWide)
	for _, g := range groups {
		for _, cl := range g.cells {
			if !cl.c.ref || cl.skipped != "" {
				continue
			}
			// The target is about connections held at once: a client
			// that closes one and opens another stays within its limit.
			s := summarize(cl)
			switch {
			case s.peakConns > 0:
				// The server counts a connection until it reads its close,
				// so one the client closed to make room may still count
				// beside its replacement for a moment.
				fmt.Fprintf(&b, "- `fanout %s` connections open at once at %s, C=%d: at most %d as the server counts them (%d over the run; target at most %d at once): %s\n",
					g.w.kind, g.w.name, g.conc, s.peakConns, s.conns, g.conc, verdict(s.peakConns <= int64(g.conc)))
			case s.conns > 0:
				fmt.Fprintf(&b, "- `fanout %s` connections at %s, C=%d: %d over the run (target at most %d): %s\n",
					g.w.kind, g.w.name, g.conc, s.conns, g.conc, verdict(s.conns <= int64(g.conc)))
			}
		}
	}
	if g := byName(pythonWorkload.name, pythonWorkload.concs[0]); g != nil {
		var xargs time.Duration
		for _, cl := range g.cells {
			if strings.HasPrefix(cl.c.name, "xargs") && cl.skipped == "" {
				xargs = summarize(cl).median
			}
		}
		if ref := refMedian(g); ref > 0 && xargs > 0 {
			fmt.Fprintf(&b, "- `fanout http` at %s, C=%d: %s against `xargs -P %d curl`'s %s (target at most as long): %s\n",
				g.w.name, g.conc, fmtDur(ref), g.conc, fmtDur(xargs), verdict(ref <= xargs))
		}
	}
	for _, g := range groups {
		if g.w.kind != "http" || g.w.stream {
			continue
		}
		ref := refMedian(g)
		if ref == 0 {
			continue
		}
		var ahead []string
		for _, cl := range g.cells {
			if cl.c.ref || cl.c.before || cl.c.atDefault || cl.skipped != "" || strings.Contains(cl.c.name, "default") {
				continue
			}
			if s := summarize(cl); s.median > 0 && s.median < ref {
				ahead = append(ahead, fmt.Sprintf("%s (%s)", cl.c.name, fmtDur(s.median)))
			}
		}
		if len(ahead) == 0 {
			fmt.Fprintf(&b, "- `fanout http` ahead of every other contender at %s, C=%d: **met**\n", g.w.name, g.conc)
		} else {
			fmt.Fprintf(&b, "- `fanout http` (%s) ahead of every other contender at %s, C=%d: **missed**, faster: %s\n",
				fmtDur(ref), g.w.name, g.conc, strings.Join(ahead, ", "))
		}
	}
	for _, g := range groups {
		if !g.w.stream {
			continue
		}
		for _, cl := range g.cells {
			if cl.c.ref && cl.skipped == "" {
				s := summarize(cl)
				mb := s.rssKB >> 10
				fmt.Fprintf(&b, "- `fanout http` peak RSS at %s, C=%d: %d MB (target at most %d MB): %s\n",
					g.w.name, g.conc, mb, targetRSSMB, verdict(mb > 0 && mb <= targetRSSMB))
			}
		}
	}
	b.WriteString(execTargets(groups))
	return b.String()
}

// execTargets compares fanout exec with xargs -P and GNU parallel in each
// exec group.
func execTargets(groups []*group) string {
	var b strings.Builder
	median := func(g *group, prefix string) time.Duration {
		for _, cl := range g.cells {
			if strings.HasPrefix(cl.c.name, prefix) && cl.skipped == "" {
				return summarize(cl).median
			}
		}
		return 0
	}
	for _, g := range groups {
		if g.w.kind != "exec" {
			continue
		}
		f, x, p := refMedian(g), median(g, "xargs"), median(g, "GNU parallel")
		if f == 0 || x == 0 {
			continue
		}
		rx := float64(f) / float64(x)
		if ideal := g.w.ideal(g.conc); ideal > 0 {
			ri := float64(f) / float64(ideal)
			fmt.Fprintf(&b, "- `fanout exec` at %s, C=%d: %.2fx the ideal, %.2fx xargs -P (target at most %.2fx the ideal, or no slower than xargs): %s\n",
				g.w.name, g.conc, ri, rx, targetExecIdeal, verdict(ri <= targetExecIdeal || rx <= 1))
		} else {
			fmt.Fprintf(&b, "- `fanout exec` at %s, C=%d: %.2fx xargs -P (target at most %.2fx): %s\n",
				g.w.name, g.conc, rx, targetExecXargs, verdict(rx <= targetExecXargs))
		}
		if p > 0 {
			fmt.Fprintf(&b, "- `fanout exec` against GNU parallel at %s, C=%d: %.2fx faster; xargs -P is %.2fx faster (target: at least as far ahead as xargs): %s\n",
				g.w.name, g.conc, float64(p)/float64(f), float64(p)/float64(x), verdict(f <= x))
		}
	}
	return b.String()
}

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

// machine describes where the figures were measured.
func machine(e *env) string {
	var b strings.Builder
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	first := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return "unknown"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	isolation := "inside `unshare -n` (loopback only)"
	if !e.isolated {
		isolation = "in the host's network namespace (unshare -n was not available)"
	}
	fmt.Fprintf(&b, "Measured %s on %d CPUs (`nproc`), %s, %s, kernel %s; %s; %s; %s; %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), cpu, memTotal(),
		first("uname", "-r"), runtime.Version(), firstWords(first("curl", "--version"), 2), first("python3", "--version"), isolation)
	fmt.Fprintf(&b, "HTTP calls go round robin over %d ports of the project's test server (a separate process); "+
		"each contender runs under `/usr/bin/time -f %%M` (peak RSS of the largest process: for xargs, one curl), "+
		"output to a file; `python3 -m http.server` (listen backlog 5) serves its own workload. CPU is user + system time of the median run, children included; \"server CPU\" is what the test server (or the Lambda server) used during that run, on the same cores. \"requests / connections\" is what the test server saw in the last round, and in brackets the most connections it had open at once in any round. \"correct\" checks that every call has exactly one record with status 200. "+
		"A contender that drops records is not timed. The Python rows are the seed article's pattern "+
		"(asyncio.gather over loop.run_in_executor) with urllib; the Lambda ones POST unsigned with urllib, "+
		"as boto3 is not installed. The exec rows run `true` or `sleep 0.1` once per input line; "+
		"fanout exec writes a JSON record per job (checked: one per line, each exit 0), the others nothing (checked: exit status 0).\n", serverPorts)
	if why := missingReason(e.bin, "httpx"); why != "" {
		fmt.Fprintf(&b, "\nhttpx: %s.\n", why)
	}
	return b.String()
}

// firstWords is the first n words of s.
func firstWords(s string, n int) string {
	w := strings.Fields(s)
	return strings.Join(w[:min(n, len(w))], " ")
}

func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown memory"
	}
	var kb int64
	for _, line := range strings.Split(string(data), "\n") {
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			break
		}
	}
	return fmt.Sprintf("%d GiB RAM", (kb+(1<<19))>>20)
}

// fmtDur prints a wall time in seconds with two decimals.
func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
