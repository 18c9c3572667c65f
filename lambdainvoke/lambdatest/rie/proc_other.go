//go:build !unix

package rie

import (
	"os"
	"syscall"
)

// The emulator runs on Linux only (see Supported); these keep the package
// building elsewhere.

func newProcessGroup() *syscall.SysProcAttr { return nil }

func terminate(p *os.Process) { p.Kill() }

func killGroup(int) {}
