package fanout_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The Default executor is shared and never closed, but it starts no
	// goroutine of its own: any goroutine left over is a leak.
	goleak.VerifyTestMain(m)
}
