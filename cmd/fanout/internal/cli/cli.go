// Package cli implements the fanout command's subcommands. Each subcommand
// is an entry of the commands table (commands.go) and returns an error;
// only package main turns errors into exit codes (see ExitCode), so deferred
// flushes always run.
//
// The subcommands are http.go (`fanout http`), lambda.go (`fanout lambda`),
// exec.go (`fanout exec`, whose processes run in package procrun) and
// demo.go (`fanout demo`). The streaming ones share their plumbing:
//   - stream.go: runStream, the whole run of a streaming subcommand from
//     input to output;
//   - common.go: the shared flags (-c, --rate, --timeout, --retries,
//     --unordered, -o, -i, --slow, --trace, --timeline, --summary,
//     --progress) and the executor and recorder they configure;
//   - input.go: the streaming line reader (records numbered from 0, bounded
//     line length, per-record errors for unreadable lines);
//   - output.go: the jsonl, csv and table writers;
//   - run.go: the interrupt handling and Drive, the loop that writes one
//     record per input, shows progress, writes the trace files and the
//     summary, and decides the outcome;
//   - outcome.go: Outcome, the one definition of outcome classes that the
//     exit code, the summary, the trace and the timeline share;
//   - flags.go and flagtypes.go: FlagSet on spf13/pflag (GNU forms) and
//     the flag types, which refuse bad values while parsing;
//   - ../console: the terminal's one writer (Screen), the idle flush
//     (IdleWriter) and the progress line (Progress).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/fanout-go/fanout/cmd/fanout/internal/console"
	"github.com/fanout-go/fanout/cmd/fanout/internal/reaper"
)

// Env is what a subcommand may touch of the outside world: the standard
// streams and whether each is a terminal. Tests build their own.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// StdinTTY, StdoutTTY and StderrTTY tell whether each stream is a
	// terminal: they choose defaults (table output, progress, summary).
	StdinTTY, StdoutTTY, StderrTTY bool
	// Width reports the terminal's width in columns (0 when unknown), so
	// that the progress line never wraps. nil for unknown.
	Width func() int
	// StartReaper starts the process that kills what is left of exec's
	// jobs if fanout dies without stopping them (package reaper); nil for
	// none. exec calls it at its first job, with the run's id
	// (procrun.EnvRun).
	StartReaper func(run string) (*reaper.Reaper, error)
}

// Screen returns the console.Screen that owns env's stdout and stderr for
// one run: records and messages go through it, and it draws the progress
// line between them.
func (env Env) Screen() *console.Screen {
	return console.NewScreen(env.Stdout, env.Stderr, env.StdoutTTY, env.StderrTTY, env.Width)
}

// OSEnv returns the process's standard streams.
func OSEnv() Env {
	return Env{
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		StdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		StdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		StderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		Width: func() int {
			w, _, err := term.GetSize(int(os.Stderr.Fd()))
			if err != nil {
				return 0
			}
			return w
		},
		StartReaper: reaper.Start,
	}
}

// A Command is one subcommand of fanout.
type Command struct {
	Name    string
	Summary string // one line for `fanout help`
	// Run runs the subcommand with its arguments (after its name).
	Run func(ctx context.Context, env Env, args []string) error
}

// UsageError is a mistake in how the command was called: exit code 2.
type UsageError struct {
	Command string // the subcommand, or "" for fanout itself
	Msg     string
}

func (e *UsageError) Error() string { return e.Msg }

func usagef(cmd, format string, args ...any) error {
	return &UsageError{Command: cmd, Msg: fmt.Sprintf(format, args...)}
}

// ErrInterrupted is the error of a run stopped by SIGINT or SIGTERM, after
// it wrote its records: exit code 130. It is also the cause of the run's
// context then, and matches context.Canceled, so work stopped by it reads
// as canceled.
var ErrInterrupted error = interruptedError{}

type interruptedError struct{}

func (interruptedError) Error() string        { return "interrupted" }
func (interruptedError) Is(target error) bool { return target == context.Canceled }

// FailedError says that some records have an error: exit code 1. The
// records themselves say which and why.
type FailedError struct {
	Failed, Total int
	Noun          string // "URLs", "invocations"
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("%d of %d %s failed", e.Failed, e.Total, e.Noun)
}

// Message returns the lines to print on stderr for err (without a trailing
// newline): "fanout: " and the error, and for a usage error where to find
// help.
func Message(err error) string {
	if err == nil {
		return ""
	}
	var usage *UsageError
	if errors.As(err, &usage) {
		if usage.Msg == "" { // the usage was printed already
			return ""
		}
		help := "fanout help"
		if usage.Command != "" {
			help = "fanout " + usage.Command + " -h"
		}
		return "fanout: " + usage.Msg + "\nfanout: see '" + help + "'"
	}
	return "fanout: " + err.Error()
}

// Run runs the subcommand named by args[0].
func Run(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		// Bare `fanout`: the usage, on stderr since no data was asked for,
		// and exit code 2 as for any other call that does nothing.
		writeHelp(env.Stderr)
		return &UsageError{}
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		writeHelp(env.Stdout)
		return nil
	case "version", "--version", "-V":
		fmt.Fprintln(env.Stdout, Version())
		return nil
	}
	for _, c := range commands {
		if c.Name == name {
			return c.Run(ctx, env, args[1:])
		}
	}
	return usagef("", "unknown command %q", name)
}

func writeHelp(w io.Writer) {
	var b strings.Builder
	b.WriteString("fanout runs blocking calls concurrently and proves that they overlapped.\n\nUsage: fanout COMMAND [flags] [args]\n       fanout --version\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-8s %s\n", c.Name, c.Summary)
	}
	b.WriteString("\nRun 'fanout COMMAND -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}
