package lambdainvoke

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	smithyauth "github.com/aws/smithy-go/auth"
	"github.com/aws/smithy-go/encoding/httpbinding"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"github.com/aws/smithy-go/metrics"
	"github.com/aws/smithy-go/middleware"
	smithyrand "github.com/aws/smithy-go/rand"
	"github.com/aws/smithy-go/tracing"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// direct sends an invoker's calls without the SDK's per-call machinery and
// builds the output of those that succeed; every other outcome goes through
// the SDK.
//
// Why: at 1,000 calls at once on two cores, the client's CPU per call
// decides how close `fanout lambda` comes to its ideal time, and most of it
// was the SDK's per-call work (bench/README.md, "Lambda: the client's CPU
// per call"): building the middleware stack (29 us), signing through it
// (25-33), serializing (16), deserializing (18), and the garbage collection
// that its 26 KB of allocations per call drive (a quarter of the client's
// CPU). The direct path builds the request of Invoke's HTTP binding for the
// template and signs it with a signer of its own that writes only what
// changes between calls (signer.go). BenchmarkIssueLoad, before
// and after side by side with the server in a process of its own (median
// of 4): the client's CPU per call went from 429 to 197 us at 1,000 calls
// at once and from 451 to 243 us at 200, its allocations from 358 to 137
// per call (31 to 12 KB); 10,000 x 100 ms at C=1000 from 3.06x to 1.73x
// the ideal time.
//
// It keeps from the SDK: the configuration; the credentials (the client's
// cached provider; no signature when the client has none, which is how the
// SDK treats aws.AnonymousCredentials); the endpoint its resolver gives for
// the client's options; the signing time, with the SDK's clock skew
// correction; the HTTP client, so the connection pool and the caller's
// httptrace still apply (the one beneath oneWriteClient, whose copy a body
// net/http already sees is in memory does not need); and the errors.
// A call whose answer is not a 2xx, whose request fails, whose body cannot
// be read or whose credentials cannot be had is replayed through the SDK's
// Invoke with an HTTP client (or credentials provider) that returns what the
// direct path got, so that the SDK builds its typed errors as it would
// have (the modeled exceptions, smithy.OperationError, RequestSendError,
// awshttp.ResponseError), and nothing is sent twice. The output of a
// success has no ResultMetadata, which this package does not read.
//
// newDirect checks itself against the SDK first: it lets the SDK build and
// sign a call of the template, with stand-in credentials and an HTTP client
// that keeps the request from being sent, builds and signs the same call
// itself, and compares the two to the byte; then it compares the requests
// its signer and the SDK's sign without a body, without a session token
// and on another day. A difference (an SDK upgrade that changes Invoke's
// binding or SigV4, a configuration it does not reproduce) leaves the
// invoker on the SDK alone.
type direct struct {
	client *lambda.Client
	input  *lambda.InvokeInput // the template's, without payload
	http   lambda.HTTPClient
	creds  aws.CredentialsProvider // nil: calls go unsigned
	lean   *leanSigner
	region string
	url    url.URL     // the endpoint's, with the operation's path and query
	header http.Header // every call's headers before signing
	skewed bool        // the SDK's clock skew correction is on
	skew   atomic.Int64
	// inLambda is whether this process runs in Lambda, where the SDK
	// passes the function's trace ID on (read once: the SDK's recursion
	// detection reads the same environment).
	inLambda bool
}

// The parts of Invoke's HTTP binding (the SDK's schemas.Invoke and
// schemas.InvocationRequest/Response) that the direct path writes and reads.
const (
	invokePathPrefix = "/2015-03-31/functions/"
	invokePathSuffix = "/invocations"
	payloadType      = "application/octet-stream" // Payload is a blob without a media type
	signingName      = "lambda"
	// skewTrustedFor bounds the round trip whose Date header may correct
	// the clock, as the SDK's RecordResponseTiming does.
	skewTrustedFor = 15 * time.Minute
)

// checkPayload is the payload of the call newDirect compares.
var checkPayload = []byte(`{"lambdainvoke":"check"}`)

