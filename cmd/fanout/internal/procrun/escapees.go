package procrun

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The environment variables every job of a run gets, and all it starts
// inherits: GNU parallel's PARALLEL_PID and PARALLEL_SEQ, in effect.
const (
	// EnvRun names the run: a random id, the same for all its jobs.
	EnvRun = "FANOUT_RUN"
	// EnvSeq is the job's number, {#}.
	EnvSeq = "FANOUT_SEQ"
)

// Escapees stops what a run's jobs leave running outside their process
// groups. A process that calls setsid (a daemon, `setsid cmd &`) leaves its
// job's group, so stopping the group misses it. Every job's environment is
// marked with the run's id and the job's number (EnvRun, EnvSeq), which
// every process it starts inherits, setsid and double forks included. On
// Linux, this process becomes a child subreaper: a job's process whose
// parent has died is handed to it rather than to init. Once a job's group
// is gone, Run looks through this process's children for those marked
// with a job no longer running, SIGKILLs and reaps them (and then their
// own children, handed over in turn). A running job's escapees live on
// until their job ends.
//
// The check costs one read of a small /proc file per job (this process's
// main thread's children, where the kernel puts adopted processes), and
// nothing more when the job left nothing behind: about 7µs. Escapees get
// SIGKILL at once, not the group's SIGTERM and grace period. Outside Linux
// the jobs are marked but nothing is stopped. If this process dies, the
// reaper kills the marked processes (package reaper).
//
// Escapees makes the whole process a subreaper, for good: use one per
// process that runs jobs, and give it every job (Options.Escapees), or
// the jobs started without it could be taken for escapees (their pids are
// not listed) once they exit.
type Escapees struct {
	run    string
	env    []string // this process's environment without the marks
	active bool     // a subreaper: escapees come back to this process

	// start is held for reading from a job's start until its leader is
	// listed in leaders, and for writing by a sweep: a sweep sees every
	// job's leader listed, and never takes one (waiting for it, killing
	// it) for an escapee.
	start sync.RWMutex

	mu      sync.Mutex
	running map[string]int // jobs running, by their EnvSeq value
	leaders map[int]int    // jobs' own processes, not yet ended, by pid
	spared  map[int]bool   // children that are not jobs' (the reaper)
}

// NewEscapees makes this process a subreaper where it can (Linux) and
// returns a tracker of a new run, with a random id.
func NewEscapees() *Escapees {
	e := &Escapees{
		run:     fmt.Sprintf("%016x", rand.Uint64()),
		running: make(map[string]int),
		leaders: make(map[int]int),
		spared:  make(map[int]bool),
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, EnvRun+"=") && !strings.HasPrefix(kv, EnvSeq+"=") {
			e.env = append(e.env, kv)
		}
	}
	e.active = becomeSubreaper() == nil
	return e
}

// RunID returns the run's id, the value of EnvRun in its jobs.
func (e *Escapees) RunID() string { return e.run }

// Spare says that pid, a child of this process, is no job's (the reaper):
// it is never killed or reaped.
func (e *Escapees) Spare(pid int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.spared[pid] = true
}

// Close kills and reaps every child of this process that is not a running
// job's own process nor spared, marked or not (a process that cleared its
// environment is still one of the run's: only a job's descendants are
// handed to a subreaper). Call it once the run's jobs have ended; it waits
// up to grace for them to die.
func (e *Escapees) Close(grace time.Duration) {
	e.sweep(true, grace)
}

// environ returns a job's environment: this process's, marked.
func (e *Escapees) environ(seq string) []string {
	env := make([]string, len(e.env), len(e.env)+2)
	copy(env, e.env)
	return append(env, EnvRun+"="+e.run, EnvSeq+"="+seq)
}

// starting counts a job as running; started must follow, once its process
// has started (pid) or failed to (0).
func (e *Escapees) starting(seq string) {
	e.start.RLock()
	e.mu.Lock()
	e.running[seq]++
	e.mu.Unlock()
}

func (e *Escapees) started(seq string, pid int) {
	e.mu.Lock()
	if pid > 0 {
		e.leaders[pid]++
	} else {
		e.dec(seq)
	}
	e.mu.Unlock()
	e.start.RUnlock()
}

// ended counts the job out once its process group is gone, and stops its
// escapees.
func (e *Escapees) ended(seq string, pid int, grace time.Duration) {
	e.mu.Lock()
	e.dec(seq)
	if e.leaders[pid]--; e.leaders[pid] <= 0 {
		delete(e.leaders, pid)
	}
	e.mu.Unlock()
	e.sweep(false, grace)
}

func (e *Escapees) dec(seq string) {
	if e.running[seq]--; e.running[seq] <= 0 {
		delete(e.running, seq)
	}
}

// ours reports whether a child of this process may be a job's escapee:
// neither a job's own process nor spared.
func (e *Escapees) ours(pid int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leaders[pid] == 0 && !e.spared[pid]
}

// doomed reports whether a child with this environment (NUL-separated, as
// in /proc/PID/environ) is to be killed: marked with this run and a job
// that is not running; with all, any child at all.
func (e *Escapees) doomed(environ []byte, all bool) bool {
	if all {
		return true
	}
	run, seq, ok := marks(environ)
	if !ok || run != e.run {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.running[seq] == 0
}

// marks returns the values of EnvRun and EnvSeq in environ (the first of
// each, as getenv), ok if both are there.
func marks(environ []byte) (run, seq string, ok bool) {
	var haveRun, haveSeq bool
	for len(environ) > 0 && !(haveRun && haveSeq) {
		kv := environ
		if i := strings.IndexByte(string(environ), 0); i >= 0 {
			kv, environ = environ[:i], environ[i+1:]
		} else {
			environ = nil
		}
		switch {
		case !haveRun && strings.HasPrefix(string(kv), EnvRun+"="):
			run, haveRun = string(kv[len(EnvRun)+1:]), true
		case !haveSeq && strings.HasPrefix(string(kv), EnvSeq+"="):
			seq, haveSeq = string(kv[len(EnvSeq)+1:]), true
		}
	}
	return run, seq, haveRun && haveSeq
}

// seqString is a job number as EnvSeq holds it.
func seqString(n int) string { return strconv.Itoa(n) }
