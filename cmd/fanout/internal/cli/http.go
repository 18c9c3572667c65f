package cli

import (
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"time"

	"github.com/fanout-go/fanout/httpcheck"
)

// maxURLLine is the longest input line `fanout http` reads as a URL; a
// longer one becomes an invalid_url record.
const maxURLLine = 64 << 10

func runHTTP(ctx context.Context, env Env, args []string) error {
	var (
		common        Common
		method        string
		perHost       int
		maxRedirects  int
		noFollow      bool
		insecure      bool
		maxRetryAfter time.Duration
		headers       headerList
	)
	fs := NewFlagSet("http", "fanout http [flags] [URL...]\n\nChecks the HTTP status of each URL, concurrently, and writes one record per URL.\nURLs come from the arguments, from -i FILE, or from stdin; one per line, blank and # lines skipped.")
	common.Register(fs, env, Defaults{
		Concurrency: 50,
		Timeout:     10 * time.Second,
		InputHelp:   "read URLs from FILE, one per line (- for stdin)",
	})
	fs.IntVar(&perHost, "", "per-host", 0, "most requests to one host at once, 0 for no limit")
	fs.StringVar(&method, "X", "method", "METHOD", "GET", "GET or HEAD")
	fs.IntVar(&maxRedirects, "", "max-redirects", httpcheck.DefaultMaxRedirects, "most redirects followed; 0 is --no-follow")
	fs.BoolVar(&noFollow, "", "no-follow", false, "do not follow redirects: report the redirect's own status")
	fs.Var(&headers, "H", "header", "'NAME: VALUE'", "send this header with every request (repeatable)")
	fs.BoolVar(&insecure, "k", "insecure", false, "do not verify TLS certificates")
	fs.DurationVar(&maxRetryAfter, "", "max-retry-after", 30*time.Second, "longest Retry-After wait honoured")
	urls, err := fs.Parse(args, env.Stdout)
	if err == errHelp {
		return nil
	}
	if err != nil {
		return err
	}
	if err := common.Check("http"); err != nil {
		return err
	}
	if perHost < 0 || maxRedirects < 0 {
		return usagef("http", "--per-host and --max-redirects must not be negative")
	}
	if maxRedirects == 0 {
		noFollow = true
	}
	checker, err := httpcheck.New(httpcheck.Config{
		Method:        method,
		Timeout:       common.Timeout,
		MaxRedirects:  maxRedirects,
		NoFollow:      noFollow,
		Header:        headers.h,
		Insecure:      insecure,
		Retries:       common.Retries,
		MaxRetryAfter: maxRetryAfter,
		PerHost:       perHost,
		Concurrency:   common.Concurrency,
	})
	if err != nil {
		return usagef("http", "%v", err)
	}
	return runStream(ctx, env, &common, streamJob[httpcheck.Input, httpcheck.Result]{
		cmd: "http", noun: "URLs", taskNoun: "URLs",
		args: urls, maxLine: maxURLLine, skipComments: true, readAhead: 256,
		input:     func(l Line) httpcheck.Input { return httpcheck.Input{URL: l.Text, Err: l.Err} },
		execOpts:  checker.ExecutorOptions(),
		ordered:   checker.CheckAll,
		unordered: checker.CheckAllUnordered,
		records:   httpRecords,
		close:     checker.Close,
	})
}

// lineSource yields input records and says afterwards whether reading
// failed.
type lineSource interface {
	Lines() iter.Seq[Line]
	Err() error
}

type argSource iter.Seq[Line]

func (a argSource) Lines() iter.Seq[Line] { return iter.Seq[Line](a) }
func (a argSource) Err() error            { return nil }

