//go:build unix

package rie

import (
	"os"
	"syscall"
)

func newProcessGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func terminate(p *os.Process) { p.Signal(syscall.SIGTERM) }

// killGroup kills the process group whose id is pgid, the emulator's pid:
// the emulator and the handler it started.
func killGroup(pgid int) { syscall.Kill(-pgid, syscall.SIGKILL) }
