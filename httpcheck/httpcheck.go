// Package httpcheck checks the HTTP status of many URLs at once on a
// [fanout.Executor]: the library behind `fanout http`, and the Go form of the
// article's `requests.get(url).status_code` run in an executor.
//
// A [Checker] holds one HTTP transport whose connection pool is sized for the
// concurrency: connections to a host are reused rather than opened per
// request, never more are open than Config.Concurrency (idle ones to hosts
// no longer asked for are closed to make room), and new connections to one
// host are paced so that a server with a small listen backlog is not sent
// a burst of simultaneous connects. [Checker.CheckAll] streams: it pulls
// URLs from an iterator as slots free up and yields one [Result] per URL, in
// input order (or in completion order with [Checker.CheckAllUnordered]), so
// a list of millions of URLs is never held in memory. Bodies are read only
// up to a small cap and then closed.
//
// Plain http:// requests without a proxy go over HTTP/1.1 on the checking
// goroutine itself, parsed by net/http's ReadResponse: no goroutine per
// connection, and 24-40% less CPU per check than on net/http's Transport
// in fanout http at 500 checks at once (bench/README.md). HTTPS,
// proxies and HTTP/2 go through the Transport. The lean path sends no
// Accept-Encoding, as curl does not; either way a check follows redirects
// as http.Client does.
//
// Failures are results too: a check that got no answer carries an error and
// an [ErrorKind] (dns, connect, reset, tls, timeout...). A 4xx or 5xx answer
// is a status, not an error.
//
// A URL without a scheme ("127.0.0.1:8080/health", "example.com") is checked
// as http://, as curl does.
package httpcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fanout-go/fanout"
)

// Defaults of a Config's zero fields.
const (
	DefaultMaxRedirects = 10
	DefaultConcurrency  = 64
	// BodyLimit is how much of a body a check reads (and discards) before it
	// closes the response: enough to let a short body end so the connection
	// is reused, never the whole of a large or endless one.
	BodyLimit = 64 << 10
)

