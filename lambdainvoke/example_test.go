package lambdainvoke_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/lambdainvoke"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

func Example() {
	// A local server that speaks the Invoke API; drop EndpointURL and
	// Credentials to call AWS with the default configuration.
	srv, err := lambdatest.Start(lambdatest.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	ctx := context.Background()
	iv, err := lambdainvoke.New(ctx,
		lambdainvoke.Template{FunctionName: "my-function", Qualifier: "$LATEST"},
		lambdainvoke.Config{
			Region:      "us-east-1",
			EndpointURL: srv.URL(),
			Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "not-a-secret", ""),
			Concurrency: 10,
			Retries:     2,
		})
	if err != nil {
		panic(err)
	}
	defer iv.Close()
	e := fanout.New(append(iv.ExecutorOptions(), fanout.WithLimit(10))...)
	defer e.Close()

	payloads := lambdainvoke.Payloads(
		`{"order":1,"sleep_ms":20}`,
		`{"order":2,"fail":"handled"}`,
		`{"id":"t","error":"throttle","fail_times":1}`,
		`{"error":"service"}`,
		`not json`,
	)
	for r := range iv.InvokeAll(ctx, e, payloads) {
		fmt.Printf("%d status=%d attempts=%d", r.Index, r.Status, r.Attempts)
		if r.FunctionError != "" {
			fmt.Print(" function_error=", r.FunctionError)
		}
		if r.Err != nil {
			fmt.Print(" error_kind=", r.ErrorKind, " may_have_run=", r.MayHaveRun)
		} else {
			fmt.Printf(" response=%s", r.Response)
		}
		fmt.Println()
	}
	// Output:
	// 0 status=200 attempts=1 response={"order":1,"sleep_ms":20}
	// 1 status=200 attempts=1 function_error=Handled response={"errorMessage":"the payload asked for a handled error","errorType":"HandledError"}
	// 2 status=200 attempts=2 response={"id":"t","error":"throttle","fail_times":1}
	// 3 status=500 attempts=1 error_kind=service may_have_run=true
	// 4 status=0 attempts=0 error_kind=invalid_payload may_have_run=false
}

// Template.Input is the partial application: the template's named
// parameters with one call's payload.
func ExampleTemplate_Input() {
	tmpl := lambdainvoke.Template{
		FunctionName:   "my-function",
		Qualifier:      "live",
		InvocationType: types.InvocationTypeEvent,
	}
	in := tmpl.Input([]byte(`{"n":1}`))
	fmt.Println(aws.ToString(in.FunctionName), aws.ToString(in.Qualifier), in.InvocationType, string(in.Payload))
	// Output:
	// my-function live Event {"n":1}
}
