package lambdainvoke

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

// recorded is a request as a server on loopback received it.
type recorded struct {
	method, uri, host string
	header            http.Header
	body              []byte
}

// recorder is a server on 127.0.0.1 that keeps every request and answers
// with answer.
type recorder struct {
	url    string
	mu     sync.Mutex
	reqs   []recorded
	answer func(w http.ResponseWriter, r recorded)
}

func startRecorder(t *testing.T, answer func(w http.ResponseWriter, r recorded)) *recorder {
	t.Helper()
	rec := &recorder{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := recorded{method: r.Method, uri: r.RequestURI, host: r.Host, header: r.Header.Clone(), body: body}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, req)
		rec.mu.Unlock()
		rec.answer(w, req)
	}))
	t.Cleanup(srv.Close)
	rec.url = srv.URL
	return rec
}

// take returns the requests received since the last take.
func (rec *recorder) take() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r := rec.reqs
	rec.reqs = nil
	return r
}

// answerLikeLambda answers as Lambda would the request's invocation and
// log types, with extra headers when the payload asks for them.
func answerLikeLambda(w http.ResponseWriter, r recorded) {
	h := w.Header()
	h.Set("X-Amzn-Requestid", "req-1")
	q, _ := url.ParseQuery(strings.SplitN(r.uri, "?", 2)[len(strings.SplitN(r.uri, "?", 2))-1])
	h.Set("X-Amz-Executed-Version", cmpOr(q.Get("Qualifier"), "$LATEST"))
	if r.header.Get("X-Amz-Log-Type") == "Tail" {
		h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString([]byte("START\nEND\n")))
	}
	body := string(r.body)
	if strings.Contains(body, "fail") {
		h.Set("X-Amz-Function-Error", "Unhandled")
	}
	if strings.Contains(body, "empty-header") {
		h["X-Amz-Function-Error"] = []string{""}
	}
	if strings.Contains(body, "durable") {
		h.Set("X-Amz-Durable-Execution-Arn", "arn:aws:lambda:us-east-1:123456789012:durable:x")
	}
	switch r.header.Get("X-Amz-Invocation-Type") {
	case "Event":
		w.WriteHeader(http.StatusAccepted)
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
	default:
		if strings.Contains(body, "big") {
			// No Content-Length: a chunked answer larger than any
			// first guess at its size.
			for range 64 {
				w.Write(bytes.Repeat([]byte("x"), 4096))
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Write(r.body)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// newDirectInvoker returns an invoker of tmpl against endpoint with cfg
// (static test credentials unless cfg has others), and fails the test
// unless it took the direct path.
func newDirectInvoker(t *testing.T, endpoint string, tmpl Template, cfg Config) *Invoker {
	t.Helper()
	cfg.EndpointURL = endpoint
	cfg.Region = cmpOr(cfg.Region, "us-east-1")
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDFANOUTTESTKEY", "fanout-test-secret", "")
	}
	cfg.Concurrency = max(cfg.Concurrency, 2)
	iv, err := New(t.Context(), tmpl, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iv.Close() })
	if iv.direct == nil {
		t.Fatalf("the invoker stayed on the SDK: %v", iv.directOff)
	}
	return iv
}

// Headers that differ between any two calls: the signing time, the
// signature over it, and the SDK's random ID for each call. Everything
// else, User-Agent and Amz-Sdk-Request included, must match.
var volatileHeaders = []string{"Authorization", "X-Amz-Date", "Amz-Sdk-Invocation-Id"}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// sameCall reports how the direct path's request differs from the SDK's.
func sameCall(t *testing.T, sdk, direct recorded) {
	t.Helper()
	if sdk.method != direct.method || sdk.uri != direct.uri || sdk.host != direct.host {
		t.Errorf("direct %s %s (host %s), SDK %s %s (host %s)", direct.method, direct.uri, direct.host, sdk.method, sdk.uri, sdk.host)
	}
	if !bytes.Equal(sdk.body, direct.body) {
		t.Errorf("direct body %q, SDK %q", direct.body, sdk.body)
	}
	a, b := maps.Clone(sdk.header), maps.Clone(direct.header)
	for _, k := range volatileHeaders {
		delete(a, k)
		delete(b, k)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("headers differ:\ndirect %v\nSDK    %v", b, a)
	}
	for _, r := range []recorded{sdk, direct} {
		if id := r.header.Get("Amz-Sdk-Invocation-Id"); !uuidPattern.MatchString(id) {
			t.Errorf("invocation ID %q, not a UUID", id)
		}
	}
	if sdk.header.Get("Amz-Sdk-Invocation-Id") == direct.header.Get("Amz-Sdk-Invocation-Id") {
		t.Error("the two calls share an invocation ID")
	}
	// Both signed, or neither; over the same headers, in the same scope.
	if signedPart(sdk.header) != signedPart(direct.header) {
		t.Errorf("direct signature %q, SDK %q", signedPart(direct.header), signedPart(sdk.header))
	}
}

// signedPart returns the Authorization header without its date and
// signature: the algorithm, key, region, service and signed headers.
func signedPart(h http.Header) string {
	auth := h.Get("Authorization")
	auth = regexp.MustCompile(`/\d{8}/`).ReplaceAllString(auth, "/DATE/")
	return regexp.MustCompile(`Signature=[0-9a-f]+`).ReplaceAllString(auth, "Signature=X")
}

// withoutMetadata returns a copy of out without ResultMetadata, which the
// direct path leaves empty.
func withoutMetadata(out *lambda.InvokeOutput) lambda.InvokeOutput {
	o := *out
	o.ResultMetadata = middleware.Metadata{}
	return o
}

// TestDirectMatchesSDK checks, for templates that use every parameter and
// names that need escaping, that the direct path sends the request the
// SDK sends and returns the output the SDK returns.
func TestDirectMatchesSDK(t *testing.T) {
	rec := startRecorder(t, answerLikeLambda)
	templates := []Template{
		{FunctionName: "fn"},
		{FunctionName: "fn", Qualifier: "7", LogType: types.LogTypeTail},
		{FunctionName: "fn", Qualifier: "$LATEST", LogType: types.LogTypeNone, InvocationType: types.InvocationTypeRequestResponse},
		{FunctionName: "arn:aws:lambda:us-east-1:123456789012:function:my-fn", Qualifier: "prod alias/x+y"},
		{FunctionName: "arn:aws:lambda:us-east-1:123456789012:function:my-fn:live", InvocationType: types.InvocationTypeEvent},
		{FunctionName: "123456789012:function:my-fn", InvocationType: types.InvocationTypeDryRun},
		{FunctionName: "odd name/with+plus%25&amp?q=1#frag~é", ClientContext: []byte(` {"custom":{"a":"b"}} `)},
		{FunctionName: "fn", ClientContext: []byte(`{}`), LogType: types.LogTypeTail, InvocationType: types.InvocationTypeEvent},
	}
	payloads := [][]byte{
		[]byte(`{"a":1}`),
		[]byte(`"fail"`),
		[]byte(`{"empty-header":true,"durable":true}`),
		[]byte(`"big"`),
		[]byte(`[1,"ü",null]`),
		nil, // the SDK sends no body and no Content-Type
	}
	for i, tmpl := range templates {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			iv := newDirectInvoker(t, rec.url, tmpl, Config{})
			for _, p := range payloads {
				sdkOut, err := iv.client.Invoke(t.Context(), tmpl.Input(p))
				if err != nil {
					t.Fatalf("SDK, payload %q: %v", p, err)
				}
				directOut, replay := iv.direct.try(t.Context(), p)
				if directOut == nil {
					t.Fatalf("payload %q: the direct path did not finish the call (%+v)", p, replay)
				}
				reqs := rec.take()
				if len(reqs) != 2 {
					t.Fatalf("payload %q: %d requests, want one per path", p, len(reqs))
				}
				sameCall(t, reqs[0], reqs[1])
				if got, want := withoutMetadata(directOut), withoutMetadata(sdkOut); !reflect.DeepEqual(got, want) {
					t.Errorf("payload %q: direct output\n%+v\nSDK output\n%+v", p, got, want)
				}
			}
		})
	}
}

