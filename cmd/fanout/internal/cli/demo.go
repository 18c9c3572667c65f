package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/httpcheck"
	"github.com/fanout-go/fanout/internal/testserver"
	"github.com/fanout-go/fanout/lambdainvoke"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
	"github.com/fanout-go/fanout/trace"
)

// demoConfig is what `fanout demo` runs.
type demoConfig struct {
	urls     int
	payloads int
	delay    time.Duration
	limit    int
	timeline string // the HTML timeline of every run; "" for none
}

// defaultDemoTimeline is where the demo draws its timelines unless told
// otherwise: one file in the current directory, replaced by every run, so
// that demos leave nothing behind in temporary directories.
const defaultDemoTimeline = "fanout-demo.html"

// demoRun is what one run of the demo measured.
type demoRun struct {
	name    string
	code    string // the Go lines behind it
	limit   int
	wall    time.Duration
	summary trace.Summary
	records int
	failed  int
	rec     *trace.Recorder
}

func runDemo(ctx context.Context, env Env, args []string) error {
	cfg := demoConfig{}
	fs := NewFlagSet("demo", "fanout demo [flags]\n\n"+
		"Tells the article's story on local servers: the same calls made one after another (each awaited\n"+
		"before the next is submitted, the article's trap) and then with fanout (all submitted, then\n"+
		"gathered), first for HTTP URLs, then for AWS Lambda invocations on a built-in Invoke API server.\n"+
		"It prints the Go lines behind each run and draws the runs' timelines on one time scale.\n"+
		"No set-up, no AWS account, no network: everything stays on 127.0.0.1.")
	fs.IntVar(&cfg.urls, "n", "urls", 20, "how many URLs to check")
	fs.IntVar(&cfg.payloads, "", "payloads", 10, "how many Lambda payloads to invoke the function with")
	fs.DurationVar(&cfg.delay, "", "delay", 300*time.Millisecond, "how long the servers take to answer each call")
	fs.IntVar(&cfg.limit, "c", "concurrency", 0, "fanout's concurrency limit (default: one slot per call)")
	fs.StringVar(&cfg.timeline, "", "timeline", "FILE", defaultDemoTimeline, "write the runs' HTML timelines to FILE, replacing it; '' for none")
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
	case cfg.payloads < 0 || cfg.payloads > 1000:
		return usagef("demo", "--payloads must be between 0 and 1000")
	case cfg.limit < 0:
		return usagef("demo", "--concurrency must not be negative")
	}
	out, err := createOutFile("demo", "--timeline", cfg.timeline)
	if err != nil {
		return err
	}
	ctx, stop := Interruptible(ctx, env.Stderr)
	defer stop()
	runs, err := demo(ctx, env.Stdout, cfg)
	if err == nil && out != nil {
		err = demoTimeline(env.Stdout, out, runs)
	} else {
		out.close()
	}
	if context.Cause(ctx) == ErrInterrupted {
		return ErrInterrupted
	}
	return err
}

// The Go lines behind each run, as the demo prints them. Each matches the
// code of its run below.
const (
	httpSerialCode = `for i, u := range urls {
	r := checker.Check(ctx, e, u) // submits one task and waits for it
}`
	httpGatherCode = `for r := range checker.CheckAllUnordered(ctx, e, httpcheck.URLs(urls...)) {
	// every URL submitted as a slot frees, results as they finish
}`
	lambdaSerialCode = `tmpl := lambdainvoke.Template{FunctionName: "resize"} // functools.partial(client.invoke, FunctionName="resize")
iv, err := lambdainvoke.New(ctx, tmpl, cfg)
for _, p := range payloads {
	r := iv.Invoke(ctx, e, p) // submits one call and waits for it
}`
	lambdaGatherCode = `for r := range iv.InvokeAllUnordered(ctx, e, lambdainvoke.Payloads(payloads...)) {
	// every payload submitted as a slot frees, results as they finish
}`
)

