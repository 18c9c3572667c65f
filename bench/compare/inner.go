package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	script, err := writeScript(work)
	if err != nil {
		return err
	}
	e := &env{bin: cfg.bin, script: script, isolated: cfg.isolated}

	var groups []*group
	for _, w := range workloads(cfg.quick) {
		if cfg.only != "" && !strings.Contains(w.name, cfg.only) {
			continue
		}
		for _, c := range w.concs {
			g := &group{w: w, conc: c}
			for i := range contenders {
				ct := &contenders[i]
				if ct.kind == w.kind {
					g.cells = append(g.cells, &cell{c: ct})
				}
			}
			groups = append(groups, g)
		}
	}

	stopHTTP, bases, err := startServer(ctx, work, filepath.Join(cfg.bin, "testserver"), "-ports", fmt.Sprint(serverPorts))
	if err != nil {
		return fmt.Errorf("start the test server: %w", err)
	}
	defer stopHTTP()

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
		if err := runWorkload(ctx, cfg, e, work, gs, bases); err != nil {
			return err
		}
	}

	report := render(cfg, e, groups)
	fmt.Print(report)
	if cfg.out != "" {
		return os.WriteFile(cfg.out, []byte(report), 0o644)
	}
	return nil
}

// runWorkload writes the inputs of the groups' workload and runs its
// rounds. The Lambda server is started per workload, with its delay.
func runWorkload(ctx context.Context, cfg config, e *env, work string, gs []*group, bases []string) error {
	w := gs[0].w
	if w.kind == "lambda" {
		if why := missingReason(e.bin, "lambdaserver"); why != "" {
			for _, g := range gs {
				for _, cl := range g.cells {
					cl.skipped = why
				}
			}
			return nil
		}
		stop, urls, err := startServer(ctx, work, filepath.Join(e.bin, "lambdaserver"), "-delay", w.delay.String())
		if err != nil {
			return fmt.Errorf("start the lambda server: %w", err)
		}
		defer stop()
		e.lambda = urls[0]
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
				if err := ctx.Err(); err != nil {
					return err
				}
				argv, stdin := cl.c.cmd(e, in, w, g.conc)
				logf("%s, C=%d, round %d/%d: %s", w.name, g.conc, round, cfg.rounds, cl.c.name)
				o := runOnce(ctx, work, argv, stdin, cl.c.environ, w.timeout, w.n, cl.c.format)
				logf("  %s, peak RSS %d MB, %s%s", o.wall.Round(time.Millisecond), o.rssKB>>10, o.verdict, errSuffix(o))
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

// startServer starts one of the test server commands, which print their
// URLs on stdout, one per line, and stop at the end of their stdin.
func startServer(ctx context.Context, work, exe string, args ...string) (stop func(), urls []string, err error) {
	cmd := exec.CommandContext(ctx, exe, append(args, "-stdin")...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	logFile, err := os.Create(filepath.Join(work, filepath.Base(exe)+".log"))
	if err != nil {
		return nil, nil, err
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, nil, err
	}
	stop = func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if b, err := os.ReadFile(logFile.Name()); err == nil && len(b) > 0 {
			logf("%s: %s", filepath.Base(exe), strings.TrimSpace(string(b)))
		}
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "http") {
			urls = append(urls, line)
		}
		if len(urls) == wantURLs(exe) {
			break
		}
	}
	if len(urls) == 0 {
		stop()
		return nil, nil, fmt.Errorf("%s printed no URL", filepath.Base(exe))
	}
	go io.Copy(io.Discard, stdout)
	return stop, urls, nil
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