// openInput chooses where a streaming subcommand's records come from: the
// positional arguments, -i FILE ("-" for stdin), or stdin when it is not a
// terminal. Lines starting with # are skipped when skipComments. It returns
// the records, their number when known (else -1), and the file to close, if
// any. An unreadable file is a usage error.
func openInput(cmd string, env Env, path string, args []string, maxLine int, noun string, skipComments bool) (lineSource, int, io.Closer, error) {
	switch {
	case len(args) > 0 && path != "":
		return nil, 0, nil, usagef(cmd, "give %s either as arguments or with -i, not both", noun)
	case len(args) > 0:
		return argSource(ArgLines(args, maxLine, skipComments)), len(args), nil, nil
	case path == "-":
		return NewLineReader(env.Stdin, maxLine, skipComments), -1, nil, nil
	case path != "":
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, nil, usagef(cmd, "cannot read the input: %v", err)
		}
		if st, err := f.Stat(); err != nil || st.IsDir() {
			f.Close()
			return nil, 0, nil, usagef(cmd, "cannot read the input: %s is a directory", path)
		}
		return NewLineReader(f, maxLine, skipComments), -1, f, nil
	case !env.StdinTTY && env.Stdin != nil:
		return NewLineReader(env.Stdin, maxLine, skipComments), -1, nil, nil
	}
	return nil, 0, nil, usagef(cmd, "no %s: give them as arguments, with -i FILE, or on stdin", noun)
}

// httpRecords describes `fanout http`'s output.
var httpRecords = Records[httpcheck.Result]{
	Noun: "URLs",
	CSV: []Column[httpcheck.Result]{
		{Name: "index", Value: func(r httpcheck.Result) string { return strconv.Itoa(r.Index) }},
		{Name: "url", Value: func(r httpcheck.Result) string { return r.URL }},
		{Name: "status", Value: func(r httpcheck.Result) string { return strconv.Itoa(r.Status) }},
		{Name: "final_url", Value: func(r httpcheck.Result) string { return r.FinalURL }},
		{Name: "redirects", Value: func(r httpcheck.Result) string { return strconv.Itoa(r.Redirects) }},
		{Name: "attempts", Value: func(r httpcheck.Result) string { return strconv.Itoa(r.Attempts) }},
		{Name: "duration_ms", Value: func(r httpcheck.Result) string { return strconv.FormatFloat(r.DurationMS, 'f', -1, 64) }},
		{Name: "error", Value: func(r httpcheck.Result) string { return r.Error }},
		{Name: "error_kind", Value: func(r httpcheck.Result) string { return string(r.ErrorKind) }},
	},
	Table: []Column[httpcheck.Result]{
		{Name: "INDEX", Width: 5, Value: func(r httpcheck.Result) string { return strconv.Itoa(r.Index) }},
		{Name: "STATUS", Width: 6, Value: func(r httpcheck.Result) string { return statusText(r.Status) }},
		{Name: "TIME", Width: 7, Value: func(r httpcheck.Result) string { return shortDuration(r.Duration) }},
		{Name: "RESULT", Width: 18, Value: func(r httpcheck.Result) string {
			if r.Err != nil {
				return string(r.ErrorKind)
			}
			return "ok"
		}},
		{Name: "URL", Width: 40, Value: func(r httpcheck.Result) string { return r.URL }},
		{Name: "DETAIL", Value: func(r httpcheck.Result) string {
			switch {
			case r.Err != nil:
				return r.Error
			case r.Redirects > 0:
				return fmt.Sprintf("-> %s (%d redirects)", r.FinalURL, r.Redirects)
			case r.Attempts > 1:
				return fmt.Sprintf("%d attempts", r.Attempts)
			}
			return ""
		}},
	},
	Outcome: func(r httpcheck.Result) (string, bool) {
		if r.Err != nil {
			return string(r.ErrorKind), true
		}
		return strconv.Itoa(r.Status/100) + "xx", false
	},
}

func statusText(code int) string {
	if code == 0 {
		return "-"
	}
	return strconv.Itoa(code)
}

// shortDuration formats d for a table: 87ms, 1.25s, 2m3s.
func shortDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
