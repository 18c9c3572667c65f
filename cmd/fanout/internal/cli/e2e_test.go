package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fanout-go/fanout/internal/testserver"

	"github.com/fanout-go/fanout/cmd/fanout/internal/console/consoletest"
)

// run runs the built binary and returns its output and exit code.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

func TestE2EExitCodes(t *testing.T) {
	s := testserver.StartTest(t)
	dir := t.TempDir()
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
	}{
		{"all answered", s.URL("/status/200") + "\n" + s.URL("/status/500") + "\n", []string{"http"}, 0},
		{"one failed", s.URL("/status/200") + "\n" + s.URL("/reset") + "\n", []string{"http"}, 1},
		{"unknown flag", "", []string{"http", "--frobnicate"}, 2},
		{"unreadable input", "", []string{"http", "-i", filepath.Join(dir, "missing")}, 2},
		{"unknown command", "", []string{"frobnicate"}, 2},
		{"empty input", "", []string{"http"}, 0},
		{"help", "", []string{"http", "-h"}, 0},
		{"status outside --accept", s.URL("/status/200") + "\n" + s.URL("/status/404") + "\n", []string{"http", "--accept", "200-399"}, 1},
		{"statuses inside --accept", s.URL("/status/200") + "\n" + s.URL("/status/404") + "\n", []string{"http", "--accept=2xx,404"}, 0},
		{"bad --accept", "", []string{"http", "--accept", "2xx-3xx"}, 2},
		{"NaN rate", "", []string{"http", "--rate", "NaN"}, 2},
		{"CR LF in a header", "", []string{"http", "-H", "X-A: 1\r\nX-B: 2"}, 2},
		{"huge timeout", "", []string{"http", "--timeout", "1e12"}, 2},
		{"unwritable trace", s.URL("/status/200") + "\n", []string{"http", "--trace", filepath.Join(dir, "missing", "t.json")}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if tt.code == 2 {
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				if len(lines) > 2 || !strings.HasPrefix(lines[0], "fanout: ") {
					t.Errorf("usage error on stderr should be one or two lines starting fanout:, got:\n%s", stderr)
				}
			}
		})
	}
}

// Bare `fanout` shows the usage and exits 2; --version prints one line.
func TestE2EBareAndVersion(t *testing.T) {
	stdout, stderr, code := run(t, "")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "Usage: fanout COMMAND") || !strings.Contains(stderr, "http ") {
		t.Errorf("bare fanout: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	stdout, _, code = run(t, "", "--version")
	if code != 0 || !regexp.MustCompile(`^fanout \S+ .*go1\.\d+`).MatchString(stdout) || strings.Count(stdout, "\n") != 1 {
		t.Errorf("--version: exit %d, %q", code, stdout)
	}
}

func TestE2EOrderedAndUnordered(t *testing.T) {
	s := testserver.StartTest(t)
	urls := []string{s.URL("/status/200?delay=1s"), s.URL("/status/201"), s.URL("/status/202"), s.URL("/status/203")}
	input := strings.Join(urls, "\n")

	stdout, stderr, code := run(t, input, "http", "-c", "4")
	recs := decode(t, stdout)
	if code != 0 || len(recs) != 4 {
		t.Fatalf("exit %d, %d records; stderr %s", code, len(recs), stderr)
	}
	for i, r := range recs {
		if r.Index != i || r.URL != urls[i] || r.Status != 200+i {
			t.Errorf("ordered record %d: %+v", i, r)
		}
	}

	stdout, _, code = run(t, input, "http", "-c", "4", "--unordered")
	recs = decode(t, stdout)
	seen := map[int]bool{}
	for _, r := range recs {
		seen[r.Index] = true
		if r.URL != urls[r.Index] || r.Status != 200+r.Index {
			t.Errorf("unordered record %+v", r)
		}
	}
	// The slow first URL cannot come out first when the others answer at once.
	if code != 0 || len(seen) != 4 || recs[0].Index == 0 || recs[3].Index != 0 {
		t.Errorf("unordered: exit %d, indexes in order %v", code, recordIndexes(recs))
	}
}

func TestE2EInterrupt(t *testing.T) {
	s := testserver.StartTest(t)
	var lines []string
	for range 3 {
		lines = append(lines, s.URL("/status/200"))
	}
	for range 40 {
		lines = append(lines, s.URL("/hang"))
	}
	file := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "http", "-c", "4", "-i", file)
	var out consoletest.Buffer
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The limit is full of hangs, and the three answered are written: the
	// server's count alone let the interrupt come while the client still
	// read an answer, which then was, rightly, canceled.
	waitFor(t, func() bool { return s.Stats().InFlight == 4 && strings.Count(out.String(), "\n") >= 3 })
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d, want 130; stderr:\n%s", code, errOut.String())
	}
	recs := decode(t, out.String())
	if len(recs) < 7 {
		t.Fatalf("%d records, want the 3 answered and at least the 4 in flight", len(recs))
	}
	for i, r := range recs {
		switch {
		case r.Index != i:
			t.Errorf("record %d has index %d: want each line read once, in order", i, r.Index)
		case i < 3 && (r.Status != 200 || r.ErrorKind != ""):
			t.Errorf("record %d: %+v, want 200", i, r)
		case i >= 3 && r.ErrorKind != "canceled":
			t.Errorf("record %d: %+v, want canceled", i, r)
		}
	}
	if !strings.Contains(errOut.String(), "fanout: interrupted") {
		t.Errorf("stderr:\n%s", errOut.String())
	}
}

