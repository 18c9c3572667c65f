package httpcheck

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzAppendRequest checks that whatever request appendRequest agrees to
// write reads back, as a server reads it, the same as net/http's own
// Request.Write of it: method, target, Host and header. A header name or
// value that could split the request or add a line must make it refuse.
func FuzzAppendRequest(f *testing.F) {
	for _, u := range plainURLs {
		f.Add(u, "", "X-Note", "a b", "HEAD")
	}
	f.Add("http://h/", "other.test", "User-Agent", "", "GET")
	f.Add("http://h/", "", "X-A", "a\r\nX-B: injected", "GET")
	f.Add("http://h/", "", "X A", "v", "GET")
	f.Add("http://h/", "", "X-A", " padded\t", "GET")
	f.Add("http://h/", "", "X-A", "tab\there", "GET")
	f.Add("http://h/", "", "Host", "evil.test", "GET")
	f.Add("http://h/", "h\r\nX: y", "X-A", "v", "GET")
	f.Add("http://h:8080/p?q=1", "", "x-lower", "v", "GET")
	f.Fuzz(func(t *testing.T, raw, host, name, value, method string) {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return
		}
		if method != http.MethodGet && method != http.MethodHead {
			return
		}
		header := http.Header{name: {value}, "Accept": {"*/*"}}
		req := &http.Request{Method: method, URL: u, Host: host, Header: header, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		b, ok := appendRequest(nil, req)
		if !ok {
			return
		}
		ours, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("appendRequest wrote a request a server cannot read (%v):\n%q", err, b)
		}
		var std bytes.Buffer
		if err := req.Write(&std); err != nil {
			t.Fatalf("appendRequest wrote what net/http refuses (%v):\n%q", err, b)
		}
		theirs, err := http.ReadRequest(bufio.NewReader(&std))
		if err != nil {
			t.Fatalf("net/http's own request does not read back: %v", err)
		}
		type seen struct {
			Method, RequestURI, Host string
			Header                   http.Header
			Rest                     int
		}
		view := func(r *http.Request, rest int) seen {
			return seen{r.Method, r.RequestURI, r.Host, r.Header, rest}
		}
		if diff := cmp.Diff(view(theirs, 0), view(ours, len(b)-consumed(b))); diff != "" {
			t.Errorf("appendRequest and Request.Write differ (-net/http +ours):\n%s\nours: %q", diff, b)
		}
	})
}

// consumed is how many bytes of b the first request in it takes: all of
// them when appendRequest wrote one request and nothing after it.
func consumed(b []byte) int {
	br := bufio.NewReader(bytes.NewReader(b))
	if _, err := http.ReadRequest(br); err != nil {
		return 0
	}
	return len(b) - br.Buffered()
}
