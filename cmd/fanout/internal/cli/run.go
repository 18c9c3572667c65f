package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/cmd/fanout/internal/console"
	"github.com/fanout-go/fanout/cmd/fanout/internal/journal"
	"github.com/fanout-go/fanout/trace"
)

// Interruptible returns a context that ends with the cause ErrInterrupted
// at the first SIGINT or SIGTERM. After that first signal the signals get
// their default action back, so a second one ends the process at once (its
// exit status is then that of the signal). Call stop when the run is over.
func Interruptible(ctx context.Context, stderr io.Writer) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-sigs:
			// Stop relaying first: from now on the default action applies.
			signal.Stop(sigs)
			fmt.Fprintln(stderr, "fanout: interrupted: finishing the records read so far; interrupt again to quit at once")
			cancel(ErrInterrupted)
		case <-done:
		}
	})
	return ctx, func() {
		close(done)
		wg.Wait()
		signal.Stop(sigs)
		cancel(nil)
	}
}

// Session is one run of a streaming subcommand: its shared flags, the
// screen that owns the terminal, the progress line, the output files and
// the trace recorder when the flags need one. Build it with Common.Start
// before the executor, give the executor Session.ExecutorOptions, then hand
// the results to Drive.
type Session struct {
	env          Env
	common       *Common
	screen       *console.Screen
	progress     *console.Progress
	stopProgress func()
	trace        *outFile
	timeline     *outFile
	// Recorder is the trace recorder, nil when no flag needs it.
	Recorder *trace.Recorder
	// pending takes each record's journal line with --resume (see
	// resume.go); skipped counts the inputs skipped as done.
	pending *journal.Pending
	// discardRecords: records are counted, not written (see streamJob).
	discardRecords bool
	skipped        func() int64
}

// progressInterval is how often the progress line is redrawn.
const progressInterval = 200 * time.Millisecond

// Start begins a session of the subcommand cmd on screen: it creates the
// --trace and --timeline files first (a path that cannot be written is a
// usage error before any work), then shows the progress line. total is how
// many records are expected (-1 when unknown; see Session.Progress).
func (c *Common) Start(cmd string, env Env, screen *console.Screen, total int, noun string) (*Session, error) {
	s := &Session{env: env, common: c, screen: screen, stopProgress: func() {}}
	var err error
	if s.trace, err = createOutFile(cmd, "--trace", c.Trace); err != nil {
		return nil, err
	}
	if s.timeline, err = createOutFile(cmd, "--timeline", c.Timeline); err != nil {
		s.trace.close()
		return nil, err
	}
	s.progress = console.NewProgress(noun, total, time.Now())
	if c.Progress {
		s.stopProgress = screen.ShowProgress(s.progress, progressInterval)
	}
	s.Recorder = c.Recorder(screen.Stderr())
	return s, nil
}

// Progress is the session's progress count, for a total learnt later.
func (s *Session) Progress() *console.Progress { return s.progress }

// Stderr is where the session's messages go: through the screen, so they
// never share a line with the progress.
func (s *Session) Stderr() io.Writer { return s.screen.Stderr() }

// ExecutorOptions returns the executor options of the shared flags and the
// recorder, followed by extra.
func (s *Session) ExecutorOptions(extra ...fanout.Option) []fanout.Option {
	return s.common.ExecutorOptions(s.Recorder, extra...)
}

