package lambdatest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"go.uber.org/goleak"

	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// client returns a real SDK client for s with retries off, as lambdainvoke
// builds it, and closes its connections when the test ends.
func client(t *testing.T, s *lambdatest.Server) *lambda.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return lambda.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLAMBDASERVERTEST", "not-a-secret", ""),
		HTTPClient:   &http.Client{Transport: tr},
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
		BaseEndpoint: aws.String(s.URL()),
	})
}

func invoke(t *testing.T, c *lambda.Client, in *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
	t.Helper()
	if in.FunctionName == nil {
		in.FunctionName = aws.String("fn")
	}
	return c.Invoke(t.Context(), in)
}

func TestRequestResponse(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{Aliases: map[string]string{"live": "7"}})
	c := client(t, s)
	tests := []struct {
		qualifier, version string
	}{{"", "$LATEST"}, {"$LATEST", "$LATEST"}, {"3", "3"}, {"live", "7"}}
	for _, tt := range tests {
		out, err := invoke(t, c, &lambda.InvokeInput{
			Payload:   []byte(`{"id":"x","log":"hello from the function","n":[1,2]}`),
			Qualifier: aws.String(tt.qualifier),
			LogType:   types.LogTypeTail,
		})
		if err != nil {
			t.Fatalf("qualifier %q: %v", tt.qualifier, err)
		}
		if out.StatusCode != 200 || aws.ToString(out.ExecutedVersion) != tt.version || out.FunctionError != nil {
			t.Errorf("qualifier %q: status %d, version %q, function error %v", tt.qualifier, out.StatusCode, aws.ToString(out.ExecutedVersion), out.FunctionError)
		}
		if string(out.Payload) != `{"id":"x","log":"hello from the function","n":[1,2]}` {
			t.Errorf("payload not echoed: %s", out.Payload)
		}
		tail, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
		if err != nil || !strings.Contains(string(tail), "\nhello from the function\n") ||
			!strings.HasPrefix(string(tail), "START RequestId: ") || !strings.Contains(string(tail), "Version: "+tt.version) {
			t.Errorf("log tail %q, %v", tail, err)
		}
	}
	if got := s.Calls("fn"); got != 4 {
		t.Errorf("Calls(fn) = %d, want 4", got)
	}
	if got := s.Attempts("x"); got != 4 {
		t.Errorf("Attempts(x) = %d, want 4", got)
	}
	// Without Tail there is no log.
	out, err := invoke(t, c, &lambda.InvokeInput{Payload: []byte(`[1]`)})
	if err != nil || out.LogResult != nil || string(out.Payload) != "[1]" {
		t.Errorf("no tail: %v, %v, %s", err, out.LogResult, out.Payload)
	}
}

func TestEventAndDryRun(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{Delay: time.Hour})
	c := client(t, s)
	// Event and DryRun answer at once, whatever the run time.
	out, err := invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{}`), InvocationType: types.InvocationTypeEvent})
	if err != nil || out.StatusCode != 202 || len(out.Payload) != 0 {
		t.Fatalf("Event: %v, %+v", err, out)
	}
	out, err = invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{}`), InvocationType: types.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Fatalf("DryRun: %v, %+v", err, out)
	}
	if st := s.Stats(); st.Invocations != 1 || st.Requests != 2 {
		t.Errorf("stats %+v, want 1 invocation (the Event) of 2 requests", st)
	}
}

