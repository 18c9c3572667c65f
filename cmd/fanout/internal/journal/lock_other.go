//go:build !unix

package journal

import (
	"errors"
	"fmt"
	"os"
)

// lockFile is a file beside the journal that exists while a process has it
// open. Without flock, a killed run leaves it behind: the error says which
// file to remove.
type lockFile struct{ path string }

func lockPath(path string) (*lockFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%s: %w (remove %s if no fanout runs)", trimLock(path), ErrLocked, path)
	}
	if err != nil {
		return nil, err
	}
	f.Close()
	return &lockFile{path: path}, nil
}

func (l *lockFile) unlock() { os.Remove(l.path) }
