// Package reaper kills what is left of fanout exec's jobs when fanout dies
// without stopping them: SIGKILL, a crash, a second Ctrl-C. The kernel's
// parent-death signal (procrun) kills each job's own process, but not the
// processes the job put in the background in its process group: the
// reaper does.
//
// The reaper is the fanout binary run again, marked by an environment
// variable that main looks for first (Invoked, Main). fanout keeps the
// write end of a pipe and writes a line to it as each job's process group
// starts ("+PGID") and once the group is gone ("-PGID"); the reaper holds
// only the read end, and fanout writes "=" as it closes it after its last
// job. When the pipe reaches its end, fanout has exited, whichever way, and
// the reaper sends SIGKILL to every group still listed and, if there was
// one or fanout did not say "=", to every process whose environment
// carries the run's id (procrun.EnvRun): those that left their job's group
// (setsid) too, and those of a job whose group fanout died before listing.
// Then it exits. After a normal run none is listed, and nothing is looked
// for.
//
// The reaper outlives fanout on purpose: it has no parent-death signal,
// runs in a session of its own (no terminal: Ctrl-C, a hangup or a kill of
// fanout's process group does not reach it) and ignores SIGINT, SIGTERM and
// SIGHUP. It holds none of fanout's files: its standard streams are
// /dev/null, it closes whatever else it inherited, and its directory is /,
// so pipes, terminals and mounts close as without it.
//
// Cost: one fork and exec when a run starts its first job (a run without
// jobs starts no reaper), one short pipe write as each job starts and one
// as it ends, and a process for the run's length (about 12MB resident,
// mostly the binary's pages, shared with fanout) that wakes ten times a
// second at most, to read the lines in batches.
package reaper

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fanout-go/fanout/cmd/fanout/internal/procrun"
)

// marker is the environment variable that makes fanout a reaper.
const marker = "_FANOUT_REAPER"

// runVar is the environment variable that gives the reaper the run's id,
// the value of procrun.EnvRun in every process of the run's jobs.
const runVar = "_FANOUT_REAPER_RUN"

// reaperName is the reaper's argv[0] and, in ps, its name.
const reaperName = "fanout-reaper"

// pipeFD is the reaper's read end of the pipe: the first of ExtraFiles.
const pipeFD = 3

// Invoked reports whether this process was started as a reaper: main calls
// it first, and then Main instead of anything else.
func Invoked() bool { return os.Getenv(marker) == "1" }

// Main is the reaper's whole life: it reads the pipe until its end, kills
// the groups still listed, and returns the exit status.
func Main() int {
	// Ctrl-C at a terminal signals the whole foreground group; fanout
	// stops its jobs itself, and its exit ends the pipe.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	var st syscall.Stat_t
	if err := syscall.Fstat(pipeFD, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		fmt.Fprintf(os.Stderr, "fanout: %s is for fanout's own use\n", marker)
		return 2
	}
	nameSelf()
	closeInherited()
	Serve(pipeFD, os.Getenv(runVar))
	return 0
}

// closeInherited closes the files above the pipe that fanout itself
// inherited and passed on without knowing (exec keeps every descriptor not
// marked close-on-exec), such as a pipe whose end a supervisor waits for:
// the reaper, which may outlive fanout, holds none of them. The Go
// runtime's own descriptors are close-on-exec, and so are kept.
func closeInherited() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= pipeFD {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}

// readEvery is how often the reaper reads the lines waiting in the pipe.
// Reading each line as it comes would wake it twice per job, and the
// wake-ups cost fanout's jobs time on a busy machine; a pipe holds 64KiB,
// thousands of lines, more than fanout writes in this time. The pipe's end
// wakes the reaper at once.
const readEvery = 100 * time.Millisecond

// endLine is the line fanout writes as it closes the pipe after its last
// job (Reaper.Close).
const endLine = "="

// maxLine is the longest line read; a longer one is not fanout's, and is
// ignored.
const maxLine = 32

// Serve reads the lines of fanout's end from the pipe fd (its read end)
// until its end (or an error), then sends SIGKILL to every process group
// still listed and, if any was or the last line was not "=", to every
// process marked with the run's id run (its environment's
// procrun.EnvRun), which the jobs' processes that left their groups
// (setsid) still are. No group listed after "=" means that every job ended
// and fanout stopped what it left (procrun.Escapees): nothing to look for.
// Without "=", fanout died: perhaps after a job's group started and before
// its "+" line was written, a window in which the job may have started
// processes in the background that no listed group holds.
//
// A group is counted, not just listed: once a group is gone its id may be
// reused by the next job's group, and the two jobs' lines may arrive in
// either order.
func Serve(fd int, run string) {
	groups := make(groupCounts)
	clean := false // fanout said "=": its last job ended
	line := func(l string) {
		if clean = l == endLine; !clean {
			groups.apply(l)
		}
	}
	unix.SetNonblock(fd, true)
	buf := make([]byte, 64<<10)
	var lines lineSplitter
	for {
		n, err := unix.Read(fd, buf)
		if n > 0 {
			lines.feed(buf[:n], line)
			continue
		}
		switch err {
		case unix.EAGAIN:
			// Wait for the pipe's end (POLLHUP is reported though not
			// asked for), or for the next batch of lines: asking for
			// POLLIN would wake at each line.
			_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd)}}, int(readEvery/time.Millisecond))
			if err != nil && err != unix.EINTR {
				time.Sleep(readEvery) // never spin
			}
			continue
		case unix.EINTR:
			continue
		}
		break // the end (n == 0), or an error
	}
	for pgid, n := range groups {
		if n > 0 {
			syscall.Kill(-pgid, syscall.SIGKILL) // ESRCH: gone already
		}
	}
	if (len(groups) > 0 || !clean) && run != "" {
		killMarked(procrun.EnvRun + "=" + run)
	}
}

