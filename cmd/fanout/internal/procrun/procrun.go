// Package procrun runs external commands as jobs: one process group per
// job, its output captured (bounded in memory, spilling to a temporary
// file) or streamed a whole line at a time, and the whole group stopped
// when the job's context ends (SIGTERM, then SIGKILL after a grace period),
// so no grandchild outlives a timeout or an interrupt; processes that left
// the group (setsid) are found and killed too (Escapees, on Linux). A
// GroupWatcher hears of each group, to kill those left if this process
// dies (package reaper).
// It also expands the GNU parallel placeholders of a command template
// (Template).
//
// Each Run costs one fork/exec, two pipes and two goroutines reading them.
package procrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Options configure Run.
type Options struct {
	// Path is the program to run, already looked up (exec.LookPath); ""
	// looks up argv[0].
	Path string
	// Dir is the working directory; "" for the current one.
	Dir string
	// Stdout and Stderr say what to keep of each stream.
	Stdout, Stderr Capture
	// KillAfter is how long the process group has after SIGTERM before
	// SIGKILL; 0 means DefaultKillAfter.
	KillAfter time.Duration
	// Groups, when not nil, is told of the job's process group.
	Groups GroupWatcher
	// Escapees, when not nil, marks the job's environment with the run
	// and Seq (EnvRun, EnvSeq), and stops what the job leaves running
	// outside its group once the group is gone (see Escapees).
	Escapees *Escapees
	// Seq is the job's number, its EnvSeq. Jobs running at once should
	// have different numbers: an escapee is stopped once no job of its
	// number runs.
	Seq int
}

// GroupWatcher is told when a job's process group starts and once it is
// gone, so that it can kill the groups still running if this process dies
// without stopping them (see package reaper).
type GroupWatcher interface {
	// Started is called as the job's process starts, pgid its id.
	Started(pgid int)
	// Ended is called once no process is left in the group, never
	// before: until then no other group can take its id. A group that
	// could not be seen gone (a process that does not die of SIGKILL
	// within KillAfter, stuck in the kernel) is never Ended.
	Ended(pgid int)
}

// DefaultKillAfter is Options.KillAfter's default.
const DefaultKillAfter = 3 * time.Second

// Result is the outcome of one run. Its outputs must be closed (Close).
type Result struct {
	Argv []string
	// Pid is the process id (and process group id) of the job; 0 when it
	// did not start.
	Pid int
	// ExitCode is the exit status, or -1 when the process did not exit
	// normally (killed by a signal, or never started).
	ExitCode int
	// Signal is the signal that ended the process, or 0.
	Signal syscall.Signal
	// Start and End bound the run, from before the start to the last of
	// the output.
	Start, End     time.Time
	Stdout, Stderr *Output
}

// Close releases the outputs.
func (r *Result) Close() {
	r.Stdout.Close()
	r.Stderr.Close()
}

// ErrTimeout is the cause to give a job's context when its time is up
// (context.WithTimeoutCause): the job's error then is a *StoppedError that
// matches it and Classify says KindTimeout.
var ErrTimeout error = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string        { return "timed out" }
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }
func (timeoutError) Timeout() bool        { return true }

// ExitError is the error of a job that exited with a non-zero status.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// SignalError is the error of a job ended by a signal it was not sent by
// Run.
type SignalError struct{ Signal syscall.Signal }

func (e *SignalError) Error() string { return "killed by " + SignalName(e.Signal) }

// StoppedError is the error of a job stopped because its context ended:
// Cause is the context's cause (ErrTimeout, context.Canceled, ...), Signal
// the signal that ended it (0 if it had not started).
type StoppedError struct {
	Cause  error
	Signal syscall.Signal
}

func (e *StoppedError) Error() string {
	what := "canceled"
	switch {
	case errors.Is(e.Cause, context.DeadlineExceeded):
		what = "timed out"
	case e.Cause != nil && e.Cause != context.Canceled:
		what = e.Cause.Error() // "interrupted", "stopped by --halt ..."
	}
	if e.Signal == 0 {
		return what + " before it started"
	}
	return what + ": killed by " + SignalName(e.Signal)
}

func (e *StoppedError) Unwrap() error { return e.Cause }

// StartError is the error of a job that could not start: the program was
// not found, is not executable, and so on.
type StartError struct {
	Name string
	Err  error
}

