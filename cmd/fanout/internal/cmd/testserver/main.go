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
// to stdout as one line, "stats requests=N connections=M peak=P cpu=U", which
// is how bench/compare counts the requests and connections of each
// contender: P is the most connections open at once since the previous such
// line, U the microseconds of CPU the server has used (see package serve). The
// endpoints are listed in the documentation of internal/testserver, e.g.
// /status/200?delay=50ms.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/fanout-go/fanout/cmd/fanout/internal/cmd/serve"
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
	serve.Until(srv.BaseURLs(), *watchStdin, func() string {
		st := srv.Stats()
		return fmt.Sprintf("stats requests=%d connections=%d peak=%d", st.Requests, st.Connections, srv.TakePeakOpen())
	})
	st := srv.Stats()
	fmt.Fprintf(os.Stderr, "fanout: testserver: %d requests (at most %d at once), %d connections (at most %d open at once)\n",
		st.Requests, st.MaxInFlight, st.Connections, st.MaxOpen)
	return nil
}