// TestDirectMatchesSDKConfigurations covers what the configuration and the
// environment add: a session token, unsigned calls, an endpoint with a
// path, and the trace ID the SDK passes on inside Lambda.
func TestDirectMatchesSDKConfigurations(t *testing.T) {
	rec := startRecorder(t, answerLikeLambda)
	for _, tc := range []struct {
		name     string
		cfg      Config
		endpoint string
		env      map[string]string
	}{
		{name: "session token", cfg: Config{Credentials: credentials.NewStaticCredentialsProvider("AKIDX", "secret", "token/with+chars=")}},
		{name: "unsigned", cfg: Config{Credentials: aws.AnonymousCredentials{}}},
		{name: "endpoint path", endpoint: "/base/path/"},
		{name: "inside Lambda", env: map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "outer", "_X_AMZN_TRACE_ID": "Root=1-5e1b4151-5ac6c58f;Parent=d7 x;Sampled=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			tmpl := Template{FunctionName: "fn", Qualifier: "3"}
			iv := newDirectInvoker(t, rec.url+tc.endpoint, tmpl, tc.cfg)
			p := []byte(`{"x":1}`)
			sdkOut, err := iv.client.Invoke(t.Context(), tmpl.Input(p))
			if err != nil {
				t.Fatal(err)
			}
			directOut, _ := iv.direct.try(t.Context(), p)
			if directOut == nil {
				t.Fatal("the direct path did not finish the call")
			}
			reqs := rec.take()
			if len(reqs) != 2 {
				t.Fatalf("%d requests", len(reqs))
			}
			sameCall(t, reqs[0], reqs[1])
			if !reflect.DeepEqual(withoutMetadata(directOut), withoutMetadata(sdkOut)) {
				t.Errorf("outputs differ: %+v, SDK %+v", directOut, sdkOut)
			}
			switch tc.name {
			case "unsigned":
				if reqs[1].header.Get("Authorization") != "" {
					t.Error("an unsigned call carries a signature")
				}
			case "inside Lambda":
				if reqs[1].header.Get("X-Amzn-Trace-Id") == "" {
					t.Error("no trace ID inside Lambda")
				}
			case "endpoint path":
				if !strings.HasPrefix(reqs[1].uri, "/base/path/2015-03-31/") {
					t.Errorf("URI %s", reqs[1].uri)
				}
			}
		})
	}
}

