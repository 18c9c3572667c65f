package lambdainvoke

import (
	"fmt"
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
