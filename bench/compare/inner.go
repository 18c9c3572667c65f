package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverPorts is how many ports the HTTP test server listens on.
const serverPorts = 20

// cell is every run of one contender in one (workload, concurrency) group.
type cell struct {
	c       *contender
	skipped string
	runs    []outcome
}

// group is one workload at one concurrency.
type group struct {
	w     *workload
	conc  int
	cells []*cell
}

// runWorkloads starts the servers, runs every workload round by round, with
// the contenders alternating inside each round, and prints the report.
func runWorkloads(ctx context.Context, cfg config) error {
	work, err := os.MkdirTemp("", "fanout-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if cfg.adapt {
		return runAdaptive(ctx, cfg, work)
	}
	script, err := writeScript(work)
	if err != nil {
		return err
	}
	e := &env{bin: cfg.bin, script: script, isolated: cfg.isolated}

	var groups []*group
	for _, w := range workloads(cfg.quick) {
		if !selected(cfg.only, w.name) {
			continue
		}
		for _, c := range w.concs {
			if cfg.concs != "" && !slices.Contains(strings.Split(cfg.concs, ","), strconv.Itoa(c)) {
				continue
			}
			g := &group{w: w, conc: c}
			for i := range contenders {
				ct := &contenders[i]
				if ct.kind == w.kind && (!w.python || ct.python) && (!ct.before || cfg.before != "") {
					g.cells = append(g.cells, &cell{c: ct})
				}
			}
			groups = append(groups, g)
		}
	}

	httpServer, err := startServer(ctx, work, filepath.Join(cfg.bin, "testserver"), "-ports", fmt.Sprint(serverPorts))
	if err != nil {
		return fmt.Errorf("start the test server: %w", err)
	}
	defer httpServer.stop()

	for _, w := range workloads(cfg.quick) {
		var gs []*group
		for _, g := range groups {
			if g.w.name == w.name {
				gs = append(gs, g)
			}
		}
		if len(gs) == 0 {
			continue
		}
		err := runWorkload(ctx, cfg, e, work, gs, httpServer)
		if err != nil {
			// Interrupted: report what was measured.
			fmt.Print(render(cfg, e, groups))
			return err
		}
		if cfg.out != "" {
			// Written after every workload, so a run cut short leaves
			// its figures behind.
			if err := os.WriteFile(cfg.out, []byte(render(cfg, e, groups)), 0o644); err != nil {
				return err
			}
		}
	}
	fmt.Print(render(cfg, e, groups))
	return fanoutFailures(groups)
}

// selected reports whether the workload name matches -only: one of its
// texts separated by |, or any name when it is empty.
func selected(only, name string) bool {
	if only == "" {
		return true
	}
	for _, text := range strings.Split(only, "|") {
		if text != "" && strings.Contains(name, text) {
			return true
		}
	}
	return false
}

