package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// A workload is one list of calls, run at each of its concurrencies.
type workload struct {
	name    string
	kind    string // "http", "lambda" or "exec"
	n       int
	delay   time.Duration // how long the server blocks per call (exec: how long each job sleeps; 0 runs true)
	concs   []int
	timeout time.Duration // per run; a run past it is marked, not timed
	// stream marks the throughput workload read from stdin: contenders
	// that hold the whole input in memory, or start a process per call,
	// are left out.
	stream bool
	// python marks the workload served by `python3 -m http.server`, which
	// the harness starts for it: a server with a listen backlog of 5 that
	// closes every connection after its answer. Only fanout, curl and
	// xargs + curl run it.
	python bool
}

// ideal is the wall time of n calls of delay each, c at a time, with no
// overhead at all; 0 when the server answers at once.
func (w *workload) ideal(c int) time.Duration {
	waves := (w.n + c - 1) / c
	return time.Duration(waves) * w.delay
}

func workloads(quick bool) []*workload {
	if quick {
		return []*workload{
			{name: "http 400 x 50 ms", kind: "http", n: 400, delay: 50 * time.Millisecond, concs: []int{50}, timeout: time.Minute},
			pythonWorkload,
			{name: "http 20,000 at once, from stdin", kind: "http", n: 20_000, concs: []int{1000}, timeout: 2 * time.Minute, stream: true},
			{name: "lambda 400 x 100 ms", kind: "lambda", n: 400, delay: 100 * time.Millisecond, concs: []int{50}, timeout: time.Minute},
			{name: "exec 100 x sleep 0.1", kind: "exec", n: 100, delay: 100 * time.Millisecond, concs: []int{50}, timeout: time.Minute},
		}
	}
	return []*workload{
		{name: "http 2,000 x 50 ms", kind: "http", n: 2000, delay: 50 * time.Millisecond, concs: []int{50, 500}, timeout: 2 * time.Minute},
		{name: "http 20,000 x 50 ms", kind: "http", n: 20_000, delay: 50 * time.Millisecond, concs: []int{50, 500}, timeout: 5 * time.Minute},
		{name: "http 100,000 at once, from stdin", kind: "http", n: 100_000, concs: []int{1000}, timeout: 4 * time.Minute, stream: true},
		{name: "http 1,000,000 at once, from stdin", kind: "http", n: 1_000_000, concs: []int{1000}, timeout: 6 * time.Minute, stream: true},
		pythonWorkload,
		{name: "lambda 2,000 x 100 ms", kind: "lambda", n: 2000, delay: 100 * time.Millisecond, concs: []int{50, 200}, timeout: 2 * time.Minute},
		{name: "lambda 10,000 x 100 ms", kind: "lambda", n: 10_000, delay: 100 * time.Millisecond, concs: []int{1000}, timeout: 3 * time.Minute},
		{name: "exec 10,000 x true", kind: "exec", n: 10_000, concs: []int{8}, timeout: 15 * time.Minute},
		{name: "exec 1,000 x sleep 0.1", kind: "exec", n: 1000, delay: 100 * time.Millisecond, concs: []int{100}, timeout: 2 * time.Minute},
	}
}

// pythonWorkload is 200 URLs of a small file served by `python3 -m
// http.server` at -c 20: what a new user tries first.
var pythonWorkload = &workload{name: "http 200 from python3 -m http.server", kind: "http", n: 200,
	concs: []int{20}, timeout: time.Minute, python: true}

// inputs are the files a workload's contenders read.
type inputs struct {
	urls     string // one URL per line (http)
	curlCfg  string // the same URLs as a curl config (url + output per URL)
	payloads string // one JSON payload per line (lambda)
	lines    string // one argument per line (exec): N for true, the seconds to sleep for sleep
}

// writeInputs writes the input files of w into dir. HTTP calls go round
// robin over the server's ports, and every URL carries its index (i=N) so
// that each contender's output can be checked record by record.
func writeInputs(dir string, w *workload, bases []string) (inputs, error) {
	var in inputs
	write := func(name string, line func(i int, b *bufio.Writer)) (string, error) {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			return "", err
		}
		b := bufio.NewWriterSize(f, 1<<16)
		for i := range w.n {
			line(i, b)
		}
		if err := b.Flush(); err != nil {
			f.Close()
			return "", err
		}
		return path, f.Close()
	}
	var err error
	if w.kind == "exec" {
		in.lines, err = write("lines.txt", func(i int, b *bufio.Writer) {
			if w.delay > 0 {
				b.WriteString(strconv.FormatFloat(w.delay.Seconds(), 'f', -1, 64))
			} else {
				b.WriteString(strconv.Itoa(i))
			}
			b.WriteByte('\n')
		})
		return in, err
	}
	if w.kind == "lambda" {
		in.payloads, err = write("payloads.jsonl", func(i int, b *bufio.Writer) {
			fmt.Fprintf(b, "{\"i\":%d}\n", i)
		})
		return in, err
	}
	query := "/status/200?"
	if w.python {
		query = "/" + pythonFile + "?"
	}
	if w.delay > 0 {
		query += "delay=" + w.delay.String() + "&"
	}
	url := func(i int) string { return bases[i%len(bases)] + query + "i=" + strconv.Itoa(i) }
	if in.urls, err = write("urls.txt", func(i int, b *bufio.Writer) {
		b.WriteString(url(i))
		b.WriteByte('\n')
	}); err != nil {
		return in, err
	}
	in.curlCfg, err = write("curl.cfg", func(i int, b *bufio.Writer) {
		fmt.Fprintf(b, "url = %q\noutput = \"/dev/null\"\n", url(i))
	})
	return in, err
}