// Config says how a Checker checks URLs. The zero value is valid: GET, no
// timeout, redirects followed up to DefaultMaxRedirects, TLS verified, no
// retries.
type Config struct {
	// Method is GET (the default, like requests.get) or HEAD. Some servers
	// answer HEAD differently from GET.
	Method string
	// Timeout bounds each attempt, redirects and the capped body read
	// included; 0 means no timeout.
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed (default
	// DefaultMaxRedirects); one more fails with ErrTooManyRedirects, keeping
	// the last status (such as 302).
	MaxRedirects int
	// NoFollow returns the first answer, redirect or not.
	NoFollow bool
	// Header is sent with every request. A "Host" entry sets the request's
	// host.
	Header http.Header
	// Insecure skips TLS certificate verification.
	Insecure bool
	// RootCAs, when set, replaces the system's trusted roots.
	RootCAs *x509.CertPool
	// Retries is how many times a failed check is tried again: on connect
	// errors, timeouts and the statuses 429 and 503. See RetryPolicy.
	Retries int
	// MaxRetryAfter caps how long a server's Retry-After makes a retry wait
	// (default 30s).
	MaxRetryAfter time.Duration
	// PerHost caps the requests to one host at once (0: no cap). It needs the
	// executor options of ExecutorOptions.
	PerHost int
	// Adaptive gives each host a limit that adapts between 1 and PerHost
	// (Concurrency when PerHost is 0) to the host's overload (see
	// Overloaded) and latency, and pauses a host that asks for it
	// (Retry-After, RateLimit headers). See fanout.WithKeyAdaptive.
	Adaptive bool
	// Concurrency is how many checks are expected to run at once (default
	// DefaultConcurrency). At most this many connections are open at
	// once: give the executor the same limit, or checks beyond it wait
	// for a connection.
	Concurrency int
	// Resolver looks up host names (nil: the system's). Tests use it to
	// answer DNS queries from loopback.
	Resolver *net.Resolver
	// UserAgent is sent unless Header has one (default "fanout").
	UserAgent string
}

// Checker checks URLs as its Config says. It is safe for concurrent use;
// build one per configuration and reuse it, since it owns the connection
// pool.
type Checker struct {
	cfg       Config
	transport *http.Transport
	h1        *h1Transport // plain http without a proxy; nil: all on transport
	pool      *connPool
	header    http.Header // sent with every request: read only
	host      string      // Config.Header's Host, which overrides the URL's
}

// New returns a Checker for cfg, or an error when cfg is invalid (an
// unknown method, negative counts).
func New(cfg Config) (*Checker, error) {
	cfg.Method = strings.ToUpper(cfg.Method)
	switch cfg.Method {
	case "":
		cfg.Method = http.MethodGet
	case http.MethodGet, http.MethodHead:
	default:
		return nil, fmt.Errorf("httpcheck: method %q: want GET or HEAD", cfg.Method)
	}
	if cfg.Timeout < 0 || cfg.MaxRedirects < 0 || cfg.Retries < 0 || cfg.PerHost < 0 || cfg.Concurrency < 0 || cfg.MaxRetryAfter < 0 {
		return nil, errors.New("httpcheck: negative timeout, redirect, retry, per-host or concurrency setting")
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "fanout"
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Resolver: cfg.Resolver}
	return newChecker(cfg, dialer.DialContext), nil
}

// newChecker builds the checker of a valid cfg whose connections dial
// opens.
func newChecker(cfg Config, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *Checker {
	// No more connections than checks run at once: net/http alone dials
	// whenever no idle connection is free at that instant, and keeps the
	// extra ones when another frees up first (579 connections for 500
	// checks, 1,726 for 1,000).
	pool := newConnPool(dial, cfg.Concurrency, cfg.PerHost)
	tr := &http.Transport{
		Proxy:             http.ProxyFromEnvironment,
		DialContext:       pool.DialContext,
		ForceAttemptHTTP2: true,
		// Every running check may keep its connection for the next URL of
		// the same host; the pool closes idle ones when other hosts need
		// room.
		MaxIdleConns:        cfg.Concurrency,
		MaxIdleConnsPerHost: cfg.Concurrency,
		MaxConnsPerHost:     cfg.PerHost,
		IdleConnTimeout:     idleTimeout,
		// A check writes a short request and reads a status line,
		// headers and a capped body: small buffers do (a longer header
		// line is read in pieces), and at a thousand connections the
		// 4 KB defaults alone hold 8 MB.
		ReadBufferSize:         readBufferSize,
		WriteBufferSize:        readBufferSize,
		MaxResponseHeaderBytes: maxHeaderBytes,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: cfg.Insecure, RootCAs: cfg.RootCAs},
	}
	// One header for every request: net/http copies a request's header
	// before changing it (redirects, credentials in the URL), never writes
	// to it.
	header := make(http.Header, len(cfg.Header)+1)
	for k, v := range cfg.Header {
		header[k] = v
	}
	if header.Get("User-Agent") == "" {
		header.Set("User-Agent", cfg.UserAgent)
	}
	c := &Checker{cfg: cfg, transport: tr, h1: newH1Transport(pool), pool: pool, header: header, host: cfg.Header.Get("Host")}
	return c
}

// Config returns the checker's configuration, defaults filled in.
func (c *Checker) Config() Config { return c.cfg }

// Close closes the idle connections of the checker's pool. Checks may still
// run afterwards; they open new connections.
func (c *Checker) Close() {
	c.transport.CloseIdleConnections()
	if c.h1 != nil {
		c.h1.closeIdle()
	}
}

// RetryPolicy returns the executor retry policy for Config.Retries: retry
// connect errors, timeouts, 429 and 503, waiting at least a server's
// Retry-After, capped at Config.MaxRetryAfter.
func (c *Checker) RetryPolicy() fanout.RetryPolicy {
	return fanout.RetryPolicy{
		MaxAttempts:   c.cfg.Retries + 1,
		MaxRetryAfter: c.cfg.MaxRetryAfter,
		Retryable:     Retryable,
	}
}

// ExecutorOptions returns the executor options the configuration needs: the
// retry policy, and the per-host limit when Config.PerHost or Config.Adaptive
// is set. Pass them to fanout.New along with the caller's own (limit,
// rate...).
func (c *Checker) ExecutorOptions() []fanout.Option {
	opts := []fanout.Option{fanout.WithRetry(c.RetryPolicy())}
	if c.cfg.PerHost > 0 {
		opts = append(opts, fanout.WithKeyLimit(c.cfg.PerHost))
	}
	if c.cfg.Adaptive {
		opts = append(opts, fanout.WithKeyAdaptive(c.adaptiveConfig()))
	}
	return opts
}

// Retryable reports whether a check's attempt that failed with err is worth
// trying again: connect errors, timeouts, and the statuses 429 and 503.
func Retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusTooManyRequests || se.Status == http.StatusServiceUnavailable
	}
	switch Classify(err) {
	case KindConnect, KindTimeout:
		return true
	}
	return false
}

// answer is what one attempt learned.
type answer struct {
	status    int
	finalURL  string
	redirects int
}

