package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/cmd/fanout/internal/procrun"
	"github.com/fanout-go/fanout/cmd/fanout/internal/reaper"
	"github.com/fanout-go/fanout/trace"
)

// maxExecLine is the longest input line `fanout exec` reads; a longer one
// becomes a record with error_kind input, and runs nothing.
const maxExecLine = 64 << 10

const execSynopsis = `fanout exec [flags] -- COMMAND [ARG...] [::: INPUT...]

Runs COMMAND once per input line, concurrently. Inputs come from the arguments
after :::, from -i FILE, or from stdin: one per line, blank lines skipped,
each line as it is (surrounding spaces and bytes that are not UTF-8 kept, as
file names may have them; a \r before the newline dropped). A line over
64 KiB, or with a NUL byte, is not run: its record says why.
Placeholders in any argument: {} the line, {.} without extension, {/} basename,
{//} directory, {/.} basename without extension, {#} job number, {%} slot.
Without a placeholder the line is the last argument. No shell reads the input:
each placeholder is replaced inside its own argument. --shell runs the command
line through sh -c with every replacement quoted for the shell.

Each job's stdout and stderr are written whole when it ends, in input order
(--unordered: as jobs end; --line-buffer: line by line as they come). With -o
jsonl|csv|table, one record per input is written instead: -o has no default
here, and --progress is off unless given, as the jobs' output shares the
terminal. --timeout, --halt now and an interrupt stop a job's whole process
group: SIGTERM, then SIGKILL after --kill-after. If fanout itself dies
(SIGKILL, a crash), on Linux each job's whole group is killed too, processes
it put in the background included: a small reaper process, started with the
first job, sees fanout gone and kills them. On Linux, processes a job put
outside its group (setsid, daemons) are killed (SIGKILL) once the job ends,
however it ends; if fanout itself is killed, only those that kept FANOUT_RUN
in their environment.

Each job, and all it starts, has FANOUT_SEQ set to its number ({#}) and
FANOUT_RUN to an id of the run (GNU parallel's PARALLEL_SEQ, PARALLEL_PID).

The command goes after --; without flags, "fanout exec COMMAND ARG..." works too.

Exit status: 0 every job exited 0, 1 some job failed (whatever their number
or exit codes: the records say which and why), 2 usage, 130 interrupted.
GNU parallel exits with the number of failed jobs (1-100, 101 for more) and
xargs with 123 when any command fails.
--retries N means N+1 runs in all at most, as in fanout http and lambda; in
GNU parallel --retries N means N runs in all.`

// execFlags are `fanout exec`'s own flags.
type execFlags struct {
	shell      bool
	lineBuffer bool
	maxOutput  byteSize
	killAfter  time.Duration
	retryDelay time.Duration
	halt       haltSpec
	dryRun     bool
	resume     Resume
}