// Drive writes one output record per result, in the order results yields
// them, then finishes the session: it flushes the output, removes the
// progress line, writes the --trace and --timeline files and the
// --summary. Each record's Outcome is counted for the summary and the exit
// code and given to the trace recorder, so the trace summary and the
// timeline class the records as the summary does. The executor that
// produced results must have finished (closed) by then for the trace to be
// complete: pass closeExecutor, which Drive calls after the last result
// (nil if the caller closes it itself).
//
// It returns ErrInterrupted when ctx ended with that cause, else a
// *FailedError when some record failed, else nil; problems writing the
// output or the trace files come first.
func Drive[R any](ctx context.Context, s *Session, results iter.Seq[R], spec Records[R], closeExecutor func()) error {
	var w io.Writer = s.screen.Stdout()
	if s.discardRecords {
		w = io.Discard
	}
	out := NewWriter(w, s.common.Output, spec, s.env.StdoutTTY && !s.discardRecords)
	var (
		t        tally
		writeErr error
	)
	// A journal line is queued before its record is written, so that the
	// flush that takes the record to the output commits the line; a failed
	// write drops the lines not yet committed.
	if s.pending != nil {
		out.AfterFlush(s.pending.Commit)
	}
	for r := range results {
		if writeErr = out.Write(r); writeErr != nil {
			s.pending.Discard()
			break // stops the run: results cancels what is in flight
		}
		// Queued only once the record is in the output's buffer: any flush
		// that commits the line (even the idle flush, on its own goroutine)
		// has written the record first. (Without a journal, r is not made
		// an interface value: that would copy it to the heap.)
		if s.pending != nil {
			s.pending.Add(journalLine(r))
		}
		o := spec.Outcome(r)
		t.add(o)
		if s.Recorder != nil {
			s.Recorder.SetOutcome(spec.Index(r), o.Kind)
			if spec.Attempts != nil && spec.Attempts(r) == 0 {
				s.Recorder.SetNotStarted(spec.Index(r))
			}
		}
		s.progress.Add(1)
	}
	if err := out.Close(); writeErr == nil {
		writeErr = err
	}
	if closeExecutor != nil {
		closeExecutor()
	}
	s.stopProgress()

	var errs []error
	if writeErr != nil {
		errs = append(errs, writeErr)
	}
	stderr := s.screen.Stderr()
	if rec := s.Recorder; rec != nil {
		rec.Close()
		errs = append(errs, s.writeTraceFiles(rec)...)
		if s.common.Summary {
			s.writeSummary(rec.Summary(), t, spec.Noun)
		}
	} else {
		s.trace.close()
		s.timeline.close()
	}
	if t.total == 0 && context.Cause(ctx) != ErrInterrupted && (s.skipped == nil || s.skipped() == 0) {
		fmt.Fprintf(stderr, "fanout: the input had no %s\n", spec.Noun)
	}
	switch {
	case len(errs) > 0:
		return errors.Join(errs...)
	case context.Cause(ctx) == ErrInterrupted:
		return ErrInterrupted
	case t.failed > 0:
		return &FailedError{Failed: t.failed, Total: t.total, Noun: spec.Noun}
	}
	return nil
}

func (s *Session) writeTraceFiles(rec *trace.Recorder) []error {
	var errs []error
	stderr := s.screen.Stderr()
	if f := s.trace; f != nil {
		if err := f.write(rec.WriteChromeTrace); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(stderr, "fanout: trace written to %s (open it in ui.perfetto.dev)\n", f.Name())
		}
	}
	if f := s.timeline; f != nil {
		if err := f.write(rec.WriteHTML); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(stderr, "fanout: timeline written to %s\n", f.Name())
		}
	}
	return errs
}

// writeSummary writes the --summary: a line counting the records, ok and
// failed, each with its finer classes, then the trace summary, whose
// outcomes count the same records (Drive gave it their Outcome).
func (s *Session) writeSummary(sum trace.Summary, t tally, noun string) {
	var b strings.Builder
	fmt.Fprintf(&b, "fanout: %d %s: %d ok", t.total, noun, t.total-t.failed)
	if len(t.ok) > 0 {
		fmt.Fprintf(&b, " (%s)", t.ok.String())
	}
	if t.failed > 0 {
		fmt.Fprintf(&b, ", %d failed (%s)", t.failed, t.bad.String())
	}
	b.WriteString("\n")
	b.WriteString(sum.String())
	if !strings.HasSuffix(b.String(), "\n") {
		b.WriteString("\n")
	}
	io.WriteString(s.screen.Stderr(), b.String())
}
