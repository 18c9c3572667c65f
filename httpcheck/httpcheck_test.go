package httpcheck_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fanout-go/fanout/httpcheck"
	"github.com/fanout-go/fanout/internal/testserver"
)

func TestStatusesInInputOrder(t *testing.T) {
	s := testserver.StartTest(t)
	c, e := newChecker(t, httpcheck.Config{}, 8)
	codes := []int{200, 404, 500, 201, 418, 503, 301}
	var urls []string
	for i, code := range codes {
		// Earlier URLs answer later, so completion order is not input order.
		urls = append(urls, s.URL(fmt.Sprintf("/status/%d?delay=%dms", code, (len(codes)-i)*10)))
	}
	got := checkAll(t.Context(), c, e, urls...)
	if len(got) != len(codes) {
		t.Fatalf("%d results, want %d", len(got), len(codes))
	}
	for i, r := range got {
		if r.Index != i || r.URL != urls[i] || r.Status != codes[i] || r.Err != nil || r.Attempts != 1 {
			t.Errorf("result %d = %+v, want index %d, status %d, no error, 1 attempt", i, r, i, codes[i])
		}
		if r.FinalURL != urls[i] || r.Redirects != 0 || r.DurationMS <= 0 {
			t.Errorf("result %d: final %q redirects %d duration %v", i, r.FinalURL, r.Redirects, r.DurationMS)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	s := testserver.StartTest(t)
	tlsServer := testserver.StartTest(t, testserver.WithTLS())
	tests := []struct {
		url, kind string
		status    int
		timeout   time.Duration // only for the timeout cases: a TLS handshake under -race on a busy machine may be slow
	}{
		{"not a url", "invalid_url", 0, 0},
		{"ftp://example.com/file", "invalid_url", 0, 0},
		{"http://", "invalid_url", 0, 0},
		{"http://[::1/", "invalid_url", 0, 0},
		{"http://no-such-host.invalid/", "dns", 0, 0},
		{closedPortURL(t), "connect", 0, 0},
		{s.URL("/reset"), "reset", 0, 0},
		{s.URL("/close"), "reset", 0, 0},
		{tlsServer.URL("/status/200"), "tls", 0, 0},
		{s.URL("/hang"), "timeout", 0, 200 * time.Millisecond},
		{s.URL("/slow-headers?interval=50ms&count=40"), "timeout", 0, 200 * time.Millisecond},
		{s.URL("/loop"), "too_many_redirects", 302, 0},
		{s.URL("/status/500"), "ok", 500, 0},
		{s.URL("/stream"), "ok", 200, 0},
		// Without a scheme, http:// as curl assumes; a scheme missing its
		// colon is a mistake, not a host named http.
		{strings.TrimPrefix(s.URL("/status/204"), "http://"), "ok", 204, 0},
		{"http//missing-colon.example.com/", "invalid_url", 0, 0},
		{"https:/one-slash.example.com/", "invalid_url", 0, 0},
		// A port no TCP connection can have is the URL's mistake, not a
		// connection error to retry.
		{"http://127.0.0.1:99999/", "invalid_url", 0, 0},
		{"http://127.0.0.1:0/", "invalid_url", 0, 0},
		{"127.0.0.1:65536/x", "invalid_url", 0, 0},
	}
	for _, timeout := range []time.Duration{0, 200 * time.Millisecond} {
		c, e := newChecker(t, httpcheck.Config{Timeout: timeout, Resolver: fakeDNS(t)}, 16)
		var urls []string
		var cases []int
		for i, tt := range tests {
			if tt.timeout == timeout {
				urls = append(urls, tt.url)
				cases = append(cases, i)
			}
		}
		for i, r := range checkAll(t.Context(), c, e, urls...) {
			tt := tests[cases[i]]
			if kindOf(r) != tt.kind || r.Status != tt.status {
				t.Errorf("%s: kind %s status %d (error %q), want %s %d", tt.url, kindOf(r), r.Status, r.Error, tt.kind, tt.status)
			}
			if r.Err != nil && (r.Error == "" || strings.Contains(r.Error, `"`+tt.url+`"`)) {
				t.Errorf("%s: error text %q: want it readable, without the quoted URL", tt.url, r.Error)
			}
			wantAttempts := 1
			if tt.kind == "invalid_url" {
				wantAttempts = 0
			}
			if r.Attempts != wantAttempts {
				t.Errorf("%s: %d attempts, want %d", tt.url, r.Attempts, wantAttempts)
			}
		}
	}
}

func TestInputErrorIsInvalidURL(t *testing.T) {
	c, e := newChecker(t, httpcheck.Config{}, 2)
	in := func(yield func(httpcheck.Input) bool) {
		yield(httpcheck.Input{URL: "http://example.com/\ufffd", Err: errTest})
	}
	var got []httpcheck.Result
	for r := range c.CheckAll(t.Context(), e, in) {
		got = append(got, r)
	}
	if len(got) != 1 || got[0].ErrorKind != httpcheck.KindInvalidURL || !errors.Is(got[0].Err, errTest) || got[0].Attempts != 0 {
		t.Fatalf("got %+v, want one invalid_url record wrapping the input error", got)
	}
}

func TestRedirects(t *testing.T) {
	s := testserver.StartTest(t)
	tests := []struct {
		name      string
		cfg       httpcheck.Config
		path      string
		status    int
		redirects int
		final     string
		kind      string
	}{
		{"follow", httpcheck.Config{}, "/redirect/3", 200, 3, "/redirect/0", "ok"},
		{"no-follow", httpcheck.Config{NoFollow: true}, "/redirect/3", 302, 0, "/redirect/3", "ok"},
		{"at the limit", httpcheck.Config{MaxRedirects: 3}, "/redirect/3", 200, 3, "/redirect/0", "ok"},
		{"past the limit", httpcheck.Config{MaxRedirects: 2}, "/redirect/3", 302, 2, "/redirect/1", "too_many_redirects"},
		{"loop", httpcheck.Config{MaxRedirects: 4}, "/loop", 302, 4, "/loop", "too_many_redirects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, e := newChecker(t, tt.cfg, 1)
			r := c.Check(t.Context(), e, s.URL(tt.path))
			if r.Status != tt.status || r.Redirects != tt.redirects || r.FinalURL != s.URL(tt.final) || kindOf(r) != tt.kind {
				t.Errorf("got status %d redirects %d final %s kind %s, want %d %d %s %s",
					r.Status, r.Redirects, r.FinalURL, kindOf(r), tt.status, tt.redirects, s.URL(tt.final), tt.kind)
			}
		})
	}
}

func TestHeadVersusGet(t *testing.T) {
	s := testserver.StartTest(t)
	for method, want := range map[string]int{"GET": 200, "HEAD": 405, "head": 405, "": 200} {
		c, e := newChecker(t, httpcheck.Config{Method: method}, 1)
		if r := c.Check(t.Context(), e, s.URL("/only/get")); r.Status != want || r.Err != nil {
			t.Errorf("method %q: %+v, want status %d", method, r, want)
		}
	}
	if _, err := httpcheck.New(httpcheck.Config{Method: "POST"}); err == nil {
		t.Error("New accepted method POST")
	}
}

func TestHeadersSent(t *testing.T) {
	seen := make(chan http.Header, 1)
	hosts := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		hosts <- r.Host
	}))
	defer srv.Close()
	h := http.Header{}
	h.Set("X-Token", "abc")
	h.Set("Host", "example.com")
	c, e := newChecker(t, httpcheck.Config{Header: h}, 1)
	if r := c.Check(t.Context(), e, srv.URL); r.Status != 200 {
		t.Fatalf("%+v", r)
	}
	got := <-seen
	if got.Get("X-Token") != "abc" || got.Get("User-Agent") != "fanout" || <-hosts != "example.com" {
		t.Errorf("server saw %v", got)
	}
}

