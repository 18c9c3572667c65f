package cli

import (
	"context"
	"fmt"
	"iter"
	"os"
	"sync"
	"sync/atomic"

	"github.com/fanout-go/fanout/cmd/fanout/internal/console"

	"github.com/fanout-go/fanout"
)

// streamJob is what a streaming subcommand (http, lambda) plugs into
// runStream: where its records come from, how a line becomes a task's
// input, and how inputs become results on an executor.
type streamJob[In, R any] struct {
	cmd, noun, taskNoun string
	args                []string // records given on the command line
	maxLine             int      // longest line read as a record
	skipComments        bool     // skip lines starting with #
	exactLines          bool     // see LineRules.Exact
	input               func(Line) In
	execOpts            []fanout.Option
	ordered, unordered  func(context.Context, *fanout.Executor, iter.Seq[In]) iter.Seq[R]
	records             Records[R]
	close               func() // after the executor is closed; may be nil
	resumable           Resumable[R]
	// screen, when set, is the screen the job already writes to (exec's
	// jobs print through it); nil: a new one over env's streams.
	screen *console.Screen
	// discardRecords counts the records but writes none (exec without -o,
	// where the jobs' own output is the data).
	discardRecords bool
}

// runStream reads the job's records, runs them on an executor configured by
// the shared flags, and writes one output record per input record, with
// interrupt handling, progress and the trace outputs.
func runStream[In, R any](ctx context.Context, env Env, c *Common, j streamJob[In, R]) error {
	lines, total, input, err := openInput(j.cmd, env, c.Input, j.args, j.maxLine, j.noun, LineRules{SkipComments: j.skipComments, Exact: j.exactLines})
	if err != nil {
		return err
	}
	if input != nil {
		defer input.Close()
	}
	screen := j.screen
	if screen == nil {
		screen = env.Screen()
	}
	defer routeLog(screen.Stderr())()
	rr, err := startResume(j.cmd, screen.Stderr(), j.resumable)
	if err != nil {
		return err
	}
	if rr != nil {
		total = -1 // what is skipped is known only as the input is read
	}
	ctx, stop := Interruptible(ctx, screen.Stderr())
	defer stop()
	s, err := c.Start(j.cmd, env, screen, total, j.taskNoun)
	if err != nil {
		return err
	}
	s.discardRecords = j.discardRecords
	if total < 0 && rr == nil {
		defer countInput(ctx, s.Progress(), c.Input, j.skipComments)()
	}
	e := fanout.New(s.ExecutorOptions(j.execOpts...)...)
	// Map reads the input on a goroutine of its own and returns as soon as
	// ctx ends, even while a read blocks on a quiet pipe (`tail -f urls |
	// fanout http`); that read then stays blocked until the input moves or
	// the process exits. The reader's error is looked at only when the
	// input was read to its end.
	var inputDone atomic.Bool
	in := func(yield func(In) bool) {
		for l := range lines.Lines() {
			if !rr.take(l) {
				continue
			}
			if !yield(j.input(l)) {
				return
			}
		}
		inputDone.Store(true)
	}
	all := j.ordered
	if c.Unordered {
		all = j.unordered
	}
	closeExecutor := func() {
		e.Close()
		if j.close != nil {
			j.close()
		}
	}
	if rr == nil {
		err = Drive(ctx, s, all(ctx, e, in), j.records, closeExecutor)
	} else {
		s.pending, s.skipped = rr.pending, rr.skipped.Load
		err = Drive(ctx, s, rr.results(all(ctx, e, in)), keyedRecords(j.records), closeExecutor)
		err = rr.finish(s.Stderr(), j.noun, err)
	}
	if !inputDone.Load() {
		return err
	}
	if rerr := lines.Err(); rerr != nil {
		return fmt.Errorf("reading the input: %w", rerr)
	}
	return err
}

// countInput counts the records of a regular input file in the background
// and gives the number to the progress line; the returned function stops
// the count and waits for it.
func countInput(ctx context.Context, p *console.Progress, path string, skipComments bool) (stop func()) {
	if path == "" || path == "-" {
		return func() {}
	}
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if n, err := countRecords(ctx, path, skipComments); err == nil {
			p.SetTotal(n)
		}
	})
	return func() { cancel(); wg.Wait() }
}
