package reaper

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fanout-go/fanout/cmd/fanout/internal/procrun"
)

func TestMain(m *testing.M) {
	// Start runs this test binary again as the reaper.
	if Invoked() {
		os.Exit(Main())
	}
	goleak.VerifyTestMain(m)
}

func TestApply(t *testing.T) {
	g := make(groupCounts)
	for _, line := range []string{
		"+100", "+200", "+200", "-200", "+300", "-300",
		// Not lines of fanout's: ignored.
		"", "+", "100", "*100", "+0", "+1", "-1", "+-5", "++7", "+ 8", "+9x",
	} {
		g.apply(line)
	}
	want := groupCounts{100: 1, 200: 1}
	if len(g) != len(want) || g[100] != 1 || g[200] != 1 {
		t.Errorf("%v, want %v", g, want)
	}
	// A reused id's lines may come in either order.
	g = make(groupCounts)
	for _, line := range []string{"+5", "-5", "-6", "+6"} {
		g.apply(line)
	}
	if len(g) != 0 {
		t.Errorf("%v, want none", g)
	}
}

// TestLineSplitter: a line cut across reads is whole once read; a line
// too long to be fanout's is dropped.
func TestLineSplitter(t *testing.T) {
	var (
		s   lineSplitter
		got []string
	)
	add := func(l string) { got = append(got, l) }
	for _, b := range []string{"+1", "0\n-2", "0\n+30\n+4", "", "0\n", strings.Repeat("9", 40), "\n+50\n"} {
		s.feed([]byte(b), add)
	}
	if want := []string{"+10", "-20", "+30", "+40", "", "+50"}; !slices.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
}

// TestServeKillsListedGroups: at the pipe's end, every process of a group
// still listed is killed, the one in the background too; a group unlisted
// is left alone.
func TestServeKillsListedGroups(t *testing.T) {
	listed, unlisted := startGroup(t), startGroup(t)
	r, w := pipe(t)
	w.WriteString("+" + strconv.Itoa(listed.pgid) + "\n")
	w.WriteString("+" + strconv.Itoa(unlisted.pgid) + "\n")
	w.WriteString("-" + strconv.Itoa(unlisted.pgid) + "\n")
	w.Close()
	Serve(int(r.Fd()), "")
	listed.assertKilled(t)
	unlisted.assertAlive(t)
}

// TestServeWhileWritten: lines written while Serve waits, one of them in
// two halves, count as lines written at once.
func TestServeWhileWritten(t *testing.T) {
	listed, unlisted := startGroup(t), startGroup(t)
	r, w := pipe(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Serve(int(r.Fd()), "")
	}()
	w.WriteString("+" + strconv.Itoa(unlisted.pgid) + "\n+")
	w.WriteString(strconv.Itoa(listed.pgid) + "\n")
	w.WriteString("-" + strconv.Itoa(unlisted.pgid) + "\n")
	w.Close()
	<-done
	listed.assertKilled(t)
	unlisted.assertAlive(t)
}

// TestStartClose runs the reaper as fanout does: a process of its own that
// holds nothing of its parent's but the pipe's read end, kills the groups
// still listed when the pipe ends, and exits.
func TestStartClose(t *testing.T) {
	listed, unlisted := startGroup(t), startGroup(t)
	rp, err := Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rp.Close() })
	assertHoldsOnlyThePipe(t, rp)
	rp.Started(listed.pgid)
	rp.Started(unlisted.pgid)
	rp.Ended(unlisted.pgid)
	if err := rp.Close(); err != nil {
		t.Errorf("reaper: %v", err)
	}
	listed.assertKilled(t)
	unlisted.assertAlive(t)
}

// assertHoldsOnlyThePipe checks the reaper's open files: /dev/null as
// stdin, stdout and stderr, the pipe's read end as fd 3, and nothing else
// but the Go runtime's own (anonymous inodes, cgroup files). What the test process
// inherited and passed on (go test's own pipes, a terminal) is closed as
// the reaper starts: it is waited for, with a deadline that only keeps a
// regression from hanging the test.
func assertHoldsOnlyThePipe(t *testing.T, rp *Reaper) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(rp.w.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	pipe := "pipe:[" + strconv.FormatUint(st.Ino, 10) + "]"
	dir := "/proc/" + strconv.Itoa(rp.cmd.Process.Pid) + "/fd/"
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var extra []string
		for _, e := range entries {
			target, err := os.Readlink(dir + e.Name())
			if err != nil {
				continue
			}
			switch fd, _ := strconv.Atoi(e.Name()); {
			case fd <= 2 && target == os.DevNull,
				fd == pipeFD && target == pipe,
				fd > pipeFD && strings.HasPrefix(target, "anon_inode:"),
				fd > pipeFD && strings.HasPrefix(target, "/sys/fs/cgroup/"): // GOMAXPROCS
			default:
				extra = append(extra, e.Name()+" -> "+target)
			}
		}
		if len(extra) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reaper holds %s", strings.Join(extra, ", "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// group is a process group: a shell with a sleep in the background.
type group struct {
	cmd  *exec.Cmd
	pgid int
	bg   int // the background sleep's pid
}

func startGroup(t *testing.T) *group {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 300 & echo $!; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &group{cmd: cmd, pgid: cmd.Process.Pid}
	t.Cleanup(func() {
		syscall.Kill(-g.pgid, syscall.SIGKILL)
		if cmd.ProcessState == nil {
			cmd.Wait()
		}
	})
	line, _ := bufio.NewReader(out).ReadString('\n')
	if g.bg, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		t.Fatalf("background pid %q: %v", line, err)
	}
	return g
}

