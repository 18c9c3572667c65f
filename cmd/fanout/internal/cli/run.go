package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/fanout-go/fanout"
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
// progress bar, and the trace recorder when the flags need one. Build it
// with Common.Start before the executor, give the executor
// Session.ExecutorOptions, then hand the results to Drive.
type Session struct {
	env      Env
	common   *Common
	progress *progress
	// Recorder is the trace recorder, nil when no flag needs it.
	Recorder *trace.Recorder
	// pending takes each record's journal line with --resume (see
	// resume.go); skipped counts the inputs skipped as done.
	pending *journal.Pending
	skipped func() int64
}

// Start begins a session; total is how many records are expected (-1 when
// unknown), for the progress bar.
func (c *Common) Start(env Env, total int, noun string) *Session {
	p := newProgress(env.Stderr, c.Progress, total, noun)
	return &Session{env: env, common: c, progress: p, Recorder: c.Recorder(p)}
}

// Stderr is where the session's messages go: below the progress bar.
func (s *Session) Stderr() io.Writer { return s.progress }

// ExecutorOptions returns the executor options of the shared flags and the
// recorder, followed by extra.
func (s *Session) ExecutorOptions(extra ...fanout.Option) []fanout.Option {
	return s.common.ExecutorOptions(s.Recorder, extra...)
}

// Drive writes one output record per result, in the order results yields
// them, then finishes the session: it flushes the output, removes the
// progress bar, writes the --trace and --timeline files and the --summary.
// The executor that produced results must have finished (closed) by then
// for the trace to be complete: pass closeExecutor, which Drive calls after
// the last result (nil if the caller closes it itself).
//
// It returns ErrInterrupted when ctx ended with that cause, else a
// *FailedError when some record failed, else nil; problems writing the
// output or the trace files come first.
func Drive[R any](ctx context.Context, s *Session, results iter.Seq[R], spec Records[R], closeExecutor func()) error {
	out := NewWriter(s.env.Stdout, s.common.Output, spec, s.env.StdoutTTY)
	var (
		t        tally
		writeErr error
	)
	// A journal line is queued before its record is written, so that the
	// flush that takes the record to the output commits the line; a failed
	// write drops the lines not yet committed.
	out.AfterFlush = s.pending.Commit
	for r := range results {
		if s.pending != nil {
			s.pending.Add(journalLine(r))
		}
		if writeErr = out.Write(r); writeErr != nil {
			s.pending.Discard()
			break // stops the run: results cancels what is in flight
		}
		class, failed := spec.Outcome(r)
		t.add(class, failed)
		s.progress.Add()
	}
	if err := out.Flush(); writeErr == nil {
		writeErr = err
	}
	if closeExecutor != nil {
		closeExecutor()
	}
	s.progress.Finish()

	var errs []error
	if writeErr != nil {
		errs = append(errs, writeErr)
	}
	if rec := s.Recorder; rec != nil {
		rec.Close()
		errs = append(errs, s.writeTraceFiles(rec)...)
		if s.common.Summary {
			s.writeSummary(rec.Summary(), t, spec.Noun)
		}
	}
	if t.total == 0 && context.Cause(ctx) != ErrInterrupted && (s.skipped == nil || s.skipped() == 0) {
		fmt.Fprintf(s.env.Stderr, "fanout: the input had no %s\n", spec.Noun)
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
	if path := s.common.Trace; path != "" {
		if err := rec.WriteChromeTraceFile(path); err != nil {
			errs = append(errs, fmt.Errorf("--trace: %w", err))
		} else {
			fmt.Fprintf(s.env.Stderr, "fanout: trace written to %s (open it in ui.perfetto.dev)\n", path)
		}
	}
	if path := s.common.Timeline; path != "" {
		if err := rec.WriteHTMLFile(path); err != nil {
			errs = append(errs, fmt.Errorf("--timeline: %w", err))
		} else {
			fmt.Fprintf(s.env.Stderr, "fanout: timeline written to %s\n", path)
		}
	}
	return errs
}

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
	io.WriteString(s.env.Stderr, b.String())
}

// tally counts records by outcome class.
type tally struct {
	total, failed int
	ok, bad       counts
}

type counts map[string]int

func (t *tally) add(class string, failed bool) {
	t.total++
	m := &t.ok
	if failed {
		t.failed++
		m = &t.bad
	}
	if class != "" {
		if *m == nil {
			*m = counts{}
		}
		(*m)[class]++
	}
}

// String lists the classes by name: "2xx 15, 4xx 3".
func (c counts) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}