// TestE2EInterruptQuietStdin interrupts a run whose stdin is a pipe that
// stays open with no more data: reading must not hold up the exit.
func TestE2EInterruptQuietStdin(t *testing.T) {
	s := testserver.StartTest(t)
	cmd := exec.Command(binary(t), "http", "--summary")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, s.URL("/hang")+"\n"+s.URL("/hang")+"\n")
	waitFor(t, func() bool { return s.Stats().InFlight == 2 })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	recs := decode(t, out.String())
	if code := cmd.ProcessState.ExitCode(); code != 130 || len(recs) != 2 || recs[0].ErrorKind != "canceled" || recs[1].ErrorKind != "canceled" {
		t.Errorf("exit %d, records %+v; stderr:\n%s", code, recs, errOut.String())
	}
	if !strings.Contains(errOut.String(), "2 URLs: 0 ok, 2 failed (canceled 2)") {
		t.Errorf("summary missing after the interrupt:\n%s", errOut.String())
	}
	// The trace summary counts the same two canceled records, not one
	// story for the records and another for the tasks.
	if !regexp.MustCompile(`(?m)^  outcomes +2 canceled$`).MatchString(errOut.String()) {
		t.Errorf("the trace summary does not agree with the records:\n%s", errOut.String())
	}
}

func TestE2EDemo(t *testing.T) {
	timeline := filepath.Join(t.TempDir(), "demo.html")
	stdout, stderr, code := run(t, "", "demo", "--urls", "4", "--delay", "20ms", "--timeline", timeline)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stdout, "fanout: task "); n != 8 {
		t.Errorf("%d task lines, want 2 x 4:\n%s", n, stdout)
	}
	if !strings.Contains(stdout, "speed-up") || !strings.Contains(stdout, timeline) {
		t.Errorf("demo output:\n%s", stdout)
	}
}

// waitFor polls cond until it holds or the test's deadline nears.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(fmt.Errorf("condition never held"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestE2EBadInputAndTLS(t *testing.T) {
	s := testserver.StartTest(t)
	tlsServer := testserver.StartTest(t, testserver.WithTLS())
	input := strings.Join([]string{
		s.URL("/status/200"),
		"http//missing-colon.example.com/",
		"\xc3\x28 not utf-8",
		"http://example.com/" + strings.Repeat("b", 1<<20),
		tlsServer.URL("/status/200"),
	}, "\n")
	stdout, stderr, code := run(t, input, "http", "-o", "csv")
	rows := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 1 || len(rows) != 6 {
		t.Fatalf("exit %d, %d lines:\n%s\n%s", code, len(rows), stdout, stderr)
	}
	for i, suffix := range []string{",", ",invalid_url", ",invalid_url", ",invalid_url", ",tls"} {
		if !strings.HasPrefix(rows[i+1], fmt.Sprint(i, ",")) || !strings.HasSuffix(rows[i+1], suffix) {
			t.Errorf("row %d = %.120q, want index %d and kind %q", i, rows[i+1], i, strings.TrimPrefix(suffix, ","))
		}
	}
	if _, stderr, code := run(t, "", "http", "--insecure", tlsServer.URL("/status/200")); code != 0 {
		t.Errorf("--insecure: exit %d\n%s", code, stderr)
	}
}

// TestE2ESecondInterruptQuitsAtOnce blocks the run on its own output (a pipe
// nobody reads), so the first SIGINT cannot finish cleanly; the second one
// must end the process at once.
func TestE2ESecondInterruptQuitsAtOnce(t *testing.T) {
	s := testserver.StartTest(t)
	var in strings.Builder
	for range 5000 {
		fmt.Fprintln(&in, s.URL("/status/200"))
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(binary(t), "http", "-o", "jsonl")
	cmd.Stdin = strings.NewReader(in.String())
	cmd.Stdout = w
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close() // the child holds the only write end; nobody reads: output blocks
	warned := make(chan struct{})
	go io.Copy(writerFunc(func(p []byte) (int, error) {
		if bytes.Contains(p, []byte("interrupt again")) {
			select {
			case <-warned:
			default:
				close(warned)
			}
		}
		return len(p), nil
	}), stderr)
	// Wait until the run stalls on its blocked output.
	last := int64(-1)
	waitFor(t, func() bool {
		n := s.Stats().Requests
		stalled := n > 100 && n == last
		last = n
		time.Sleep(50 * time.Millisecond)
		return stalled
	})
	cmd.Process.Signal(syscall.SIGINT)
	<-warned
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("the run ended after one interrupt although its output was blocked: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(15 * time.Second): // a hang, not a matter of speed
		cmd.Process.Kill()
		<-exited
		t.Fatal("a second SIGINT did not end the process")
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Fatalf("after a second SIGINT: %v, want the process ended by SIGINT", cmd.ProcessState)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