// newDirect returns the direct path of client's calls of tmpl, or an error
// saying why the client must go through the SDK alone. It sends nothing.
func newDirect(ctx context.Context, client *lambda.Client, tmpl Template) (*direct, error) {
	opts := client.Options()
	if err := directSupports(opts); err != nil {
		return nil, err
	}
	in := tmpl.Input(nil)
	d := &direct{
		client: client,
		input:  in,
		http:   opts.HTTPClient,
		creds:  opts.Credentials,
		region: opts.Region,
		skewed: !opts.DisableClockSkewCorrection,
	}
	_, d.inLambda = os.LookupEnv("AWS_LAMBDA_FUNCTION_NAME")
	if ow, ok := d.http.(*oneWriteClient); ok {
		// The direct path's body is already one net/http sends with the
		// headers: copying it again would gain nothing.
		d.http = ow.next
	}

	// The SDK's own request for the check payload, caught before sending.
	var (
		sdk      capturingClient
		endpoint endpointRecorder
	)
	_, err := client.Invoke(ctx, tmpl.Input(checkPayload), func(o *lambda.Options) {
		o.HTTPClient = &sdk
		endpoint.next = o.EndpointResolverV2
		o.EndpointResolverV2 = &endpoint
		if o.Credentials != nil {
			o.Credentials = checkCredentials{sources: credentialSources(o.Credentials)}
		}
	})
	if sdk.req == nil {
		return nil, fmt.Errorf("the SDK built no request to compare with: %w", err)
	}
	if endpoint.calls != 1 {
		return nil, fmt.Errorf("the SDK resolved the endpoint %d times for one call, not by EndpointResolverV2 once", endpoint.calls)
	}
	ep := endpoint.endpoint
	if authOpts, _ := smithyauth.GetAuthOptions(&ep.Properties); len(authOpts) > 0 {
		return nil, errors.New("the endpoint sets its own signing options")
	}

	// The call's URL: the endpoint's, joined with the path as the SDK's
	// endpoint middleware joins them.
	name := aws.ToString(in.FunctionName)
	epRawPath := ep.URI.RawPath
	if epRawPath == "" {
		epRawPath = ep.URI.Path
	}
	d.url = url.URL{
		Scheme:  ep.URI.Scheme,
		Host:    ep.URI.Host,
		Path:    smithyhttp.JoinPath(ep.URI.Path, invokePathPrefix+name+invokePathSuffix),
		RawPath: smithyhttp.JoinPath(epRawPath, invokePathPrefix+httpbinding.EscapePath(name, true)+invokePathSuffix),
	}
	if in.Qualifier != nil {
		d.url.RawQuery = url.Values{"Qualifier": {*in.Qualifier}}.Encode()
	}

	// The headers: the template's, the endpoint's, and the two the SDK
	// composes from what it does not export (its module versions, the
	// environment, the retryer), taken from its request.
	d.header = http.Header{"Content-Type": {payloadType}}
	for _, k := range []string{"User-Agent", "Amz-Sdk-Request"} {
		if v, ok := sdk.req.Header[k]; ok {
			d.header[k] = slices.Clone(v)
		}
	}
	if in.InvocationType != "" {
		d.header.Set("X-Amz-Invocation-Type", string(in.InvocationType))
	}
	if in.LogType != "" {
		d.header.Set("X-Amz-Log-Type", string(in.LogType))
	}
	if in.ClientContext != nil {
		d.header.Set("X-Amz-Client-Context", *in.ClientContext)
	}
	for k := range ep.Headers {
		d.header.Set(k, ep.Headers.Get(k))
	}
	if d.lean, err = newLeanSigner(&d.url, d.header, []string{"Content-Type"}, []string{"Amz-Sdk-Invocation-Id"}, d.region, signingName); err != nil {
		return nil, fmt.Errorf("the lean signer: %w", err)
	}

	// The same call, built and signed here: same invocation ID, same time,
	// same stand-in credentials.
	var (
		creds aws.Credentials
		when  time.Time
	)
	if d.creds != nil {
		if creds, err = (checkCredentials{}).Retrieve(ctx); err != nil {
			return nil, err
		}
		if when, err = time.Parse(amzDateFormat, sdk.req.Header.Get("X-Amz-Date")); err != nil {
			return nil, fmt.Errorf("the SDK's request: X-Amz-Date: %w", err)
		}
	}
	mine, err := d.request(ctx, checkPayload, sdk.req.Header.Get("Amz-Sdk-Invocation-Id"), creds, when)
	if err != nil {
		return nil, err
	}
	if err := sameRequest(mine, checkPayload, sdk.req, sdk.body); err != nil {
		return nil, err
	}
	if d.creds != nil {
		if err := d.checkSigner(ctx, opts.HTTPSignerV4, when); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// checkSigner compares the lean signer's requests with those the SDK's
// signer signs, with and without a body and a session token, on the day
// of the SDK's request and at the last second of another: the cases the
// SDK's request alone leaves out. signer is the SDK's.
func (d *direct) checkSigner(ctx context.Context, signer lambda.HTTPSignerV4, when time.Time) error {
	for i, c := range []struct {
		payload []byte
		token   string
		when    time.Time
	}{
		{nil, "", when},
		{checkPayload, "", when},
		{nil, "lambdainvoke-check-token", when},
		{checkPayload, "", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)},
	} {
		creds := aws.Credentials{
			AccessKeyID:     fmt.Sprintf("AKIDLAMBDAINVOKECHECK%d", i),
			SecretAccessKey: fmt.Sprintf("lambdainvoke-check-%d", i),
			SessionToken:    c.token,
		}
		mine, err := d.request(ctx, c.payload, "lambdainvoke-check", creds, c.when)
		if err != nil {
			return err
		}
		sdk, err := d.unsigned(ctx, c.payload, "lambdainvoke-check")
		if err != nil {
			return err
		}
		sum := sha256.Sum256(c.payload)
		if err := signer.SignHTTP(ctx, creds, sdk, hex.EncodeToString(sum[:]), signingName, d.region, c.when); err != nil {
			return err
		}
		if err := sameRequest(mine, c.payload, sdk, c.payload); err != nil {
			return fmt.Errorf("the lean signer and the SDK's differ: %w", err)
		}
	}
	return nil
}

// directSupports reports why the direct path cannot stand for the SDK with
// these options: extra middleware, interceptors, request logging, tracing
// or metrics act on each call, and a retryer would try a replayed answer
// again. (A legacy endpoint resolver, which bypasses the resolution
// newDirect records, shows as no resolution there.)
func directSupports(o lambda.Options) error {
	switch {
	case len(o.APIOptions) > 0:
		return errors.New("the client has API options")
	case !noInterceptors(o.Interceptors):
		return errors.New("the client has interceptors")
	case o.ClientLogMode != 0:
		return errors.New("the client logs its calls")
	case o.Retryer == nil || o.Retryer.MaxAttempts() != 1:
		return errors.New("the client's retryer may try a call more than once")
	case o.HTTPSignerV4 == nil || o.EndpointResolverV2 == nil || o.HTTPClient == nil:
		return errors.New("the client lacks a signer, an endpoint resolver or an HTTP client")
	}
	if _, ok := o.HTTPSignerV4.(*v4.Signer); !ok {
		return errors.New("the client has a signer of its own")
	}
	if _, ok := o.TracerProvider.(*tracing.NopTracerProvider); !ok {
		return errors.New("the client traces its calls")
	}
	if _, ok := o.MeterProvider.(metrics.NopMeterProvider); !ok {
		return errors.New("the client measures its calls")
	}
	return nil
}

// noInterceptors reports whether every list of the registry is empty.
func noInterceptors(r smithyhttp.InterceptorRegistry) bool {
	v := reflect.ValueOf(r)
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() > 0 {
			return false
		}
	}
	return true
}

