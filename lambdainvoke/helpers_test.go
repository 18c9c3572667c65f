package lambdainvoke_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.uber.org/goleak"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/lambdainvoke"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

// Test credentials: never real, and looked for in every error text.
const (
	testKeyID  = "AKIDFANOUTTESTKEY"
	testSecret = "fanout-test-secret-do-not-print"
)

func TestMain(m *testing.M) {
	isolateAWSEnv()
	goleak.VerifyTestMain(m)
}

// isolateAWSEnv drops the caller's AWS settings, so that no test reads a
// real profile or credentials, and keeps the SDK from asking the instance
// metadata service: nothing leaves loopback.
func isolateAWSEnv() {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AWS_") {
			os.Unsetenv(name)
		}
	}
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Setenv("AWS_CONFIG_FILE", os.DevNull)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

// newBenchInvoker returns an invoker against endpoint and an executor of the given
// limit, for benchmarks.
func newBenchInvoker(b *testing.B, endpoint string, limit int) (*lambdainvoke.Invoker, *fanout.Executor) {
	iv, err := lambdainvoke.New(b.Context(), lambdainvoke.Template{FunctionName: "fn"}, lambdainvoke.Config{
		Region: "us-east-1", EndpointURL: endpoint, Concurrency: limit,
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
	})
	if err != nil {
		b.Fatal(err)
	}
	e := fanout.New(append(iv.ExecutorOptions(), fanout.WithLimit(limit))...)
	b.Cleanup(func() {
		e.Close()
		iv.Close()
	})
	return iv, e
}

// newInvoker returns an invoker of tmpl against endpoint, with static test
// credentials unless cfg has others, and an executor with its options and
// the given limit; both are closed when the test ends.
func newInvoker(t *testing.T, endpoint string, tmpl lambdainvoke.Template, cfg lambdainvoke.Config, limit int, opts ...fanout.Option) (*lambdainvoke.Invoker, *fanout.Executor) {
	t.Helper()
	if tmpl.FunctionName == "" {
		tmpl.FunctionName = "fn"
	}
	cfg.EndpointURL = endpoint
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = limit
	}
	iv, err := lambdainvoke.New(t.Context(), tmpl, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := fanout.New(append(append(iv.ExecutorOptions(), fanout.WithLimit(limit)), opts...)...)
	t.Cleanup(func() {
		e.Close()
		iv.Close()
	})
	return iv, e
}

// invokeAll collects InvokeAll's results and checks that no result leaks
// the test credentials.
func invokeAll(t *testing.T, ctx context.Context, iv *lambdainvoke.Invoker, e *fanout.Executor, payloads ...string) []lambdainvoke.Result {
	t.Helper()
	var out []lambdainvoke.Result
	for r := range iv.InvokeAll(ctx, e, lambdainvoke.Payloads(payloads...)) {
		checkNoSecrets(t, r)
		out = append(out, r)
	}
	return out
}

func checkNoSecrets(t *testing.T, r lambdainvoke.Result) {
	t.Helper()
	text := r.Error + string(r.Response) + r.LogTail
	if r.Err != nil {
		text += r.Err.Error()
	}
	if strings.Contains(text, testSecret) || strings.Contains(text, testKeyID) {
		t.Errorf("result %d shows the credentials: %q", r.Index, text)
	}
}

func startServer(t *testing.T, o lambdatest.Options) *lambdatest.Server {
	return lambdatest.StartTest(t, o)
}

// noDNS is a resolver that fails every look-up without sending a packet.
var noDNS = &net.Resolver{
	PreferGo: true,
	Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS server in tests")
	},
}

func kindOf(r lambdainvoke.Result) string {
	if r.Err == nil {
		return "ok"
	}
	return string(r.ErrorKind)
}

func newExecutor(t *testing.T, iv *lambdainvoke.Invoker, limit int) *fanout.Executor {
	e := fanout.New(append(iv.ExecutorOptions(), fanout.WithLimit(limit))...)
	t.Cleanup(e.Close)
	return e
}
