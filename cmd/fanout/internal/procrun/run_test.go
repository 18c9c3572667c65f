package procrun

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sh(script string, args ...string) []string {
	return append([]string{"sh", "-c", script, "sh"}, args...)
}

func TestRunOutcomes(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644)
	tests := []struct {
		name     string
		argv     []string
		kind     Kind
		exit     int
		signal   syscall.Signal
		out, err string
	}{
		{"exit 0", sh("echo out; echo err >&2"), "", 0, 0, "out\n", "err\n"},
		{"exit 3", sh("echo partial; exit 3"), KindExit, 3, 0, "partial\n", ""},
		{"own signal", sh("kill -SEGV $$"), KindSignal, -1, syscall.SIGSEGV, "", ""},
		{"not found", []string{"fanout-no-such-program"}, KindNotFound, -1, 0, "", ""},
		{"not found by path", []string{filepath.Join(dir, "missing")}, KindNotFound, -1, 0, "", ""},
		{"not executable", []string{noexec}, KindPermission, -1, 0, "", ""},
		{"a directory", []string{dir}, KindPermission, -1, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(t.Context(), tt.argv, Options{})
			t.Cleanup(res.Close)
			if got := Classify(err); got != tt.kind {
				t.Errorf("kind %q (%v), want %q", got, err, tt.kind)
			}
			if res.ExitCode != tt.exit || res.Signal != tt.signal {
				t.Errorf("exit %d signal %v, want %d %v", res.ExitCode, res.Signal, tt.exit, tt.signal)
			}
			if res.Stdout.String() != tt.out || res.Stderr.String() != tt.err {
				t.Errorf("stdout %q stderr %q", res.Stdout.String(), res.Stderr.String())
			}
		})
	}
}

// TestRunLookupOnce: a program looked up once runs by its path.
func TestRunLookupOnce(t *testing.T) {
	path, err := Lookup("echo")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(t.Context(), []string{"echo", "hi"}, Options{Path: path})
	t.Cleanup(res.Close)
	if err != nil || res.Stdout.String() != "hi\n" {
		t.Errorf("%v %q", err, res.Stdout.String())
	}
	if _, err := Lookup("fanout-no-such-program"); Classify(err) != KindNotFound || strings.Count(err.Error(), "fanout-no-such-program") != 1 {
		t.Errorf("Lookup error %q", err)
	}
}

// TestRunBinaryOutputByteExact: every byte value, in a large output that
// spills to a file and in a small one that stays in memory.
func TestRunBinaryOutputByteExact(t *testing.T) {
	for _, size := range []int{1000, 3 << 20} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rand.N(256))
		}
		file := filepath.Join(t.TempDir(), "data")
		os.WriteFile(file, data, 0o644)
		res, err := Run(t.Context(), []string{"cat", file}, Options{Stdout: Capture{Memory: 64 << 10}})
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		res.Stdout.WriteTo(&got)
		if !bytes.Equal(got.Bytes(), data) {
			t.Errorf("%d bytes: output differs (%d bytes back)", size, got.Len())
		}
		spilled := res.Stdout.file != nil
		if spilled != (size > 64<<10) || res.Stdout.mem.Len() > 64<<10 {
			t.Errorf("%d bytes: spilled %v, %d bytes in memory", size, spilled, res.Stdout.mem.Len())
		}
		res.Close()
	}
}

func TestRunLimitTruncates(t *testing.T) {
	res, err := Run(t.Context(), sh("head -c 100000 /dev/zero; echo done >&2"), Options{Stdout: Capture{Limit: 10}})
	t.Cleanup(res.Close)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout.Len() != 10 || !res.Stdout.Truncated() || res.Stdout.Total() != 100000 {
		t.Errorf("kept %d of %d, truncated %v", res.Stdout.Len(), res.Stdout.Total(), res.Stdout.Truncated())
	}
	if res.Stderr.String() != "done\n" || res.Stderr.Truncated() {
		t.Errorf("stderr %q", res.Stderr.String())
	}
}

// groupScript starts a background grandchild, writes its pid and its own
// to pidfile (after both exist), then sleeps: the job that must leave
// nothing behind.
const groupScript = `sleep 300 & echo $! >> "$1"; echo $$ >> "$1"; ` + "\n" + `sleep 300`

