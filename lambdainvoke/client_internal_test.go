package lambdainvoke

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

// TestConnectionsWithinConcurrency checks that an invoker never has more
// connections open than calls run at once: net/http alone dials whenever no
// idle connection is free at that instant, and keeps the extra ones.
func TestConnectionsWithinConcurrency(t *testing.T) {
	const limit = 20
	s := lambdatest.StartTest(t, lambdatest.Options{})
	iv, err := New(t.Context(), Template{FunctionName: "fn"}, Config{
		Region: "us-east-1", EndpointURL: s.URL(), Concurrency: limit,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDFANOUTTESTKEY", "fanout-test-secret", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := fanout.New(append(iv.ExecutorOptions(), fanout.WithLimit(limit))...)
	defer iv.Close()
	defer e.Close()
	var payloads []string
	for i := range 2000 {
		payloads = append(payloads, fmt.Sprintf(`{"id":%d,"sleep_ms":1}`, i))
	}
	for r := range iv.InvokeAll(t.Context(), e, Payloads(payloads...)) {
		if r.Err != nil || r.Status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	iv.pool.mu.Lock()
	peak := iv.pool.peak
	iv.pool.mu.Unlock()
	if peak > limit {
		t.Errorf("%d connections open at once for %d calls at once", peak, limit)
	}
}

// TestOneWritePerCall checks that a call with a small payload goes out in
// one write, headers and body together (net/http wrote them apart, as it
// does for a body it cannot see is in memory), and that payloads above
// oneWriteMax, sent as before, and payloads of every size in between
// still arrive whole.
func TestOneWritePerCall(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{})
	iv, err := New(t.Context(), Template{FunctionName: "fn"}, Config{
		Region: "us-east-1", EndpointURL: s.URL(), Concurrency: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDFANOUTTESTKEY", "fanout-test-secret", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := fanout.New(append(iv.ExecutorOptions(), fanout.WithLimit(1))...)
	defer iv.Close()
	defer e.Close()

	const calls = 20
	for i := range calls {
		r := iv.Invoke(t.Context(), e, fmt.Appendf(nil, `{"id":%d}`, i))
		if r.Err != nil || r.Status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	if n := iv.pool.writes.Load(); n != calls {
		t.Errorf("%d writes for %d calls with small payloads, want one each", n, calls)
	}

	for _, size := range []int{oneWriteMax - 1, oneWriteMax, oneWriteMax + 1, 3 * oneWriteMax} {
		payload := []byte(`"` + strings.Repeat("x", size-2) + `"`)
		r := iv.Invoke(t.Context(), e, payload)
		if r.Err != nil || r.Status != 200 {
			t.Fatalf("%d bytes: %+v", size, r)
		}
		if !bytes.Equal(r.Response, payload) {
			t.Errorf("%d bytes: the function got %d bytes back", size, len(r.Response))
		}
	}
}