// verifySigV4 recomputes a request's signature with creds from what it
// carries (its X-Amz-Date and signed headers) and compares.
func verifySigV4(r recorded, creds aws.Credentials) error {
	auth := r.header.Get("Authorization")
	m := regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$`).FindStringSubmatch(auth)
	if m == nil {
		return fmt.Errorf("authorization %q", auth)
	}
	if m[1] != creds.AccessKeyID || m[2] != "us-east-1" || m[3] != "lambda" {
		return fmt.Errorf("scope %v", m[1:4])
	}
	when, err := time.Parse(amzDateFormat, r.header.Get("X-Amz-Date"))
	if err != nil {
		return err
	}
	u, err := url.Parse("http://" + r.host + r.uri)
	if err != nil {
		return err
	}
	req := &http.Request{Method: r.method, URL: u, Host: r.host, Header: http.Header{}, ContentLength: int64(len(r.body))}
	for _, name := range strings.Split(m[4], ";") {
		if name != "host" && name != "content-length" {
			req.Header[http.CanonicalHeaderKey(name)] = r.header.Values(name)
		}
	}
	sum := sha256.Sum256(r.body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", when); err != nil {
		return err
	}
	if got := req.Header.Get("Authorization"); got != auth {
		return fmt.Errorf("signature mismatch:\nsent     %s\nexpected %s", auth, got)
	}
	if creds.SessionToken != "" && r.header.Get("X-Amz-Security-Token") != creds.SessionToken {
		return fmt.Errorf("security token %q", r.header.Get("X-Amz-Security-Token"))
	}
	return nil
}

// TestDirectSignature checks the direct path's SigV4 signature against one
// recomputed at the server from known credentials, with and without a
// session token, as for the SDK's.
func TestDirectSignature(t *testing.T) {
	rec := startRecorder(t, answerLikeLambda)
	for _, creds := range []aws.Credentials{
		{AccessKeyID: "AKIDSIGTEST", SecretAccessKey: "sig-secret"},
		{AccessKeyID: "AKIDSIGTEST", SecretAccessKey: "sig-secret", SessionToken: "sig-token+/="},
	} {
		provider := credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
		tmpl := Template{FunctionName: "arn:aws:lambda:us-east-1:123456789012:function:f n", Qualifier: "$LATEST",
			LogType: types.LogTypeTail, ClientContext: []byte(`{"k":"v"}`)}
		iv := newDirectInvoker(t, rec.url, tmpl, Config{Credentials: provider})
		p := []byte(`{"sign":"me"}`)
		callBoth(t, iv, tmpl, p)
		reqs := rec.take()
		for i, path := range []string{"SDK", "direct"} {
			if err := verifySigV4(reqs[i], creds); err != nil {
				t.Errorf("%s, token %q: %v", path, creds.SessionToken, err)
			}
		}
		// The check itself rejects a signature by other credentials.
		other := creds
		other.SecretAccessKey = "another-secret"
		if err := verifySigV4(reqs[1], other); err == nil {
			t.Error("a signature verified with the wrong secret")
		}
	}
}

// TestDirectClockSkew checks that the direct path signs with the clock
// corrected by the server's Date, as the SDK does.
func TestDirectClockSkew(t *testing.T) {
	const skew = time.Hour
	rec := startRecorder(t, func(w http.ResponseWriter, r recorded) {
		w.Header().Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
		answerLikeLambda(w, r)
	})
	tmpl := Template{FunctionName: "fn"}
	iv := newDirectInvoker(t, rec.url, tmpl, Config{})
	p := []byte(`{}`)
	for range 2 {
		callBoth(t, iv, tmpl, p)
	}
	reqs := rec.take()
	for i, path := range []string{"SDK", "direct"} {
		signed, err := time.Parse(amzDateFormat, reqs[2+i].header.Get("X-Amz-Date"))
		if err != nil {
			t.Fatal(err)
		}
		if off := time.Until(signed) - skew; off < -5*time.Second || off > 5*time.Second {
			t.Errorf("%s: the second call was signed %v off the server's clock", path, off)
		}
	}
}

// TestDirectSelfCheck checks that the comparison newDirect relies on sees
// a difference in any part of a request, and that options the direct path
// cannot stand for keep the invoker on the SDK.
func TestDirectSelfCheck(t *testing.T) {
	rec := startRecorder(t, answerLikeLambda)
	tmpl := Template{FunctionName: "fn", Qualifier: "1", LogType: types.LogTypeTail}
	iv := newDirectInvoker(t, rec.url, tmpl, Config{})
	d := iv.direct
	when := time.Now()
	creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s"}
	build := func() *http.Request {
		req, err := d.request(t.Context(), checkPayload, "id", creds, when)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	if err := sameRequest(build(), checkPayload, build(), checkPayload); err != nil {
		t.Fatalf("a request differs from itself: %v", err)
	}
	for name, change := range map[string]func(r *http.Request, body *[]byte){
		"path": func(r *http.Request, _ *[]byte) {
			r.URL.Path = strings.Replace(r.URL.Path, "fn", "f%n", 1)
			r.URL.RawPath = strings.Replace(r.URL.RawPath, "fn", "f%25n", 1)
		},
		"query":  func(r *http.Request, _ *[]byte) { r.URL.RawQuery = "Qualifier=2" },
		"host":   func(r *http.Request, _ *[]byte) { r.Host = "elsewhere" },
		"method": func(r *http.Request, _ *[]byte) { r.Method = http.MethodPut },
		"body":   func(_ *http.Request, b *[]byte) { *b = []byte(`{}`) },
		"value":  func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Log-Type", "None") },
		"extra":  func(r *http.Request, _ *[]byte) { r.Header.Set("X-Amz-Tenant-Id", "t") },
		"absent": func(r *http.Request, _ *[]byte) { r.Header.Del("User-Agent") },
	} {
		sdk, body := build(), checkPayload
		change(sdk, &body)
		if err := sameRequest(build(), checkPayload, sdk, body); err == nil {
			t.Errorf("%s: a changed request compares equal", name)
		}
	}

	// An API option changes what the SDK does per call.
	client := lambda.New(iv.client.Options(), lambda.WithAPIOptions(func(*middleware.Stack) error { return nil }))
	if d, err := newDirect(t.Context(), client, tmpl); d != nil || err == nil {
		t.Error("a client with API options took the direct path")
	}
	// A retryer would send a replayed answer to its deserializer again.
	client = lambda.New(iv.client.Options(), func(o *lambda.Options) { o.Retryer = retry.NewStandard() })
	if d, err := newDirect(t.Context(), client, tmpl); d != nil || err == nil {
		t.Error("a client that retries took the direct path")
	}
	// An app ID changes only the User-Agent, which the direct path takes
	// from the SDK's request.
	client = lambda.New(iv.client.Options(), func(o *lambda.Options) { o.AppID = "app" })
	if d, err := newDirect(t.Context(), client, tmpl); d == nil || err != nil {
		t.Errorf("an app ID, which only changes the User-Agent, kept the SDK: %v", err)
	}
}

// TestDirectReadsWholeBodies checks readBody against announced lengths
// that are right, short, long and absent.
func TestDirectReadsWholeBodies(t *testing.T) {
	for _, tc := range []struct {
		body   string
		length int64
	}{{"", 0}, {"abc", 3}, {"abcdef", 2}, {"abc", 100}, {strings.Repeat("x", 10000), -1}} {
		got, err := readBody(strings.NewReader(tc.body), tc.length)
		if err != nil || string(got) != tc.body {
			t.Errorf("%d bytes announced as %d: read %d, %v", len(tc.body), tc.length, len(got), err)
		}
	}
	broken := errors.New("broken")
	got, err := readBody(io.MultiReader(strings.NewReader("ab"), errReader{broken}), 10)
	if string(got) != "ab" || !errors.Is(err, broken) {
		t.Errorf("read %q, %v", got, err)
	}
}

// errorChain lists the types of err and of every error it wraps.
func errorChain(err error) []string {
	var out []string
	for err != nil {
		out = append(out, fmt.Sprintf("%T", err))
		err = errors.Unwrap(err)
	}
	return out
}

// normalize drops what differs between two requests from an error's text:
// request IDs and loopback ports.
func normalize(s string) string {
	s = regexp.MustCompile(`RequestID: [^,\s]*`).ReplaceAllString(s, "RequestID: ID")
	return regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(s, "127.0.0.1:PORT")
}

// sameError checks that the direct path's error is the SDK's: the same
// types wrapped in the same order, the same text, classification, status
// and retry hint.
func sameError(t *testing.T, direct, sdk error) {
	t.Helper()
	if direct == nil || sdk == nil {
		t.Fatalf("direct error %v, SDK error %v", direct, sdk)
	}
	if a, b := errorChain(direct), errorChain(sdk); !reflect.DeepEqual(a, b) {
		t.Errorf("direct error types %v\nSDK error types    %v", a, b)
	}
	if a, b := normalize(direct.Error()), normalize(sdk.Error()); a != b {
		t.Errorf("direct error %q\nSDK error    %q", a, b)
	}
	if a, b := Classify(direct), Classify(sdk); a != b {
		t.Errorf("direct kind %s, SDK kind %s", a, b)
	}
	if a, b := normalize(describe(direct)), normalize(describe(sdk)); a != b {
		t.Errorf("direct description %q, SDK %q", a, b)
	}
	if a, b := httpStatus(direct), httpStatus(sdk); a != b {
		t.Errorf("direct status %d, SDK %d", a, b)
	}
	da, dok := retryAfter(direct)
	sa, sok := retryAfter(sdk)
	if da != sa || dok != sok {
		t.Errorf("direct Retry-After %v %v, SDK %v %v", da, dok, sa, sok)
	}
}

// TestDirectErrorsMatchSDK checks that every failure the direct path meets
// comes back as the SDK's own error for it, and that neither path sends a
// call more than once.
func TestDirectErrorsMatchSDK(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{Functions: []string{"fn"}})
	tmpl := Template{FunctionName: "fn", LogType: types.LogTypeTail}
	iv := newDirectInvoker(t, s.URL(), tmpl, Config{})

	type check func(t *testing.T, err error)
	is := func(target any) check {
		return func(t *testing.T, err error) {
			if !errors.As(err, target) {
				t.Errorf("%v is no %T", err, target)
			}
		}
	}
	var (
		throttle *types.TooManyRequestsException
		notFound *types.ResourceNotFoundException
		tooLarge *types.RequestTooLargeException
		invalid  *types.InvalidRequestContentException
		service  *types.ServiceException
		notReady *types.ResourceNotReadyException
		respErr  *awshttp.ResponseError
		opErr    *smithy.OperationError
		sendErr  *smithyhttp.RequestSendError
		canceled *smithy.CanceledError
	)
	for _, tc := range []struct {
		name     string
		payload  string
		timeout  time.Duration
		requests int64
		checks   []check
	}{
		{"throttle", `{"error":"throttle","retry_after":3,"reason":"ConcurrentInvocationLimitExceeded"}`, 0, 1, []check{is(&throttle), is(&respErr), is(&opErr),
			func(t *testing.T, err error) {
				if errors.As(err, &throttle) && (aws.ToString(throttle.RetryAfterSeconds) != "3" || throttle.Reason != "ConcurrentInvocationLimitExceeded") {
					t.Errorf("throttle %+v", throttle)
				}
			}}},
		{"not found", `{"error":"not_found"}`, 0, 1, []check{is(&notFound)}},
		{"access denied", `{"error":"access_denied"}`, 0, 1, []check{is(&respErr)}},
		{"too large", `{"error":"too_large"}`, 0, 1, []check{is(&tooLarge)}},
		{"invalid", `{"error":"invalid"}`, 0, 1, []check{is(&invalid)}},
		{"service", `{"error":"service"}`, 0, 1, []check{is(&service)}},
		{"not ready", `{"error":"not_ready"}`, 0, 1, []check{is(&notReady)}},
		{"unknown exception", `{"error":"UnrecognizedClientException"}`, 0, 1, []check{is(&respErr)}},
		{"connection reset", `{"error":"reset"}`, 0, 1, []check{is(&sendErr), is(&opErr)}},
		{"connection dropped", `{"error":"drop"}`, 0, 1, []check{is(&sendErr)}},
		{"timeout", `{"sleep_ms":5000}`, 100 * time.Millisecond, 1, []check{is(&canceled),
			func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%v is no deadline", err)
				}
			}}},
		{"already canceled", `{}`, -1, 0, []check{func(t *testing.T, err error) {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%v is no cancellation", err)
			}
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := []byte(tc.payload)
			call := func(invoke func(ctx context.Context) error) (int64, error) {
				ctx := t.Context()
				switch {
				case tc.timeout > 0:
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.timeout)
					defer cancel()
				case tc.timeout < 0:
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					cancel()
				}
				before := s.Stats().Requests
				err := invoke(ctx)
				return s.Stats().Requests - before, err
			}
			sdkN, sdkErr := call(func(ctx context.Context) error {
				_, err := iv.client.Invoke(ctx, tmpl.Input(p))
				return err
			})
			directN, directErr := call(func(ctx context.Context) error {
				_, err := iv.direct.invoke(ctx, p)
				return err
			})
			sameError(t, directErr, sdkErr)
			if sdkN != tc.requests || directN != tc.requests {
				t.Errorf("the server got %d requests from the direct path, %d from the SDK, want %d", directN, sdkN, tc.requests)
			}
			for _, c := range tc.checks {
				c(t, directErr)
			}
		})
	}

	// Nothing listening: the dial fails, as it does for the SDK.
	closed := newDirectInvoker(t, ClosedPort(t), tmpl, Config{})
	_, sdkErr := closed.client.Invoke(t.Context(), tmpl.Input([]byte(`{}`)))
	_, directErr := closed.direct.invoke(t.Context(), []byte(`{}`))
	sameError(t, directErr, sdkErr)
}

// TestDirectBrokenAnswersMatchSDK checks answers the test server cannot
// give: a 2xx whose body breaks off, and an error that is not JSON.
func TestDirectBrokenAnswersMatchSDK(t *testing.T) {
	rec := startRecorder(t, func(w http.ResponseWriter, r recorded) {
		if strings.Contains(string(r.body), "teapot") {
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte("short and stout"))
			return
		}
		// Announce 100 bytes, send 5, and close.
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"a":`))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	tmpl := Template{FunctionName: "fn"}
	iv := newDirectInvoker(t, rec.url, tmpl, Config{})
	for _, p := range []string{`"cut"`, `"teapot"`} {
		_, sdkErr := iv.client.Invoke(t.Context(), tmpl.Input([]byte(p)))
		_, directErr := iv.direct.invoke(t.Context(), []byte(p))
		sameError(t, directErr, sdkErr)
		if n := len(rec.take()); n != 2 {
			t.Errorf("%s: %d requests, want one per path", p, n)
		}
	}
}

