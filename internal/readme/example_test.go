package readme_test

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/internal/testserver"
	"github.com/fanout-go/fanout/trace"
)

// statusCode is the blocking call of README.md's snippets: one GET, its
// status.
func statusCode(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// README.md's first snippet: submit every call, then gather them.
func Example_submitAndGather() {
	srv, err := testserver.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx := context.Background()
	urls := []string{srv.URL("/status/200"), srv.URL("/status/404"), srv.URL("/status/503")}

	// readme:begin
	ex := fanout.New(fanout.WithLimit(50), fanout.WithTimeout(10*time.Second))
	defer ex.Close()

	var futures []*fanout.Future[int]
	for _, url := range urls {
		futures = append(futures, fanout.Submit(ctx, ex, func(ctx context.Context) (int, error) {
			return statusCode(ctx, url) // the closure binds url, as functools.partial would
		}, fanout.WithLabel(url)))
	}
	codes, err := fanout.Gather(ctx, futures...) // in argument order; the first error cancels the rest
	// readme:end
	fmt.Println(codes, err)
	// Output: [200 404 503] <nil>
}

// README.md's streaming snippet: Map over an iterator.
func Example_map() {
	srv, err := testserver.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx := context.Background()
	ex := fanout.New(fanout.WithLimit(10))
	defer ex.Close()
	var urlSeq iter.Seq[string] = slices.Values([]string{srv.URL("/status/200"), srv.URL("/status/201")})

	// readme:begin
	for i, r := range fanout.Map(ctx, ex, urlSeq, statusCode) {
		fmt.Println(i, r.Value, r.Err)
	}
	// readme:end
	// Output:
	// 0 200 <nil>
	// 1 201 <nil>
}

// README.md's proof-of-concurrency snippet, run in a temporary directory
// with its stderr captured: the summary, the trace and the timeline.
func TestTraceSnippet(t *testing.T) {
	t.Chdir(t.TempDir())
	stderr, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = stderr
	defer func() { os.Stderr = saved }()

	// readme:begin
	rec := trace.New(trace.WithSlow(500*time.Millisecond, slog.Default()))
	ex := fanout.New(fanout.WithObserver(rec))
	// ... submit work, wait for it ...
	fmt.Fprintln(os.Stderr, rec.Summary())     // effective concurrency, percentiles, serial-run warning
	rec.WriteChromeTraceFile("run.trace.json") // open in Perfetto or chrome://tracing
	rec.WriteHTMLFile("run.html")              // self-contained timeline
	// readme:end
	ex.Close()
	rec.Close()

	os.Stderr = saved
	summary, _ := os.ReadFile(stderr.Name())
	if !strings.Contains(string(summary), "fanout: 0 tasks") {
		t.Errorf("summary: %q", summary)
	}
	for _, f := range []string{"run.trace.json", "run.html"} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
