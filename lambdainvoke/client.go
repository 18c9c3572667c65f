package lambdainvoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// newClient builds the one SDK client an Invoker shares between all its
// calls: the default config chain (environment, shared files, profile) with
// cfg's overrides, retries off, and an HTTP transport sized for
// cfg.Concurrency. It returns the pool, to close its connections later.
func newClient(ctx context.Context, cfg Config) (*lambda.Client, *connPool, error) {
	pool := &connPool{
		dialer: &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Resolver: cfg.Resolver},
		conns:  make(map[*trackedConn]struct{}),
	}
	// Keep the SDK's buildable client rather than a plain *http.Client:
	// the config loader adds AWS_CA_BUNDLE's roots to it, and fails when
	// it cannot.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		// Every call running at once keeps its connection for the next
		// one; the SDK's default keeps only 10 per host, so the rest
		// would be opened and closed again for each call.
		tr.MaxIdleConns = 2 * cfg.Concurrency
		tr.MaxIdleConnsPerHost = cfg.Concurrency
		// No more connections than calls at once: without a cap net/http
		// dials whenever no idle connection is free at that instant and
		// keeps the extra one when another frees up first (1,089
		// connections for 1,000 calls). Lambda is one host per region.
		tr.MaxConnsPerHost = cfg.Concurrency
		tr.IdleConnTimeout = 30 * time.Second
		tr.DialContext = pool.dial
	})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		// fanout owns retries: the SDK's retryer ignores Lambda's
		// Retry-After, re-sends calls that may have run, and shares one
		// token bucket between all calls, so that a burst of errors
		// fails whole batches at once.
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.EndpointURL != "" {
		opts = append(opts, config.WithBaseEndpoint(cfg.EndpointURL))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("lambdainvoke: AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, nil, ErrNoRegion
	}
	// Wrapped here, after the SDK has resolved its buildable client
	// (AWS_CA_BUNDLE's roots, its defaults mode's timeouts) and its
	// endpoint resolver.
	return lambda.NewFromConfig(awsCfg, func(o *lambda.Options) {
		o.HTTPClient = &oneWriteClient{o.HTTPClient}
		o.EndpointResolverV2 = &endpointCache{next: o.EndpointResolverV2}
	}), pool, nil
}

// oneWriteMax is the largest request body oneWriteClient copies.
const oneWriteMax = 64 << 10

// oneWriteClient sends a small request body in the same write as its
// headers. The SDK hands net/http the body in a wrapper that net/http
// does not know to be in memory, so net/http writes the headers in a
// system call of their own before it copies the body: two writes, and two
// wake-ups of the receiving side, per call (the second write was about 4%
// of the client's CPU at 1,000 calls at once on loopback). A copy of the
// body in a bytes.Reader lets net/http buffer it with the headers. Bodies
// over oneWriteMax go as they came: there the copy would cost more than
// the write it saves.
type oneWriteClient struct{ next lambda.HTTPClient }

func (c *oneWriteClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return c.next.Do(req)
	}
	if req.ContentLength <= 0 || req.ContentLength > oneWriteMax {
		// The SDK closes a request body as soon as the response's headers
		// are in, and its body then answers WriteTo with io.EOF, an error,
		// where Read answers io.EOF, the end. net/http, having written
		// Content-Length bytes, reads the body once more to see that it
		// ends, with io.Copy, which uses WriteTo: when the server answered
		// first (it had every byte), the write failed with EOF and
		// net/http closed the connection under the response being read
		// ("use of closed network connection"). Hide WriteTo.
		req.Body = readOnly{req.Body}
		return c.next.Do(req)
	}
	// One byte more than announced, to see whether the body ends there.
	body := make([]byte, req.ContentLength+1)
	n, err := io.ReadFull(req.Body, body)
	if int64(n) == req.ContentLength && err == io.ErrUnexpectedEOF {
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body[:n]))
		return c.next.Do(req)
	}
	// The body is not as long as announced, or failed: hand net/http what
	// was read and the rest, so that it fails as it would have.
	req.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body[:n]), req.Body), req.Body}
	return c.next.Do(req)
}

// readOnly is a request body without its other methods (WriteTo).
type readOnly struct{ io.ReadCloser }

// ErrNoRegion is the error of New when no AWS region is configured:
// neither Config.Region, nor AWS_REGION, nor the profile names one.
var ErrNoRegion = errors.New("lambdainvoke: no AWS region: set Config.Region, AWS_REGION or the profile's region")

// connPool dials the SDK's connections and keeps track of them, so that
// Invoker.Close can close them: the SDK's buildable client copies its
// transport and offers no way to reach the copy it uses.
type connPool struct {
	dialer *net.Dialer
	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	peak   int // the most connections open at once

	writes atomic.Int64 // writes to the connections, for tests
}

func (p *connPool) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := p.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, pool: p}
	p.mu.Lock()
	p.conns[tc] = struct{}{}
	p.peak = max(p.peak, len(p.conns))
	p.mu.Unlock()
	return tc, nil
}

// close closes every connection open now. Later calls dial new ones.
func (p *connPool) close() {
	p.mu.Lock()
	conns := p.conns
	p.conns = make(map[*trackedConn]struct{})
	p.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

type trackedConn struct {
	net.Conn
	pool *connPool
	once sync.Once
}

func (c *trackedConn) Write(b []byte) (int, error) {
	c.pool.writes.Add(1)
	return c.Conn.Write(b)
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.pool.mu.Lock()
		delete(c.pool.conns, c)
		c.pool.mu.Unlock()
	})
	return c.Conn.Close()
}