// fanoutFailures is an error when a fanout row was wrong or did not run to
// the end, so that a smoke run (-quick in CI) fails on it; missed speed
// targets do not fail the run, as a shared machine's timings vary.
func fanoutFailures(groups []*group) error {
	var bad []string
	for _, g := range groups {
		for _, cl := range g.cells {
			if !cl.c.ref || cl.skipped != "" {
				continue
			}
			for _, o := range cl.runs {
				if !o.timed() || o.verdict != "ok" {
					bad = append(bad, fmt.Sprintf("%s at %s, C=%d: %s%s", cl.c.name, g.w.name, g.conc, o.verdict, errSuffix(o)))
					break
				}
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("fanout failed: %s", strings.Join(bad, "; "))
	}
	return nil
}

// runWorkload writes the inputs of the groups' workload and runs its
// rounds. The Lambda server is started per workload, with its delay.
func runWorkload(ctx context.Context, cfg config, e *env, work string, gs []*group, httpServer *server) error {
	w := gs[0].w
	counted := httpServer
	if w.kind == "lambda" {
		if why := missingReason(e.bin, "lambdaserver"); why != "" {
			for _, g := range gs {
				for _, cl := range g.cells {
					cl.skipped = why
				}
			}
			return nil
		}
		ls, err := startServer(ctx, work, filepath.Join(e.bin, "lambdaserver"), "-delay", w.delay.String())
		if err != nil {
			return fmt.Errorf("start the lambda server: %w", err)
		}
		defer ls.stop()
		e.lambda = ls.urls[0]
		counted = ls
	}
	bases := httpServer.urls
	if w.python {
		ps, err := startPython(ctx, work)
		if err != nil {
			return fmt.Errorf("start python3 -m http.server: %w", err)
		}
		defer ps.stop()
		bases, counted = []string{ps.url}, nil
	}
	dir := filepath.Join(work, "inputs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	in, err := writeInputs(dir, w, bases)
	if err != nil {
		return err
	}
	for _, g := range gs {
		for _, cl := range g.cells {
			if cl.c.skip != nil {
				cl.skipped = cl.c.skip(e, w, g.conc)
			}
			if cl.skipped == "" && cl.c.atDefault && g.conc != w.concs[0] {
				cl.skipped = fmt.Sprintf("runs at its default: see C=%d", w.concs[0])
			}
		}
	}
	for round := 1; round <= cfg.rounds; round++ {
		for _, g := range gs {
			for _, cl := range g.cells {
				if cl.skipped != "" {
					continue
				}
				if cl.c.rounds != nil {
					if r := cl.c.rounds(w); r > 0 && round > r {
						continue
					}
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				argv, stdin := cl.c.cmd(e, in, w, g.conc)
				logf("%s, C=%d, round %d/%d: %s", w.name, g.conc, round, cfg.rounds, cl.c.name)
				c0, ok0 := counted.counters()
				o := runOnce(ctx, work, argv, stdin, cl.c.environ, w.timeout, w.n, cl.c.format)
				if c1, ok1 := counted.counters(); ok0 && ok1 {
					o.requests, o.conns, o.peakConns = c1.requests-c0.requests, c1.conns-c0.conns, c1.peak
					o.serverCPU = c1.cpu - c0.cpu
				}
				logf("  %s, peak RSS %d MB, CPU %s (server %s), %d requests on %d connections (%s open at once), %s%s", o.wall.Round(time.Millisecond),
					o.rssKB>>10, o.cpu.Round(10*time.Millisecond), o.serverCPU.Round(10*time.Millisecond), o.requests, o.conns, fmtPeak(o.peakConns), o.verdict, errSuffix(o))
				cl.runs = append(cl.runs, o)
				// Let the sockets of the last run close before the next.
				time.Sleep(300 * time.Millisecond)
			}
		}
	}
	return nil
}

func errSuffix(o outcome) string {
	switch {
	case o.err != nil:
		return ", error: " + o.err.Error()
	case o.timedOut:
		return ", timed out"
	case o.exitCode != 0:
		return fmt.Sprintf(", exit code %d", o.exitCode)
	}
	return ""
}

// server is a running test server command.
type server struct {
	cmd   *exec.Cmd
	stdin io.Closer
	log   *os.File
	urls  []string
	stats chan string // "stats ..." lines, answers to SIGUSR1
}

// startServer starts one of the test server commands, which print their
// URLs on stdout, one per line, and stop at the end of their stdin.
func startServer(ctx context.Context, work, exe string, args ...string) (*server, error) {
	cmd := exec.CommandContext(ctx, exe, append(args, "-stdin")...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(work, filepath.Base(exe)+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	s := &server{cmd: cmd, stdin: stdin, log: logFile, stats: make(chan string, 1)}
	sc := bufio.NewScanner(stdout)
	for len(s.urls) < wantURLs(exe) && sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "http") {
			s.urls = append(s.urls, line)
		}
	}
	if len(s.urls) == 0 {
		s.stop()
		return nil, fmt.Errorf("%s printed no URL", filepath.Base(exe))
	}
	go func() {
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "stats ") {
				select {
				case s.stats <- line:
				default: // nobody asked: drop it
				}
			}
		}
	}()
	return s, nil
}

// serverCounts is a server's answer to SIGUSR1: requests and connections
// since it started, the most connections open at once since its previous
// answer, and the CPU it has used (0 when the server does not say).
type serverCounts struct {
	requests, conns, peak int64
	cpu                   time.Duration
}

// counters asks the server for its counts; ok is false when it does not
// answer.
func (s *server) counters() (c serverCounts, ok bool) {
	if s == nil {
		return c, false // a server that does not count
	}
	select {
	case <-s.stats: // a stale answer
	default:
	}
	if s.cmd.Process.Signal(syscall.SIGUSR1) != nil {
		return c, false
	}
	select {
	case line := <-s.stats:
		return parseCounts(line)
	case <-time.After(2 * time.Second):
		return c, false
	}
}

// parseCounts reads a "stats requests=N connections=M [peak=P] [cpu=U]"
// line, U in microseconds.
func parseCounts(line string) (c serverCounts, ok bool) {
	fields := strings.Fields(line)
	if len(fields) == 0 || fields[0] != "stats" {
		return c, false
	}
	seen := 0
	for _, f := range fields[1:] {
		k, v, found := strings.Cut(f, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !found || err != nil {
			return c, false
		}
		switch k {
		case "requests":
			c.requests = n
			seen++
		case "connections":
			c.conns = n
			seen++
		case "peak":
			c.peak = n
		case "cpu":
			c.cpu = time.Duration(n) * time.Microsecond
		}
	}
	return c, seen == 2
}

// stop ends the server: it stops at the end of its stdin.
func (s *server) stop() {
	s.stdin.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.log.Close()
	if b, err := os.ReadFile(s.log.Name()); err == nil && len(b) > 0 {
		logf("%s", strings.TrimSpace(string(b)))
	}
}

// wantURLs is how many URLs a server command prints.
func wantURLs(exe string) int {
	if filepath.Base(exe) == "testserver" {
		return serverPorts
	}
	return 1
}

// writeScript puts the Python contender next to the inputs.
func writeScript(dir string) (string, error) {
	path := filepath.Join(dir, "seed_pattern.py")
	return path, os.WriteFile(path, seedPattern, 0o755)
}

// fmtPeak shows a server's peak of open connections, or "?" when it does
// not say.
func fmtPeak(peak int64) string {
	if peak <= 0 {
		return "?"
	}
	return strconv.FormatInt(peak, 10)
}
