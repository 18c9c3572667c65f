// Package lambdainvoke invokes an AWS Lambda function over a stream of
// payloads on a [fanout.Executor]: the library behind `fanout lambda`, and
// the Go form of the article's functools.partial(boto3.client('lambda').invoke,
// FunctionName=..., InvocationType=..., Qualifier=...) run in an executor.
//
// A [Template] holds the named parameters every call shares; each call
// supplies only its payload. An [Invoker] holds one SDK client, safe for any
// number of goroutines, whose HTTP connection pool is sized for the
// concurrency (the SDK's default keeps 10 idle connections per host, so
// higher concurrency would open and close a connection per call).
// [Invoker.InvokeAll] streams: it pulls payloads as the executor has room
// and yields one [Result] per payload, in input order (or completion order
// with [Invoker.InvokeAllUnordered]). Each call costs the executor's task and
// one signed HTTP request, which a successful call sends without the SDK's
// per-call middleware and a failed one hands to the SDK, so that its error
// is the SDK's; payloads are checked (JSON, size) before anything is sent.
//
// Retries belong to fanout, not to the SDK, whose retryer is off: the SDK
// ignores Lambda's Retry-After, re-sends calls that may have run, and its
// shared token bucket fails whole batches together under errors. What is
// retried (see [Invoker.RetryPolicy]) is what is safe: throttling (429,
// waiting at least its Retry-After) and failures before the request was
// sent. Invoke is not idempotent, so a connection lost after sending, a
// timeout waiting for the answer, or a 5xx is retried only with
// [Config.RetryUnsafe]; its result says the call may have run
// ([Result.MayHaveRun]).
//
// With [Config.Adaptive] the executor's concurrency limit follows Lambda's
// throttling (AIMD): each throttle halves it, successes raise it again by
// one per limit's worth, never above the limit the run started with. The
// changes reach the executor's observers (LimitChanged), so a trace shows
// the limit over time.
//
// Credentials come from the SDK's default chain (environment, shared
// files, SSO, container and instance roles) unless [Config.Credentials] is
// set; they never appear in results or errors.
package lambdainvoke

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/fanout-go/fanout"
)

// DefaultConcurrency sizes the connection pool when Config.Concurrency is 0.
const DefaultConcurrency = 64

// Config says how an Invoker reaches Lambda and when it retries. The zero
// value uses the default AWS configuration, no timeout and no retries.
type Config struct {
	// Region, Profile and EndpointURL override the AWS configuration's
	// (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL...).
	Region      string
	Profile     string
	EndpointURL string
	// Credentials, when set, replace the default credential chain.
	Credentials aws.CredentialsProvider
	// Resolver looks up host names (nil: the system's). Tests use it to
	// answer DNS queries from loopback.
	Resolver *net.Resolver
	// Concurrency is how many calls are expected at once; it sizes the
	// connection pool (default DefaultConcurrency).
	Concurrency int
	// Timeout bounds each attempt; 0 means none (a synchronous call may run
	// 15 minutes).
	Timeout time.Duration
	// Retries is how many times a call is tried again when that is safe
	// (see the package documentation).
	Retries int
	// RetryUnsafe also retries calls that may have run: a connection lost
	// after sending, a timeout waiting for the answer, a 5xx.
	RetryUnsafe bool
	// MaxRetryAfter caps how long a server's Retry-After makes a retry wait
	// (default 30s).
	MaxRetryAfter time.Duration
	// Adaptive lets Lambda's throttling drive the executor's concurrency
	// limit (see the package documentation).
	Adaptive bool
}

// Invoker calls one Template's function. It is safe for concurrent use;
// build one per template and reuse it, since it owns the connection pool.
// A successful call costs about 0.15 ms of CPU (1,000 calls at once,
// garbage collection included) and 84 allocations on the client, half of
// it net/http's connection loops (see BenchmarkIssueLoad); a failed call
// also costs the SDK's Invoke, which builds its error.
type Invoker struct {
	tmpl   Template
	cfg    Config
	client *lambda.Client
	pool   *connPool
	// direct sends the calls, nil when the SDK does (directOff says why).
	direct    *direct
	directOff error
}