// parse checks that raw is an absolute http or https URL. It returns the
// URL's text (raw, with http:// added when raw had no scheme) when that is
// what the URL's String method would return: see plainURL.
func parse(raw string) (*url.URL, string, error) {
	if !strings.Contains(raw, "://") {
		host, _, _ := strings.Cut(raw, "/")
		if h := strings.ToLower(strings.TrimSuffix(host, ":")); h == "http" || h == "https" {
			// "http//host" or "http:/host": a mistyped scheme, not a host
			// named http.
			return nil, "", &InvalidURLError{URL: raw, Reason: "want an http:// or https:// URL"}
		}
		// As curl does: a URL without a scheme is an http one
		// ("127.0.0.1:8080/health", "example.com").
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, "", &InvalidURLError{URL: raw, Reason: describe(err), Err: err}
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, "", &InvalidURLError{URL: raw, Reason: "want an http:// or https:// URL"}
	case u.Host == "":
		return nil, "", &InvalidURLError{URL: raw, Reason: "no host"}
	case !validPort(u.Port()):
		return nil, "", &InvalidURLError{URL: raw, Reason: "port " + u.Port() + " is not from 1 to 65535"}
	}
	if !plainURL(raw) {
		raw = ""
	}
	return u, raw, nil
}

// validPort reports whether port, a URL's (url.URL.Port: digits or ""),
// is one a connection can have: none (the scheme's) or 1 to 65535.
func validPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// plainURL reports whether raw, once parsed, prints as raw again: a
// lowercase http:// or https:// scheme, a host of letters, digits, dots,
// dashes and a port, and a path and query of characters url.URL keeps as
// they are; no user, no fragment, no IPv6 literal. Most URLs are, and their
// final URL (when not redirected) then costs no String call.
// FuzzPlainURL holds it to url.URL.String.
func plainURL(raw string) bool {
	rest, ok := strings.CutPrefix(raw, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(raw, "https://"); !ok {
			return false
		}
	}
	if rest == "" || rest[0] == '/' || rest[0] == '?' {
		return false // no host
	}
	inHost := true
	for i := 0; i < len(rest); i++ {
		b := rest[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9',
			b == '.', b == '-', b == '_', b == '~', b == ':':
		case b == '/' || b == '?':
			inHost = false
		case !inHost && strings.IndexByte("=&;,+!$'()*@%", b) >= 0:
		default:
			return false
		}
	}
	return true
}

// attempt makes one request for u, whose text is u.String() or "" when not
// known. A status worth retrying comes back as a *StatusError (with
// fanout.RetryAfter when the server said how long to wait), along with the
// answer.
func (c *Checker) attempt(ctx context.Context, u *url.URL, text string) (answer, error) {
	parent := ctx
	if c.cfg.Timeout > 0 {
		d := newDeadlineCtx(ctx, time.Now().Add(c.cfg.Timeout))
		defer d.stop()
		ctx = d
	}
	h := hops{conns: attemptConns{pool: c.pool}}
	defer h.conns.done()
	resp, err := c.do(&h, c.newRequest(ctx, u))
	var a answer
	if resp != nil {
		// With a redirect refused, do returns the last response too.
		a = answer{status: resp.StatusCode, finalURL: text, redirects: redirects(resp)}
		if final := resp.Request.URL; final != u || text == "" {
			a.finalURL = final.String()
		}
		// Read a little so a short body ends and the connection is
		// reused; errors here do not change the status already known.
		discard(resp.Body, BodyLimit)
		resp.Body.Close()
	} else if h.answered {
		// A request after a redirect failed, or a redirect's Location
		// could not be followed: the answer still says how many
		// redirects were followed, and the URL of the last request.
		a = answer{redirects: h.sent - 1, finalURL: h.at.String()}
	}
	if err != nil {
		switch {
		case ctx.Err() == context.DeadlineExceeded && parent.Err() == nil:
			err = &timeoutError{after: c.cfg.Timeout, err: err}
		case parent.Err() == context.Canceled && !errors.Is(err, context.Canceled):
			// net/http may return the context's cause, which need not say
			// it was a cancellation.
			err = &canceledError{err}
		}
		return a, err
	}
	if a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable {
		err = &StatusError{Status: a.status}
		if d, ok := waitHint(resp.Header, time.Now()); ok {
			err = fanout.RetryAfter(err, d)
		}
	}
	return a, err
}

// discardBuffers lend discard its buffers. io.Copy to io.Discard would take
// 8 KB ones: 8 MB held at a thousand checks at once, for bodies that are
// mostly a few bytes.
var discardBuffers = sync.Pool{New: func() any { return new([1 << 10]byte) }}

// discard reads and drops up to limit bytes of r, so that a short body
// ends and its connection can be reused.
func discard(r io.Reader, limit int) {
	buf := discardBuffers.Get().(*[1 << 10]byte)
	defer discardBuffers.Put(buf)
	for limit > 0 {
		n, err := r.Read(buf[:min(len(buf), limit)])
		limit -= n
		if err != nil {
			return
		}
	}
}

// redirects counts the redirects that led to resp: each request made for a
// redirect links to the response that caused it.
func redirects(resp *http.Response) int {
	n := 0
	for r := resp.Request.Response; r != nil; r = r.Request.Response {
		n++
	}
	return n
}

// retryAfter parses a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
