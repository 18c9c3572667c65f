package cli

import (
	"io"
	"log/slog"
	"time"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/trace"
)

// Common holds the flags that every streaming subcommand shares, so that
// `fanout http` and `fanout lambda` read the same way.
type Common struct {
	Concurrency int
	Rate        float64
	Timeout     time.Duration
	Retries     int
	Unordered   bool
	Output      Format
	Input       string
	Slow        time.Duration
	Trace       string
	Timeline    string
	Summary     bool
	Progress    bool
}

// Defaults are a subcommand's own defaults for the shared flags.
type Defaults struct {
	Concurrency int
	Timeout     time.Duration // 0: no timeout
	Retries     int
	// InputHelp describes -i for this subcommand.
	InputHelp string
	// RetriesHelp, OutputHelp and ProgressHelp replace the help of
	// --retries, -o and --progress where the subcommand's meaning differs
	// (exec); "" keeps the help of http and lambda.
	RetriesHelp, OutputHelp, ProgressHelp string
}

func or(s, otherwise string) string {
	if s != "" {
		return s
	}
	return otherwise
}

// Register defines the shared flags on fs, with d's defaults and the
// terminal-dependent ones taken from env: table output when stdout is a
// terminal (else jsonl); progress and summary when stderr is a terminal.
func (c *Common) Register(fs *FlagSet, env Env, d Defaults) {
	c.Output = JSONL
	if env.StdoutTTY {
		c.Output = Table
	}
	fs.IntVar(&c.Concurrency, "c", "concurrency", d.Concurrency, "how many calls run at once")
	fs.Float64Var(&c.Rate, "", "rate", 0, "most calls started per second, 0 for no limit")
	fs.DurationVar(&c.Timeout, "", "timeout", d.Timeout, "time limit of each attempt, 0 for none")
	fs.IntVar(&c.Retries, "", "retries", d.Retries, or(d.RetriesHelp, "how many times a failed call is retried when that is safe"))
	fs.BoolVar(&c.Unordered, "", "unordered", false, "write records as calls finish instead of in input order")
	fs.Var(&c.Output, "o", "output", "FORMAT", or(d.OutputHelp, "output format: jsonl, csv or table (default table on a terminal, else jsonl)"))
	fs.StringVar(&c.Input, "i", "input", "FILE", "", d.InputHelp)
	fs.DurationVar(&c.Slow, "", "slow", 0, "log calls slower than D to stderr, like asyncio's debug mode")
	fs.StringVar(&c.Trace, "", "trace", "FILE", "", "write a Chrome/Perfetto trace of the run to FILE")
	fs.StringVar(&c.Timeline, "", "timeline", "FILE", "", "write an HTML timeline of the run to FILE")
	fs.BoolVar(&c.Summary, "", "summary", env.StderrTTY, "print a summary of the run to stderr (default on a terminal)")
	fs.BoolVar(&c.Progress, "", "progress", env.StderrTTY, or(d.ProgressHelp, "show a progress line on stderr: count, total, rate, ETA (default on a terminal)"))
}

// Check validates the shared flags' values.
// Bad numbers are refused earlier, while parsing (flagtypes.go).
func (c *Common) Check(cmd string) error {
	switch {
	case c.Concurrency < 1:
		return usagef(cmd, "--concurrency must be at least 1")
	case c.Rate < 0:
		return usagef(cmd, "--rate must not be negative")
	case c.Retries < 0:
		return usagef(cmd, "--retries must not be negative")
	}
	return nil
}

// Recorder returns the trace recorder the flags ask for, logging slow tasks
// to stderr, or nil when no flag needs one: a recorder keeps about 100
// bytes per task, which a run of millions of records need not pay for.
func (c *Common) Recorder(stderr io.Writer) *trace.Recorder {
	if c.Slow <= 0 && c.Trace == "" && c.Timeline == "" && !c.Summary {
		return nil
	}
	var opts []trace.Option
	if c.Slow > 0 {
		opts = append(opts, trace.WithSlow(c.Slow, slog.New(newLogHandler(stderr))))
	}
	return trace.New(opts...)
}

// ExecutorOptions returns the executor options of the shared flags (limit,
// rate, the recorder as observer) followed by extra, such as a library's
// retry policy.
func (c *Common) ExecutorOptions(rec *trace.Recorder, extra ...fanout.Option) []fanout.Option {
	opts := []fanout.Option{fanout.WithLimit(c.Concurrency)}
	if c.Rate > 0 {
		opts = append(opts, fanout.WithRate(c.Rate, max(1, int(c.Rate/10))))
	}
	if rec != nil {
		opts = append(opts, fanout.WithObserver(rec))
	}
	return append(opts, extra...)
}
