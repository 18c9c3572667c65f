package fanout_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/fanout-go/fanout"
)

// TestMapKeyBacklog: one key whose calls do not return (a host gone bad,
// at its key limit of 1) must not hold back the other inputs, mixed round
// robin with its own, until the key backlog is full; and Map never has
// more than the window plus the backlog pulled and not yielded.
func TestMapKeyBacklog(t *testing.T) {
	const window, pairs = 4, 40
	for _, unordered := range []bool{false, true} {
		for _, backlog := range []int{0, 6, 100} {
			t.Run(fmt.Sprintf("unordered=%v/backlog=%d", unordered, backlog), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ex := fanout.New(fanout.WithLimit(window), fanout.WithKeyLimit(1))
					release := make(chan struct{})
					var mu sync.Mutex
					pulled := 0
					var yielded []int
					in := func(yield func(int) bool) {
						for i := range 2 * pairs {
							mu.Lock()
							pulled++
							mu.Unlock()
							if !yield(i) {
								return
							}
						}
					}
					// Even inputs are the bad key's and block; odd ones
					// have no key and return at once.
					fn := func(_ context.Context, i int) (int, error) {
						if i%2 == 0 {
							<-release
						}
						return i, nil
					}
					keys := fanout.WithTaskOptions(func(_ int, i int) []fanout.TaskOption {
						if i%2 == 0 {
							return []fanout.TaskOption{fanout.WithKey("bad")}
						}
						return nil
					})
					mapper := fanout.Map[int, int]
					if unordered {
						mapper = fanout.MapUnordered[int, int]
					}
					done := make(chan struct{})
					go func() {
						defer close(done)
						for i, r := range mapper(t.Context(), ex, in, fn, fanout.WithWindow(window), fanout.WithKeyBacklog(backlog), keys) {
							if r.Err != nil || r.Value != i {
								t.Errorf("input %d: %v, %v", i, r.Value, r.Err)
							}
							mu.Lock()
							yielded = append(yielded, i)
							mu.Unlock()
						}
					}()
					synctest.Wait() // stalled: the bad key's first call blocks

					mu.Lock()
					if ahead := pulled - len(yielded); ahead > window+backlog {
						t.Errorf("%d inputs pulled and not yielded, window %d + backlog %d", ahead, window, backlog)
					}
					good := 0
					for _, i := range yielded {
						if i%2 == 1 {
							good++
						}
					}
					if unordered {
						// Every good input pulled ran and was yielded; the
						// producer stopped when window+backlog bad inputs
						// were out.
						want := min(pairs, window+backlog-1)
						if good != want {
							t.Errorf("good inputs yielded while the bad key blocked: %d, want %d", good, want)
						}
					} else if len(yielded) != 0 {
						t.Errorf("ordered Map yielded %v behind a blocked first input", yielded)
					}
					mu.Unlock()

					close(release)
					<-done
					ex.Close()
					if len(yielded) != 2*pairs {
						t.Fatalf("yielded %d inputs, want %d", len(yielded), 2*pairs)
					}
					if !unordered && !slices.IsSorted(yielded) {
						t.Errorf("ordered Map yielded out of order: %v", yielded)
					}
					slices.Sort(yielded)
					if len(slices.Compact(yielded)) != 2*pairs {
						t.Errorf("an input was yielded twice")
					}
				})
			})
		}
	}
}
