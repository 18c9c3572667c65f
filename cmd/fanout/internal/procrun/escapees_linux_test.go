package procrun

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// escapees is the test process's one tracker: it makes the process a
// subreaper for good.
var escapees = sync.OnceValue(NewEscapees)

// escapeScript leaves a process of its own session running, a sleep that
// writes its pid to $1 first; then runs the rest of the script.
const escapeScript = `setsid sh -c 'echo $$ >> "$1"; exec sleep 300' sh "$1" & `

// TestEscapeesStopped: what a job left running outside its process group
// (setsid) is gone once Run returns, whether the job exited on its own or
// was stopped; it is reaped, not just killed; and the job's own outcome is
// as without it.
func TestEscapeesStopped(t *testing.T) {
	for _, tt := range []struct {
		name   string
		script string
		cancel bool
		kind   Kind
	}{
		{"exits", escapeScript + `while ! [ -s "$1" ]; do sleep 0.01; done; exit 3`, false, KindExit},
		{"timed out", escapeScript + `sleep 300`, true, KindTimeout},
		{"escapee's children", `(setsid sh -c 'sleep 300 & echo $! >> "$1"; sleep 300 & echo $! >> "$1"; wait' sh "$1" &); sleep 300`, true, KindTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "pids")
			stop := runInBackground(t, sh(tt.script, pidfile), Options{Escapees: escapees(), Seq: 1, KillAfter: 5 * time.Second})
			want := 1
			if strings.HasPrefix(tt.name, "escapee's") {
				want = 2
			}
			ps := pids(t, pidfile, want)
			var cause error
			if tt.cancel {
				cause = ErrTimeout
			}
			_, err := stop(cause)
			if Classify(err) != tt.kind {
				t.Errorf("error %v, want kind %s", err, tt.kind)
			}
			assertReaped(t, ps)
		})
	}
}

// TestEscapeesOfRunningJobsLive: a job's escapee, handed to this process
// while its job runs, lives on when another job ends, and is stopped when
// its own job is.
func TestEscapeesOfRunningJobsLive(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pids")
	// The subshell exits at once: its setsid'ed child is an orphan,
	// handed to this process.
	stop := startJob(t, `(`+escapeScript+`); sleep 300`, pidfile)
	escapee := pids(t, pidfile, 1)
	for seq := 2; seq < 4; seq++ {
		res, err := Run(t.Context(), sh(`true`), Options{Escapees: escapees(), Seq: seq})
		res.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if !Alive(escapee[0]) {
		t.Errorf("the running job's escapee %d was killed as another job ended", escapee[0])
	}
	stop()
	assertReaped(t, escapee)
}

// TestEscapeesClose: Close stops every child left, marked or not (one
// that cleared its environment).
func TestEscapeesClose(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pids")
	stop := startJob(t, `(setsid env -i sh -c 'echo $$ >> "$1"; exec sleep 300' sh "$1" >/dev/null 2>&1 &); sleep 300`, pidfile)
	escapee := pids(t, pidfile, 1)
	stop()
	if !Alive(escapee[0]) {
		t.Fatalf("the unmarked escapee %d was killed with its job: the test shows nothing", escapee[0])
	}
	escapees().Close(5 * time.Second)
	assertReaped(t, escapee)
}

// startJob runs script (with pidfile as $1) as job 1 of the test's
// tracker until the returned stop cancels it and waits for Run to return.
func startJob(t *testing.T, script, pidfile string) (stop func()) {
	bg := runInBackground(t, sh(script, pidfile), Options{Escapees: escapees(), Seq: 1, KillAfter: 5 * time.Second})
	return func() { bg(context.Canceled) }
}

// assertReaped fails for each process that still exists, even as a zombie:
// stopped escapees are reaped before Run returns.
func assertReaped(t *testing.T, pids []int) {
	t.Helper()
	for _, p := range pids {
		if Alive(p) {
			t.Errorf("process %d is still running", p)
			syscall.Kill(p, syscall.SIGKILL)
			continue
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(p)); err == nil {
			t.Errorf("process %d is a zombie: not reaped", p)
		}
	}
}
