package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/httpcheck"
	"github.com/fanout-go/fanout/internal/testserver"
	"github.com/fanout-go/fanout/trace"
)

// demoConfig is what `fanout demo` runs.
type demoConfig struct {
	urls     int
	delay    time.Duration
	limit    int
	timeline string // the fanout run's HTML timeline; "" for a temp dir
}

// demoRun is what one half of the demo measured.
type demoRun struct {
	name    string
	limit   int
	wall    time.Duration
	summary trace.Summary
	records int
	failed  int
	rec     *trace.Recorder
}

func runDemo(ctx context.Context, env Env, args []string) error {
	cfg := demoConfig{}
	fs := NewFlagSet("demo", "fanout demo [flags]\n\nStarts a local HTTP server whose answers take a while, checks the same URLs the\nseed's way (one after another) and then with fanout, and shows the difference.\nNo set-up, no network: everything stays on 127.0.0.1.")
	fs.IntVar(&cfg.urls, "n", "urls", 20, "how many URLs to check")
	fs.DurationVar(&cfg.delay, "", "delay", 300*time.Millisecond, "how long the server takes to answer each")
	fs.IntVar(&cfg.limit, "c", "concurrency", 0, "fanout's concurrency limit (default: one slot per URL)")
	fs.StringVar(&cfg.timeline, "", "timeline", "FILE", "", "write the fanout run's HTML timeline to FILE (default: in a new temp dir)")
	rest, err := fs.Parse(args, env.Stdout)
	if err == errHelp {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return usagef("demo", "unexpected argument %q", rest[0])
	case cfg.urls < 1 || cfg.urls > 10000:
		return usagef("demo", "--urls must be between 1 and 10000")
	case cfg.limit < 0:
		return usagef("demo", "--concurrency must not be negative")
	}
	if cfg.limit == 0 {
		cfg.limit = cfg.urls
	}
	ctx, stop := Interruptible(ctx, env.Stderr)
	defer stop()
	_, err = demo(ctx, env.Stdout, cfg)
	if context.Cause(ctx) == ErrInterrupted {
		return ErrInterrupted
	}
	return err
}

// demo runs the demo, writing its story to w, and returns both runs.
func demo(ctx context.Context, w io.Writer, cfg demoConfig) ([2]demoRun, error) {
	var runs [2]demoRun
	srv, err := testserver.Start()
	if err != nil {
		return runs, err
	}
	defer srv.Close()
	urls := make([]string, cfg.urls)
	for i := range urls {
		urls[i] = srv.URL(fmt.Sprintf("/status/200?delay=%s&task=%d", cfg.delay, i))
	}
	fmt.Fprintf(w, "fanout demo: %d URLs on a local server (%s) that each take %s to answer\n\n", cfg.urls, srv.BaseURLs()[0], cfg.delay)

	fmt.Fprintf(w, "1. The seed's trap: each call awaited before the next starts, like requests.get inside\n"+
		"   async def, though the executor has %d slots\n", cfg.limit)
	if runs[0], err = demoHalf(ctx, w, "serial", cfg.limit, urls, true); err != nil {
		return runs, err
	}
	fmt.Fprintf(w, "\n2. With fanout: every call submitted first, then gathered, on the same %d slots\n", cfg.limit)
	if runs[1], err = demoHalf(ctx, w, "fanout", cfg.limit, urls, false); err != nil {
		return runs, err
	}
	if ctx.Err() != nil {
		return runs, context.Cause(ctx)
	}

	fmt.Fprintln(w)
	writeDemoTable(w, runs)
	for _, warning := range runs[0].summary.Warnings {
		fmt.Fprintf(w, "\nfanout's check of run 1 warns: %s\n", warning)
	}
	if !runs[0].summary.Serial() {
		fmt.Fprintln(w, "\nfanout's check of run 1 found nothing serial: is the machine very busy?")
	}
	if runs[1].summary.Serial() {
		fmt.Fprintln(w, "\nrun 2 was judged serial too: is the machine very busy?")
	}

	path, err := demoTimeline(cfg.timeline)
	if err != nil {
		return runs, err
	}
	if err := runs[1].rec.WriteHTMLFile(path); err != nil {
		return runs, fmt.Errorf("timeline: %w", err)
	}
	fmt.Fprintf(w, "\ntimeline of run 2 (open it in a browser): %s\n", path)
	return runs, nil
}

// demoHalf checks urls at the given limit, printing each task as it
// finishes, like asyncio's debug mode. With awaitEach it waits for each
// check before submitting the next: the seed's bug.
func demoHalf(ctx context.Context, w io.Writer, name string, limit int, urls []string, awaitEach bool) (demoRun, error) {
	run := demoRun{name: name, limit: limit}
	checker, err := httpcheck.New(httpcheck.Config{Concurrency: limit, Timeout: 30 * time.Second})
	if err != nil {
		return run, err
	}
	defer checker.Close()
	rec := trace.New()
	defer rec.Close()
	e := fanout.New(append(checker.ExecutorOptions(), fanout.WithLimit(limit), fanout.WithObserver(rec))...)
	begin := time.Now()
	results := checker.CheckAllUnordered(ctx, e, httpcheck.URLs(urls...))
	if awaitEach {
		results = func(yield func(httpcheck.Result) bool) {
			for i, u := range urls {
				r := checker.Check(ctx, e, u)
				r.Index = i
				if !yield(r) {
					return
				}
			}
		}
	}
	for r := range results {
		run.records++
		status := fmt.Sprint(r.Status)
		if r.Err != nil {
			run.failed++
			status = string(r.ErrorKind)
		}
		fmt.Fprintf(w, "   fanout: task %-2d %s -> %s took %.3fs\n", r.Index, pathOf(r.URL), status, r.Duration.Seconds())
	}
	e.Close()
	run.wall = time.Since(begin)
	run.summary = rec.Summary()
	run.rec = rec
	fmt.Fprintf(w, "   wall time %.2fs\n", run.wall.Seconds())
	return run, nil
}

func pathOf(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.IndexByte(url[i+3:], '/'); j >= 0 {
			return url[i+3+j:]
		}
	}
	return url
}

func writeDemoTable(w io.Writer, runs [2]demoRun) {
	serial, fan := runs[0], runs[1]
	speedup := serial.wall.Seconds() / max(fan.wall.Seconds(), 1e-9)
	rows := [][3]string{
		{"", "1. serial", "2. fanout"},
		{"limit", fmt.Sprint(serial.limit), fmt.Sprint(fan.limit)},
		{"wall time", fmt.Sprintf("%.2fs", serial.wall.Seconds()), fmt.Sprintf("%.2fs", fan.wall.Seconds())},
		{"speed-up", "1.0x", fmt.Sprintf("%.1fx", speedup)},
		{"effective concurrency", fmt.Sprintf("%.2f", serial.summary.Effective), fmt.Sprintf("%.2f", fan.summary.Effective)},
		{"peak running at once", fmt.Sprint(serial.summary.Peak), fmt.Sprint(fan.summary.Peak)},
		{"failed", fmt.Sprint(serial.failed), fmt.Sprint(fan.failed)},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%-24s %-10s %s\n", r[0], r[1], r[2])
	}
}

// demoTimeline returns where to write the timeline: path, or a file in a
// new temp dir.
func demoTimeline(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	dir, err := os.MkdirTemp("", "fanout-demo-")
	if err != nil {
		return "", fmt.Errorf("timeline: %w", err)
	}
	return filepath.Join(dir, "timeline.html"), nil
}
