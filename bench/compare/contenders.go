package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
)

// fanoutDefaultC is `fanout http`'s default -c.
const fanoutDefaultC = 50

// curlMaxParallel is the most transfers curl runs at once: it silently
// lowers a larger --parallel-max to this.
const curlMaxParallel = 300

// pythonDefaultWorkers is the size of asyncio's default executor on this
// machine: ThreadPoolExecutor's min(32, cpus+4).
func pythonDefaultWorkers() int { return min(32, runtime.NumCPU()+4) }

// env is what the contenders need to build their command lines.
type env struct {
	bin      string // built binaries
	script   string // seed_pattern.py
	lambda   string // endpoint of the Lambda server
	isolated bool
}

// A contender is one tool run one way. Its output is parsed by its format
// into (index, status) records.
type contender struct {
	name string
	kind string // "http" or "lambda"
	// ref marks fanout at the group's concurrency: "x fanout" divides by it.
	ref bool
	// atDefault marks a contender run at its own default concurrency; it
	// is measured once per workload, in the first concurrency group.
	atDefault bool
	format    format
	// conc is the concurrency the contender really runs at, for the table.
	conc func(c int) string
	// skip returns why the contender does not run in this group, or "".
	skip func(e *env, w *workload, c int) string
	// cmd returns the command line and the file to feed on stdin.
	cmd func(e *env, in inputs, w *workload, c int) (argv []string, stdin string)
	// environ is added to the contender's environment.
	environ []string
	// rounds, when set, caps the rounds of a contender that is many times
	// slower than the others, so that the whole run fits in half an hour;
	// the table then shows "1 run" instead of a median.
	rounds func(w *workload) int
	// python marks the contenders of the Python server's workload.
	python bool
	// before marks fanout built from the -before revision: it runs only
	// when that flag is given.
	before bool
}

// oneRound is the rounds of a contender measured once.
func oneRound(*workload) int { return 1 }

// oneRoundFrom measures a contender once on lists of n calls or more.
func oneRoundFrom(n int) func(*workload) int {
	return func(w *workload) int {
		if w.n >= n {
			return 1
		}
		return 0
	}
}

func itoa(c int) string { return strconv.Itoa(c) }

func same(c int) string { return itoa(c) }

// slowAtDefault skips a default-concurrency contender where it would take
// minutes: it is shown on the smaller list.
func slowAtDefault(workers int, rate float64) func(*env, *workload, int) string {
	return func(_ *env, w *workload, _ int) string {
		est := w.ideal(workers)
		if rate > 0 {
			est = max(est, time.Duration(float64(w.n)/rate*float64(time.Second)))
		}
		if est > 40*time.Second {
			return fmt.Sprintf("not run: would take about %s; see the smaller list", est.Round(time.Second))
		}
		return ""
	}
}

func needs(name string) func(*env, *workload, int) string {
	return func(e *env, _ *workload, _ int) string { return missingReason(e.bin, name) }
}

func all(checks ...func(*env, *workload, int) string) func(*env, *workload, int) string {
	return func(e *env, w *workload, c int) string {
		for _, check := range checks {
			if check == nil {
				continue
			}
			if why := check(e, w, c); why != "" {
				return why
			}
		}
		return ""
	}
}

// notStreamed leaves a contender out of the streamed throughput workload.
func notStreamed(why string) func(*env, *workload, int) string {
	return func(_ *env, w *workload, _ int) string {
		if w.stream {
			return "not run: " + why
		}
		return ""
	}
}

// lambdaEnv is the environment of `fanout lambda`: dummy credentials (the
// loopback server does not check signatures, and no real account is ever
// involved), no AWS files or instance metadata, and no CA bundle: the
// endpoint is plain HTTP, and with AWS_CA_BUNDLE set (as on some machines)
// the SDK parses the whole bundle while loading its configuration, 6-8 ms
// of each run that no TLS connection uses.
var lambdaEnv = []string{
	"AWS_ACCESS_KEY_ID=AKIDFANOUTBENCH", "AWS_SECRET_ACCESS_KEY=fanout-bench",
	"AWS_EC2_METADATA_DISABLED=true",
	"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent",
	"AWS_CA_BUNDLE=",
}

const curlWriteOut = "%{http_code} %{url_effective}\\n"

