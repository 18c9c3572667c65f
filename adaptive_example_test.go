package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fanout-go/fanout"
)

// An AdaptiveLimit fed by hand: a round of successes that used the limit
// raises it by one, an overload halves it, and a server's Retry-After
// pauses new calls.
func ExampleAdaptiveLimit() {
	l := fanout.NewAdaptiveLimit(fanout.AdaptiveConfig{Min: 1, Max: 10, Initial: 4})
	now := time.Unix(0, 0)
	round := func(err error) {
		var calls []fanout.AdaptiveAttempt
		for range l.Limit() {
			calls = append(calls, l.Start(now))
		}
		now = now.Add(20 * time.Millisecond)
		for _, c := range calls {
			l.Finish(c, err, now)
		}
	}
	round(nil)
	fmt.Println("after a round of successes:", l.Limit())
	round(fanout.RetryAfter(errors.New("429 too many requests"), 2*time.Second))
	fmt.Println("after a round of 429s:", l.Limit(), "paused for", l.PausedUntil().Sub(now))
	// Output:
	// after a round of successes: 5
	// after a round of 429s: 2 paused for 2s
}

// Each host gets its own adaptive limit: an overloaded host's limit comes
// down without touching the others', and its Retry-After pauses it alone.
func ExampleWithKeyAdaptive() {
	e := fanout.New(fanout.WithKeyAdaptive(fanout.AdaptiveConfig{Max: 16, Initial: 8}))
	defer e.Close()
	check := func(host string) error {
		if host == "busy.example" {
			return fanout.Overload(errors.New("503 service unavailable"))
		}
		return nil
	}
	for _, host := range []string{"busy.example", "calm.example"} {
		f := fanout.Submit(context.Background(), e, func(ctx context.Context) (string, error) {
			return host, check(host)
		}, fanout.WithKey(host))
		f.Await(context.Background())
	}
	fmt.Println(e.KeyLimits()["busy.example"], e.KeyLimits()["calm.example"])
	// Output: 4 8
}
