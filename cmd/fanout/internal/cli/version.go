package cli

import (
	"runtime"
	"runtime/debug"
)

// Version returns the line `fanout --version` prints: the module version
// the binary was built from ("(devel)" for a build from a clone), the
// commit when the build recorded one, and the Go version.
func Version() string {
	v := "(devel)"
	var rev string
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " " + s.Value[:12]
			}
		}
	}
	return "fanout " + v + rev + " " + runtime.Version()
}