func runExec(ctx context.Context, env Env, args []string) error {
	flagArgs, command, dashed := splitCommand(args)
	var (
		common Common
		x      = execFlags{maxOutput: 64 << 10, killAfter: procrun.DefaultKillAfter}
	)
	fs := NewFlagSet("exec", execSynopsis)
	common.Register(fs, env, Defaults{
		Concurrency:  runtime.NumCPU(),
		InputHelp:    "read input lines from FILE (- for stdin)",
		RetriesHelp:  "run a job that exits non-zero up to N more times (N+1 runs in all; GNU parallel's --retries N means N in all)",
		OutputHelp:   "write one record per input in FORMAT, jsonl, csv or table (default none: the jobs' own output)",
		ProgressHelp: "show a progress line on stderr: count, total, rate, ETA (off unless given: the jobs' output shares the terminal)",
	})
	fs.IntVar(&common.Concurrency, "j", "jobs", runtime.NumCPU(), "same as -c (default the number of CPUs)")
	fs.BoolVar(&x.shell, "", "shell", false, "run the command line through sh -c, each replacement quoted for the shell")
	fs.BoolVar(&x.lineBuffer, "", "line-buffer", false, "write output lines as they come, each line whole (one over 64 KiB in whole 64 KiB pieces), instead of each job's output whole")
	fs.Var(&x.maxOutput, "", "max-output", "SIZE", "most bytes of each of stdout and stderr kept in a record (-o)")
	fs.DurationVar(&x.killAfter, "", "kill-after", x.killAfter, "time between SIGTERM and SIGKILL when a job is stopped")
	fs.DurationVar(&x.retryDelay, "", "retry-delay", 0, "wait between D/2 and D before each retry")
	fs.Var(&x.halt, "", "halt", "WHEN,WHY=N", "stop early, as GNU parallel: now|soon,fail|success=N or N% (now,fail=1: stop at the first failure)")
	fs.BoolVar(&x.dryRun, "", "dry-run", false, "print each command as it would run, shell-quoted, and run nothing")
	x.resume.Register(fs)
	// Records only with -o; progress only when asked, since jobs' own
	// output shares the terminal.
	common.Output = ""
	common.Progress = false
	rest, err := fs.Parse(flagArgs, env.Stdout)
	if err == errHelp {
		return nil
	}
	var usage *UsageError
	if errors.As(err, &usage) && !dashed {
		usage.Msg += " (put the command after --: fanout exec [flags] -- COMMAND)"
	}
	if err != nil {
		return err
	}
	if err := common.Check("exec"); err != nil {
		return err
	}
	switch {
	case len(rest) > 0 && dashed:
		return usagef("exec", "unexpected argument %q before --", rest[0])
	case len(rest) > 0 && slices.Equal(rest, flagArgs[len(flagArgs)-len(rest):]):
		// Flags, then a command none of whose arguments looks like a
		// flag: nothing of the command was taken for a flag.
		command = rest
	case len(rest) > 0:
		return usagef("exec", "put the command after --: fanout exec [flags] -- %s", strings.Join(rest, " "))
	}
	command, inputs := splitInputs(command)
	if len(command) == 0 {
		return usagef("exec", "no command given: fanout exec [flags] -- COMMAND [ARG...]")
	}
	tmpl, err := procrun.NewTemplate(command, x.shell)
	if err != nil {
		return usagef("exec", "%v", err)
	}
	if inputs != nil && common.Input != "" {
		return usagef("exec", "give inputs either after ::: or with -i, not both")
	}
	records := common.Output != ""
	if records && x.lineBuffer {
		return usagef("exec", "--line-buffer writes the jobs' own output: it does not go with -o")
	}
	if x.dryRun {
		return dryRun(env, &common, tmpl, inputs)
	}
	if !records {
		common.Output = JSONL // the records are counted, not written
	}
	// Jobs' output, fanout's messages and the progress line share one
	// screen, so that they never share a line.
	screen := env.Screen()
	r := &execRunner{
		tmpl:        tmpl,
		timeout:     common.Timeout,
		killAfter:   x.killAfter,
		retries:     common.Retries,
		retryDelay:  x.retryDelay,
		halt:        x.halt,
		total:       -1,
		records:     records,
		stdout:      screen.Stdout(),
		stderr:      screen.Stderr(),
		slots:       make(chan int, common.Concurrency),
		startReaper: env.StartReaper,
	}
	if inputs != nil {
		r.total = len(inputs)
	}
	for i := range common.Concurrency {
		r.slots <- i + 1
	}
	switch {
	case records:
		r.stdoutCap = procrun.Capture{Limit: int64(x.maxOutput)}
		r.stderrCap = r.stdoutCap
	case x.lineBuffer:
		r.stdoutCap = procrun.Capture{Lines: procrun.NewLineWriter(screen.Stdout())}
		r.stderrCap = procrun.Capture{Lines: procrun.NewLineWriter(screen.Stderr())}
		common.Unordered = true // nothing waits for order
	}
	// A program that does not depend on the input is looked up once: if
	// it cannot run, every input gets its record and stderr one line.
	if name, fixed := tmpl.FixedCommand(); fixed {
		r.path, r.lookErr = procrun.Lookup(name)
		if r.lookErr != nil {
			fmt.Fprintf(screen.Stderr(), "fanout: %v\n", r.lookErr)
		}
	}
	return runStream(ctx, env, &common, streamJob[Line, ExecRecord]{
		cmd: "exec", noun: "input lines", taskNoun: "jobs",
		screen: screen,
		// Records go to stdout only with -o; otherwise the jobs' output does.
		discardRecords: !records,
		args:           inputs, maxLine: maxExecLine, exactLines: true,
		input:    func(l Line) Line { return l },
		execOpts: r.executorOptions(),
		ordered: func(ctx context.Context, e *fanout.Executor, in iter.Seq[Line]) iter.Seq[ExecRecord] {
			return r.runAll(ctx, e, in, false)
		},
		unordered: func(ctx context.Context, e *fanout.Executor, in iter.Seq[Line]) iter.Seq[ExecRecord] {
			return r.runAll(ctx, e, in, true)
		},
		records: execRecords,
		close:   r.closeReaper,
		resumable: Resumable[ExecRecord]{
			Flags:       &x.resume,
			Fingerprint: execResultOptions(command, x.shell),
			Outcome:     execOutcome,
			Index:       func(r *ExecRecord) *int { return &r.Index },
		},
	})
}

