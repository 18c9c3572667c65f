package cli

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/fanout-go/fanout/cmd/fanout/internal/console/consoletest"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/fanout-go/fanout/internal/testserver"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

// runInPTY runs the built fanout binary with args, its stdout and stderr on
// one pseudo-terminal of 200 columns, as a person runs it. Its stdin is the
// terminal too, unless stdin is non-nil; env, when non-nil, is its whole
// environment (TERM=xterm is added). It returns the lines the terminal
// shows at the end (consoletest.Lines), the raw bytes, and the exit code. Any
// subcommand (http, lambda, exec) can be checked with it.
func runInPTY(t *testing.T, stdin io.Reader, env []string, args ...string) (lines []string, raw string, code int) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 200}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), binary(t), args...)
	cmd.Stdout, cmd.Stderr, cmd.Stdin = tty, tty, tty
	if env != nil {
		cmd.Env = append(env, "TERM=xterm")
	}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	// A session of its own with the terminal as its controlling terminal
	// (fd 1 in the child), as a shell would give it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1}
	if err := cmd.Start(); err != nil {
		tty.Close()
		t.Fatal(err)
	}
	tty.Close() // the child holds the terminal now
	var out bytes.Buffer
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, ptmx)
		copied <- err
	}()
	werr := cmd.Wait()
	var exit *exec.ExitError
	if werr != nil && !errors.As(werr, &exit) {
		t.Fatal(werr)
	}
	// Linux reports EIO once the last holder of the terminal is gone.
	if err := <-copied; err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatal(err)
	}
	return consoletest.Lines(out.String()), out.String(), cmd.ProcessState.ExitCode()
}

// progressText matches the progress line ("fanout: 12/300 URLs"), and the
// progress bars fanout drew before ("fanout  9% |███  | (11/120" and
// "fanout (12/-").
var progressText = regexp.MustCompile(`fanout(: \d+/\d+| +\d+% \|| \(\d+/)`)

// row matches a whole table row of `fanout http`.
var row = regexp.MustCompile(`^\d+ +\d{3} +\d+ms +ok +http://127\.0\.0\.1:\d+/status/\d+\?delay=\d+ms&i=\d+$`)

// TestPTYTableRowsCarryNoProgress runs `fanout http` on a terminal, table
// and progress on by default, over enough slow URLs that the progress line
// is drawn many times between rows: no line the terminal shows may carry
// progress text, and every row is whole.
func TestPTYTableRowsCarryNoProgress(t *testing.T) {
	s := testserver.StartTest(t)
	const n = 120
	args := []string{"http", "-c", "2"}
	for i := range n {
		args = append(args, s.URL(fmt.Sprintf("/status/%d?delay=%dms&i=%d", 200+i%3*100, 5+i%4*10, i)))
	}
	lines, raw, code := runInPTY(t, nil, nil, args...)
	if code != 0 { // 4xx and 5xx are results, not failures
		t.Fatalf("exit %d:\n%s", code, strings.Join(lines, "\n"))
	}
	if !progressText.MatchString(raw) {
		t.Fatalf("the progress line was never drawn; raw output %q", raw)
	}
	rows := 0
	for _, l := range lines {
		if progressText.MatchString(l) {
			t.Errorf("a line carries progress text: %q", l)
		}
		if row.MatchString(l) {
			rows++
		} else if strings.Contains(l, "&i=") && !strings.Contains(l, "(ok, 1 attempt)") { // not a --summary line
			t.Errorf("a row is not whole: %q", l)
		}
	}
	if rows != n {
		t.Errorf("%d rows on the terminal, want %d:\n%s", rows, n, strings.Join(lines, "\n"))
	}
}

func TestConsoletestLines(t *testing.T) {
	got := consoletest.Lines("a\rbc\x1b[K\r\n\x1b[1mx\x1b[0m\rfanout: 1/2\r\x1b[Krow\n")
	if strings.Join(got, "|") != "bc|row" {
		t.Errorf("consoletest.Lines = %q", got)
	}
}

// With -i FILE the progress line counts against the file's records and
// shows an ETA, where the bar showed "N/-".
func TestPTYProgressTotalFromFile(t *testing.T) {
	s := testserver.StartTest(t)
	var b strings.Builder
	b.WriteString("# a comment, not a record\n\n")
	for i := range 40 {
		fmt.Fprintf(&b, "%s\n", s.URL(fmt.Sprintf("/status/200?delay=40ms&i=%d", i)))
	}
	path := t.TempDir() + "/urls.txt"
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, raw, code := runInPTY(t, nil, nil, "http", "-c", "1", "-i", path)
	if code != 0 {
		t.Fatalf("exit %d: %q", code, raw)
	}
	if !regexp.MustCompile(`fanout: \d+/40 URLs  [\d.]+/s  ETA \d+s`).MatchString(raw) {
		t.Errorf("no progress line with the total 40 and an ETA in %q", raw)
	}
}

