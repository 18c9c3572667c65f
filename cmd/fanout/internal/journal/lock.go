package journal

import "strings"

// trimLock returns the journal's path from its lock file's.
func trimLock(path string) string { return strings.TrimSuffix(path, ".lock") }
