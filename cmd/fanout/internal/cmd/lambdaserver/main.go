// Command lambdaserver runs the loopback AWS Lambda Invoke API server of
// package lambdainvoke/lambdatest as its own process, for the benchmarks
// (bench/compare) and for trying `fanout lambda` by hand:
//
//	lambdaserver [-delay D] [-limit N] [-stdin]
//	fanout lambda --endpoint-url URL --function any-name ...
//
// It prints its base URL to stdout, such as http://127.0.0.1:41234, and
// serves until SIGINT or SIGTERM, or until its standard input reaches end of
// file when started with -stdin, so it never outlives the process that
// started it. On SIGUSR1 it prints its counters to stdout as one line,
// "stats requests=N connections=M cpu=U", as internal/cmd/testserver does, for
// bench/compare. Every function name exists; each call runs for -delay plus the
// payload's sleep_ms, and the payload drives errors as the package documents.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/fanout-go/fanout/cmd/fanout/internal/cmd/serve"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "fanout: lambdaserver: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var o lambdatest.Options
	flag.DurationVar(&o.Delay, "delay", 0, "how long every synchronous call runs")
	flag.IntVar(&o.Limit, "limit", 0, "calls that may run at once; more answer 429 (0: no limit)")
	flag.DurationVar(&o.RetryAfter, "retry-after", 0, "Retry-After sent with the 429 of -limit")
	watchStdin := flag.Bool("stdin", false, "stop when standard input reaches end of file")
	flag.Parse()
	if o.Delay < 0 || o.Limit < 0 {
		return fmt.Errorf("-delay and -limit must not be negative")
	}
	srv, err := lambdatest.Start(o)
	if err != nil {
		return err
	}
	defer srv.Close()
	serve.Until([]string{srv.URL()}, *watchStdin, func() string {
		st := srv.Stats()
		return fmt.Sprintf("stats requests=%d connections=%d", st.Requests, st.Connections)
	})
	st := srv.Stats()
	fmt.Fprintf(os.Stderr, "fanout: lambdaserver: %d requests, %d invocations, %d throttled, %d connections, at most %d at once\n",
		st.Requests, st.Invocations, st.Throttled, st.Connections, st.MaxInFlight)
	return nil
}
