package httpcheck

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// A check sends its requests on the Transport and follows redirects itself,
// the way net/http's Client does for a GET or HEAD without a body, a cookie
// jar or a client timeout (the only requests a Checker makes). The Client's
// own frames (do, send) sit under every request for as long as it is in
// flight and take about 1.2 KB of stack: with them a check's goroutine
// outgrows 4 KB and runs on 8 KB, 4 MB more at a thousand checks in
// flight. The Client also copies the request's header map for every request;
// here each hop reads the Checker's header, which nothing writes.
//
// TestFollowMatchesClient runs the same requests through both and compares
// what the server saw and what came back. The one difference: a host name
// that is not ASCII is compared as written, where the Client compares its
// IDNA form, so a redirect between two spellings of one such host drops
// credentials the Client would keep.

// newRequest returns the first request of an attempt. The value is built
// here, not in the caller, so that it takes no room on the stack while the
// request is in flight; WithContext's copy is its one allocation. Host
// stays empty (the URL's) unless Config.Header overrides it.
//
// Not inlined: the value would take its 250 bytes in the caller's frame.
//
//go:noinline
func (c *Checker) newRequest(ctx context.Context, u *url.URL) *http.Request {
	base := http.Request{
		Method:     c.cfg.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     c.header,
		Host:       c.host,
	}
	return base.WithContext(ctx)
}

// hops is what following one request's redirects has to remember.
type hops struct {
	first *http.Request // the attempt's request, whose header each hop copies
	sent  int           // requests sent so far
	at    *url.URL      // the URL of the last request sent
	// answered: a response came, whether or not the attempt ends with
	// one (a redirect to a Location that cannot be followed does not).
	answered bool
	// strip: a hop left the first request's host for one that is not the
	// same or a subdomain, so credentials are no longer sent (and never
	// again, even when a later hop comes back).
	strip bool
	// noBody: a 301, 302 or 303 came, after which the headers that
	// describe a body are dropped.
	noBody bool
	// conns follows the connections of the hops sent on the Transport.
	conns attemptConns
}

// attemptConns makes the requestConns of an attempt when its first
// request goes to the Transport: the lean path tells the pool itself
// which connections are idle.
type attemptConns struct {
	pool *connPool
	ctx  context.Context // carries rc and its client trace
	rc   *requestConns
}

// context returns ctx as a hop on the Transport must carry it.
func (a *attemptConns) context(ctx context.Context) context.Context {
	if a.rc == nil {
		a.ctx, a.rc = a.pool.withRequestConns(ctx)
	}
	return a.ctx
}

// done gives back the connections the attempt's hops on the Transport
// used: its response is closed.
func (a *attemptConns) done() {
	if a.rc != nil {
		a.rc.done()
	}
}

// do sends req and follows its redirects. Like Client.Do, it returns the
// final response, or the last redirect's along with the error of a
// redirect refused by Config.MaxRedirects; errors are *url.Error.
func (c *Checker) do(h *hops, req *http.Request) (*http.Response, error) {
	h.first = req
	for {
		h.sent++
		h.at = req.URL
		resp, err := c.send(h, req)
		if err != nil {
			return nil, h.urlError(req.URL, err)
		}
		h.answered = true
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
			h.noBody = true
		case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return resp, nil
		}
		next, final, err := c.redirect(h, req, resp)
		if next == nil {
			return final, err
		}
		req = next
	}
}

// send sends one request, with the Basic credentials of its URL unless it
// has an Authorization header, as Client.send does.
func (c *Checker) send(h *hops, req *http.Request) (*http.Response, error) {
	if req.URL.User != nil && req.Header.Get("Authorization") == "" {
		req = withBasicAuth(req)
	}
	resp, err := c.roundTrip(h, req)
	if err != nil {
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/" {
			err = http.ErrSchemeMismatch
		}
		return nil, err
	}
	return resp, nil
}

// roundTrip sends req on the lean HTTP/1.1 path when it can (see
// h1Transport), else on the Transport.
func (c *Checker) roundTrip(h *hops, req *http.Request) (*http.Response, error) {
	if c.h1 != nil && req.URL.Scheme == "http" {
		if proxy, err := c.transport.Proxy(req); proxy == nil && err == nil {
			resp, err := c.h1.RoundTrip(req)
			if err != errH1Fallback {
				return resp, err
			}
		}
	}
	return c.transport.RoundTrip(req.WithContext(h.conns.context(req.Context())))
}

