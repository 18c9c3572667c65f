package testserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fanout-go/fanout/internal/testserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// client returns a client that does not keep connections after the test.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func get(t *testing.T, c *http.Client, method, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return resp, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

func TestStatusAfterDelay(t *testing.T) {
	s := testserver.StartTest(t)
	c := client(t)
	for _, code := range []int{200, 204, 404, 500, 503} {
		begin := time.Now()
		resp, body, err := get(t, c, "GET", s.URL(fmt.Sprintf("/status/%d?delay=30ms", code)))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != code {
			t.Errorf("status = %d, want %d", resp.StatusCode, code)
		}
		if code != 204 && !strings.HasPrefix(body, fmt.Sprint(code)) {
			t.Errorf("body = %q", body)
		}
		// A lower bound only: the server must really wait.
		if d := time.Since(begin); d < 30*time.Millisecond {
			t.Errorf("answered after %v, before the 30ms delay", d)
		}
	}
	if got := s.Count("/status/404"); got != 1 {
		t.Errorf("Count(/status/404) = %d, want 1", got)
	}
	if st := s.Stats(); st.Requests != 5 || st.Connections != 1 {
		t.Errorf("Stats = %+v, want 5 requests over 1 kept-alive connection", st)
	}
}

func TestBadParameters(t *testing.T) {
	s := testserver.StartTest(t)
	c := client(t)
	for _, path := range []string{"/status/abc", "/status/200?delay=soon", "/redirect/-1", "/flaky/k?fail=x", "/slow-headers?count=-1", "/nothing-here"} {
		resp, _, err := get(t, c, "GET", s.URL(path))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 400 && resp.StatusCode != 404 {
			t.Errorf("%s: status %d, want 400 or 404", path, resp.StatusCode)
		}
	}
}

func TestOnlyMethod(t *testing.T) {
	s := testserver.StartTest(t)
	c := client(t)
	resp, _, err := get(t, c, "GET", s.URL("/only/get"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %v %v", resp, err)
	}
	resp, _, err = get(t, c, "HEAD", s.URL("/only/get"))
	if err != nil || resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
}

func TestRedirects(t *testing.T) {
	s := testserver.StartTest(t)
	c := client(t)
	resp, _, err := get(t, c, "GET", s.URL("/redirect/3"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("redirect/3: %v %v", resp, err)
	}
	if resp.Request.URL.Path != "/redirect/0" {
		t.Errorf("final path %q", resp.Request.URL.Path)
	}
	for _, p := range []string{"/redirect/3", "/redirect/2", "/redirect/1", "/redirect/0"} {
		if s.Count(p) != 1 {
			t.Errorf("Count(%s) = %d", p, s.Count(p))
		}
	}
	_, _, err = get(t, c, "GET", s.URL("/loop"))
	if err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Fatalf("loop: err = %v, want too many redirects", err)
	}
	if got := s.Count("/loop"); got != 10 {
		t.Errorf("Count(/loop) = %d, want 10 (the client's limit)", got)
	}
}

func TestFlaky(t *testing.T) {
	s := testserver.StartTest(t)
	c := client(t)
	want := []struct {
		status int
		after  string
	}{{503, "2"}, {503, "2"}, {200, ""}, {200, ""}}
	for i, w := range want {
		resp, _, err := get(t, c, "GET", s.URL("/flaky/a?fail=2&status=503&retry-after=2"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != w.status || resp.Header.Get("Retry-After") != w.after {
			t.Errorf("call %d: %d Retry-After %q, want %d %q", i, resp.StatusCode, resp.Header.Get("Retry-After"), w.status, w.after)
		}
	}
	// Keys are counted apart; the defaults are one 429 with Retry-After: 0.
	resp, _, err := get(t, c, "GET", s.URL("/flaky/b"))
	if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "0" {
		t.Fatalf("flaky/b: %v %v", resp, err)
	}
	resp, _, err = get(t, c, "GET", s.URL("/flaky/c?retry-after=none"))
	if err != nil || resp.StatusCode != 429 || resp.Header["Retry-After"] != nil {
		t.Fatalf("flaky/c: %v %v", resp, err)
	}
}

func TestResetAndClose(t *testing.T) {
	s := testserver.StartTest(t)
	c := client(t)
	_, _, err := get(t, c, "GET", s.URL("/reset"))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("reset: err = %v, want ECONNRESET", err)
	}
	_, _, err = get(t, c, "GET", s.URL("/close"))
	if !errors.Is(err, io.EOF) {
		t.Errorf("close: err = %v, want EOF", err)
	}
}

func TestHangEndsWithClient(t *testing.T) {
	s := testserver.StartTest(t)
	c := client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL("/hang"), nil)
	_, err := c.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

// waitInFlight polls until the server handles n requests at once.
func waitInFlight(t *testing.T, s *testserver.Server, n int64) {
	t.Helper()
	for s.Stats().InFlight != n {
		select {
		case <-t.Context().Done():
			t.Fatal("test ended while waiting")
		case <-time.After(time.Millisecond):
		}
	}
}

func TestCloseReleasesHangingHandlers(t *testing.T) {
	s, err := testserver.Start(testserver.WithPorts(3))
	if err != nil {
		t.Fatal(err)
	}
	c := client(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for _, base := range s.BaseURLs() {
		for _, path := range []string{"/hang", "/slow-headers?interval=1h&count=1"} {
			wg.Go(func() {
				_, _, err := get(t, c, "GET", base+path)
				errs <- err
			})
		}
	}
	waitInFlight(t, s, 6)
	s.Close() // must return: every handler ends
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil {
			t.Error("a request to a closed server succeeded")
		}
	}
	st := s.Stats()
	if st.MaxInFlight != 6 || st.InFlight != 0 || st.Requests != 6 {
		t.Errorf("Stats = %+v, want 6 requests, 6 at most at once, none left", st)
	}
	s.Close() // a second Close is harmless
}

func TestPortsAreDistinct(t *testing.T) {
	s := testserver.StartTest(t, testserver.WithPorts(4))
	c := client(t)
	seen := map[string]bool{}
	for _, base := range s.BaseURLs() {
		seen[base] = true
		resp, _, err := get(t, c, "GET", base+"/status/200")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", base, resp, err)
		}
	}
	if len(seen) != 4 {
		t.Errorf("BaseURLs = %v, want 4 distinct", s.BaseURLs())
	}
	if st := s.Stats(); st.Requests != 4 || st.Connections != 4 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestStreamIsEndless(t *testing.T) {
	s := testserver.StartTest(t)
	c := client(t)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL("/stream"), nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<20))
	resp.Body.Close()
	if err != nil || n != 4<<20 {
		t.Fatalf("read %d bytes, err %v; want 4 MiB", n, err)
	}
}