// TestPTYLambdaRowsCarryNoProgress: the same for `fanout lambda`, payloads
// on stdin (a pipe), records and progress on the terminal.
func TestPTYLambdaRowsCarryNoProgress(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{})
	const n = 60
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, `{"id":"p%d","sleep_ms":%d}`+"\n", i, 5+i%4*10)
	}
	lines, raw, code := runInPTY(t, strings.NewReader(in.String()), lambdaEnv(t.TempDir()),
		"lambda", "--function", "fn", "--endpoint-url", s.URL(), "-c", "2")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, strings.Join(lines, "\n"))
	}
	if !regexp.MustCompile(`fanout: \d+ invocations`).MatchString(raw) {
		t.Fatalf("the progress line was never drawn; raw output %q", raw)
	}
	lambdaRow := regexp.MustCompile(`^\d+ +200 +\d+ms +ok +\{"id":"p\d+","sleep_ms":\d+\}$`)
	rows := 0
	for _, l := range lines {
		switch {
		case regexp.MustCompile(`fanout:? \(?\d+(/\d+)? invocations`).MatchString(l) && !strings.Contains(l, "invocations: "):
			t.Errorf("a line carries progress text: %q", l)
		case lambdaRow.MatchString(l):
			rows++
		case strings.Contains(l, `"id":"p`) && !strings.Contains(l, "attempt)"):
			t.Errorf("a row is not whole: %q", l)
		}
	}
	if rows != n {
		t.Errorf("%d rows on the terminal, want %d:\n%s", rows, n, strings.Join(lines, "\n"))
	}
}

// TestPTYExecOutputCarriesNoProgress: with --progress on a terminal, the
// jobs' own output goes through the same screen as the progress line, so
// no line of it carries progress text and every line is whole.
func TestPTYExecOutputCarriesNoProgress(t *testing.T) {
	const n = 60
	args := []string{"exec", "--progress", "-c", "3", "--", "sh", "-c", `sleep 0.0$(($1 % 5)); echo "job $1 says hello"; echo "job $1 done"`, "sh", ":::"}
	for i := range n {
		args = append(args, strconv.Itoa(i))
	}
	lines, raw, code := runInPTY(t, nil, nil, args...)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, strings.Join(lines, "\n"))
	}
	if !progressText.MatchString(raw) {
		t.Fatalf("the progress line was never drawn; raw output %q", raw)
	}
	whole := regexp.MustCompile(`^job \d+ (says hello|done)$`)
	got := 0
	for _, l := range lines {
		switch {
		case progressText.MatchString(l):
			t.Errorf("a line carries progress text: %q", l)
		case whole.MatchString(l):
			got++
		case strings.Contains(l, "job "):
			t.Errorf("a line is not whole: %q", l)
		}
	}
	if got != 2*n {
		t.Errorf("%d whole lines of the jobs on the terminal, want %d:\n%s", got, 2*n, strings.Join(lines, "\n"))
	}
}

// TestPTYLibraryLogCarriesNoProgress: what net/http logs by itself, here
// "Unsolicited response received on idle HTTP channel" for a server that
// writes after its answer, is a message like fanout's own. Before, it went
// straight to stderr, after the progress text on the same line, with a
// timestamp.
func TestPTYLibraryLogCarriesNoProgress(t *testing.T) {
	// A TLS server (the lean plain-HTTP path does not log) that answers
	// a HEAD and, while the connection is idle and the progress line
	// shown, writes more.
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		buf.Flush()
		time.Sleep(500 * time.Millisecond)
		conn.Write([]byte("surprise"))
	}))
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	// A slow URL elsewhere keeps the run, and its progress line, going.
	s := testserver.StartTest(t)
	lines, raw, _ := runInPTY(t, nil, nil, "http", "-k", "-X", "HEAD", "-c", "2", "--progress",
		tlsSrv.URL+"/", s.URL("/status/200?delay=1500ms"))
	if !progressText.MatchString(raw) {
		t.Fatalf("the progress line was never drawn; raw output %q", raw)
	}
	logged := false
	for _, l := range lines {
		if !strings.Contains(l, "Unsolicited response") {
			continue
		}
		logged = true
		if !strings.HasPrefix(l, "fanout: Unsolicited response") {
			t.Errorf("net/http's log line is not a message of its own: %q", l)
		}
	}
	if !logged {
		t.Errorf("net/http's log line is not on the terminal:\n%s", strings.Join(lines, "\n"))
	}
}