func TestRetries(t *testing.T) {
	s := testserver.StartTest(t)
	closed := closedPortURL(t)
	tests := []struct {
		name     string
		retries  int
		path     string
		status   int
		attempts int
		kind     string
	}{
		{"503 then ok", 2, "/flaky/a?fail=2&status=503", 200, 3, "ok"},
		{"429 then ok", 2, "/flaky/b?fail=1&status=429&retry-after=none", 200, 2, "ok"},
		{"retries run out", 1, "/flaky/c?fail=5&status=503", 503, 2, "ok"},
		{"no retries", 0, "/flaky/d?fail=1&status=429", 429, 1, "ok"},
		{"404 is final", 3, "/status/404", 404, 1, "ok"},
		{"reset is not retried", 3, "/reset", 0, 1, "reset"},
		{"connect is retried", 2, "", 0, 3, "connect"},
		{"timeout is retried", 1, "/hang", 0, 2, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := 10 * time.Second
			if tt.kind == "timeout" {
				timeout = 100 * time.Millisecond
			}
			c, e := newChecker(t, httpcheck.Config{Retries: tt.retries, Timeout: timeout}, 1)
			url := closed
			if tt.path != "" {
				url = s.URL(tt.path)
			}
			r := c.Check(t.Context(), e, url)
			if r.Status != tt.status || r.Attempts != tt.attempts || kindOf(r) != tt.kind {
				t.Errorf("got status %d, %d attempts, kind %s (%s); want %d, %d, %s",
					r.Status, r.Attempts, kindOf(r), r.Error, tt.status, tt.attempts, tt.kind)
			}
			if tt.path != "" && tt.kind == "ok" {
				if n := s.Count(strings.SplitN(tt.path, "?", 2)[0]); n != int64(tt.attempts) {
					t.Errorf("server saw %d requests, want %d", n, tt.attempts)
				}
			}
		})
	}
}