// pids reads the pids a groupScript wrote, waiting until n are there.
func pids(t *testing.T, file string, n int) []int {
	t.Helper()
	for {
		b, _ := os.ReadFile(file)
		var out []int
		for _, f := range strings.Fields(string(b)) {
			p, err := strconv.Atoi(f)
			if err == nil {
				out = append(out, p)
			}
		}
		if len(out) >= n {
			return out
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s never held %d pids", file, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Alive reports whether pid is a live process (a zombie is not).
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func assertGone(t *testing.T, pids []int) {
	t.Helper()
	for _, p := range pids {
		if Alive(p) {
			t.Errorf("process %d of the job is still running", p)
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

// TestRunTimeoutStopsTheWholeGroup: after a timeout, neither the job nor
// the grandchild it put in the background is left.
func TestRunTimeoutStopsTheWholeGroup(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pids")
	stop := runInBackground(t, sh(groupScript, pidfile), Options{})
	ps := pids(t, pidfile, 2)
	res, err := stop(ErrTimeout) // what context.WithTimeoutCause does when time is up
	if Classify(err) != KindTimeout || res.Signal != syscall.SIGTERM {
		t.Errorf("error %v (kind %s), signal %v", err, Classify(err), res.Signal)
	}
	assertGone(t, ps)
}

// TestRunSIGKILLAfterGrace: a group that ignores SIGTERM gets SIGKILL after
// KillAfter.
func TestRunSIGKILLAfterGrace(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pids")
	stop := runInBackground(t, sh("trap '' TERM; "+groupScript, pidfile), Options{KillAfter: 100 * time.Millisecond})
	ps := pids(t, pidfile, 2)
	res, err := stop(context.Canceled)
	if Classify(err) != KindCanceled || res.Signal != syscall.SIGKILL {
		t.Errorf("error %v (kind %s), signal %v", err, Classify(err), res.Signal)
	}
	assertGone(t, ps)
}

// TestRunStopsWhatTheJobLeftBehind: a job whose command exits while a
// grandchild it started still runs is over only when that is stopped too.
func TestRunStopsWhatTheJobLeftBehind(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pids")
	res, err := Run(t.Context(), sh(`sleep 300 & echo $! > "$1"; echo started`, pidfile), Options{})
	t.Cleanup(res.Close)
	if err != nil || res.Stdout.String() != "started\n" {
		t.Fatalf("%v %q", err, res.Stdout.String())
	}
	assertGone(t, pids(t, pidfile, 1))
}

func TestRunCanceledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := Run(ctx, []string{"true"}, Options{})
	t.Cleanup(res.Close)
	var stop *StoppedError
	if !errors.As(err, &stop) || res.Pid != 0 || Classify(err) != KindCanceled {
		t.Errorf("error %v, pid %d", err, res.Pid)
	}
}

// TestLineBufferKeepsLinesWhole: jobs writing halves of lines at once never
// mix inside a line.
func TestLineBufferKeepsLinesWhole(t *testing.T) {
	var out bytes.Buffer
	lw := NewLineWriter(&out)
	done := make(chan error)
	const jobs, lines = 8, 50
	for j := range jobs {
		go func() {
			res, err := Run(t.Context(), sh(`i=0; while [ $i -lt `+strconv.Itoa(lines)+` ]; do printf "$1:first-half-"; printf "second-half\n"; i=$((i+1)); done; printf "$1:unterminated"`, strconv.Itoa(j)),
				Options{Stdout: Capture{Lines: lw}})
			res.Close()
			done <- err
		}()
	}
	for range jobs {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	count := map[string]int{}
	for l := range strings.Lines(out.String()) {
		id, rest, _ := strings.Cut(l, ":")
		if rest != "first-half-second-half\n" && !strings.HasPrefix(rest, "unterminated") {
			t.Fatalf("mixed line %q", l)
		}
		count[id]++
	}
	for j := range jobs {
		if count[strconv.Itoa(j)] < lines {
			t.Errorf("job %d: %d lines", j, count[strconv.Itoa(j)])
		}
	}
}

// runInBackground runs argv in a goroutine until the returned stop ends
// its context with cause (nil: lets it end by itself) and returns what Run
// returned. The job is stopped, if still running, and its result closed
// when the test ends.
func runInBackground(t *testing.T, argv []string, opts Options) (stop func(cause error) (*Result, error)) {
	ctx, cancel := context.WithCancelCause(t.Context())
	done := make(chan struct{})
	var (
		res *Result
		err error
	)
	go func() {
		defer close(done)
		res, err = Run(ctx, argv, opts)
	}()
	t.Cleanup(func() {
		cancel(context.Canceled)
		<-done
		res.Close()
	})
	return func(cause error) (*Result, error) {
		if cause != nil {
			cancel(cause)
		}
		<-done
		return res, err
	}
}
