package procrun

import (
	"os"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// becomeSubreaper has the kernel hand this process the orphans among its
// descendants, instead of init.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// childrenFile lists the children of this process's main thread: the
// kernel hands orphans to a subreaper's first live thread, the main
// thread, which the Go runtime never ends. (Jobs' own processes are the
// children of whichever thread started them.)
var childrenFile = "/proc/" + strconv.Itoa(os.Getpid()) + "/task/" + strconv.Itoa(os.Getpid()) + "/children"

// maxRounds bounds a sweep: each round kills the escapees handed over by
// the previous one's (a tree of escapees comes back a level at a time).
const maxRounds = 64

// sweep reaps the children that have exited (but a job's own process,
// which os/exec reaps), and kills and reaps those doomed (see doomed),
// waiting up to grace in all for them to die; then again for the
// children these leave, until a round kills none.
//
// The pids are safe from reuse: each is this process's child and not
// reaped (only this process can reap it, and os/exec reaps only jobs'
// own processes, never looked at), and no job starts meanwhile (start).
func (e *Escapees) sweep(all bool, grace time.Duration) {
	if !e.active {
		return
	}
	var buf [512]byte
	if !all && !slices.ContainsFunc(children(buf[:0]), e.ours) {
		// The common case, a job that left nothing: no child to look at,
		// so no need to hold job starts back (start), which at -c 8 and
		// jobs of a millisecond would queue every start behind every end.
		// A child that is not listed may be a job starting: the sweep
		// below, under start, sees it listed.
		return
	}
	e.start.Lock()
	defer e.start.Unlock()
	deadline := time.Now().Add(grace)
	for range maxRounds {
		var killed []int
		for _, pid := range children(buf[:0]) {
			if !e.ours(pid) || reaped(pid) {
				continue
			}
			environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
			if err != nil && !all {
				continue // unreadable (another user's, by setuid): not known to be ended
			}
			if e.doomed(environ, all) && unix.Kill(pid, unix.SIGKILL) == nil {
				killed = append(killed, pid)
			}
		}
		if len(killed) == 0 {
			return
		}
		for _, pid := range killed {
			awaitReaped(pid, deadline)
		}
	}
}

// children returns the pids of the children of this process's main
// thread (buf is scratch space); none if they cannot be read.
func children(buf []byte) []int {
	fd, err := unix.Open(childrenFile, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if n <= 0 || err != nil {
			break
		}
		buf = buf[:len(buf)+n]
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
	var pids []int
	pid := 0
	for _, c := range buf {
		if c >= '0' && c <= '9' {
			pid = pid*10 + int(c-'0')
			continue
		}
		if pid > 0 {
			pids = append(pids, pid)
		}
		pid = 0
	}
	if pid > 0 {
		pids = append(pids, pid)
	}
	return pids
}

// reaped reaps the child pid if it has exited, and reports whether it did.
func reaped(pid int) bool {
	var ws unix.WaitStatus
	got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	return err == nil && got == pid
}

// awaitReaped waits until the child pid, just sent SIGKILL, has died, and
// reaps it; at the deadline it gives up (a process stuck in the kernel),
// and a later sweep reaps it.
func awaitReaped(pid int, deadline time.Time) {
	for wait := 50 * time.Microsecond; !reaped(pid); wait = min(2*wait, 10*time.Millisecond) {
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(wait)
	}
}