// splitCommand splits exec's arguments into its flags and the command:
// at the first "--", or, when the first argument is not a flag, all of
// them are the command. Flags are never looked for inside the command
// (gzip -9, grep -c), so the command needs "--" after any flag.
func splitCommand(args []string) (flags, command []string, dashed bool) {
	// A "--" among the ::: inputs is an input.
	if i, j := slices.Index(args, "--"), slices.Index(args, ":::"); i >= 0 && (j < 0 || i < j) {
		return args[:i], args[i+1:], true
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return nil, args, false
	}
	// Only flags, or a command without "--": parse them all as flags,
	// and the caller complains of what is left.
	return args, nil, false
}

// splitInputs splits a command at ":::" into the command and the inputs
// after it (nil when there is no ":::").
func splitInputs(command []string) (cmd, inputs []string) {
	i := slices.Index(command, ":::")
	if i < 0 {
		return command, nil
	}
	return command[:i], append([]string{}, command[i+1:]...)
}

// dryRun prints each job's command line and runs nothing.
func dryRun(env Env, c *Common, tmpl *procrun.Template, inputs []string) error {
	lines, _, input, err := openInput("exec", env, c.Input, inputs, maxExecLine, "input lines", LineRules{Exact: true})
	if err != nil {
		return err
	}
	if input != nil {
		defer input.Close()
	}
	var b strings.Builder
	failed, total := 0, 0
	for l := range lines.Lines() {
		total++
		if l.Err != nil {
			failed++
			fmt.Fprintf(env.Stderr, "fanout: input line %d: %v\n", l.Index+1, l.Err)
			continue
		}
		b.Reset()
		b.WriteString(tmpl.CommandLine(tmpl.Argv(l.Text, l.Index+1, l.Index%c.Concurrency+1)))
		b.WriteByte('\n')
		if _, err := io.WriteString(env.Stdout, b.String()); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	if err := lines.Err(); err != nil {
		return fmt.Errorf("reading the input: %w", err)
	}
	if failed > 0 {
		return &FailedError{Failed: failed, Total: total, Noun: "input lines"}
	}
	return nil
}

// ExecRecord is one record of `fanout exec`: the outcome of one input
// line's job.
type ExecRecord struct {
	// Index is the position of the line in the input, from 0.
	Index int `json:"index"`
	// Input is the line. JSON strings hold only Unicode: a line that is
	// not valid UTF-8 shows each invalid byte as U+FFFD there, and
	// InputBase64 then holds its exact bytes (empty otherwise). The same
	// goes for Stdout and Stderr. CSV keeps the bytes as they are.
	Input       string `json:"input"`
	InputBase64 string `json:"input_base64,omitempty"`
	// Argv is the command as run (the last attempt's), after replacement.
	Argv []string `json:"argv"`
	// ExitCode is the exit status; -1 when the job did not exit on its own
	// (a signal) or did not run.
	ExitCode int `json:"exit_code"`
	// Signal names the signal that ended the job (SIGKILL), if one did.
	Signal string `json:"signal,omitempty"`
	// DurationMS is the time from the first attempt's start to the last
	// attempt's end, in milliseconds, retry waits included.
	DurationMS float64 `json:"duration_ms"`
	// Attempts is how many times the command ran (0: never).
	Attempts int `json:"attempts"`
	// Stdout and Stderr are the last attempt's output, cut at --max-output
	// (then the *Truncated field is true). Empty without -o: the output
	// was written as it is.
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	StdoutBase64    string `json:"stdout_base64,omitempty"`
	StderrBase64    string `json:"stderr_base64,omitempty"`
	StdoutTruncated bool   `json:"stdout_truncated,omitempty"`
	StderrTruncated bool   `json:"stderr_truncated,omitempty"`
	// Error says why the job failed; empty when it exited 0.
	Error string `json:"error,omitempty"`
	// ErrorKind classifies Error: exit, signal, timeout, not_found,
	// permission, start, canceled, or input (an unreadable line).
	ErrorKind string `json:"error_kind,omitempty"`

	// Duration is DurationMS as a time.Duration.
	Duration time.Duration `json:"-"`
	// haltedOK marks a job stopped because --halt ...,success=N was met:
	// not a failure.
	haltedOK bool
}

// execSucceeded is exec's success predicate: the job ran and exited 0. A
// record that did not succeed (failed, timed out, canceled) must run again
// on resume.
// exactBytes is s in standard base64 when s is not valid UTF-8, which a
// JSON string cannot hold as it is, and "" otherwise.
func exactBytes(s string) string {
	if utf8.ValidString(s) {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(s))
}

func execSucceeded(r ExecRecord) bool { return r.Attempts > 0 && r.ExitCode == 0 && r.ErrorKind == "" }

// execResultOptions returns what of exec's options changes a job's
// result, for keying records on resume: the command template and --shell.
// (-c, --timeout, --retries and output flags change how, not what, runs.)
func execResultOptions(command []string, shell bool) []string {
	return append([]string{"shell=" + strconv.FormatBool(shell)}, command...)
}

// ErrorKind values of exec records beyond procrun's kinds.
const execKindInput = "input"

// errHalted is the cause of jobs stopped or skipped by --halt. It matches
// context.Canceled, so such jobs are not retried.
type haltError struct{ spec haltSpec }

func (e haltError) Error() string        { return "stopped by --halt " + e.spec.String() }
func (e haltError) Is(target error) bool { return target == context.Canceled }

// execRunner runs the jobs of one `fanout exec`.
type execRunner struct {
	tmpl                 *procrun.Template
	path                 string // the looked-up program when fixed
	lookErr              error  // why the fixed program cannot run
	timeout, killAfter   time.Duration
	retries              int
	retryDelay           time.Duration
	stdoutCap, stderrCap procrun.Capture
	records              bool // -o: output goes into records
	stdout, stderr       io.Writer
	slots                chan int // the free {%} slot numbers
	halt                 haltSpec
	total                int // number of inputs when known, else -1

	startReaper func(run string) (*reaper.Reaper, error)
	reaperOnce  sync.Once
	reaper      *reaper.Reaper    // nil before the first job, or without one
	escapees    *procrun.Escapees // nil before the first job

	mu                         sync.Mutex
	finished, failed, succeded int
	halted                     error // set once --halt's condition is met
	stopRunning                context.CancelCauseFunc
}

// job is one input line's state across its attempts.
type job struct {
	line Line
	// seq is the job's place among the jobs of this run, the index of its
	// record: the line's own index unless --resume or --shard left lines
	// out, and then the runner maps it back to the line's.
	seq int

	mu          sync.Mutex
	attempts    int
	res         *procrun.Result // the last attempt's
	first, last time.Time
	// running is closed when the attempt now in run returns; nil when
	// none is. An interrupt or --halt now settles a job's task at once,
	// while its process is still being stopped: its record waits for
	// that (see settled), so that it tells what the job did.
	running chan struct{}
	// recorded: the record is being made; no attempt starts after it.
	recorded bool
	// ended: the last attempt ran to its end, with err. Its task may
	// still settle with the run's cancellation (--halt now, set off by
	// this very job): the record tells what the job did.
	ended bool
	err   error
}

// settled waits until no attempt of j runs and none can start, so that
// j's record holds its last attempt's result.
func (j *job) settled() {
	j.mu.Lock()
	j.recorded = true
	running := j.running
	j.mu.Unlock()
	if running != nil {
		<-running
	}
}

func (r *execRunner) executorOptions() []fanout.Option {
	if r.retries == 0 {
		return nil
	}
	delay := max(r.retryDelay, time.Nanosecond)
	return []fanout.Option{fanout.WithRetry(fanout.RetryPolicy{
		MaxAttempts:    r.retries + 1,
		InitialBackoff: delay,
		MaxBackoff:     delay,
		Retryable:      retryable,
	})}
}

// retryable says which failures --retries runs again: a non-zero exit, a
// signal, a timeout. A program that cannot start fails the same way again.
func retryable(err error) bool {
	switch procrun.Classify(err) {
	case procrun.KindExit, procrun.KindSignal, procrun.KindTimeout:
		return true
	}
	return false
}

// run is the executor task of a job: one attempt per call.
func (r *execRunner) run(ctx context.Context, j *job) (*job, error) {
	switch {
	case j.line.Err != nil:
		return j, fanout.Permanent(j.line.Err)
	case r.lookErr != nil:
		return j, fanout.Permanent(r.lookErr)
	}
	if err := r.haltedErr(); err != nil {
		return j, err
	}
	j.mu.Lock()
	if j.recorded {
		// Its task settled (interrupted) before this attempt began.
		j.mu.Unlock()
		return j, context.Cause(ctx)
	}
	running := make(chan struct{})
	j.running = running
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		j.running = nil
		j.mu.Unlock()
		close(running)
	}()
	slot := <-r.slots // never waits: the executor runs at most -c tasks
	defer func() { r.slots <- slot }()
	argv := r.tmpl.Argv(j.line.Text, j.line.Index+1, slot)
	actx := ctx
	if r.timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeoutCause(ctx, r.timeout, procrun.ErrTimeout)
		defer cancel()
	}
	groups, escapees := r.watchers()
	res, err := procrun.Run(actx, argv, procrun.Options{
		Path:      r.path,
		Stdout:    r.stdoutCap,
		Stderr:    r.stderrCap,
		KillAfter: r.killAfter,
		Groups:    groups,
		Escapees:  escapees,
		Seq:       j.line.Index + 1, // {#}
	})
	if res.Pid == 0 && ctx.Err() != nil && errors.As(err, new(*procrun.StoppedError)) {
		// Interrupted or halted before its process started: no attempt.
		res.Close()
		return j, err
	}
	j.mu.Lock()
	j.attempts++
	if j.first.IsZero() {
		j.first = res.Start
	}
	j.last = res.End
	if j.res != nil {
		j.res.Close()
	}
	j.res = res
	final := err == nil || !retryable(err) || j.attempts > r.retries
	if final {
		j.ended, j.err = true, err
	}
	j.mu.Unlock()
	if final {
		r.account(err, j)
	}
	if procrun.Classify(err) == procrun.KindStart || procrun.Classify(err) == procrun.KindNotFound || procrun.Classify(err) == procrun.KindPermission {
		err = fanout.Permanent(err)
	}
	return j, err
}