// New returns an Invoker for tmpl, loading the AWS configuration. It fails
// when the template or cfg is invalid, or the configuration cannot be
// loaded or has no region. Credentials are looked up at the first call.
func New(ctx context.Context, tmpl Template, cfg Config) (*Invoker, error) {
	if err := tmpl.Validate(); err != nil {
		return nil, err
	}
	if cfg.Concurrency < 0 || cfg.Timeout < 0 || cfg.Retries < 0 || cfg.MaxRetryAfter < 0 {
		return nil, errors.New("lambdainvoke: negative concurrency, timeout or retry setting")
	}
	if err := checkEndpoint(cfg.EndpointURL); err != nil {
		return nil, err
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	client, pool, err := newClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	iv := &Invoker{tmpl: tmpl, cfg: cfg, client: client, pool: pool}
	iv.direct, iv.directOff = newDirect(ctx, client, tmpl)
	return iv, nil
}

// invoke makes one call of payload: by the direct path when the client
// allows it, else through the SDK.
func (iv *Invoker) invoke(ctx context.Context, payload []byte) (*lambda.InvokeOutput, error) {
	if iv.direct != nil {
		return iv.direct.invoke(ctx, payload)
	}
	return iv.client.Invoke(ctx, iv.tmpl.Input(payload))
}

// Template returns the invoker's template.
func (iv *Invoker) Template() Template { return iv.tmpl }

// Client returns the SDK client the invoker shares between its calls.
func (iv *Invoker) Client() *lambda.Client { return iv.client }

// Close closes the connections of the invoker's pool. Calls may still run
// afterwards; they open new connections.
func (iv *Invoker) Close() { iv.pool.close() }

// RetryPolicy returns the executor retry policy for Config.Retries: retry
// throttling, waiting at least Lambda's Retry-After (capped at
// Config.MaxRetryAfter), and failures before the request was sent; with
// Config.RetryUnsafe, also the failures after which the function may have
// run.
func (iv *Invoker) RetryPolicy() fanout.RetryPolicy {
	return fanout.RetryPolicy{
		MaxAttempts:   iv.cfg.Retries + 1,
		MaxRetryAfter: iv.cfg.MaxRetryAfter,
		Retryable:     iv.Retryable,
	}
}

// ExecutorOptions returns the executor options the configuration needs (the
// retry policy). Pass them to fanout.New along with the caller's own
// (limit, rate...).
func (iv *Invoker) ExecutorOptions() []fanout.Option {
	return []fanout.Option{fanout.WithRetry(iv.RetryPolicy())}
}

// Retryable reports whether an attempt that failed with err is worth trying
// again under the invoker's configuration.
func (iv *Invoker) Retryable(err error) bool {
	var ae *AttemptError
	if !errors.As(err, &ae) {
		// An executor's own timeout (fanout.WithTimeout) cannot tell
		// whether the request went out.
		return errors.Is(err, fanout.ErrTimeout) && iv.cfg.RetryUnsafe
	}
	switch Classify(ae.Err) {
	case KindThrottled:
		return true
	case KindConnect, KindTimeout:
		if isTLS(ae.Err) {
			return false // a certificate does not get better by retrying
		}
		return !ae.Sent || iv.cfg.RetryUnsafe
	case KindService:
		return iv.cfg.RetryUnsafe
	}
	return false
}

// checkEndpoint refuses an endpoint URL no call could go to, so that New
// fails once instead of every call failing alike: one without http:// or
// https:// ("127.0.0.1:9001"), without a host, or with a port outside 1 to
// 65535. "" is the AWS configuration's endpoint.
func checkEndpoint(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err == nil && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
		err = errors.New("want http:// or https:// and a host")
	}
	if err == nil && u.Port() != "" {
		if p, perr := strconv.Atoi(u.Port()); perr != nil || p < 1 || p > 65535 {
			err = errors.New("the port is not from 1 to 65535")
		}
	}
	if err != nil {
		return fmt.Errorf("lambdainvoke: endpoint URL %q: %w", s, err)
	}
	return nil
}