// killMarked sends SIGKILL to every process whose environment holds the
// variable kv, looking through /proc until a pass finds none not sent it
// already (one could start another as it is passed). A process keeps
// its environment until it exits, then reads as empty.
func killMarked(kv string) {
	want := []byte(kv)
	killed := make(map[int]bool)
	for range 10 {
		found := false
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return
		}
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || killed[pid] {
				continue
			}
			environ, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err != nil || !hasVar(environ, want) {
				continue
			}
			syscall.Kill(pid, syscall.SIGKILL)
			killed[pid], found = true, true
		}
		if !found {
			return
		}
	}
}

// hasVar reports whether environ (NUL-separated) holds kv as a whole entry.
func hasVar(environ, kv []byte) bool {
	for len(environ) > 0 {
		entry := environ
		if i := bytes.IndexByte(environ, 0); i >= 0 {
			entry, environ = environ[:i], environ[i+1:]
		} else {
			environ = nil
		}
		if bytes.Equal(entry, kv) {
			return true
		}
	}
	return false
}

// lineSplitter cuts what is read into lines, keeping a line not yet whole
// for the next read.
type lineSplitter struct{ partial []byte }

func (s *lineSplitter) feed(b []byte, line func(string)) {
	data := append(s.partial, b...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line(string(data[:i]))
		data = data[i+1:]
	}
	s.partial = s.partial[:0]
	if len(data) <= maxLine {
		s.partial = append(s.partial, data...)
	}
}

// groupCounts counts the live jobs of each process group id.
type groupCounts map[int]int

// apply applies one line: "+PGID" or "-PGID". Anything else, and any id
// that cannot be a job's process group (kill would signal the reaper's own
// group for 0, every process for 1), is ignored.
func (g groupCounts) apply(line string) {
	if len(line) < 2 {
		return
	}
	pgid, err := strconv.Atoi(line[1:])
	if err != nil || pgid <= 1 || line[1] < '0' || line[1] > '9' {
		return
	}
	switch line[0] {
	case '+':
		g[pgid]++
	case '-':
		g[pgid]--
	default:
		return
	}
	if g[pgid] == 0 {
		delete(g, pgid)
	}
}

// Reaper is fanout's end of a running reaper. Its methods are safe for
// concurrent use: each line is one write of less than PIPE_BUF bytes,
// which the kernel never interleaves with another.
type Reaper struct {
	w         *os.File
	cmd       *exec.Cmd
	closeOnce sync.Once
}

// Start starts a reaper: the running fanout binary again, as Invoked
// tells. run is the id the run's jobs carry in their environment
// (procrun.EnvRun; "" for none): if fanout dies with jobs running, the
// reaper kills every process that carries it. It fails where the running
// binary cannot be found again (outside Linux, see executable).
func Start(run string) (*Reaper, error) {
	path, err := executable()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe() // both ends close-on-exec: no job inherits them
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{
		Path: path,
		Args: []string{reaperName},
		Env:  []string{marker + "=1", runVar + "=" + run},
		Dir:  "/",
		// Only the read end, as fd 3; stdin, stdout and stderr are
		// /dev/null.
		ExtraFiles:  []*os.File{r},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("starting the reaper: %w", err)
	}
	return &Reaper{w: w, cmd: cmd}, nil
}

// Pid returns the reaper's process id.
func (r *Reaper) Pid() int { return r.cmd.Process.Pid }

// Started lists the process group pgid: the reaper kills it if fanout
// exits before Ended.
func (r *Reaper) Started(pgid int) { r.send('+', pgid) }

// Ended unlists the process group pgid. Call it once no process is left in
// the group, not before (one left would run on unwatched), and soon after:
// a gone group's id may be taken by another group, which the reaper would
// kill if fanout died while the id was still listed.
func (r *Reaper) Ended(pgid int) { r.send('-', pgid) }

func (r *Reaper) send(op byte, pgid int) {
	b := make([]byte, 0, 24)
	b = append(b, op)
	b = strconv.AppendInt(b, int64(pgid), 10)
	b = append(b, '\n')
	// An error means the reaper is gone (or closed): nothing to do.
	r.w.Write(b)
}

// Close ends the pipe, saying first that fanout's last job ended, and
// waits for the reaper to exit; it kills the groups still listed first.
// Call it once every job has ended.
func (r *Reaper) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.w.Write([]byte(endLine + "\n"))
		r.w.Close()
		err = r.cmd.Wait()
	})
	return err
}