// watchers starts, at the first job, what watches the run's processes: the
// tracker of the processes jobs leave outside their groups (Escapees),
// and the reaper, so that a run without jobs pays for neither. The
// reaper is nil when there is none, or it could not start: the run goes
// on without it, as before it existed (each job's own process still dies
// with fanout on Linux), and there is no --verbose to say so.
func (r *execRunner) watchers() (procrun.GroupWatcher, *procrun.Escapees) {
	r.reaperOnce.Do(func() {
		r.escapees = procrun.NewEscapees()
		if r.startReaper != nil {
			r.reaper, _ = r.startReaper(r.escapees.RunID())
		}
		if r.reaper != nil {
			r.escapees.Spare(r.reaper.Pid())
		}
	})
	if r.reaper == nil {
		return nil, r.escapees // not a typed nil in the interface
	}
	return r.reaper, r.escapees
}

// closeReaper stops what the jobs left running, once every job has ended
// and its group is gone, then ends the reaper: it finds nothing listed and
// exits, and is waited for.
func (r *execRunner) closeReaper() {
	r.reaperOnce.Do(func() {}) // nothing starts after this
	if r.escapees != nil {
		r.escapees.Close(r.killAfter)
	}
	if r.reaper != nil {
		r.reaper.Close()
	}
}

