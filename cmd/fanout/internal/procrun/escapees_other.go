//go:build !linux

package procrun

import (
	"errors"
	"time"
)

// becomeSubreaper fails: only Linux hands orphans to a process other than
// init, so escapees cannot be found, and the jobs are only marked.
func becomeSubreaper() error { return errors.ErrUnsupported }

func (e *Escapees) sweep(all bool, grace time.Duration) {}
