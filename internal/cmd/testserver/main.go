// Command testserver runs the fault-injecting loopback server of package
// internal/testserver as its own process, for the benchmarks (bench/compare)
// and for trying fanout by hand.
//
//	testserver [-ports N] [-tls]
//
// It prints the base URL of each port to stdout, one per line, such as
// http://127.0.0.1:41234, and serves until SIGINT or SIGTERM, or until its
// standard input reaches end of file when started with -stdin, so it never
// outlives the process that started it. On SIGUSR1 it prints its counters
// to stdout as one line, "stats requests=N connections=M", which is how
// bench/compare counts the requests and connections of each contender. The
// endpoints are listed in the documentation of internal/testserver, e.g.
// /status/200?delay=50ms.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/fanout-go/fanout/internal/testserver"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "fanout: testserver: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	ports := flag.Int("ports", 1, "number of ports to listen on")
	useTLS := flag.Bool("tls", false, "serve HTTPS with a self-signed certificate")
	watchStdin := flag.Bool("stdin", false, "stop when standard input reaches end of file")
	flag.Parse()
	if *ports < 1 {
		return fmt.Errorf("-ports must be at least 1")
	}
	opts := []testserver.Option{testserver.WithPorts(*ports)}
	if *useTLS {
		opts = append(opts, testserver.WithTLS())
	}
	srv, err := testserver.Start(opts...)
	if err != nil {
		return err
	}
	defer srv.Close()
	// Listen for SIGUSR1 before printing the URLs: whoever reads them may
	// ask for the counters at once.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	for _, base := range srv.BaseURLs() {
		fmt.Println(base)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *watchStdin {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	for done := false; !done; {
		select {
		case <-usr1:
			st := srv.Stats()
			fmt.Printf("stats requests=%d connections=%d\n", st.Requests, st.Connections)
		case <-ctx.Done():
			done = true
		}
	}
	st := srv.Stats()
	fmt.Fprintf(os.Stderr, "fanout: testserver: %d requests, %d connections, at most %d at once\n",
		st.Requests, st.Connections, st.MaxInFlight)
	return nil
}
