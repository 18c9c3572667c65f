// Package serve is the process plumbing shared by the loopback server
// commands (cmd/fanout/internal/cmd/testserver and lambdaserver) that the
// benchmark harness starts: print the URLs, report counters on SIGUSR1, and
// stop on SIGINT, SIGTERM or, if asked, the end of standard input.
package serve

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Until prints each of urls on its own line to stdout, then serves until
// SIGINT or SIGTERM, or until standard input reaches end of file when
// watchStdin is set, so the server never outlives the process that started
// it. On SIGUSR1 it prints stats() as one line to stdout.
func Until(urls []string, watchStdin bool, stats func() string) {
	// Listen for SIGUSR1 before printing the URLs: whoever reads them may
	// ask for the counters at once.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	for _, u := range urls {
		fmt.Println(u)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if watchStdin {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	for {
		select {
		case <-usr1:
			fmt.Println(stats())
		case <-ctx.Done():
			return
		}
	}
}
