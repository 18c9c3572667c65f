package httpcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// seen is what the server saw of one request.
type seen struct {
	Method, Host, URI, Proto      string
	Auth, ProxyAuth, Cookie, Ref  string
	ContentType, Custom, Language string
}

// recorder is a server that logs every request and answers by its path:
// /hop?status=S&to=L answers S with Location L (no Location when to is
// absent), /big?to=L a 302 with a 3 KB body, anything else 200.
type recorder struct {
	mu  sync.Mutex
	log []seen
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.log = append(rec.log, seen{
		Method: r.Method, Host: r.Host, URI: r.RequestURI, Proto: r.Proto,
		Auth: r.Header.Get("Authorization"), ProxyAuth: r.Header.Get("Proxy-Authorization"),
		Cookie: r.Header.Get("Cookie"), Ref: r.Header.Get("Referer"),
		ContentType: r.Header.Get("Content-Type"), Custom: r.Header.Get("X-Custom"),
		Language: r.Header.Get("Content-Language"),
	})
	rec.mu.Unlock()
	q := r.URL.Query()
	switch r.URL.Path {
	case "/hop":
		if to, ok := q["to"]; ok {
			w.Header().Set("Location", to[0])
		}
		var status int
		fmt.Sscan(q.Get("status"), &status)
		w.WriteHeader(status)
		io.WriteString(w, "moved")
	case "/big":
		w.Header().Set("Location", q.Get("to"))
		w.WriteHeader(http.StatusFound)
		io.WriteString(w, strings.Repeat("x", 3<<10))
	default:
		io.WriteString(w, "ok")
	}
}

func (rec *recorder) take() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	log := rec.log
	rec.log = nil
	return log
}

// outcome is what a request and its redirects came to.
type outcome struct {
	Status    int
	Final     string
	Redirects int
	Err       string
	Op, URL   string // of the *url.Error
	Kind      ErrorKind
	Seen      []seen
	Dials     int // connections opened: a redirect's short body is read so that its connection is reused
}