// request builds and signs a call of payload, as the SDK's Invoke would:
// the serializer's path, query, headers and body, the build step's
// invocation ID and recursion detection, then the signature.
func (d *direct) request(ctx context.Context, payload []byte, invocationID string, creds aws.Credentials, when time.Time) (*http.Request, error) {
	req, err := d.unsigned(ctx, payload, invocationID)
	if err != nil || d.creds == nil {
		return req, err
	}
	if err := d.lean.sign(req, payload, creds, when); err != nil {
		return nil, err
	}
	return req, nil
}

// unsigned builds the request of a call of payload, ready for signing.
func (d *direct) unsigned(ctx context.Context, payload []byte, invocationID string) (*http.Request, error) {
	// An empty URL, so that NewRequest parses nothing; and no body yet, so
	// that it sets no GetBody: the SDK's request has none, which keeps
	// net/http from sending the call again on its own after a reused
	// connection fails, and from following a redirect with it.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", nil)
	if err != nil {
		return nil, err
	}
	u := d.url
	req.URL = &u
	req.Header = d.header.Clone()
	req.Header["Amz-Sdk-Invocation-Id"] = []string{invocationID}
	if len(payload) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(payload))
		req.ContentLength = int64(len(payload))
	} else {
		delete(req.Header, "Content-Type") // the SDK sets no body and no type
	}
	if d.inLambda {
		// Inside Lambda, the SDK passes the function's trace ID on: use
		// its own middleware, which reads it from the environment.
		detect := &awsmiddleware.RecursionDetection{}
		_, _, err := detect.HandleBuild(ctx, middleware.BuildInput{Request: &smithyhttp.Request{Request: req}},
			middleware.BuildHandlerFunc(func(context.Context, middleware.BuildInput) (middleware.BuildOutput, middleware.Metadata, error) {
				return middleware.BuildOutput{}, middleware.Metadata{}, nil
			}))
		if err != nil {
			return nil, err
		}
	}
	return req, nil
}

