package httpcheck_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanout-go/fanout/httpcheck"
	"github.com/fanout-go/fanout/internal/testserver"
)

func TestUnorderedYieldsInCompletionOrder(t *testing.T) {
	s := testserver.StartTest(t)
	c, e := newChecker(t, httpcheck.Config{Timeout: 2 * time.Second}, 4)
	// The first URL cannot finish before its timeout; the second answers at
	// once, so it must come out first.
	var got []int
	for r := range c.CheckAllUnordered(t.Context(), e, httpcheck.URLs(s.URL("/hang"), s.URL("/status/200"))) {
		got = append(got, r.Index)
	}
	if fmt.Sprint(got) != "[1 0]" {
		t.Errorf("indexes in order %v, want [1 0]", got)
	}
}

func TestCancelGivesEveryPulledInputARecord(t *testing.T) {
	for _, unordered := range []bool{false, true} {
		t.Run(fmt.Sprint("unordered=", unordered), func(t *testing.T) {
			s := testserver.StartTest(t)
			c, e := newChecker(t, httpcheck.Config{}, 3)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			pulled := 0
			in := func(yield func(httpcheck.Input) bool) {
				for {
					pulled++
					if !yield(httpcheck.Input{URL: s.URL("/hang")}) {
						return
					}
				}
			}
			go func() {
				for s.Stats().InFlight < 3 {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}()
			checks := c.CheckAll
			if unordered {
				checks = c.CheckAllUnordered
			}
			seen := map[int]bool{}
			for r := range checks(ctx, e, in) {
				if seen[r.Index] || r.ErrorKind != httpcheck.KindCanceled {
					t.Errorf("record %+v: repeated or not canceled", r)
				}
				seen[r.Index] = true
			}
			// The input loop stops at its next yield after the cancel, so
			// it may have counted one input more than it handed over.
			if len(seen) < 3 || len(seen) < pulled-1 {
				t.Errorf("%d records for %d inputs pulled", len(seen), pulled)
			}
			for i := range len(seen) {
				if !seen[i] {
					t.Errorf("no record for input %d", i)
				}
			}
		})
	}
}

func TestStreamingPullsLazily(t *testing.T) {
	s := testserver.StartTest(t)
	c, e := newChecker(t, httpcheck.Config{}, 4)
	// Map reads its input on a goroutine of its own (so that a break never
	// waits for a blocked input), which may still be inside yield when the
	// loop below ends: count with an atomic.
	var pulled atomic.Int64
	endless := func(yield func(httpcheck.Input) bool) {
		for i := 0; ; i++ {
			pulled.Add(1)
			if !yield(httpcheck.Input{URL: s.URL(fmt.Sprintf("/status/200?i=%d", i))}) {
				return
			}
		}
	}
	n := 0
	for r := range c.CheckAll(t.Context(), e, endless) {
		if r.Index != n || r.Status != 200 {
			t.Fatalf("record %d: %+v", n, r)
		}
		if n++; n == 50 {
			break
		}
	}
	// Map's window is 2 x limit by default: the input is never read far
	// ahead of the output.
	if p := pulled.Load(); p > 50+2*4+1 {
		t.Errorf("pulled %d inputs to yield 50", p)
	}
}
