package lambdainvoke_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/fanout-go/fanout/lambdainvoke"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

func TestPayloadChecksSendNothing(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	big := `"` + strings.Repeat("x", lambdainvoke.SyncPayloadLimit-1) + `"` // 6 MB + 1
	mid := `"` + strings.Repeat("x", lambdainvoke.EventPayloadLimit) + `"`  // 1 MB + 2
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{Retries: 3}, 4)
	got := invokeAll(t, t.Context(), iv, e, `{"a":`, `not json`, big, mid, `{}`)
	want := []string{"invalid_payload", "invalid_payload", "too_large", "ok", "ok"}
	for i, r := range got {
		if kindOf(r) != want[i] {
			t.Errorf("result %d: kind %s (%v), want %s", i, kindOf(r), r.Err, want[i])
		}
		if r.Err != nil && (r.Attempts != 0 || r.Status != 0 || r.MayHaveRun) {
			t.Errorf("result %d: %+v, want no attempt", i, r)
		}
	}
	if n := s.Stats().Requests; n != 2 {
		t.Errorf("the server got %d requests, want 2", n)
	}

	// Event calls have a 1 MB limit.
	ev, e2 := newInvoker(t, s.URL(), lambdainvoke.Template{InvocationType: types.InvocationTypeEvent}, lambdainvoke.Config{}, 1)
	got = invokeAll(t, t.Context(), ev, e2, mid)
	if kindOf(got[0]) != "too_large" || got[0].Attempts != 0 {
		t.Errorf("Event of 1 MB + 2: %+v", got[0])
	}

	// Input errors: unreadable lines.
	in := func(yield func(lambdainvoke.Input) bool) {
		_ = yield(lambdainvoke.Input{Err: errors.New("line is not valid UTF-8")}) &&
			yield(lambdainvoke.Input{Err: fmt.Errorf("%w: line too long", lambdainvoke.ErrTooLarge)})
	}
	var kinds, texts []string
	for r := range iv.InvokeAll(t.Context(), e, in) {
		kinds = append(kinds, kindOf(r))
		texts = append(texts, r.Error)
	}
	if fmt.Sprint(kinds) != "[invalid_payload too_large]" {
		t.Errorf("input errors: %v", kinds)
	}
	// Said once: before, "payload too large: payload too large: line too long".
	if want := []string{"invalid payload: line is not valid UTF-8", "payload too large: line too long"}; !slices.Equal(texts, want) {
		t.Errorf("input errors say %q, want %q", texts, want)
	}
}

func TestErrorKinds(t *testing.T) {
	s := startServer(t, lambdatest.Options{Functions: []string{"fn"}})
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{Retries: 2}, 4)
	tests := []struct {
		payload, kind string
		status        int
		mayHaveRun    bool
	}{
		{`{"error":"not_found"}`, "not_found", 404, false},
		{`{"error":"access_denied"}`, "access_denied", 403, false},
		{`{"error":"UnrecognizedClientException"}`, "access_denied", 403, false},
		{`{"error":"service"}`, "service", 500, true},
		{`{"error":"not_ready"}`, "service", 502, true},
		{`{"error":"too_large"}`, "too_large", 413, false},
		{`{"error":"invalid"}`, "invalid_payload", 400, false},
		{`{"error":"ResourceConflictException"}`, "other", 409, false},
		{`{"error":"throttle"}`, "throttled", 429, false},
	}
	var payloads []string
	for _, tt := range tests {
		payloads = append(payloads, tt.payload)
	}
	got := invokeAll(t, t.Context(), iv, e, payloads...)
	for i, tt := range tests {
		r := got[i]
		if kindOf(r) != tt.kind || r.Status != tt.status || r.MayHaveRun != tt.mayHaveRun || r.Error == "" {
			t.Errorf("%s: kind %s status %d may_have_run %v error %q; want %s %d %v", tt.payload, kindOf(r), r.Status, r.MayHaveRun, r.Error, tt.kind, tt.status, tt.mayHaveRun)
		}
	}
	// Only the throttle is retried (twice, after the first attempt).
	for i, r := range got {
		want := 1
		if tests[i].kind == "throttled" {
			want = 3
		}
		if r.Attempts != want {
			t.Errorf("%s: %d attempts, want %d", tests[i].payload, r.Attempts, want)
		}
	}
	if !strings.Contains(got[8].Error, "TooManyRequestsException") || !strings.Contains(got[8].Error, "FunctionInvocationRateLimitExceeded") {
		t.Errorf("throttle error text %q", got[8].Error)
	}

	// A function that does not exist.
	other, e2 := newInvoker(t, s.URL(), lambdainvoke.Template{FunctionName: "missing"}, lambdainvoke.Config{Retries: 2}, 1)
	got = invokeAll(t, t.Context(), other, e2, `{}`)
	if kindOf(got[0]) != "not_found" || got[0].Attempts != 1 || !strings.Contains(got[0].Error, "function:missing") {
		t.Errorf("missing function: %+v", got[0])
	}
}

func TestThrottleRetried(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{Retries: 3}, 2)
	got := invokeAll(t, t.Context(), iv, e,
		`{"id":"a","error":"throttle","fail_times":2}`,
		`{"id":"b","error":"throttle","fail_times":9}`)
	if r := got[0]; r.Err != nil || r.Attempts != 3 || s.Attempts("a") != 3 {
		t.Errorf("throttled twice then ok: %+v, server saw %d", r, s.Attempts("a"))
	}
	if r := got[1]; kindOf(r) != "throttled" || r.Attempts != 4 || s.Attempts("b") != 4 || r.MayHaveRun {
		t.Errorf("throttled for ever: %+v, server saw %d", r, s.Attempts("b"))
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{Retries: 1}, 1)
	got := invokeAll(t, t.Context(), iv, e, `{"id":"r","error":"throttle","fail_times":1,"retry_after":1}`)
	times := s.AttemptTimes("r")
	if got[0].Err != nil || len(times) != 2 {
		t.Fatalf("result %+v, %d attempts", got[0], len(times))
	}
	// The default backoff starts at 100 ms: only Retry-After makes the
	// retry wait a second.
	if gap := times[1].Sub(times[0]); gap < time.Second {
		t.Errorf("retried after %v, before the server's Retry-After of 1s", gap)
	}
}