// invoke makes one call of payload: directly when it succeeds, through the
// SDK otherwise.
func (d *direct) invoke(ctx context.Context, payload []byte) (*lambda.InvokeOutput, error) {
	out, replay := d.try(ctx, payload)
	if out != nil {
		return out, nil
	}
	if replay == nil {
		// Nothing was sent: the SDK makes the call itself.
		return d.client.Invoke(ctx, d.callInput(payload))
	}
	return d.replay(ctx, payload, replay)
}

// outcome is what a direct attempt got that the SDK must turn into its
// error: an answer, a failure to send, or credentials that failed.
type outcome struct {
	resp     *http.Response
	err      error
	creds    aws.Credentials // those the attempt was signed with
	credsErr error
}

// try sends the call. It returns the output of a 2xx answer; else what
// happened, for the SDK to replay; or neither when it sent nothing and
// the SDK should make the call itself.
func (d *direct) try(ctx context.Context, payload []byte) (*lambda.InvokeOutput, *outcome) {
	if ctx.Err() != nil {
		return nil, nil
	}
	var creds aws.Credentials
	if d.creds != nil {
		var err error
		if creds, err = d.creds.Retrieve(ctx); err != nil {
			return nil, &outcome{credsErr: err}
		}
	}
	id, err := smithyrand.NewUUID(rand.Reader).GetUUID()
	if err != nil {
		return nil, nil
	}
	req, err := d.request(ctx, payload, id, creds, d.now())
	if err != nil {
		return nil, nil
	}
	sentAt := time.Now()
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, &outcome{err: err, creds: creds}
	}
	d.noteSkew(resp, sentAt, time.Now())
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return nil, &outcome{resp: resp, creds: creds}
	}
	body, err := readBody(resp.Body, resp.ContentLength)
	resp.Body.Close()
	if err != nil {
		// The SDK reads the same bytes and then the same error.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return nil, &outcome{resp: resp, creds: creds}
	}
	out := &lambda.InvokeOutput{
		StatusCode:          int32(resp.StatusCode),
		ExecutedVersion:     headerValue(resp.Header, "X-Amz-Executed-Version"),
		FunctionError:       headerValue(resp.Header, "X-Amz-Function-Error"),
		LogResult:           headerValue(resp.Header, "X-Amz-Log-Result"),
		DurableExecutionArn: headerValue(resp.Header, "X-Amz-Durable-Execution-Arn"),
	}
	if len(body) > 0 {
		out.Payload = body
	}
	return out, nil
}

// replay has the SDK make the call with an HTTP client that answers what
// the direct attempt got, so that it turns it into the same error as if it
// had sent the call itself.
// The SDK signs the replayed request with the credentials the attempt had,
// so that it cannot fail to get them this time.
func (d *direct) replay(ctx context.Context, payload []byte, o *outcome) (*lambda.InvokeOutput, error) {
	rctx := &replayContext{Context: ctx}
	out, err := d.client.Invoke(rctx, d.callInput(payload), func(opts *lambda.Options) {
		opts.HTTPClient = &replayClient{ctx: rctx, resp: o.resp, err: o.err}
		switch {
		case o.credsErr != nil:
			opts.Credentials = replayedCredentials{err: o.credsErr}
		case opts.Credentials != nil:
			opts.Credentials = replayedCredentials{creds: o.creds}
		}
	})
	if !rctx.answered.Load() && o.resp != nil {
		o.resp.Body.Close() // the SDK failed before taking the answer
	}
	return out, err
}

func (d *direct) callInput(payload []byte) *lambda.InvokeInput {
	in := *d.input
	in.Payload = payload
	return &in
}

// now is the signing time: the clock corrected by the skew the last answer
// showed, as the SDK's retry middleware corrects it.
func (d *direct) now() time.Time {
	if !d.skewed {
		return time.Now()
	}
	return time.Now().Add(time.Duration(d.skew.Load()))
}

// noteSkew keeps the difference between the server's Date and the time
// the answer came, as the SDK's RecordResponseTiming measures it.
func (d *direct) noteSkew(resp *http.Response, sentAt, answeredAt time.Time) {
	if !d.skewed || resp.Header.Get("Age") != "" || answeredAt.Sub(sentAt) > skewTrustedFor {
		return
	}
	date := resp.Header.Get("Date")
	if date == "" {
		return
	}
	server, err := smithyhttp.ParseTime(date)
	if err != nil {
		return
	}
	d.skew.Store(int64(server.Sub(answeredAt)))
}

