// Command fanout runs blocking calls concurrently and proves that they
// overlapped: `fanout http` checks the status of many URLs, `fanout demo`
// shows the difference against the naive serial way. Run `fanout help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/fanout-go/fanout/cmd/fanout/internal/cli"
	"github.com/fanout-go/fanout/cmd/fanout/internal/reaper"
)

func main() {
	// fanout run again as its own reaper (see package reaper): nothing
	// else.
	if reaper.Invoked() {
		os.Exit(reaper.Main())
	}
	err := cli.Run(context.Background(), cli.OSEnv(), os.Args[1:])
	if msg := cli.Message(err); msg != "" {
		fmt.Fprintln(os.Stderr, msg)
	}
	// The only place that exits: every subcommand has returned, so its
	// deferred flushes have run.
	os.Exit(exitCode(err))
}

// exitCode maps a subcommand's error to the exit status: 0 success, 1 some
// record failed (or anything else went wrong), 2 a usage mistake, 130 an
// interrupt.
func exitCode(err error) int {
	var usage *cli.UsageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, cli.ErrInterrupted):
		return 130
	case errors.As(err, &usage):
		return 2
	}
	return 1
}