// TestUnsafeFailuresNotRetried checks that a call that may have run is
// tried once, and is retried only with RetryUnsafe.
func TestUnsafeFailuresNotRetried(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{Retries: 3, Timeout: 300 * time.Millisecond}, 4)
	payloads := []string{
		`{"id":"drop","error":"drop"}`,
		`{"id":"reset","error":"reset"}`,
		`{"id":"500","error":"service"}`,
		`{"id":"slow","sleep_ms":5000}`,
	}
	kinds := []string{"connect", "connect", "service", "timeout"}
	for i, r := range invokeAll(t, t.Context(), iv, e, payloads...) {
		id := []string{"drop", "reset", "500", "slow"}[i]
		if kindOf(r) != kinds[i] || !r.MayHaveRun || r.Attempts != 1 || s.Attempts(id) != 1 {
			t.Errorf("%s: kind %s may_have_run %v attempts %d, server saw %d; want %s, true, 1, 1",
				id, kindOf(r), r.MayHaveRun, r.Attempts, s.Attempts(id), kinds[i])
		}
	}

	unsafe, e2 := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{Retries: 3, RetryUnsafe: true, Timeout: 300 * time.Millisecond}, 4)
	payloads = []string{
		`{"id":"drop2","error":"drop","fail_times":1}`,
		`{"id":"reset2","error":"reset","fail_times":2}`,
		`{"id":"5002","error":"service","fail_times":1}`,
		`{"id":"slow2","sleep_ms":5000}`,
	}
	for i, r := range invokeAll(t, t.Context(), unsafe, e2, payloads...) {
		id := []string{"drop2", "reset2", "5002", "slow2"}[i]
		want := []int{2, 3, 2, 4}[i]
		if r.Attempts != want || s.Attempts(id) != want {
			t.Errorf("%s with RetryUnsafe: %d attempts, server saw %d, want %d", id, r.Attempts, s.Attempts(id), want)
		}
		if i < 3 && r.Err != nil || i == 3 && (kindOf(r) != "timeout" || !r.MayHaveRun) {
			t.Errorf("%s with RetryUnsafe: %+v", id, r)
		}
	}
}

func TestConnectFailuresRetried(t *testing.T) {
	for name, cfg := range map[string]struct {
		endpoint string
		cfg      lambdainvoke.Config
	}{
		"refused": {lambdainvoke.ClosedPort(t), lambdainvoke.Config{Retries: 2}},
		"dns":     {"http://lambda.fanout.test:9", lambdainvoke.Config{Retries: 2, Resolver: noDNS}},
	} {
		t.Run(name, func(t *testing.T) {
			iv, e := newInvoker(t, cfg.endpoint, lambdainvoke.Template{}, cfg.cfg, 1)
			got := invokeAll(t, t.Context(), iv, e, `{}`)
			if r := got[0]; kindOf(r) != "connect" || r.Attempts != 3 || r.MayHaveRun || r.Status != 0 {
				t.Errorf("%+v (%v)", r, r.Err)
			}
		})
	}
}

func TestNoCredentials(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	iv, err := lambdainvoke.New(t.Context(), lambdainvoke.Template{FunctionName: "fn"}, lambdainvoke.Config{Region: "us-east-1", EndpointURL: s.URL(), Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer iv.Close()
	e := newExecutor(t, iv, 1)
	for r := range iv.InvokeAll(t.Context(), e, lambdainvoke.Payloads(`{}`)) {
		if kindOf(r) != "access_denied" || r.Attempts != 1 || r.MayHaveRun {
			t.Errorf("%+v", r)
		}
	}
	if n := s.Stats().Requests; n != 0 {
		t.Errorf("%d requests sent without credentials", n)
	}
}

// TestCanceledRun checks that ending the context yields every payload
// pulled: the running ones may have run, the waiting ones never started.
func TestCanceledRun(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{Retries: 3}, 2)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	payloads := make([]string, 50)
	for i := range payloads {
		payloads[i] = `{"sleep_ms":600000}`
	}
	go func() {
		for s.Stats().Invocations < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	got := invokeAll(t, ctx, iv, e, payloads...)
	if len(got) < 2 || len(got) == len(payloads) {
		t.Fatalf("%d results for a run canceled after 2 started", len(got))
	}
	for i, r := range got {
		if r.Index != i || kindOf(r) != "canceled" {
			t.Errorf("result %d: %+v", i, r)
		}
		if i < 2 && (!r.MayHaveRun || r.Attempts != 1) || i >= 2 && (r.MayHaveRun || r.Attempts != 0) {
			t.Errorf("result %d: may_have_run %v attempts %d", i, r.MayHaveRun, r.Attempts)
		}
	}
}

func TestUnordered(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{}, 4)
	payloads := []string{`{"sleep_ms":300}`, `{}`, `{}`, `{}`}
	var order []int
	for r := range iv.InvokeAllUnordered(t.Context(), e, lambdainvoke.Payloads(payloads...)) {
		if r.Err != nil {
			t.Error(r.Err)
		}
		order = append(order, r.Index)
	}
	if len(order) != 4 || order[3] != 0 {
		t.Errorf("completion order %v, want index 0 last", order)
	}
}