// withBasicAuth returns a copy of req that carries its URL's user and
// password as an Authorization header.
func withBasicAuth(req *http.Request) *http.Request {
	r := new(http.Request)
	*r = *req
	r.Header = req.Header.Clone() // a Checker's requests always have one
	password, _ := req.URL.User.Password()
	auth := req.URL.User.Username() + ":" + password
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
	return r
}

// redirect returns the request that follows resp, a redirect answering
// req, or the attempt's final response and error when the redirect is not
// followed:
//   - resp has no Location: resp, as the Client returns it;
//   - its Location is not a URL: no response (resp is closed) and the error;
//   - Config.NoFollow: resp, open, and no error;
//   - one redirect more than Config.MaxRedirects: resp, closed, and the
//     error.
//
// A followed redirect's body is read a little and closed, so that its
// connection is reused.
func (c *Checker) redirect(h *hops, req *http.Request, resp *http.Response) (next *http.Request, final *http.Response, err error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, resp, nil
	}
	u, err := req.URL.Parse(loc)
	if err == nil && !validPort(u.Port()) {
		err = fmt.Errorf("port %s is not from 1 to 65535", u.Port())
	}
	if err != nil {
		resp.Body.Close()
		return nil, nil, h.urlError(req.URL, fmt.Errorf("failed to parse Location header %q: %v", loc, err))
	}
	if c.cfg.NoFollow {
		return nil, resp, nil
	}
	// Like the Client, read up to 2 KB of a short body, so that its
	// connection is reused, and close it.
	if resp.ContentLength == -1 || resp.ContentLength <= 2<<10 {
		discard(resp.Body, 2<<10)
	}
	resp.Body.Close()
	if h.sent > c.cfg.MaxRedirects {
		ue := h.urlError(req.URL, fmt.Errorf("%w: more than %d", ErrTooManyRedirects, c.cfg.MaxRedirects))
		ue.URL = loc
		return nil, resp, ue
	}
	host := ""
	if req.Host != "" && req.Host != req.URL.Host {
		// A Host header set by the caller stays through a relative
		// redirect, as with the Client (Go issue 22233).
		if rel, _ := url.Parse(loc); rel != nil && !rel.IsAbs() {
			host = req.Host
		}
	}
	if !h.strip && h.first.URL.Host != u.Host && !domainOrSubdomain(u.Hostname(), h.first.URL.Hostname()) {
		h.strip = true
	}
	header := make(http.Header, len(h.first.Header)+1)
	for k, vv := range h.first.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization", "Proxy-Authenticate":
			if h.strip {
				continue
			}
		case "Content-Encoding", "Content-Language", "Content-Location", "Content-Type":
			if h.noBody {
				continue
			}
		}
		header[k] = vv
	}
	if ref := referer(req.URL, u, header.Get("Referer")); ref != "" {
		header.Set("Referer", ref)
	}
	base := http.Request{Method: req.Method, Response: resp, URL: u, Header: header, Host: host}
	return base.WithContext(req.Context()), nil, nil
}

// urlError wraps err as the Client does: Op is the method ("Get"), URL the
// request's without its password.
func (h *hops) urlError(u *url.URL, err error) *url.Error {
	m := h.first.Method
	op := m[:1] + strings.ToLower(m[1:])
	s := u.String()
	if _, ok := u.User.Password(); ok {
		s = strings.Replace(s, u.User.String()+"@", u.User.Username()+":***@", 1)
	}
	return &url.Error{Op: op, URL: s, Err: err}
}

// domainOrSubdomain reports whether sub is parent or a subdomain of it: a
// redirect there keeps credentials, as with the Client.
func domainOrSubdomain(sub, parent string) bool {
	if sub == parent {
		return true
	}
	// An IPv6 address (and its zone) is no host name.
	if strings.ContainsAny(sub, ":%") {
		return false
	}
	return strings.HasSuffix(sub, parent) && len(sub) > len(parent) && sub[len(sub)-len(parent)-1] == '.'
}

// referer returns the Referer of a redirect from last to next: the one the
// caller set, else last's URL without its user, and none from https to
// http.
func referer(last, next *url.URL, explicit string) string {
	if last.Scheme == "https" && next.Scheme == "http" {
		return ""
	}
	if explicit != "" {
		return explicit
	}
	ref := last.String()
	if last.User != nil {
		ref = strings.Replace(ref, last.User.String()+"@", "", 1)
	}
	return ref
}