// headerValue returns the header's value when it is present, as the SDK's
// binding of a header member does.
func headerValue(h http.Header, name string) *string {
	if v := h[name]; len(v) > 0 {
		return &v[0]
	}
	return nil
}

// readBody reads a whole body, in one allocation when its length is
// announced.
func readBody(r io.Reader, length int64) ([]byte, error) {
	b := make([]byte, 0, min(max(length, 0), SyncPayloadLimit)+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// replayClient is the HTTP client of a replayed call: it returns what the
// direct attempt got.
type replayClient struct {
	ctx  *replayContext
	resp *http.Response
	err  error
}

func (c *replayClient) Do(*http.Request) (*http.Response, error) {
	c.ctx.answered.Store(true)
	return c.resp, c.err
}

// replayContext is the call's context as the SDK saw it when it sent the
// call: not done until the replayed answer comes. The SDK checks the
// context before sending (an ended one fails without a request) and again
// once the HTTP client returns (a failed request becomes a CanceledError);
// a replay must see the first as the direct attempt did, live, and the
// second as it is now.
type replayContext struct {
	context.Context
	answered atomic.Bool
}

func (c *replayContext) Done() <-chan struct{} {
	if !c.answered.Load() {
		return nil
	}
	return c.Context.Done()
}

func (c *replayContext) Err() error {
	if !c.answered.Load() {
		return nil
	}
	return c.Context.Err()
}

// replayedCredentials are what the client's credentials gave the attempt.
type replayedCredentials struct {
	creds aws.Credentials
	err   error
}

func (c replayedCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return c.creds, c.err
}

// checkCredentials stand in for the client's while newDirect compares
// requests; they name the same sources, which go into the User-Agent.
type checkCredentials struct{ sources []aws.CredentialSource }

func (checkCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{
		AccessKeyID:     "AKIDLAMBDAINVOKECHECK",
		SecretAccessKey: "lambdainvoke-check",
		SessionToken:    "lambdainvoke-check-token",
		Source:          "lambdainvoke check",
	}, nil
}

func (c checkCredentials) ProviderSources() []aws.CredentialSource { return c.sources }

func credentialSources(p aws.CredentialsProvider) []aws.CredentialSource {
	if s, ok := p.(aws.CredentialProviderSource); ok {
		return s.ProviderSources()
	}
	return nil
}

// capturingClient keeps the request the SDK built and sends nothing.
type capturingClient struct {
	req  *http.Request
	body []byte
}

var errNotSent = errors.New("lambdainvoke: kept for comparison, not sent")

func (c *capturingClient) Do(req *http.Request) (*http.Response, error) {
	c.req = req
	if req.Body != nil {
		var err error
		if c.body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
	}
	return nil, errNotSent
}

// endpointRecorder keeps the endpoint the SDK resolved for its options.
type endpointRecorder struct {
	next     lambda.EndpointResolverV2
	endpoint smithyendpoints.Endpoint
	calls    int
}

func (r *endpointRecorder) ResolveEndpoint(ctx context.Context, p lambda.EndpointParameters) (smithyendpoints.Endpoint, error) {
	ep, err := r.next.ResolveEndpoint(ctx, p)
	r.endpoint = ep
	r.calls++
	return ep, err
}

// sameRequest returns how mine differs from the SDK's request, or nil.
func sameRequest(mine *http.Request, myBody []byte, sdk *http.Request, sdkBody []byte) error {
	switch {
	case mine.Method != sdk.Method:
		return fmt.Errorf("method %s, the SDK's %s", mine.Method, sdk.Method)
	case mine.URL.String() != sdk.URL.String():
		return fmt.Errorf("URL %s, the SDK's %s", mine.URL, sdk.URL)
	case mine.Host != sdk.Host:
		return fmt.Errorf("host %q, the SDK's %q", mine.Host, sdk.Host)
	case mine.ContentLength != sdk.ContentLength || !bytes.Equal(myBody, sdkBody):
		return fmt.Errorf("a body of %d bytes (%d announced), the SDK's %d (%d)", len(myBody), mine.ContentLength, len(sdkBody), sdk.ContentLength)
	case (mine.GetBody == nil) != (sdk.GetBody == nil):
		return errors.New("GetBody differs from the SDK's")
	}
	for k, v := range sdk.Header {
		if !slices.Equal(mine.Header[k], v) {
			return fmt.Errorf("header %s: %q, the SDK's %q", k, mine.Header[k], v)
		}
	}
	for k, v := range mine.Header {
		if _, ok := sdk.Header[k]; !ok {
			return fmt.Errorf("header %s: %q, absent from the SDK's", k, v)
		}
	}
	return nil
}
