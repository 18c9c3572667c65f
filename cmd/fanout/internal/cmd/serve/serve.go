// Package serve is the process plumbing shared by the loopback server
// commands (cmd/fanout/internal/cmd/testserver and lambdaserver) that the
// benchmark harness starts: print the URLs, report counters and CPU time on
// SIGUSR1, and stop on SIGINT, SIGTERM or, if asked, the end of standard
// input.
package serve

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Until prints each of urls on its own line to stdout, then serves until
// SIGINT or SIGTERM, or until standard input reaches end of file when
// watchStdin is set, so the server never outlives the process that started
// it. On SIGUSR1 it prints stats() as one line to stdout, followed by
// " cpu=N": the microseconds of CPU (user and system) the process has used,
// so that the harness can tell a contender's time from the server's.
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
			fmt.Printf("%s cpu=%d\n", stats(), cpuTime().Microseconds())
		case <-ctx.Done():
			return
		}
	}
}

// cpuTime is the user and system time the process has used so far, or 0
// when the system does not say.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
