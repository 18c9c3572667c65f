package readme_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
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

// README.md's streaming snippet: Map over an iterator yields each input
// with its result, in input order. A test rather than an Example, because
// the URLs it prints carry the test server's port.
func TestMapSnippet(t *testing.T) {
	srv := testserver.StartTest(t)
	ctx := t.Context()
	ex := fanout.New(fanout.WithLimit(10))
	defer ex.Close()
	urls := []string{srv.URL("/status/200"), srv.URL("/status/201")}
	var urlSeq iter.Seq[string] = slices.Values(urls)
	stdout := captureStdout(t)

	// readme:begin
	for url, r := range fanout.Map(ctx, ex, urlSeq, statusCode) {
		fmt.Println(url, r.Value, r.Err)
	}
	// readme:end

	want := urls[0] + " 200 <nil>\n" + urls[1] + " 201 <nil>\n"
	if got := stdout(); got != want {
		t.Errorf("the snippet printed %q, want %q", got, want)
	}
}

// README.md's group snippet: value-less tasks on the executor, each with
// its own timeout and retry policy; the first error cancels the others.
func TestGroupSnippet(t *testing.T) {
	ctx := t.Context()
	ex := fanout.New(fanout.WithLimit(4))
	defer ex.Close()
	files := []string{"a.txt", "b.txt", "bad.txt", "c.txt"}
	var uploaded sync.Map
	tries := map[string]int{}
	var mu sync.Mutex
	upload := func(ctx context.Context, name string) error {
		mu.Lock()
		tries[name]++
		n := tries[name]
		mu.Unlock()
		if name == "bad.txt" {
			return fanout.Permanent(errors.New("bad.txt: refused"))
		}
		if n == 1 && name == "a.txt" {
			return errors.New("a.txt: transient") // retried
		}
		uploaded.Store(name, true)
		return ctx.Err()
	}

	// readme:begin
	g, ctx := fanout.NewGroup(ctx, ex)
	for _, name := range files {
		g.Go(func(ctx context.Context) error { return upload(ctx, name) },
			fanout.WithLabel(name), fanout.WithTaskTimeout(time.Minute),
			fanout.WithTaskRetry(fanout.RetryPolicy{MaxAttempts: 3}))
	}
	err := g.Wait() // the first error; it canceled the others
	// readme:end

	if err == nil || !strings.Contains(err.Error(), "bad.txt: refused") {
		t.Errorf("Wait = %v, want bad.txt's error", err)
	}
	if ctx.Err() == nil {
		t.Error("the group's context was not canceled by the first error")
	}
	// Wait returns once every task has settled; a task canceled by the
	// first error may still be in its function, counting its try.
	mu.Lock()
	badTries := tries["bad.txt"]
	mu.Unlock()
	if badTries != 1 {
		t.Errorf("a permanent error was tried %d times", badTries)
	}
}

// captureStdout sends os.Stdout to a file until the returned function is
// called, which gives back what was written.
func captureStdout(t *testing.T) func() string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = f
	t.Cleanup(func() { os.Stdout = saved })
	return func() string {
		os.Stdout = saved
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
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
