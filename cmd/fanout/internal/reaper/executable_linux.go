package reaper

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// executable returns the path that runs this very binary again, even if
// its file was replaced or removed since fanout started.
func executable() (string, error) { return "/proc/self/exe", nil }

// nameSelf names the reaper in ps and top, which would show "exe", the
// name of the file it was started as.
func nameSelf() {
	if name, err := unix.BytePtrFromString(reaperName); err == nil {
		unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0)
	}
}
