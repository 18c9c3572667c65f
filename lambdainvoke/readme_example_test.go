package lambdainvoke_test

import (
	"context"
	"fmt"
	"os"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/lambdainvoke"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

// invokeOrders is README.md's Lambda snippet: the template is the
// functools.partial, each call supplies only its payload. The region,
// endpoint and credentials come from the usual AWS configuration.
func invokeOrders(ctx context.Context) error {
	// readme:begin
	iv, err := lambdainvoke.New(ctx,
		lambdainvoke.Template{FunctionName: "my-function", Qualifier: "live"}, // the partial
		lambdainvoke.Config{Concurrency: 50, Retries: 3})                      // SDK retries off: fanout owns them
	if err != nil {
		return err
	}
	defer iv.Close()
	ex := fanout.New(append(iv.ExecutorOptions(), fanout.WithLimit(50))...)
	defer ex.Close()
	for r := range iv.InvokeAll(ctx, ex, lambdainvoke.Payloads(`{"order":1}`, `{"order":2}`)) {
		fmt.Println(r.Index, r.Status, r.FunctionError, string(r.Response), r.Err)
	}
	// readme:end
	return nil
}

// ExampleInvoker_readme runs README.md's snippet against a local Invoke
// API server, configured as a user would configure AWS: by environment.
func ExampleInvoker_readme() {
	srv, err := lambdatest.Start(lambdatest.Options{Aliases: map[string]string{"live": "3"}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	for name, value := range map[string]string{
		"AWS_ENDPOINT_URL": srv.URL(), "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-secret",
	} {
		os.Setenv(name, value)
		defer os.Unsetenv(name)
	}
	if err := invokeOrders(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 0 200  {"order":1} <nil>
	// 1 200  {"order":2} <nil>
}