func TestFunctionErrors(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{})
	c := client(t, s)
	for _, kind := range []string{"Handled", "Unhandled"} {
		out, err := invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{"fail":"` + strings.ToLower(kind) + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ ErrorType, ErrorMessage string }
		if out.StatusCode != 200 || aws.ToString(out.FunctionError) != kind ||
			json.Unmarshal(out.Payload, &body) != nil || body.ErrorType == "" || body.ErrorMessage == "" {
			t.Errorf("%s: status %d, function error %q, body %s", kind, out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
		}
	}
}

// TestErrorsDeserialize checks that the real SDK turns each error answer
// into its modeled type.
func TestErrorsDeserialize(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{Functions: []string{"fn"}})
	c := client(t, s)

	_, err := invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{"error":"throttle","retry_after":2,"reason":"CallerRateLimitExceeded"}`)})
	var throttle *types.TooManyRequestsException
	if !errors.As(err, &throttle) || throttle.Reason != types.ThrottleReasonCallerRateLimitExceeded ||
		aws.ToString(throttle.RetryAfterSeconds) != "2" || throttle.ErrorMessage() != "Rate Exceeded." {
		t.Errorf("throttle: %v", err)
	}
	if st := s.Stats(); st.Throttled != 1 || st.Invocations != 0 {
		t.Errorf("stats after a throttle: %+v", st)
	}

	_, err = invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("other"), Payload: []byte(`{}`)})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) || !strings.Contains(notFound.ErrorMessage(), "function:other") {
		t.Errorf("unknown function: %v", err)
	}
	_, err = invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{}`), Qualifier: aws.String("no-such-alias")})
	if !errors.As(err, &notFound) {
		t.Errorf("unknown alias: %v", err)
	}

	_, err = invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{"a":`)})
	var invalid *types.InvalidRequestContentException
	if !errors.As(err, &invalid) {
		t.Errorf("invalid JSON: %v", err)
	}

	big := make([]byte, lambdatest.SyncPayloadLimit+1)
	for i := range big {
		big[i] = ' '
	}
	copy(big, `{}`)
	_, err = invoke(t, c, &lambda.InvokeInput{Payload: big})
	var tooLarge *types.RequestTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Errorf("6 MB + 1: %v", err)
	}
	_, err = invoke(t, c, &lambda.InvokeInput{Payload: big[:lambdatest.EventPayloadLimit+1], InvocationType: types.InvocationTypeEvent})
	if !errors.As(err, &tooLarge) {
		t.Errorf("Event of 1 MB + 1: %v", err)
	}
	if _, err = invoke(t, c, &lambda.InvokeInput{Payload: big[:lambdatest.SyncPayloadLimit]}); err != nil {
		t.Errorf("6 MB exactly: %v", err)
	}

	_, err = invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{"error":"service"}`)})
	var service *types.ServiceException
	var re *awshttp.ResponseError
	if !errors.As(err, &service) || !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Errorf("service: %v", err)
	}

	_, err = invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{"error":"access_denied"}`)})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" || !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
		t.Errorf("access denied: %v", err)
	}

	_, err = invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{"error":"ResourceNotReadyException"}`)})
	var notReady *types.ResourceNotReadyException
	if !errors.As(err, &notReady) || !errors.As(err, &re) || re.HTTPStatusCode() != 502 {
		t.Errorf("not ready: %v", err)
	}

	_, err = invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{}`), ClientContext: aws.String("not base64!")})
	var param *types.InvalidParameterValueException
	if !errors.As(err, &param) {
		t.Errorf("bad client context: %v", err)
	}
	_, err = invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String("fn:1"), Qualifier: aws.String("2"), Payload: []byte(`{}`)})
	if !errors.As(err, &param) {
		t.Errorf("two qualifiers: %v", err)
	}
}

func TestFunctionNameForms(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{Functions: []string{"fn"}})
	c := client(t, s)
	for name, qualifier := range map[string]string{
		"fn":                         "",
		"fn:4":                       "4",
		"123456789012:function:fn:4": "4",
		"arn:aws:lambda:us-west-2:123456789012:function:fn": "",
	} {
		out, err := invoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"echo":"request"}`)})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var got struct{ Function, Qualifier string }
		if err := json.Unmarshal(out.Payload, &got); err != nil || got.Function != "fn" || got.Qualifier != qualifier {
			t.Errorf("%s: function %q qualifier %q (%v), want fn and %q", name, got.Function, got.Qualifier, err, qualifier)
		}
	}
	if got := s.Calls("fn"); got != 4 {
		t.Errorf("Calls(fn) = %d, want 4", got)
	}
}

