package procrun

import "syscall"

// sysProcAttr puts each job in a process group of its own, so that a
// timeout or an interrupt stops the whole group, and has the kernel kill
// the job's own process if fanout dies without stopping it (SIGKILL, a
// crash): no job runs on for ever unwatched. Processes the job started in
// the background are in its group but not covered by the kernel's signal:
// the GroupWatcher of Options.Groups (fanout's reaper) kills those.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
