package cli

import (
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fanout-go/fanout/httpcheck"
	"github.com/fanout-go/fanout/trace"
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
		resume        Resume
		accept        statusRanges
		hosts         hostFlags // hoststats.go
	)
	fs := NewFlagSet("http", "fanout http [flags] [URL...]\n\nChecks the HTTP status of each URL, concurrently, and writes one record per URL.\nURLs come from the arguments, from -i FILE, or from stdin; one per line, blank and # lines skipped.\nA URL without a scheme is checked as http://, as curl does.")
	common.Register(fs, env, Defaults{
		Concurrency: 50,
		Timeout:     10 * time.Second,
		InputHelp:   "read URLs from FILE, one per line (- for stdin)",
	})
	fs.IntVar(&perHost, "", "per-host", 0, "most requests to one host at once, 0 for no limit")
	hosts.register(fs)
	fs.StringVar(&method, "X", "method", "METHOD", "GET", "GET or HEAD")
	fs.IntVar(&maxRedirects, "", "max-redirects", httpcheck.DefaultMaxRedirects, "most redirects followed; 0 is --no-follow")
	fs.BoolVar(&noFollow, "", "no-follow", false, "do not follow redirects: report the redirect's own status")
	fs.Var(&headers, "H", "header", "'NAME: VALUE'", "send this header with every request (repeatable)")
	fs.Var(&accept, "", "accept", "RANGES", "statuses that count as success, such as 200-399 or 200,204,3xx; any other fails the record and the run (default: every status)")
	fs.BoolVar(&insecure, "k", "insecure", false, "do not verify TLS certificates")
	fs.DurationVar(&maxRetryAfter, "", "max-retry-after", 30*time.Second, "longest Retry-After wait honoured")
	resume.Register(fs)
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
	if m := strings.ToUpper(method); m != "GET" && m != "HEAD" {
		return usagef("http", "-X, --method %q: want GET or HEAD", method)
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
		Adaptive:      hosts.adaptive,
		Concurrency:   common.Concurrency,
	})
	if err != nil {
		// The library names itself; the command line names the flags.
		return usagef("http", "%s", strings.TrimPrefix(err.Error(), "httpcheck: "))
	}
	defer hosts.report(env.Stderr)
	return runStream(ctx, env, &common, streamJob[httpcheck.Input, httpcheck.Result]{
		cmd: "http", noun: "URLs", taskNoun: "URLs",
		args: urls, maxLine: maxURLLine, skipComments: true,
		input:     func(l Line) httpcheck.Input { return httpcheck.Input{URL: l.Text, Err: l.Err} },
		execOpts:  hosts.execOpts(checker.ExecutorOptions()),
		ordered:   accept.tap(hosts.tap(checker.CheckAll)),
		unordered: accept.tap(hosts.tap(checker.CheckAllUnordered)),
		records:   httpRecords(),
		close:     checker.Close,
		resumable: httpResumable(&resume, method, headers.h, noFollow, maxRedirects, insecure, accept.canonical()),
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
// terminal, each line a record by rules. It returns
// the records, their number when known (else -1), and the file to close, if
// any. An unreadable file is a usage error.
func openInput(cmd string, env Env, path string, args []string, maxLine int, noun string, rules LineRules) (lineSource, int, io.Closer, error) {
	switch {
	case len(args) > 0 && path != "":
		return nil, 0, nil, usagef(cmd, "give %s either as arguments or with -i, not both", noun)
	case len(args) > 0:
		return argSource(ArgLines(args, maxLine, rules)), len(args), nil, nil
	case path == "-":
		return NewLineReader(env.Stdin, maxLine, rules), -1, nil, nil
	case path != "":
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, nil, usagef(cmd, "cannot read the input: %v", err)
		}
		if st, err := f.Stat(); err != nil || st.IsDir() {
			f.Close()
			return nil, 0, nil, usagef(cmd, "cannot read the input: %s is a directory", path)
		}
		return NewLineReader(f, maxLine, rules), -1, f, nil
	case !env.StdinTTY && env.Stdin != nil:
		return NewLineReader(env.Stdin, maxLine, rules), -1, nil, nil
	}
	return nil, 0, nil, usagef(cmd, "no %s: give them as arguments, with -i FILE, or on stdin", noun)
}

// httpRecords describes `fanout http`'s output. A status --accept does not
// take is the record's error already (statusRanges.judge); its outcome's
// detail is its status class, as a success's is.
func httpRecords() Records[httpcheck.Result] {
	outcome := func(r httpcheck.Result) Outcome {
		switch {
		case r.ErrorKind == kindNotAccepted:
			return Outcome{trace.Error, statusClass(r.Status)}
		case r.Err != nil:
			return failure(string(r.ErrorKind))
		}
		return Outcome{trace.OK, statusClass(r.Status)}
	}
	return Records[httpcheck.Result]{
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
				switch {
				case r.ErrorKind == kindNotAccepted:
					return "not accepted"
				case r.Err != nil:
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
		Index:    func(r httpcheck.Result) int { return r.Index },
		Attempts: func(r httpcheck.Result) int { return r.Attempts },
		Outcome:  outcome,
		JSON:     appendHTTPJSON,
	}
}

// appendHTTPJSON appends r's jsonl record: httpcheck.Result as
// encoding/json writes it (its fields in order, error and error_kind
// omitted when empty). TestHTTPJSONMatchesEncodingJSON holds the two equal.
func appendHTTPJSON(b []byte, r httpcheck.Result) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(r.Index), 10)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, r.URL)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"final_url":`...)
	b = appendJSONString(b, r.FinalURL)
	b = append(b, `,"redirects":`...)
	b = strconv.AppendInt(b, int64(r.Redirects), 10)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	b = append(b, `,"duration_ms":`...)
	b = appendJSONFloat(b, r.DurationMS)
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, r.Error)
	}
	if r.ErrorKind != "" {
		b = append(b, `,"error_kind":`...)
		b = appendJSONString(b, string(r.ErrorKind))
	}
	return append(b, '}')
}

// statusClasses are the names statusClass returns for the usual statuses,
// made once rather than per record.
var statusClasses = [...]string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "7xx", "8xx", "9xx"}

// statusClass names a status's class: "2xx".
func statusClass(status int) string {
	if c := status / 100; c >= 0 && c < len(statusClasses) {
		return statusClasses[c]
	}
	return strconv.Itoa(status/100) + "xx"
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
