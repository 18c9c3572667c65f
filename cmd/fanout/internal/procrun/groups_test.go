package procrun

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// groupLog is a GroupWatcher that logs its calls and, at Ended, which of
// the group's processes (read from a groupScript's pid file) still ran.
type groupLog struct {
	pidfile string
	t       *testing.T
	mu      sync.Mutex
	calls   []string
}

func (g *groupLog) Started(pgid int) { g.log(fmt.Sprintf("started %d", pgid)) }

func (g *groupLog) Ended(pgid int) {
	g.log(fmt.Sprintf("ended %d", pgid))
	for _, p := range pids(g.t, g.pidfile, 1) {
		if Alive(p) {
			g.log(fmt.Sprintf("process %d alive", p))
		}
	}
}

func (g *groupLog) log(s string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, s)
}

// TestRunTellsGroups: the watcher hears of a job's group as it starts and
// only once no process of it is left, however it was stopped; of a job
// that did not start, nothing.
func TestRunTellsGroups(t *testing.T) {
	for _, tt := range []struct {
		name   string
		script string
		cancel bool
	}{
		{"left behind", `sleep 300 & echo $! > "$1"; echo $$ >> "$1"`, false},
		{"canceled", groupScript, true},
		{"ignores SIGTERM", "trap '' TERM; " + groupScript, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := &groupLog{pidfile: filepath.Join(t.TempDir(), "pids"), t: t}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan struct{})
			var res *Result
			go func() {
				defer close(done)
				res, _ = Run(ctx, sh(tt.script, g.pidfile), Options{Groups: g, KillAfter: 100 * time.Millisecond})
			}()
			if tt.cancel {
				pids(t, g.pidfile, 2)
				cancel()
			}
			<-done
			t.Cleanup(res.Close)
			want := []string{fmt.Sprintf("started %d", res.Pid), fmt.Sprintf("ended %d", res.Pid)}
			if !slices.Equal(g.calls, want) {
				t.Errorf("calls %q, want %q", g.calls, want)
			}
		})
	}
	g := &groupLog{t: t}
	res, _ := Run(t.Context(), []string{"fanout-no-such-program"}, Options{Groups: g})
	res.Close()
	if len(g.calls) > 0 {
		t.Errorf("a job that did not start: calls %q", g.calls)
	}
}
