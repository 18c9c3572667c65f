package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// outcome is one run of one contender.
type outcome struct {
	wall     time.Duration
	cpu      time.Duration // user + system time of the process and its children
	rssKB    int64
	exitCode int
	timedOut bool
	verdict  string
	dropped  bool
	err      error // the run could not be started or measured
	// What the server saw during the run (0 when it does not count):
	// requests, connections accepted, and the most open at once (0 when
	// the server does not say).
	requests, conns, peakConns int64
	// serverCPU is the CPU the server used during the run (0 when it
	// does not say): on a machine the server shares, the contender's
	// wall time depends on it too.
	serverCPU time.Duration
}

// timed reports whether the run's wall time counts.
func (o outcome) timed() bool { return o.err == nil && !o.timedOut && !o.dropped }

// runOnce runs argv under /usr/bin/time with stdin from the file stdin (if
// any) and its stdout in a file in dir, then checks that output. The clock
// covers the whole process, start-up and exit included.
func runOnce(ctx context.Context, dir string, argv []string, stdin string, environ []string,
	timeout time.Duration, n int, f format) outcome {
	out := filepath.Join(dir, "stdout")
	rss := filepath.Join(dir, "rss")
	errLog := filepath.Join(dir, "stderr")
	defer os.Remove(out)
	defer os.Remove(rss)

	stdout, err := os.Create(out)
	if err != nil {
		return outcome{err: err}
	}
	defer stdout.Close()
	stderr, err := os.Create(errLog)
	if err != nil {
		return outcome{err: err}
	}
	defer stderr.Close()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := append([]string{"-f", "%M %U %S", "-o", rss}, argv...)
	cmd := exec.CommandContext(ctx, "/usr/bin/time", args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(contenderEnv(), environ...)
	if stdin != "" {
		in, err := os.Open(stdin)
		if err != nil {
			return outcome{err: err}
		}
		defer in.Close()
		cmd.Stdin = in
	}
	// Its own process group, so a timeout stops xargs' curls too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	runErr := cmd.Run()
	o := outcome{wall: time.Since(start)}
	if ctx.Err() != nil {
		o.timedOut = true
		if parent := context.Cause(ctx); parent != nil && !errors.Is(parent, context.DeadlineExceeded) {
			o.err = parent
		}
	}
	var exit *exec.ExitError
	switch {
	case errors.As(runErr, &exit):
		o.exitCode = exit.ExitCode()
	case runErr != nil && !o.timedOut:
		o.err = runErr
		return o
	}
	if b, err := os.ReadFile(rss); err == nil {
		// /usr/bin/time writes "Command exited with non-zero status N"
		// before the figures when the command fails: take the last line.
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		var user, sys float64
		if _, err := fmt.Sscanf(lines[len(lines)-1], "%d %f %f", &o.rssKB, &user, &sys); err == nil {
			o.cpu = time.Duration((user + sys) * float64(time.Second))
		}
	}
	if _, err := stdout.Seek(0, 0); err != nil {
		o.err = err
		return o
	}
	if f == exitOnly {
		o.verdict = "ok"
		if o.exitCode != 0 {
			o.verdict = fmt.Sprintf("exit code %d", o.exitCode)
		}
		return o
	}
	c := newCheck(n)
	if err := c.read(stdout, f); err != nil {
		o.err = err
		return o
	}
	o.verdict, o.dropped = c.verdict(200)
	if c.junk > 0 {
		logf("  %d lines of output were not records, e.g. %q", c.junk, c.firstJunk)
	}
	if o.verdict != "ok" {
		if b, err := os.ReadFile(errLog); err == nil && len(b) > 0 {
			logf("  stderr: %s", lastLine(string(b[max(0, len(b)-2000):])))
		}
	}
	return o
}

// contenderEnv is this process's environment without proxy settings, which
// would send loopback requests elsewhere.
func contenderEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(name) {
		case "http_proxy", "https_proxy", "all_proxy", "no_proxy":
			continue
		}
		env = append(env, kv)
	}
	return env
}
