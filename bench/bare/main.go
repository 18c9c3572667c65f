// Command bare is the floor of the comparison harness: the least a Go
// program does to make the harness's calls at concurrency C, with nothing
// of fanout in it. It reads lines from standard input and hands them to C
// goroutines, which make one call each with the standard library's HTTP
// client (bare http) or the AWS SDK's Lambda client (bare lambda), and
// write "STATUS KEY" lines: the status code (0 when no answer came) and the
// URL, or the payload's line index.
//
// It keeps no records beyond that line, retries nothing, sets no timeout
// and reports no errors: what a careful Go programmer writes in an
// afternoon. Its idle connections per host are raised to C (net/http keeps
// 2, the SDK 10), without which it would dial again for most calls.
// The harness runs it beside fanout, so that a ratio to the ideal that
// fanout misses can be read against what Go itself reaches on the same
// machine in the same run.
//
//	bare http -c 500 < urls.txt
//	bare lambda -c 200 -endpoint http://127.0.0.1:9001 -function bench < payloads.jsonl
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(2)
	}
}

// item is one input line and its place in the input.
type item struct {
	index int
	line  []byte
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: bare http|lambda -c C [-endpoint URL -function NAME]")
	}
	mode := args[0]
	fs := flag.NewFlagSet("bare "+mode, flag.ContinueOnError)
	c := fs.Int("c", 50, "calls at once")
	endpoint := fs.String("endpoint", "", "Lambda endpoint URL (lambda)")
	function := fs.String("function", "", "Lambda function name (lambda)")
	region := fs.String("region", "us-east-1", "AWS region (lambda)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *c < 1 {
		return fmt.Errorf("-c must be at least 1")
	}
	var call func(ctx context.Context, it item) (status int, key string)
	switch mode {
	case "http":
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2**c, *c
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		call = func(ctx context.Context, it item) (int, string) {
			u := string(it.line)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return 0, u
			}
			resp, err := client.Do(req)
			if err != nil {
				return 0, u
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode, u
		}
	case "lambda":
		if *endpoint == "" || *function == "" {
			return fmt.Errorf("lambda needs -endpoint and -function")
		}
		var tr *http.Transport // the one the client builds at its first call
		hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns, t.MaxIdleConnsPerHost = 2**c, *c
			tr = t
		})
		defer func() {
			if tr != nil {
				tr.CloseIdleConnections()
			}
		}()
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(*region), config.WithHTTPClient(hc))
		if err != nil {
			return err
		}
		client := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = endpoint })
		call = func(ctx context.Context, it item) (int, string) {
			out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: function, Payload: it.line})
			key := strconv.Itoa(it.index)
			if err != nil || out.FunctionError != nil {
				return 0, key
			}
			return int(out.StatusCode), key
		}
	default:
		return fmt.Errorf("unknown mode %q: http or lambda", mode)
	}

	items := make(chan item)
	w := bufio.NewWriter(stdout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range *c {
		wg.Go(func() {
			for it := range items {
				status, key := call(ctx, it)
				mu.Lock()
				fmt.Fprintf(w, "%d %s\n", status, key)
				mu.Unlock()
			}
		})
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	index := 0
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		items <- item{index: index, line: append([]byte(nil), line...)}
		index++
	}
	close(items)
	wg.Wait()
	if err := w.Flush(); err != nil {
		return err
	}
	return sc.Err()
}