func (e *StartError) Error() string { return fmt.Sprintf("cannot run %s: %v", e.Name, e.Err) }
func (e *StartError) Unwrap() error { return e.Err }

// Kind classifies a job's error.
type Kind string

// The kinds of Classify.
const (
	KindExit       Kind = "exit"       // exited with a non-zero status
	KindSignal     Kind = "signal"     // ended by a signal it was not sent by Run
	KindTimeout    Kind = "timeout"    // stopped because its time was up
	KindCanceled   Kind = "canceled"   // stopped, or never started, because the run was interrupted
	KindNotFound   Kind = "not_found"  // the program does not exist
	KindPermission Kind = "permission" // the program is not executable, or not allowed
	KindStart      Kind = "start"      // could not start for another reason
)

// Classify returns err's kind; "" for nil.
func Classify(err error) Kind {
	var (
		exit  *ExitError
		sig   *SignalError
		stop  *StoppedError
		start *StartError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &exit):
		return KindExit
	case errors.As(err, &sig):
		return KindSignal
	case errors.As(err, &stop):
		if errors.Is(stop.Cause, context.DeadlineExceeded) {
			return KindTimeout
		}
		return KindCanceled
	case errors.As(err, &start):
		switch {
		case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
			return KindNotFound
		case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOEXEC):
			return KindPermission
		}
		return KindStart
	}
	return KindStart
}

// Lookup finds the program name as a job would run it: a name without a
// slash on PATH, else the file itself, which must be executable.
func Lookup(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err // its text repeats the name
		}
		return "", &StartError{Name: name, Err: err}
	}
	return path, nil
}

// Run runs argv as a job in a process group of its own, with stdin from
// /dev/null, and waits for it and for the end of its output. It returns
// the result and the job's error: nil when it exited 0, else an
// *ExitError, *SignalError, *StoppedError or *StartError (see Classify).
//
// When ctx ends first, the group gets SIGTERM and, if still there after
// KillAfter, SIGKILL; the error is then a *StoppedError with ctx's cause.
// When the job's own process exits, anything it left running in its group
// is stopped the same way: a job is over when all of it is.
func Run(ctx context.Context, argv []string, opts Options) (*Result, error) {
	res := &Result{
		Argv:     argv,
		ExitCode: -1,
		Stdout:   newOutput(opts.Stdout),
		Stderr:   newOutput(opts.Stderr),
		Start:    time.Now(),
	}
	res.End = res.Start
	if ctx.Err() != nil {
		return res, &StoppedError{Cause: context.Cause(ctx)}
	}
	if opts.KillAfter <= 0 {
		opts.KillAfter = DefaultKillAfter
	}
	path := opts.Path
	if path == "" {
		var err error
		if path, err = Lookup(argv[0]); err != nil {
			return res, err
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return res, &StartError{Name: argv[0], Err: err}
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return res, &StartError{Name: argv[0], Err: err}
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Dir:         opts.Dir,
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: sysProcAttr(),
	}
	if f := devNull(); f != nil {
		cmd.Stdin = f
	}
	esc, seq := opts.Escapees, ""
	if esc != nil {
		seq = seqString(opts.Seq)
		cmd.Env = esc.environ(seq)
		esc.starting(seq)
	}
	err = cmd.Start()
	if esc != nil {
		pid := 0
		if err == nil {
			pid = cmd.Process.Pid
		}
		esc.started(seq, pid)
	}
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return res, &StartError{Name: argv[0], Err: unwrapExec(err)}
	}
	res.Pid = cmd.Process.Pid
	if opts.Groups != nil {
		opts.Groups.Started(res.Pid)
	}
	// readersDone closes when both pipes are drained.
	readersDone := make(chan struct{})
	var left atomic.Int32
	left.Store(2)
	for _, p := range []struct {
		out *Output
		r   *os.File
	}{{res.Stdout, outR}, {res.Stderr, errR}} {
		go func() {
			drain(p.out, p.r)
			if left.Add(-1) == 0 {
				close(readersDone)
			}
		}()
	}

	exited := make(chan struct{})
	go func() {
		cmd.Wait() // the status is read from cmd.ProcessState
		close(exited)
	}()
	var cause error
	select {
	case <-exited:
	case <-ctx.Done():
		cause = context.Cause(ctx)
		stopGroup(res.Pid, exited, opts.KillAfter)
	}
	// The leader has exited; stop whatever it left in its group.
	alive := groupAlive(res.Pid)
	if alive {
		stopGroup(res.Pid, nil, opts.KillAfter)
	}
	gone := !alive || awaitGroupGone(res.Pid, opts.KillAfter)
	if esc != nil {
		// Every process of the group has exited, so the processes it
		// left outside are back with this process: stop them.
		<-exited
		esc.ended(seq, res.Pid, opts.KillAfter)
	}
	// A process that left the group (setsid) may still hold the pipes:
	// give it the grace period, then stop reading.
	select {
	case <-readersDone:
	default:
		t := time.NewTimer(opts.KillAfter)
		select {
		case <-readersDone:
		case <-t.C:
			outR.Close()
			errR.Close()
			<-readersDone
		}
		t.Stop()
	}
	if opts.Groups != nil && gone {
		opts.Groups.Ended(res.Pid)
	}
	res.Stdout.finish()
	res.Stderr.finish()
	res.End = time.Now()

	// cmd.Wait sets ProcessState after it reaped the leader: a group
	// found gone above may be gone because it was just reaped.
	<-exited
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		res.Signal = ws.Signal()
	default:
		res.ExitCode = ws.ExitStatus()
	}
	switch {
	case cause != nil:
		return res, &StoppedError{Cause: cause, Signal: res.Signal}
	case res.Signal != 0:
		return res, &SignalError{Signal: res.Signal}
	case res.ExitCode != 0:
		return res, &ExitError{Code: res.ExitCode}
	}
	return res, nil
}

