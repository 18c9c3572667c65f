package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fanout-go/fanout/internal/testserver"
)

func TestHTTPOneRecordPerLineInOrder(t *testing.T) {
	s := testserver.StartTest(t)
	var in strings.Builder
	var want []string
	in.WriteString("# a list\n\n")
	for i := range 30 {
		// Early lines answer last.
		u := s.URL(fmt.Sprintf("/status/%d?delay=%dms", 200+i%3, (30-i)*3))
		want = append(want, u)
		fmt.Fprintf(&in, "  %s  \n", u)
	}
	out, stderr, err := runCLI(t, in.String(), "http", "-c", "10")
	if err != nil {
		t.Fatalf("err = %v, stderr %s", err, stderr)
	}
	recs := decode(t, out)
	if len(recs) != len(want) {
		t.Fatalf("%d records for %d URLs", len(recs), len(want))
	}
	for i, r := range recs {
		if r.Index != i || r.URL != want[i] || r.Status != 200+i%3 || r.Attempts != 1 || r.ErrorKind != "" {
			t.Errorf("record %d = %+v", i, r)
		}
	}
	if stderr != "" {
		t.Errorf("stderr %q: want nothing on success without --summary", stderr)
	}
}

func TestHTTPArgumentsAndFailures(t *testing.T) {
	s := testserver.StartTest(t)
	out, stderr, err := runCLI(t, "", "http", s.URL("/status/200"), "--method", "HEAD", s.URL("/reset"), "not a url", "--summary")
	var failed *FailedError
	if !errors.As(err, &failed) || failed.Failed != 2 || failed.Total != 3 {
		t.Fatalf("err = %v, want 2 of 3 failed", err)
	}
	recs := decode(t, out)
	kinds := []string{string(recs[0].ErrorKind), string(recs[1].ErrorKind), string(recs[2].ErrorKind)}
	if fmt.Sprint(kinds) != "[ reset invalid_url]" {
		t.Errorf("kinds %q", kinds)
	}
	for _, want := range []string{"3 URLs: 1 ok (2xx 1), 2 failed (invalid_url 1, reset 1)", "effective"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr)
		}
	}
}

func TestHTTPFormats(t *testing.T) {
	s := testserver.StartTest(t)
	urls := []string{s.URL("/status/200"), s.URL("/redirect/1"), s.URL("/status/404")}
	out, _, err := runCLI(t, "", append([]string{"http", "-o", "csv"}, urls...)...)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || lines[0] != "index,url,status,final_url,redirects,attempts,duration_ms,error,error_kind" ||
		!strings.HasPrefix(lines[2], "1,"+urls[1]+",200,"+s.URL("/redirect/0")+",1,1,") {
		t.Errorf("csv:\n%s", out)
	}
	out, _, err = runCLI(t, "", append([]string{"http", "--output=table"}, urls...)...)
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "INDEX  STATUS") || !strings.Contains(lines[2], "(1 redirects)") || !strings.Contains(lines[3], "404") {
		t.Errorf("table:\n%s", out)
	}
}

func TestHTTPBadInput(t *testing.T) {
	s := testserver.StartTest(t)
	big := "http://example.com/" + strings.Repeat("a", 1<<20)
	input := strings.Join([]string{s.URL("/status/200"), "ftp://example.com/", "\xff\xfe", big, s.URL("/status/201")}, "\n")
	out, _, err := runCLI(t, input, "http")
	var failed *FailedError
	if !errors.As(err, &failed) || failed.Failed != 3 {
		t.Fatalf("err = %v", err)
	}
	recs := decode(t, out)
	want := []string{"", "invalid_url", "invalid_url", "invalid_url", ""}
	for i, r := range recs {
		if string(r.ErrorKind) != want[i] || r.Index != i {
			t.Errorf("record %d: %+v, want kind %q", i, r, want[i])
		}
	}
	if len(recs) != 5 || !strings.Contains(recs[3].Error, "line too long") || len(recs[3].URL) > 300 || recs[4].Status != 201 {
		t.Errorf("records: %+v", recs)
	}
}

func TestHTTPEmptyInput(t *testing.T) {
	out, stderr, err := runCLI(t, "\n# nothing\n", "http")
	if err != nil || out != "" || !strings.Contains(stderr, "no URLs") {
		t.Errorf("err %v, stdout %q, stderr %q", err, out, stderr)
	}
}

func TestHTTPUsageErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "urls.txt")
	os.WriteFile(file, []byte("http://127.0.0.1:1/\n"), 0o644)
	for _, args := range [][]string{
		{"http", "--bogus"},
		{"http", "-i", filepath.Join(dir, "missing.txt")},
		{"http", "-i", dir},
		{"http", "-i", file, "http://127.0.0.1:1/"},
		{"http", "-c", "0", "http://127.0.0.1:1/"},
		{"http", "--method", "POST", "http://127.0.0.1:1/"},
		{"nope"},
		{},
	} {
		_, _, err := runCLI(t, "", args...)
		var usage *UsageError
		if !errors.As(err, &usage) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
		// A message speaks of the command's flags, not of the library.
		if msg := Message(err); strings.Contains(msg, "httpcheck") || strings.Contains(msg, "lambdainvoke") {
			t.Errorf("%q: %q names a library", args, msg)
		}
	}
	if _, _, err := runCLI(t, "", "http", "-X", "POST", "http://127.0.0.1:1/"); err == nil || !strings.Contains(err.Error(), "-X, --method") {
		t.Errorf("-X POST: %v, want the flag named", err)
	}
	// No URLs and stdin a terminal: nothing to read.
	err := Run(t.Context(), Env{StdinTTY: true, Stdout: &strings.Builder{}, Stderr: &strings.Builder{}}, []string{"http"})
	var usage *UsageError
	if !errors.As(err, &usage) || !strings.Contains(usage.Msg, "no URLs") {
		t.Errorf("err = %v", err)
	}
}

func TestHTTPTraceFiles(t *testing.T) {
	s := testserver.StartTest(t)
	dir := t.TempDir()
	tr, tl := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.html")
	_, stderr, err := runCLI(t, "", "http", "--trace", tr, "--timeline", tl, "--slow", "1ns", s.URL("/status/200?delay=5ms"))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	data, err := os.ReadFile(tr)
	if err != nil || !strings.Contains(string(data), "traceEvents") {
		t.Errorf("trace file: %v %.200s", err, data)
	}
	if data, err := os.ReadFile(tl); err != nil || !strings.Contains(string(data), "<svg") {
		t.Errorf("timeline file: %v %.200s", err, data)
	}
	// An output file that cannot be created is a usage error before the
	// run: no request is sent.
	before := s.Stats().Requests
	out, _, err := runCLI(t, "", "http", "--timeline", filepath.Join(dir, "no", "such", "dir.html"), s.URL("/status/200"))
	if !isUsage(err) || !strings.Contains(err.Error(), "--timeline") || strings.Contains(err.Error(), "\n") || out != "" {
		t.Errorf("unwritable timeline: err = %v, output %q", err, out)
	}
	if s.Stats().Requests != before {
		t.Errorf("the run went ahead with an unwritable --timeline")
	}
	if !strings.Contains(stderr, "fanout: slow task") || !strings.Contains(stderr, `label="`+s.URL("/status/200?delay=5ms")+`"`) {
		t.Errorf("stderr lacks the slow-task line:\n%s", stderr)
	}
}