// demo runs the demo, writing its story to w, and returns every run: the
// HTTP pair, then the Lambda pair (none when cfg.payloads is 0).
func demo(ctx context.Context, w io.Writer, cfg demoConfig) ([]demoRun, error) {
	var runs []demoRun
	srv, err := testserver.Start()
	if err != nil {
		return runs, err
	}
	defer srv.Close()
	urls := make([]string, cfg.urls)
	for i := range urls {
		urls[i] = srv.URL(fmt.Sprintf("/status/200?delay=%s&task=%d", cfg.delay, i))
	}
	limit := cfg.limit
	if limit == 0 {
		limit = cfg.urls
	}
	fmt.Fprintf(w, "fanout demo: the article's two examples, serial then gathered, on local servers\n\n")
	fmt.Fprintf(w, "HTTP: %d URLs on a local server (%s) that each take %s to answer\n\n", cfg.urls, srv.BaseURLs()[0], cfg.delay)
	fmt.Fprintf(w, "1. The article's trap: each call awaited before the next starts, like requests.get inside\n"+
		"   async def, though the executor has %d slots:\n\n%s\n", limit, indent(httpSerialCode))
	run, err := demoHTTP(ctx, w, "1. HTTP, serial", limit, urls, true)
	if runs = append(runs, run); err != nil {
		return runs, err
	}
	fmt.Fprintf(w, "\n2. With fanout: every call submitted first, then gathered, on the same %d slots:\n\n%s\n", limit, indent(httpGatherCode))
	run, err = demoHTTP(ctx, w, "2. HTTP, gathered", limit, urls, false)
	if runs = append(runs, run); err != nil {
		return runs, err
	}
	if ctx.Err() != nil {
		return runs, context.Cause(ctx)
	}
	fmt.Fprintln(w)
	writeDemoTable(w, runs[0], runs[1])
	writeDemoChecks(w, runs[0], runs[1])

	if cfg.payloads > 0 {
		lambdaRuns, err := demoLambdaHalf(ctx, w, cfg)
		runs = append(runs, lambdaRuns...)
		if err != nil {
			return runs, err
		}
	}
	return runs, nil
}

// demoLambdaHalf runs the article's Lambda example: a template bound like
// functools.partial, invoked over payloads serially then gathered, on a
// loopback Invoke API server.
func demoLambdaHalf(ctx context.Context, w io.Writer, cfg demoConfig) ([]demoRun, error) {
	var runs []demoRun
	srv, err := lambdatest.Start(lambdatest.Options{Delay: cfg.delay})
	if err != nil {
		return runs, err
	}
	defer srv.Close()
	limit := cfg.limit
	if limit == 0 {
		limit = cfg.payloads
	}
	payloads := make([]string, cfg.payloads)
	for i := range payloads {
		payloads[i] = fmt.Sprintf(`{"image":"photo-%d.jpg","width":640}`, i)
	}
	tmpl := lambdainvoke.Template{FunctionName: "resize"}
	iv, err := lambdainvoke.New(ctx, tmpl, lambdainvoke.Config{
		EndpointURL: srv.URL(), Region: "us-east-1",
		Credentials: aws.AnonymousCredentials{}, // the local server checks no signature
		Concurrency: limit,
	})
	if err != nil {
		return runs, err
	}
	defer iv.Close()
	fmt.Fprintf(w, "\nLambda: %d payloads for the function %q on a local Invoke API server (%s),\n"+
		"each call taking %s\n\n", cfg.payloads, tmpl.FunctionName, srv.URL(), cfg.delay)
	fmt.Fprintf(w, "3. The article's trap again: the template bound once, like functools.partial, then each\n"+
		"   invocation awaited before the next:\n\n%s\n", indent(lambdaSerialCode))
	run, err := demoLambda(ctx, w, "3. Lambda, serial", limit, iv, payloads, true)
	if runs = append(runs, run); err != nil {
		return runs, err
	}
	fmt.Fprintf(w, "\n4. With fanout: every invocation submitted first, then gathered, on the same %d slots:\n\n%s\n", limit, indent(lambdaGatherCode))
	run, err = demoLambda(ctx, w, "4. Lambda, gathered", limit, iv, payloads, false)
	if runs = append(runs, run); err != nil {
		return runs, err
	}
	if ctx.Err() != nil {
		return runs, context.Cause(ctx)
	}
	fmt.Fprintln(w)
	writeDemoTable(w, runs[0], runs[1])
	writeDemoChecks(w, runs[0], runs[1])
	return runs, nil
}

func indent(code string) string {
	return "     " + strings.ReplaceAll(code, "\n", "\n     ") + "\n"
}

// demoHTTP checks urls at the given limit, printing each task as it
// finishes, like asyncio's debug mode. With awaitEach it waits for each
// check before submitting the next: the article's trap.
func demoHTTP(ctx context.Context, w io.Writer, name string, limit int, urls []string, awaitEach bool) (demoRun, error) {
	run := demoRun{name: name, limit: limit, code: httpGatherCode}
	if awaitEach {
		run.code = httpSerialCode
	}
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
	return finishDemoRun(w, run, rec, begin), nil
}