// TestFollowMatchesClient sends the same requests through a Checker's own
// redirect handling and through net/http's Client (with the CheckRedirect
// the Checker used to give it), and compares what the server saw and what
// came back: methods, Host, credentials kept or dropped across hosts,
// Referer, body headers, Basic credentials from the URL, the errors' text
// and the final response.
func TestFollowMatchesClient(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	tlsSrv := httptest.NewUnstartedServer(rec)
	tlsSrv.EnableHTTP2 = true // a Checker's transport asks for HTTP/2 over TLS
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	_, tlsPort, _ := net.SplitHostPort(tlsSrv.Listener.Addr().String())
	closed := closedPort(t)

	// Every host name below is dialed on loopback: the plain server's port,
	// the TLS server's, or a port nothing listens on.
	var dials atomic.Int32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", p))
	}
	at := func(host, path string) string { return "http://" + host + ":" + port + path }
	hop := func(status int, to string) string {
		return fmt.Sprintf("/hop?status=%d&to=%s", status, url.QueryEscape(to))
	}
	via := func(host string, status int, to string) string { return at(host, hop(status, to)) }

	tests := []struct {
		name   string
		method string
		url    string
		header http.Header
		cfg    Config
	}{
		{name: "relative chain", url: via("a.test", 302, hop(301, hop(303, "/ok")))},
		{name: "HEAD through 303 and 307", method: http.MethodHead, url: via("a.test", 303, hop(307, "/ok"))},
		{name: "credentials dropped off host, stay dropped back on it",
			url:    via("a.test", 302, via("b.test", 302, at("a.test", "/ok"))),
			header: http.Header{"Authorization": {"Bearer t"}, "Cookie": {"c=1"}, "Proxy-Authorization": {"p"}, "X-Custom": {"kept"}}},
		{name: "credentials kept on a subdomain",
			url:    via("a.test", 301, at("sub.a.test", "/ok")),
			header: http.Header{"Authorization": {"Bearer t"}, "Cookie": {"c=1"}}},
		{name: "credentials dropped for a parent domain",
			url:    via("sub.a.test", 301, at("a.test", "/ok")),
			header: http.Header{"Authorization": {"Bearer t"}}},
		{name: "credentials kept for another port of the host", url: via("a.test", 302, "http://a.test:"+tlsPort+"/ok"),
			header: http.Header{"Authorization": {"Bearer t"}}},
		{name: "basic credentials from the URL", url: "http://u:secret@a.test:" + port + hop(302, "/ok")},
		{name: "basic credentials from the URL, redirected to another user",
			url: "http://u:secret@a.test:" + port + hop(302, "http://v:other@a.test:"+port+"/ok")},
		{name: "an Authorization header wins over the URL's user",
			url: "http://u:secret@a.test:" + port + hop(302, "/ok"), header: http.Header{"Authorization": {"Bearer t"}}},
		{name: "Host header kept through a relative redirect",
			url: via("a.test", 302, hop(302, at("c.test", "/ok"))), header: http.Header{"Host": {"virtual.test"}}},
		{name: "body headers kept through 307 and 308, dropped after 302",
			url:    via("a.test", 307, hop(308, hop(302, "/ok"))),
			header: http.Header{"Content-Type": {"text/plain"}, "Content-Language": {"en"}}},
		{name: "explicit Referer kept", url: via("a.test", 302, "/ok"), header: http.Header{"Referer": {"http://from.test/"}}},
		{name: "no Referer from https to http", url: "https://a.test:" + tlsPort + hop(302, at("a.test", "/ok"))},
		{name: "Referer from https to https", url: "https://a.test:" + tlsPort + hop(302, "/ok")},
		{name: "HTTP/2, credentials dropped off host", url: "https://a.test:" + tlsPort + hop(307, "https://b.test:"+tlsPort+"/ok"),
			header: http.Header{"Authorization": {"Bearer t"}, "Content-Type": {"text/plain"}}},
		{name: "3xx without Location", url: at("a.test", "/hop?status=302")},
		{name: "300 and 304 are answers", url: via("a.test", 300, "/ok")},
		{name: "malformed Location", url: via("a.test", 302, "http://[::1")},
		{name: "Location with a bad escape", url: via("a.test", 302, "/%zz")},
		{name: "too many redirects", url: at("a.test", "/hop?status=302&to=%2Fhop%3Fstatus%3D302%26to%3D%252Fhop%253Fstatus%253D302%2526to%253D%25252Fok"), cfg: Config{MaxRedirects: 1}},
		{name: "too many redirects, password hidden", url: "http://u:secret@a.test:" + port + hop(302, hop(302, "/ok")), cfg: Config{MaxRedirects: 1}},
		{name: "at the limit", url: via("a.test", 302, hop(302, "/ok")), cfg: Config{MaxRedirects: 2}},
		{name: "no follow", url: via("a.test", 302, "/ok"), cfg: Config{NoFollow: true}},
		{name: "no follow, malformed Location", url: via("a.test", 302, "http://[::1"), cfg: Config{NoFollow: true}},
		{name: "long redirect body", url: at("a.test", "/big?to=%2Fok")},
		{name: "refused after a redirect", url: via("a.test", 302, "http://a.test:"+closed+"/ok")},
		{name: "refused, password hidden", url: "http://u:secret@a.test:" + closed + "/ok"},
		{name: "plain HTTP on an https URL", url: "https://a.test:" + port + "/ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Method = tt.method
			cfg.Header = tt.header
			cfg.Insecure = true
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c = newChecker(c.cfg, dial)
			defer c.Close()
			u, _, err := parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			h := hops{conns: attemptConns{pool: c.pool}}
			resp, err := c.do(&h, c.newRequest(t.Context(), u))
			h.conns.done()
			got := settle(resp, err, rec)
			got.Dials = int(dials.Swap(0))

			client := &http.Client{
				Transport: &http.Transport{DialContext: dial, ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
				CheckRedirect: func(req *http.Request, via []*http.Request) error {
					if c.cfg.NoFollow {
						return http.ErrUseLastResponse
					}
					if len(via) > c.cfg.MaxRedirects {
						return fmt.Errorf("%w: more than %d", ErrTooManyRedirects, c.cfg.MaxRedirects)
					}
					return nil
				},
			}
			defer client.CloseIdleConnections()
			resp, err = client.Do(c.newRequest(t.Context(), u))
			want := settle(resp, err, rec)
			want.Dials = int(dials.Swap(0))

			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Checker differs from net/http's Client (-client +checker):\n%s", diff)
			}
			if len(want.Seen) == 0 && want.Err == "" {
				t.Error("the server saw nothing")
			}
			if strings.HasPrefix(tt.url, "https://a.test:"+tlsPort) && (len(got.Seen) == 0 || got.Seen[0].Proto != "HTTP/2.0") {
				t.Errorf("the TLS server saw %+v, want HTTP/2 first", got.Seen)
			}
		})
	}
}

// settle reads what a request came to and what the server saw of it.
func settle(resp *http.Response, err error, rec *recorder) outcome {
	var o outcome
	if resp != nil {
		o.Status = resp.StatusCode
		o.Final = resp.Request.URL.String()
		o.Redirects = redirects(resp)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		o.Err = err.Error()
		o.Kind = Classify(err)
		var ue *url.Error
		if errors.As(err, &ue) {
			o.Op, o.URL = ue.Op, ue.URL
		}
	}
	o.Seen = rec.take()
	return o
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return p
}