// assertKilled checks that the shell died of SIGKILL and that its
// background sleep has gone too.
func (g *group) assertKilled(t *testing.T) {
	t.Helper()
	g.cmd.Wait()
	if ws := g.cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGKILL {
		t.Errorf("the group's leader ended with %v, want SIGKILL", g.cmd.ProcessState)
	}
	waitGone(t, g.bg)
}

// assertAlive checks that the group was not killed: its leader is running,
// and then dies of the SIGTERM the test sends it (a SIGKILL sent earlier
// would win).
func (g *group) assertAlive(t *testing.T) {
	t.Helper()
	syscall.Kill(-g.pgid, syscall.SIGTERM)
	g.cmd.Wait()
	if ws := g.cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGTERM {
		t.Errorf("the unlisted group's leader ended with %v, want SIGTERM (the test's)", g.cmd.ProcessState)
	}
}

// waitGone waits for process p to end (a zombie has), failing after a
// deadline that only keeps a regression from hanging the test.
func waitGone(t *testing.T, p int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for running(p) {
		if time.Now().After(deadline) {
			t.Errorf("process %d is still running", p)
			syscall.Kill(p, syscall.SIGKILL)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// running reports whether process p exists and is not a zombie.
func running(p int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[slices.Index(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// pipe returns a pipe whose read end is closed when the test ends; the
// test closes the write end.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, w
}

// TestServeKillsMarked: at the pipe's end with a group still listed (fanout
// died with jobs running), every process marked with the run's id is
// killed too, in a session of its own (setsid) or not; a process of another
// run is left alone. With no group listed and fanout's "=" last (every job
// ended, and fanout stopped what it left), none is looked for. Without the
// "=", fanout died, perhaps between a job's start and its "+" line: the
// marked processes are killed though no group is listed.
func TestServeKillsMarked(t *testing.T) {
	run := "test" + strconv.Itoa(os.Getpid())
	for _, tt := range []struct {
		name       string
		listed     bool
		lines      string
		wantKilled bool
	}{
		{"a group listed", true, "", true},
		{"a group listed, then =", true, "=\n", true},
		{"none listed, then =", false, "=\n", false},
		{"none listed, fanout died", false, "", true},
		{"= then a group started and ended, fanout died", false, "=\n+77777\n-77777\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			marked, other := startMarked(t, run), startMarked(t, run+"0")
			r, w := pipe(t)
			if tt.listed {
				g := startGroup(t)
				w.WriteString("+" + strconv.Itoa(g.pgid) + "\n")
				defer g.assertKilled(t)
			}
			w.WriteString(tt.lines)
			w.Close()
			Serve(int(r.Fd()), run)
			// The test's SIGTERM ends a process not killed (a SIGKILL
			// sent earlier wins).
			marked.Process.Signal(syscall.SIGTERM)
			other.Process.Signal(syscall.SIGTERM)
			if tt.wantKilled {
				assertSignaled(t, marked, syscall.SIGKILL)
			} else {
				assertSignaled(t, marked, syscall.SIGTERM)
			}
			assertSignaled(t, other, syscall.SIGTERM)
		})
	}
}

// startMarked starts a sleep in a session of its own, its environment
// marked with the run id run.
func startMarked(t *testing.T, run string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.Env = append(os.Environ(), procrun.EnvRun+"="+run)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		if cmd.ProcessState == nil {
			cmd.Wait()
		}
	})
	return cmd
}

// assertSignaled waits for cmd and checks that sig ended it.
func assertSignaled(t *testing.T, cmd *exec.Cmd, sig syscall.Signal) {
	t.Helper()
	cmd.Wait()
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signal() != sig {
		t.Errorf("process %d ended with %v, want %v", cmd.Process.Pid, cmd.ProcessState, sig)
	}
}

func TestHasVar(t *testing.T) {
	env := []byte("A=1\x00FANOUT_RUN=ab\x00B=2")
	for kv, want := range map[string]bool{"FANOUT_RUN=ab": true, "A=1": true, "B=2": true, "FANOUT_RUN=a": false, "UN=ab": false} {
		if got := hasVar(env, []byte(kv)); got != want {
			t.Errorf("hasVar(%q) = %v", kv, got)
		}
	}
}
