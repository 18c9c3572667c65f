package trace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fanout-go/fanout"
)

// TestKeyLimits: a real executor with per-key adaptive limits, one key
// overloaded: the summary gives the range each key's limit moved through
// (text and JSON), and the HTML chart draws a line per key.
func TestKeyLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := New()
		ex := fanout.New(fanout.WithObserver(r), fanout.WithLimit(50),
			fanout.WithKeyAdaptive(fanout.AdaptiveConfig{Max: 20, Initial: 10}))
		var badNow atomic.Int32
		var fs []*fanout.Future[int]
		for i := range 600 {
			key := []string{"good.example", "bad.example"}[i%2]
			fs = append(fs, fanout.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
				if key == "bad.example" {
					defer badNow.Add(-1)
					if badNow.Add(1) > 2 {
						time.Sleep(time.Millisecond)
						return 0, fanout.Overload(errors.New("429"))
					}
				}
				time.Sleep(10 * time.Millisecond)
				return i, nil
			}, fanout.WithKey(key), fanout.WithLabel(fmt.Sprint(i))))
		}
		fanout.GatherAll(t.Context(), fs...)
		ex.Close()

		s := r.Summary()
		if len(s.KeyLimits) != 2 {
			t.Fatalf("key limits %+v, want both keys", s.KeyLimits)
		}
		byKey := map[string]KeyLimit{}
		for _, k := range s.KeyLimits {
			byKey[k.Key] = k
		}
		good, bad := byKey["good.example"], byKey["bad.example"]
		if good.Tasks != 300 || good.Min != 10 || good.Max != 20 {
			t.Errorf("good key %+v, want 300 tasks, limit 10..20", good)
		}
		if bad.Max != 10 || bad.Min > 2 {
			t.Errorf("bad key %+v, want its limit from 10 down to 2 or less", bad)
		}
		text := s.String()
		if !strings.Contains(text, fmt.Sprintf("good.example 10..20 (last %d)", good.Last)) || !strings.Contains(text, "bad.example ") {
			t.Errorf("summary lacks the key limits' ranges:\n%s", text)
		}
		js, err := json.Marshal(s)
		if err != nil || !strings.Contains(string(js), `"key_limits":[{"key":"`) {
			t.Errorf("JSON summary %s (%v) lacks key_limits", js, err)
		}
		var page strings.Builder
		if err := r.WriteHTML(&page); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"good.example", "bad.example"} {
			if !strings.Contains(page.String(), `<title>limit of `+key+`</title>`) {
				t.Errorf("the HTML timeline draws no limit line for %s", key)
			}
		}
	})
}