// account counts a job's final outcome and applies --halt.
func (r *execRunner) account(err error, j *job) {
	if r.halt.when == haltNever {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished++
	var count int
	if err != nil {
		r.failed++
		count = r.failed
	} else {
		r.succeded++
		count = r.succeded
	}
	if r.halted != nil || (err != nil) != (r.halt.why == haltFail) {
		return
	}
	if !r.halt.met(count, r.finished, r.total) {
		return
	}
	r.halted = haltError{r.halt}
	if r.halt.when == haltNow {
		r.stopRunning(r.halted)
	}
}

// haltedErr returns the halt error once --halt's condition is met: no job
// starts after that.
func (r *execRunner) haltedErr() error {
	if r.halt.when == haltNever {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.halted
}

// runAll runs a job per input line and yields one record per line pulled,
// in input order or as jobs end. Without -o it writes each job's output
// (or, with --line-buffer, the lines went out as they came) before
// yielding its record.
func (r *execRunner) runAll(ctx context.Context, e *fanout.Executor, in iter.Seq[Line], unordered bool) iter.Seq[ExecRecord] {
	return func(yield func(ExecRecord) bool) {
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		r.stopRunning = cancel
		jobs := func(yield func(*job) bool) {
			seq := 0
			for l := range in {
				if ctx.Err() != nil || r.haltedErr() != nil {
					return // stop reading input once interrupted or halted
				}
				seq++
				if !yield(&job{line: l, seq: seq - 1}) {
					return
				}
			}
		}
		mapper := fanout.Map[*job, *job]
		if unordered {
			mapper = fanout.MapUnordered[*job, *job]
		}
		label := fanout.WithTaskOptions(func(_ int, j *job) []fanout.TaskOption {
			return []fanout.TaskOption{fanout.WithLabel(j.line.Text)}
		})
		warned := map[string]bool{}
		for j, res := range mapper(ctx, e, jobs, r.run, label) {
			j.settled()
			rec := r.record(j, res.Err)
			if !r.records {
				r.writeOutput(j, rec, warned)
			}
			j.mu.Lock()
			if j.res != nil {
				j.res.Close()
			}
			j.mu.Unlock()
			if !yield(rec) {
				return
			}
		}
	}
}

// record builds the record of j from the error its task ended with.
func (r *execRunner) record(j *job, err error) ExecRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.ended {
		err = j.err
	}
	rec := ExecRecord{Index: j.seq, Input: j.line.Text, InputBase64: exactBytes(j.line.Text), ExitCode: -1, Attempts: j.attempts}
	if res := j.res; res != nil {
		rec.Argv = res.Argv
		rec.ExitCode = res.ExitCode
		if res.Signal != 0 {
			rec.Signal = procrun.SignalName(res.Signal)
		}
		if r.records {
			rec.Stdout, rec.StdoutTruncated = res.Stdout.String(), res.Stdout.Truncated()
			rec.Stderr, rec.StderrTruncated = res.Stderr.String(), res.Stderr.Truncated()
			rec.StdoutBase64, rec.StderrBase64 = exactBytes(rec.Stdout), exactBytes(rec.Stderr)
		}
		rec.Duration = j.last.Sub(j.first)
		rec.DurationMS = float64(rec.Duration.Microseconds()) / 1000
	} else if j.line.Err == nil {
		rec.Argv = r.tmpl.Argv(j.line.Text, j.line.Index+1, 0)
	}
	if err == nil {
		return rec
	}
	var halt haltError
	switch {
	case j.line.Err != nil:
		rec.ErrorKind = execKindInput
	case errors.As(err, &halt):
		rec.ErrorKind = string(procrun.KindCanceled)
		rec.haltedOK = halt.spec.why == haltSuccess
	case errors.Is(err, context.Canceled):
		// Settled by the interrupt, whether or not the job had started.
		rec.ErrorKind = string(procrun.KindCanceled)
	default:
		rec.ErrorKind = string(procrun.Classify(err))
	}
	rec.Error = err.Error()
	if j.res == nil && rec.ErrorKind == string(procrun.KindCanceled) {
		rec.Error = "not started: " + rec.Error
	}
	return rec
}

// writeOutput writes a finished job's output to stdout and stderr, whole,
// and says on stderr why a job failed when its output may not: it was
// stopped, or could not run (once per distinct message).
func (r *execRunner) writeOutput(j *job, rec ExecRecord, warned map[string]bool) {
	j.mu.Lock()
	res := j.res
	j.mu.Unlock()
	if res != nil && !r.hasLines() {
		res.Stdout.WriteTo(r.stdout)
		res.Stderr.WriteTo(r.stderr)
	}
	switch procrun.Kind(rec.ErrorKind) {
	case "", procrun.KindExit, procrun.KindCanceled:
		return // the job's own output, or the interrupt, says it
	}
	if r.lookErr != nil && rec.ErrorKind != execKindInput {
		return // said once before the run
	}
	msg := fmt.Sprintf("fanout: job %d (%s): %s\n", j.line.Index+1, rec.Input, rec.Error)
	if rec.ErrorKind == string(procrun.KindNotFound) || rec.ErrorKind == string(procrun.KindPermission) {
		if warned[rec.Error] {
			return
		}
		warned[rec.Error] = true
		msg = "fanout: " + rec.Error + "\n"
	}
	io.WriteString(r.stderr, msg)
}

func (r *execRunner) hasLines() bool { return r.stdoutCap.Lines != nil }

// execRecords describes `fanout exec`'s output.
var execRecords = Records[ExecRecord]{
	Noun: "jobs",
	CSV: []Column[ExecRecord]{
		{Name: "index", Value: func(r ExecRecord) string { return strconv.Itoa(r.Index) }},
		{Name: "input", Value: func(r ExecRecord) string { return r.Input }},
		{Name: "argv", Value: func(r ExecRecord) string { return procrun.QuoteArgv(r.Argv) }},
		{Name: "exit_code", Value: func(r ExecRecord) string { return strconv.Itoa(r.ExitCode) }},
		{Name: "signal", Value: func(r ExecRecord) string { return r.Signal }},
		{Name: "duration_ms", Value: func(r ExecRecord) string { return strconv.FormatFloat(r.DurationMS, 'f', -1, 64) }},
		{Name: "attempts", Value: func(r ExecRecord) string { return strconv.Itoa(r.Attempts) }},
		{Name: "stdout", Value: func(r ExecRecord) string { return r.Stdout }},
		{Name: "stderr", Value: func(r ExecRecord) string { return r.Stderr }},
		{Name: "stdout_truncated", Value: func(r ExecRecord) string { return strconv.FormatBool(r.StdoutTruncated) }},
		{Name: "stderr_truncated", Value: func(r ExecRecord) string { return strconv.FormatBool(r.StderrTruncated) }},
		{Name: "error", Value: func(r ExecRecord) string { return r.Error }},
		{Name: "error_kind", Value: func(r ExecRecord) string { return r.ErrorKind }},
	},
	Table: []Column[ExecRecord]{
		{Name: "INDEX", Width: 5, Value: func(r ExecRecord) string { return strconv.Itoa(r.Index) }},
		{Name: "EXIT", Width: 4, Value: func(r ExecRecord) string {
			if r.ExitCode < 0 {
				return "-"
			}
			return strconv.Itoa(r.ExitCode)
		}},
		{Name: "TIME", Width: 7, Value: func(r ExecRecord) string { return shortDuration(r.Duration) }},
		{Name: "RESULT", Width: 10, Value: func(r ExecRecord) string {
			if r.ErrorKind != "" {
				return r.ErrorKind
			}
			return "ok"
		}},
		{Name: "INPUT", Width: 30, Value: func(r ExecRecord) string { return clip(r.Input, 60) }},
		{Name: "DETAIL", Value: func(r ExecRecord) string {
			detail := r.Error
			if detail == "" || r.ErrorKind == string(procrun.KindExit) {
				out := strings.TrimSpace(r.Stderr)
				if out == "" {
					out = strings.TrimSpace(r.Stdout)
				}
				if out != "" {
					detail = strings.TrimSpace(detail + " " + strings.SplitN(out, "\n", 2)[0])
				}
			}
			if r.Attempts > 1 {
				detail = fmt.Sprintf("[%d attempts] %s", r.Attempts, detail)
			}
			return clip(detail, 120)
		}},
	},
	Index:    func(r ExecRecord) int { return r.Index },
	Attempts: func(r ExecRecord) int { return r.Attempts },
	Outcome: func(r ExecRecord) Outcome {
		switch {
		case r.haltedOK:
			return Outcome{trace.OK, "halted"}
		case r.ErrorKind != "":
			return failure(r.ErrorKind)
		}
		return Outcome{trace.OK, "exit 0"}
	},
}

// haltSpec is --halt's value: when to stop (now or soon) and on what
// (failures or successes, a count or a percentage).
type haltSpec struct {
	when    haltWhen
	why     haltWhy
	n       int
	percent bool
}

type (
	haltWhen int
	haltWhy  int
)

const (
	haltNever haltWhen = iota
	haltSoon
	haltNow
)

const (
	haltFail haltWhy = iota
	haltSuccess
)

func (h *haltSpec) String() string {
	if h.when == haltNever {
		return "never"
	}
	s := "soon,"
	if h.when == haltNow {
		s = "now,"
	}
	if h.why == haltFail {
		s += "fail="
	} else {
		s += "success="
	}
	s += strconv.Itoa(h.n)
	if h.percent {
		s += "%"
	}
	return s
}

// Set parses never, WHEN,WHY=N or WHEN,WHY=N% (WHEN now or soon, WHY fail
// or success), and GNU's old numbers: 0 never, 1 soon,fail=1, 2 now,fail=1.
func (h *haltSpec) Set(s string) error {
	switch s {
	case "never", "0":
		*h = haltSpec{}
		return nil
	case "1":
		*h = haltSpec{when: haltSoon, why: haltFail, n: 1}
		return nil
	case "2":
		*h = haltSpec{when: haltNow, why: haltFail, n: 1}
		return nil
	}
	bad := errors.New("want never, or now|soon,fail|success=N or N% (such as now,fail=1)")
	when, rest, ok := strings.Cut(s, ",")
	if !ok {
		return bad
	}
	why, num, ok := strings.Cut(rest, "=")
	if !ok {
		return bad
	}
	var spec haltSpec
	switch when {
	case "now":
		spec.when = haltNow
	case "soon":
		spec.when = haltSoon
	default:
		return bad
	}
	switch why {
	case "fail":
		spec.why = haltFail
	case "success":
		spec.why = haltSuccess
	default:
		return bad
	}
	num, spec.percent = strings.CutSuffix(num, "%")
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || spec.percent && n > 100 {
		return bad
	}
	spec.n = n
	*h = spec
	return nil
}

// met reports whether count jobs of the kind --halt watches, out of
// finished so far, meet the condition. A percentage is of all the jobs
// when their number is known (as GNU parallel, which reads all input
// first), else of the jobs finished so far, once at least 10 have.
func (h *haltSpec) met(count, finished, total int) bool {
	if !h.percent {
		return count >= h.n
	}
	if total < 0 {
		if finished < 10 {
			return false
		}
		total = finished
	}
	return float64(count) >= float64(total)*float64(h.n)/100
}

// byteSize is a flag value of bytes: 65536, 64K, 64KiB, 1M, 1MiB.
type byteSize int64

func (b *byteSize) String() string {
	switch v := int64(*b); {
	case v >= 1<<20 && v%(1<<20) == 0:
		return strconv.FormatInt(v>>20, 10) + "MiB"
	case v >= 1<<10 && v%(1<<10) == 0:
		return strconv.FormatInt(v>>10, 10) + "KiB"
	default:
		return strconv.FormatInt(v, 10)
	}
}

func (b *byteSize) Set(s string) error {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "K"):
		mult, t = 1<<10, strings.TrimSuffix(t, "K")
	case strings.HasSuffix(t, "M"):
		mult, t = 1<<20, strings.TrimSuffix(t, "M")
	case strings.HasSuffix(t, "G"):
		mult, t = 1<<30, strings.TrimSuffix(t, "G")
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 1 {
		return errors.New("want a size such as 65536, 64KiB or 1MiB")
	}
	*b = byteSize(n * mult)
	return nil
}
