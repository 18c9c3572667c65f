//go:build !linux

package procrun

import "syscall"

// sysProcAttr puts each job in a process group of its own, so that a
// timeout or an interrupt stops the whole group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