var contenders = []contender{
	{
		name: "fanout http -c C", kind: "http", ref: true, format: jsonLines, conc: same, python: true,
		skip: needs("fanout"),
		cmd: func(e *env, in inputs, _ *workload, c int) ([]string, string) {
			return []string{filepath.Join(e.bin, "fanout"), "http", "-c", itoa(c), "-o", "jsonl"}, in.urls
		},
	},
	{
		name: "fanout http -c C, before", kind: "http", format: jsonLines, conc: same, python: true, before: true,
		skip: needs("fanout-before"),
		cmd: func(e *env, in inputs, _ *workload, c int) ([]string, string) {
			return []string{filepath.Join(e.bin, "fanout-before"), "http", "-c", itoa(c), "-o", "jsonl"}, in.urls
		},
	},
	{
		name: "fanout http (default -c)", kind: "http", format: jsonLines,
		conc: func(int) string { return itoa(fanoutDefaultC) },
		skip: all(needs("fanout"), func(_ *env, _ *workload, c int) string {
			if c == fanoutDefaultC {
				return "same as the row above"
			}
			return ""
		}),
		cmd: func(e *env, in inputs, _ *workload, _ int) ([]string, string) {
			return []string{filepath.Join(e.bin, "fanout"), "http", "-o", "jsonl"}, in.urls
		},
		rounds: oneRoundFrom(1_000_000),
	},
	{
		// The floor: net/http from C goroutines, nothing else (bench/bare).
		name: "bare Go: net/http from C goroutines", kind: "http", format: statusKey, conc: same, python: true,
		skip: needs("bare"),
		cmd: func(e *env, in inputs, _ *workload, c int) ([]string, string) {
			return []string{filepath.Join(e.bin, "bare"), "http", "-c", itoa(c)}, in.urls
		},
	},
	{
		name: "seed pattern, Python, ThreadPoolExecutor(C)", kind: "http", format: statusKey, conc: same,
		skip: notStreamed("gathers one future per URL, all held in memory"),
		cmd: func(e *env, in inputs, _ *workload, c int) ([]string, string) {
			return []string{"python3", e.script, "http", "--workers", itoa(c), in.urls}, ""
		},
	},
	{
		name: "seed pattern, Python, default executor", kind: "http", format: statusKey, atDefault: true,
		conc: func(int) string { return itoa(pythonDefaultWorkers()) },
		skip: all(notStreamed("gathers one future per URL"), slowAtDefault(pythonDefaultWorkers(), 0)),
		cmd: func(e *env, in inputs, _ *workload, _ int) ([]string, string) {
			return []string{"python3", e.script, "http", in.urls}, ""
		},
		rounds: oneRound,
	},
	{
		name: "curl --parallel --parallel-max C", kind: "http", format: statusKey, python: true,
		conc: func(c int) string {
			if c > curlMaxParallel {
				return fmt.Sprintf("%d (curl's cap)", curlMaxParallel)
			}
			return itoa(c)
		},
		cmd: func(_ *env, in inputs, _ *workload, c int) ([]string, string) {
			return []string{"curl", "-s", "--no-progress-meter", "--parallel", "--parallel-max", itoa(c),
				"-w", curlWriteOut, "-K", "-"}, in.curlCfg
		},
	},
	{
		name: "xargs -P C curl", kind: "http", format: statusKey, conc: same, python: true,
		skip: all(notStreamed("one curl process per URL"), func(_ *env, w *workload, c int) string {
			switch {
			case w.n > 2000:
				return "not run: one curl process per URL, minutes here; see the 2,000 list"
			case c > fanoutDefaultC && !w.python:
				return fmt.Sprintf("not run: one curl process per URL, as slow as at C=%d", fanoutDefaultC)
			}
			return ""
		}),
		// Measured once (minutes of processes), but every round on the
		// Python server's short list, where it is the one to beat.
		rounds: func(w *workload) int {
			if w.python {
				return 0
			}
			return 1
		},
		cmd: func(_ *env, in inputs, _ *workload, c int) ([]string, string) {
			return []string{"xargs", "-P", itoa(c), "-n", "1", "curl", "-s", "-o", "/dev/null",
				"-w", curlWriteOut}, in.urls
		},
	},
	{
		name: "httpx -t C -rl 0 -nfs -duc -cdn=false", kind: "http", format: httpxJSON, conc: same,
		skip: all(needs("httpx"), func(_ *env, w *workload, _ int) string {
			if w.n > 100_000 {
				return "not run: minutes at its rate, memory growing with the list; see the 100,000 list"
			}
			return ""
		}),
		rounds: oneRoundFrom(20_000),
		cmd: func(e *env, in inputs, _ *workload, c int) ([]string, string) {
			return []string{filepath.Join(e.bin, "httpx"), "-t", itoa(c), "-rl", "0", "-nfs", "-duc",
				"-cdn=false", "-sc", "-j", "-silent", "-no-color"}, in.urls
		},
	},
	{
		name: "httpx, default flags", kind: "http", format: httpxJSON, atDefault: true,
		conc: func(int) string { return "50 at 150/s" },
		skip: all(needs("httpx"), slowAtDefault(50, 150), func(e *env, _ *workload, _ int) string {
			if !e.isolated {
				return "not run: its update check would leave loopback outside a network namespace"
			}
			return ""
		}),
		cmd: func(e *env, in inputs, _ *workload, _ int) ([]string, string) {
			return []string{filepath.Join(e.bin, "httpx"), "-sc", "-j", "-silent", "-no-color"}, in.urls
		},
		rounds: oneRound,
	},

	{
		name: "fanout lambda -c C", kind: "lambda", ref: true, format: jsonLines, conc: same,
		skip: all(needs("fanout"), needs("lambdaserver")),
		cmd: func(e *env, in inputs, _ *workload, c int) ([]string, string) {
			return []string{filepath.Join(e.bin, "fanout"), "lambda", "--function", "bench",
				"--endpoint-url", e.lambda, "--region", "us-east-1", "-c", itoa(c), "-o", "jsonl"}, in.payloads
		},
		environ: lambdaEnv,
	},
	{
		name: "fanout lambda -c C, before", kind: "lambda", format: jsonLines, conc: same, before: true,
		skip: all(needs("fanout-before"), needs("lambdaserver")),
		cmd: func(e *env, in inputs, _ *workload, c int) ([]string, string) {
			return []string{filepath.Join(e.bin, "fanout-before"), "lambda", "--function", "bench",
				"--endpoint-url", e.lambda, "--region", "us-east-1", "-c", itoa(c), "-o", "jsonl"}, in.payloads
		},
		environ: lambdaEnv,
	},
	{
		// The floor: the AWS SDK's Invoke from C goroutines (bench/bare).
		name: "bare Go: AWS SDK Invoke from C goroutines", kind: "lambda", format: statusKey, conc: same,
		skip: all(needs("bare"), needs("lambdaserver")),
		cmd: func(e *env, in inputs, _ *workload, c int) ([]string, string) {
			return []string{filepath.Join(e.bin, "bare"), "lambda", "-c", itoa(c), "-endpoint", e.lambda,
				"-function", "bench"}, in.payloads
		},
		environ: lambdaEnv,
	},
	{
		name: "seed pattern, Python urllib (no boto3), ThreadPoolExecutor(C)", kind: "lambda", format: statusKey, conc: same,
		skip: needs("lambdaserver"),
		cmd: func(e *env, in inputs, _ *workload, c int) ([]string, string) {
			return []string{"python3", e.script, "lambda", "--workers", itoa(c), "--endpoint", e.lambda,
				"--function", "bench", in.payloads}, ""
		},
	},
	{
		name: "seed pattern, Python urllib (no boto3), default executor", kind: "lambda", format: statusKey, atDefault: true,
		conc: func(int) string { return itoa(pythonDefaultWorkers()) },
		skip: all(needs("lambdaserver"), slowAtDefault(pythonDefaultWorkers(), 0)),
		cmd: func(e *env, in inputs, _ *workload, _ int) ([]string, string) {
			return []string{"python3", e.script, "lambda", "--endpoint", e.lambda, "--function", "bench", in.payloads}, ""
		},
		rounds: oneRound,
	},

	{
		name: "fanout exec -c C", kind: "exec", ref: true, format: execJSON, conc: same,
		skip: needs("fanout"),
		cmd: func(e *env, in inputs, w *workload, c int) ([]string, string) {
			return append([]string{filepath.Join(e.bin, "fanout"), "exec", "-c", itoa(c), "-o", "jsonl", "--"}, execCommand(w)), in.lines
		},
	},
	{
		name: "xargs -P C -n 1", kind: "exec", format: exitOnly, conc: same,
		cmd: func(_ *env, in inputs, w *workload, c int) ([]string, string) {
			return []string{"xargs", "-P", itoa(c), "-n", "1", execCommand(w)}, in.lines
		},
	},
	{
		name: "GNU parallel --will-cite -j C", kind: "exec", format: exitOnly, conc: same,
		skip: installed("parallel", "Debian package parallel"),
		cmd: func(_ *env, in inputs, w *workload, c int) ([]string, string) {
			return []string{"parallel", "--will-cite", "-j", itoa(c), execCommand(w)}, in.lines
		},
		rounds: oneRoundFrom(1000), // 13 minutes for 10,000 jobs here
	},
	{
		name: "rush -j C", kind: "exec", format: exitOnly, conc: same,
		skip: needs("rush"),
		cmd: func(e *env, in inputs, w *workload, c int) ([]string, string) {
			return []string{filepath.Join(e.bin, "rush"), "-j", itoa(c), execCommand(w) + " {}"}, in.lines
		},
	},
}

// execCommand is the program an exec workload runs per line: sleep (the
// line is the seconds) or true (the line is ignored).
func execCommand(w *workload) string {
	if w.delay > 0 {
		return "sleep"
	}
	return "true"
}

// installed skips a contender whose program is not on PATH.
func installed(program, pkg string) func(*env, *workload, int) string {
	return func(*env, *workload, int) string {
		if _, err := exec.LookPath(program); err != nil {
			return fmt.Sprintf("not run: %s is not installed (%s)", program, pkg)
		}
		return ""
	}
}
