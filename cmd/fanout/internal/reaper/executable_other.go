//go:build !linux

package reaper

import "errors"

// executable fails: outside Linux, fanout runs without a reaper, as jobs
// there get no parent-death signal either.
func executable() (string, error) { return "", errors.ErrUnsupported }

func nameSelf() {}