func TestRetryAfterIsHonouredAndCapped(t *testing.T) {
	s := testserver.StartTest(t)
	c, e := newChecker(t, httpcheck.Config{Retries: 1}, 1)
	r := c.Check(t.Context(), e, s.URL("/flaky/slow?fail=1&retry-after=1"))
	if r.Status != 200 || r.Attempts != 2 {
		t.Fatalf("%+v", r)
	}
	// A lower bound only: the retry must wait for the server's hint.
	if r.Duration < time.Second {
		t.Errorf("retried after %v, before Retry-After: 1", r.Duration)
	}

	// A hint of an hour is capped by MaxRetryAfter; the context only keeps a
	// broken cap from hanging the test.
	c, e = newChecker(t, httpcheck.Config{Retries: 1, MaxRetryAfter: 50 * time.Millisecond}, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r = c.Check(ctx, e, s.URL("/flaky/capped?fail=1&retry-after=3600"))
	if r.Status != 200 || r.Attempts != 2 || r.Err != nil {
		t.Fatalf("%+v, want 200 after 2 attempts", r)
	}
}

func TestCanceledCheck(t *testing.T) {
	s := testserver.StartTest(t)
	c, e := newChecker(t, httpcheck.Config{}, 1)
	// Any cause reads as canceled: net/http may return the cause itself.
	ctx, cancel := context.WithCancelCause(t.Context())
	go func() {
		for s.Stats().InFlight == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel(errTest)
	}()
	r := c.Check(ctx, e, s.URL("/hang"))
	if r.ErrorKind != httpcheck.KindCanceled || r.Status != 0 {
		t.Fatalf("%+v, want canceled", r)
	}
}

func TestConnectionsAreReused(t *testing.T) {
	s := testserver.StartTest(t)
	c, e := newChecker(t, httpcheck.Config{Concurrency: 4}, 4)
	var urls []string
	for i := range 100 {
		urls = append(urls, s.URL(fmt.Sprintf("/status/200?i=%d", i)))
	}
	for _, r := range checkAll(t.Context(), c, e, urls...) {
		if r.Status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	// A connection goes back to the pool just after its response ends, so
	// a request may now and then open one more; without reuse there would
	// be 100.
	if st := s.Stats(); st.Connections > 12 {
		t.Errorf("%d connections for 100 requests at concurrency 4: connections are not reused", st.Connections)
	}
}

func TestPerHostLimit(t *testing.T) {
	a := testserver.StartTest(t)
	b := testserver.StartTest(t)
	c, e := newChecker(t, httpcheck.Config{PerHost: 2}, 16)
	var urls []string
	for range 8 {
		urls = append(urls, a.URL("/status/200?delay=20ms"), b.URL("/status/200?delay=20ms"))
	}
	for _, r := range checkAll(t.Context(), c, e, urls...) {
		if r.Status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	for name, s := range map[string]*testserver.Server{"a": a, "b": b} {
		if m := s.Stats().MaxInFlight; m > 2 {
			t.Errorf("server %s saw %d requests at once, want at most 2", name, m)
		}
	}
}

func TestTLSVerification(t *testing.T) {
	s := testserver.StartTest(t, testserver.WithTLS())
	for _, tt := range []struct {
		name string
		cfg  httpcheck.Config
		kind string
	}{
		{"verified and untrusted", httpcheck.Config{}, "tls"},
		{"insecure", httpcheck.Config{Insecure: true}, "ok"},
		{"trusted root", httpcheck.Config{RootCAs: s.CertPool()}, "ok"},
	} {
		c, e := newChecker(t, tt.cfg, 1)
		if r := c.Check(t.Context(), e, s.URL("/status/204")); kindOf(r) != tt.kind {
			t.Errorf("%s: %+v, want %s", tt.name, r, tt.kind)
		}
	}
}

// TestFinalURLAsPrinted checks that a result's final URL is the URL as
// url.URL prints it, whether the check kept the input's text (plain URLs)
// or printed the parsed URL (the rest).
func TestFinalURLAsPrinted(t *testing.T) {
	s := testserver.StartTest(t)
	base := s.URL("/status/200")
	urls := []string{
		base + "?i=1&j=2",
		strings.TrimPrefix(base, "http://") + "?i=3",
		"HTTP://" + strings.TrimPrefix(base, "http://") + "?i=4",
		base + "?q=a b", // the server answers 400
		base + "?q=a%20b&r=a+b",
		base + "?q=é",
		base + "?i=5#fragment",
		base + "?",
	}
	c, e := newChecker(t, httpcheck.Config{}, 4)
	for i, r := range checkAll(t.Context(), c, e, urls...) {
		raw := urls[i]
		if !strings.Contains(raw, "://") {
			raw = "http://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if r.Err != nil || r.FinalURL != u.String() {
			t.Errorf("%q: error %v, final URL %q, want %q", urls[i], r.Err, r.FinalURL, u.String())
		}
	}
}