// drainBufs holds drain's read buffers between jobs: two 32 KiB buffers
// made and cleared for every job were 8% of fanout's own CPU on jobs that
// print nothing (3,000 x true).
var drainBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// drain copies a pipe into out until EOF (or until the pipe is closed).
func drain(out *Output, r *os.File) {
	b := drainBufs.Get().(*[32 << 10]byte)
	defer drainBufs.Put(b)
	buf := b[:]
	for {
		n, err := r.Read(buf)
		if n > 0 {
			out.Write(buf[:n])
		}
		if err != nil {
			break
		}
	}
	r.Close()
}

// stopGroup sends SIGTERM to the process group pgid, then SIGKILL after
// grace unless the group is gone first. With exited non-nil the group's
// leader is still to be reaped: its exit is what is waited for; else the
// group is polled.
func stopGroup(pgid int, exited <-chan struct{}, grace time.Duration) {
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil {
		return // gone already
	}
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	if exited != nil {
		select {
		case <-exited:
			if !groupAlive(pgid) {
				return
			}
		case <-deadline.C:
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
			return
		}
	}
	// Poll the group (the leader is reaped, so no channel tells when the
	// rest has gone), backing off to 50ms.
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
			if !groupAlive(pgid) {
				return
			}
		case <-deadline.C:
			t.Stop()
			syscall.Kill(-pgid, syscall.SIGKILL)
			return
		}
	}
}

// awaitGroupGone waits up to d for the process group pgid to be gone (it
// was just sent SIGKILL, or stopped by SIGTERM), and reports whether it
// is.
func awaitGroupGone(pgid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for wait := time.Millisecond; groupAlive(pgid); wait = min(2*wait, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait)
	}
	return true
}

// groupAlive reports whether the process group pgid has a live process
// left. The common case costs one system call: the group is gone. When it
// is not, a member may be a zombie (exited, and waiting for whoever
// inherited it to reap it; some init processes take seconds): /proc tells.
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true // no /proc: trust kill
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// After the command name in parentheses: state, ppid, pgrp.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

// devNull is /dev/null opened once for every job's stdin (os/exec would
// open it per job); nil if it cannot be opened, and os/exec opens it.
var devNull = sync.OnceValue(func() *os.File {
	f, err := os.Open(os.DevNull)
	if err != nil {
		return nil
	}
	return f
})

// unwrapExec drops os/exec's and os's wrapping of a start error, which
// repeat the program's name.
func unwrapExec(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// SignalName returns the name of s, such as SIGTERM.
func SignalName(s syscall.Signal) string {
	if name := unix.SignalName(s); name != "" {
		return name
	}
	return fmt.Sprintf("signal %d", int(s))
}
