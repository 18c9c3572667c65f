package serve

import "testing"

// TestCPUTime checks that the CPU time reported on SIGUSR1 is the
// process's own and grows as it works.
func TestCPUTime(t *testing.T) {
	start := cpuTime()
	if start <= 0 {
		t.Fatalf("cpuTime() = %v at start, want the CPU this process used to get here", start)
	}
	x := 0
	for i := 0; cpuTime() == start; i++ {
		x += i // work until the kernel counts some
	}
	if got := cpuTime(); got < start {
		t.Errorf("cpuTime() went back from %v to %v", start, got)
	}
	_ = x
}