func TestClientContextAndEcho(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{})
	c := client(t, s)
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"tenant":"a"}}`))
	out, err := invoke(t, c, &lambda.InvokeInput{
		FunctionName:  aws.String("f2"),
		Payload:       []byte(`{"echo":"request","x":1}`),
		ClientContext: aws.String(cc),
		Qualifier:     aws.String("9"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Function, Qualifier string
		ExecutedVersion     string          `json:"executed_version"`
		InvocationType      string          `json:"invocation_type"`
		ClientContext       json.RawMessage `json:"client_context"`
		Payload             json.RawMessage
	}
	if err := json.Unmarshal(out.Payload, &got); err != nil {
		t.Fatal(err)
	}
	if got.Function != "f2" || got.Qualifier != "9" || got.InvocationType != "RequestResponse" || got.ExecutedVersion != "9" ||
		string(got.ClientContext) != `{"custom":{"tenant":"a"}}` || string(got.Payload) != `{"echo":"request","x":1}` {
		t.Errorf("echo: %s", out.Payload)
	}
}

// TestFailTimes checks that only an id's first calls fail.
func TestFailTimes(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{})
	c := client(t, s)
	payload := []byte(`{"id":7,"error":"throttle","fail_times":2,"response":"done"}`)
	for i := range 3 {
		out, err := invoke(t, c, &lambda.InvokeInput{Payload: payload})
		var throttle *types.TooManyRequestsException
		if i < 2 && !errors.As(err, &throttle) || i == 2 && (err != nil || string(out.Payload) != `"done"`) {
			t.Errorf("call %d: %v", i+1, err)
		}
	}
	times := s.AttemptTimes("7")
	if len(times) != 3 || !times[0].Before(times[2]) {
		t.Errorf("attempt times %v", times)
	}
}

// TestDroppedConnection checks that a dropped or reset connection reaches
// the SDK as an error after the function ran.
func TestDroppedConnection(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{})
	c := client(t, s)
	for _, mode := range []string{"drop", "reset"} {
		_, err := invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{"id":"` + mode + `","error":"` + mode + `"}`)})
		var api smithy.APIError
		if err == nil || errors.As(err, &api) {
			t.Errorf("%s: %v, want a transport error", mode, err)
		}
		if n := s.Attempts(mode); n != 1 {
			t.Errorf("%s: %d attempts; the SDK must not retry", mode, n)
		}
	}
	if got := s.Calls("fn"); got != 2 {
		t.Errorf("Calls = %d, want 2: the function ran before the drop", got)
	}
}

// TestLimit checks that calls beyond the limit answer 429 and that the
// limit can change while the server runs.
func TestLimit(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{Limit: 2, RetryAfter: 1500 * time.Millisecond})
	c := client(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"sleep_ms":3600000}`)})
		})
	}
	for s.Stats().Invocations < 2 { // both hold their slot
		time.Sleep(time.Millisecond)
	}
	_, err := invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{}`)})
	var throttle *types.TooManyRequestsException
	if !errors.As(err, &throttle) || throttle.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded ||
		aws.ToString(throttle.RetryAfterSeconds) != "2" {
		t.Errorf("third call at limit 2: %v", err)
	}
	s.SetLimit(3)
	if _, err := invoke(t, c, &lambda.InvokeInput{Payload: []byte(`{}`)}); err != nil {
		t.Errorf("third call at limit 3: %v", err)
	}
	cancel() // the sleeping calls end when their client goes away
	wg.Wait()
	if st := s.Stats(); st.MaxInFlight != 3 || st.Throttled != 1 || st.Invocations != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestCloseReleasesCalls checks that Close returns while calls sleep.
func TestCloseReleasesCalls(t *testing.T) {
	s, err := lambdatest.Start(lambdatest.Options{Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, s)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{}`)})
		errc <- err
	}()
	for s.Stats().Invocations < 1 {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	if err := <-errc; err == nil {
		t.Error("a call cut by Close succeeded")
	}
}