// demoLambda invokes the function once per payload, like demoHTTP.
func demoLambda(ctx context.Context, w io.Writer, name string, limit int, iv *lambdainvoke.Invoker, payloads []string, awaitEach bool) (demoRun, error) {
	run := demoRun{name: name, limit: limit, code: lambdaGatherCode}
	if awaitEach {
		run.code = lambdaSerialCode
	}
	rec := trace.New()
	defer rec.Close()
	e := fanout.New(append(iv.ExecutorOptions(), fanout.WithLimit(limit), fanout.WithObserver(rec))...)
	begin := time.Now()
	results := iv.InvokeAllUnordered(ctx, e, lambdainvoke.Payloads(payloads...))
	if awaitEach {
		results = func(yield func(lambdainvoke.Result) bool) {
			for i, p := range payloads {
				r := iv.Invoke(ctx, e, []byte(p))
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
		if o := lambdaOutcome(r); o.Failed() {
			run.failed++
			status = o.Detail
		}
		fmt.Fprintf(w, "   fanout: invocation %-2d %s -> %s took %.3fs\n", r.Index, payloads[r.Index], status, r.Duration.Seconds())
	}
	e.Close()
	return finishDemoRun(w, run, rec, begin), nil
}

func finishDemoRun(w io.Writer, run demoRun, rec *trace.Recorder, begin time.Time) demoRun {
	run.wall = time.Since(begin)
	run.summary = rec.Summary()
	run.rec = rec
	fmt.Fprintf(w, "   wall time %.2fs\n", run.wall.Seconds())
	return run
}

func pathOf(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.IndexByte(url[i+3:], '/'); j >= 0 {
			return url[i+3+j:]
		}
	}
	return url
}

func writeDemoTable(w io.Writer, serial, fan demoRun) {
	speedup := serial.wall.Seconds() / max(fan.wall.Seconds(), 1e-9)
	rows := [][3]string{
		{"", serial.name, fan.name},
		{"limit", fmt.Sprint(serial.limit), fmt.Sprint(fan.limit)},
		{"wall time", fmt.Sprintf("%.2fs", serial.wall.Seconds()), fmt.Sprintf("%.2fs", fan.wall.Seconds())},
		{"speed-up", "1.0x", fmt.Sprintf("%.1fx", speedup)},
		{"effective concurrency", fmt.Sprintf("%.2f", serial.summary.Effective), fmt.Sprintf("%.2f", fan.summary.Effective)},
		{"peak running at once", fmt.Sprint(serial.summary.Peak), fmt.Sprint(fan.summary.Peak)},
		{"failed", fmt.Sprint(serial.failed), fmt.Sprint(fan.failed)},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%-24s %-20s %s\n", r[0], r[1], r[2])
	}
}

// writeDemoChecks says what fanout's own check of the runs found.
func writeDemoChecks(w io.Writer, serial, fan demoRun) {
	for _, warning := range serial.summary.Warnings {
		fmt.Fprintf(w, "\nfanout's check of run %s warns: %s\n", serial.name, warning)
	}
	if !serial.summary.Serial() {
		why := "is the machine very busy?"
		switch s := serial.summary; {
		case s.Tasks < trace.MinSerialTasks:
			why = fmt.Sprintf("it judges runs of %d tasks or more, and this one had %d", trace.MinSerialTasks, s.Tasks)
		case s.LimitMax == 1:
			why = "under a concurrency limit of 1, one call at a time is what was asked for"
		}
		fmt.Fprintf(w, "\nfanout's check of run %s found nothing serial: %s\n", serial.name, why)
	}
	if fan.summary.Serial() {
		fmt.Fprintf(w, "\nrun %s was judged serial too: is the machine very busy?\n", fan.name)
	}
}

// demoTimeline draws every run one above the other, on one time scale,
// each with the Go lines behind it.
func demoTimeline(w io.Writer, out *outFile, runs []demoRun) error {
	var trs []trace.Run
	for _, r := range runs {
		trs = append(trs, trace.Run{Name: r.name, Note: r.code, Recorder: r.rec})
	}
	if err := out.write(func(w io.Writer) error { return trace.WriteHTMLRuns(w, trs...) }); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ntimelines of the %d runs, on one time scale (open it in a browser): %s\n", len(runs), out.Name())
	return nil
}