func TestSlowHeaders(t *testing.T) {
	s := testserver.StartTest(t)
	c := client(t)
	begin := time.Now()
	resp, body, err := get(t, c, "GET", s.URL("/slow-headers?interval=10ms&count=5"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("X-Slow-4") != "4" || body != "ok\n" {
		t.Errorf("got %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if d := time.Since(begin); d < 50*time.Millisecond {
		t.Errorf("headers took %v, less than 5 x 10ms", d)
	}
	// A client that gives up on the headers gets a timeout, not a hang.
	tr := &http.Transport{ResponseHeaderTimeout: 30 * time.Millisecond}
	defer tr.CloseIdleConnections()
	_, _, err = get(t, &http.Client{Transport: tr}, "GET", s.URL("/slow-headers?interval=20ms&count=10"))
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("err = %v, want a header timeout", err)
	}
}

func TestTLS(t *testing.T) {
	s := testserver.StartTest(t, testserver.WithTLS())
	if !strings.HasPrefix(s.URL("/"), "https://127.0.0.1:") {
		t.Fatalf("URL = %s", s.URL("/"))
	}
	_, _, err := get(t, client(t), "GET", s.URL("/status/200"))
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("untrusted client: err = %v, want x509.UnknownAuthorityError", err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}}
	defer tr.CloseIdleConnections()
	resp, _, err := get(t, &http.Client{Transport: tr}, "GET", s.URL("/status/200"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("trusting client: %v %v", resp, err)
	}
	if testserver.StartTest(t).CertPool() != nil {
		t.Error("a plain server has a CertPool")
	}
}

// TestPeakOpen checks the counts of open connections: the peak of a period
// is the most open at once in it, whatever was accepted over it, and a new
// period starts from the connections open then.
func TestPeakOpen(t *testing.T) {
	s := testserver.StartTest(t)
	u, err := url.Parse(s.URL("/"))
	if err != nil {
		t.Fatal(err)
	}
	// dial opens a connection and has one request answered on it, so the
	// server has surely accepted it.
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, "GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return c
	}
	// openNow waits for the server to count n connections open.
	openNow := func(n int64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); s.Stats().Open != n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("open: %d, want %d", s.Stats().Open, n)
			}
		}
	}

	a, b, _ := dial(), dial(), dial()
	a.Close()
	b.Close()
	openNow(1)
	dial()
	openNow(2)
	// Four accepted, at most three open at once.
	if got := s.TakePeakOpen(); got != 3 {
		t.Errorf("first period's peak: %d, want 3", got)
	}
	if st := s.Stats(); st.Connections != 4 || st.MaxOpen != 3 {
		t.Errorf("stats: %d accepted, at most %d open; want 4 and 3", st.Connections, st.MaxOpen)
	}
	// The next period starts with the two still open.
	if got := s.TakePeakOpen(); got != 2 {
		t.Errorf("second period's peak: %d, want the 2 open when it began", got)
	}
}
