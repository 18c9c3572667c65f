package lambdainvoke

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
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
	iv, e := newInternalInvoker(t, Config{Region: "us-east-1", EndpointURL: s.URL(), Concurrency: limit})
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
// does for a body it cannot see is in memory), on the direct path, which
// sends its body as it is, and through the SDK, whose body oneWriteClient
// copies; and that payloads above oneWriteMax, sent as before, and
// payloads of every size in between still arrive whole.
func TestOneWritePerCall(t *testing.T) {
	for _, path := range []string{"direct", "SDK"} {
		t.Run(path, func(t *testing.T) {
			s := lambdatest.StartTest(t, lambdatest.Options{})
			iv, e := newInternalInvoker(t, Config{Region: "us-east-1", EndpointURL: s.URL(), Concurrency: 1})
			if iv.direct == nil {
				t.Fatalf("the invoker stayed on the SDK: %v", iv.directOff)
			}
			if _, ok := iv.direct.http.(*oneWriteClient); ok {
				t.Error("the direct path copies its bodies again")
			}
			if path == "SDK" {
				iv.direct = nil
			}

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
		})
	}
}

type bodyRecorder struct {
	body     []byte
	inMemory bool
}

func (r *bodyRecorder) Do(req *http.Request) (*http.Response, error) {
	_, r.inMemory = req.Body.(interface {
		WriteTo(io.Writer) (int64, error)
	})
	r.body, _ = io.ReadAll(req.Body)
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}

// closingBody is a request body as the SDK builds it (smithy-go's safe
// closer over a bytes.Reader): once closed, Read answers io.EOF and WriteTo
// the error io.EOF.
type closingBody struct {
	r      *bytes.Reader
	closed atomic.Bool
}

func (b *closingBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, io.EOF
	}
	return b.r.Read(p)
}

func (b *closingBody) WriteTo(w io.Writer) (int64, error) {
	if b.closed.Load() {
		return 0, io.EOF
	}
	return b.r.WriteTo(w)
}

func (b *closingBody) Close() error { b.closed.Store(true); return nil }

// TestLargeBodyEndsAfterTheSDKClosedIt: net/http, having written a body's
// Content-Length bytes, checks that it ends with io.Copy(io.Discard, body);
// the SDK may have closed the body by then (the server had every byte and
// answered). The check must see the end, not an error: before, io.Copy
// used the SDK's WriteTo, got io.EOF as an error, and net/http closed the
// connection under the response ("use of closed network connection" in
// TestOneWritePerCall/SDK, one run in three on a loaded machine).
func TestLargeBodyEndsAfterTheSDKClosedIt(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), oneWriteMax+1)
	body := &closingBody{r: bytes.NewReader(payload)}
	var sent io.ReadCloser
	c := &oneWriteClient{next: doFunc(func(req *http.Request) (*http.Response, error) {
		sent = req.Body
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})}
	req, err := http.NewRequest("POST", "http://127.0.0.1/", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(payload))
	if _, err := c.Do(req); err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, io.LimitReader(sent, req.ContentLength)); n != req.ContentLength || err != nil {
		t.Fatalf("copied %d bytes, %v", n, err)
	}
	body.Close() // the SDK, as the response came
	if n, err := io.Copy(io.Discard, sent); n != 0 || err != nil {
		t.Errorf("the check for more bytes after the SDK closed the body: %d bytes, %v; want 0, nil", n, err)
	}
}

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(req *http.Request) (*http.Response, error) { return f(req) }

// TestOneWriteClientKeepsBody checks that oneWriteClient passes on every
// byte of a body: copied when it is exactly as long as announced, and as
// it came, so that net/http reports the mismatch, when it is longer or
// shorter.
func TestOneWriteClientKeepsBody(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		length   int64
		inMemory bool
	}{
		{"exact", `{"a":1}`, 7, true},
		{"longer than announced", `{"a":1}`, 5, false},
		{"shorter than announced", `{"a":1}`, 9, false},
		{"over the limit", strings.Repeat("x", oneWriteMax+1), oneWriteMax + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := &bodyRecorder{}
			// Like the SDK's body, one net/http cannot see is in memory.
			body := io.NopCloser(struct{ io.Reader }{strings.NewReader(tc.body)})
			req, err := http.NewRequest("POST", "http://127.0.0.1:1/", body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = tc.length
			if _, err := (&oneWriteClient{next}).Do(req); err != nil {
				t.Fatal(err)
			}
			if string(next.body) != tc.body {
				t.Errorf("passed on %d bytes of %d", len(next.body), len(tc.body))
			}
			if next.inMemory != tc.inMemory {
				t.Errorf("body handed on in memory: %v, want %v", next.inMemory, tc.inMemory)
			}
		})
	}
}

// newInternalInvoker makes an invoker of function "fn" with cfg and test
// credentials, and an executor with its options at a limit of
// cfg.Concurrency (at least 1); both are closed when the test ends.
func newInternalInvoker(t *testing.T, cfg Config) (*Invoker, *fanout.Executor) {
	t.Helper()
	cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDFANOUTTESTKEY", "fanout-test-secret", "")
	iv, err := New(t.Context(), Template{FunctionName: "fn"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := fanout.New(append(iv.ExecutorOptions(), fanout.WithLimit(max(1, cfg.Concurrency)))...)
	t.Cleanup(func() {
		e.Close()
		iv.Close()
	})
	return iv, e
}