// TestDirectCredentialErrorsMatchSDK checks that credentials that cannot be
// had fail as they do through the SDK, sending nothing and asking the
// provider once per call.
func TestDirectCredentialErrorsMatchSDK(t *testing.T) {
	rec := startRecorder(t, answerLikeLambda)
	var asked atomic.Int64
	provider := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		asked.Add(1)
		return aws.Credentials{}, errors.New("no credentials here")
	})
	tmpl := Template{FunctionName: "fn"}
	iv := newDirectInvoker(t, rec.url, tmpl, Config{Credentials: provider})
	_, sdkErr := iv.client.Invoke(t.Context(), tmpl.Input([]byte(`{}`)))
	sdkAsked := asked.Swap(0)
	_, directErr := iv.direct.invoke(t.Context(), []byte(`{}`))
	sameError(t, directErr, sdkErr)
	if n := asked.Load(); n != sdkAsked || n != 1 {
		t.Errorf("the provider was asked %d times by the direct path, %d by the SDK, want 1", n, sdkAsked)
	}
	if n := len(rec.take()); n != 0 {
		t.Errorf("%d requests sent without credentials", n)
	}
	if Classify(directErr) != KindAccessDenied {
		t.Errorf("kind %s", Classify(directErr))
	}
}

// TestDirectResultsMatchSDK runs the same inputs, retries included, through
// an invoker on the direct path and one on the SDK alone, and compares
// their results and the requests the server got from each.
func TestDirectResultsMatchSDK(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{Functions: []string{"fn"}})
	inputs := []string{
		`{"id":"%s-ok","response":"fine"}`,
		`{"id":"%s-throttled-once","error":"throttle","retry_after":0,"fail_times":1,"response":"fine"}`,
		`{"id":"%s-throttled","error":"throttle","retry_after":0,"response":"fine"}`,
		`{"id":"%s-handled","fail":"handled"}`,
		`{"id":"%s-unhandled","fail":"unhandled","fail_times":1}`,
		`{"id":"%s-service","error":"service"}`,
		`{"id":"%s-reset","error":"reset"}`,
		`{"id":"%s-not-found","error":"not_found"}`,
		`not json`,
	}
	run := func(name string, sdkOnly bool) ([]Result, int64) {
		iv, e := newInternalInvoker(t, Config{Region: "us-east-1", EndpointURL: s.URL(), Concurrency: 2, Retries: 2})
		if iv.direct == nil {
			t.Fatalf("the invoker stayed on the SDK: %v", iv.directOff)
		}
		if sdkOnly {
			iv.direct = nil
		}
		var payloads []string
		for _, in := range inputs {
			if strings.Contains(in, "%s") {
				in = fmt.Sprintf(in, name)
			}
			payloads = append(payloads, in)
		}
		before := s.Stats().Requests
		var out []Result
		for r := range iv.InvokeAll(t.Context(), e, Payloads(payloads...)) {
			out = append(out, r)
		}
		return out, s.Stats().Requests - before
	}
	sdk, sdkN := run("sdk", true)
	direct, directN := run("direct", false)
	if sdkN != directN {
		t.Errorf("the server got %d requests from the direct path, %d from the SDK", directN, sdkN)
	}
	for i := range inputs {
		a, b := direct[i], sdk[i]
		for _, r := range []*Result{&a, &b} {
			r.Duration, r.DurationMS, r.Err = 0, 0, nil
			r.Error = normalize(r.Error)
			r.LogTail = ""
			if strings.Contains(string(r.Response), "errorMessage") { // the request ID is in it
				r.Response = nil
			}
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("input %d: direct %+v\nSDK    %+v", i, a, b)
		}
	}
}

// callBoth makes the call of p once through the SDK, then once by the
// direct path, which must finish it.
func callBoth(t *testing.T, iv *Invoker, tmpl Template, p []byte) {
	t.Helper()
	if _, err := iv.client.Invoke(t.Context(), tmpl.Input(p)); err != nil {
		t.Fatal(err)
	}
	if out, _ := iv.direct.try(t.Context(), p); out == nil {
		t.Fatal("the direct path did not finish the call")
	}
}
