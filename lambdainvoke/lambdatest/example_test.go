package lambdatest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

func Example() {
	s, err := lambdatest.Start(lambdatest.Options{Aliases: map[string]string{"live": "3"}})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := lambda.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "not-a-secret", ""),
		HTTPClient:   &http.Client{Transport: tr},
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
		BaseEndpoint: aws.String(s.URL()),
	})
	ctx := context.Background()

	out, err := c.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String("my-function"),
		Qualifier:    aws.String("live"),
		Payload:      []byte(`{"id":"a","sleep_ms":10}`),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(out.StatusCode, *out.ExecutedVersion, string(out.Payload))

	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("my-function"), Payload: []byte(`{"fail":"handled"}`)})
	if err != nil {
		panic(err)
	}
	fmt.Println(out.StatusCode, *out.FunctionError)

	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("my-function"), Payload: []byte(`{"error":"throttle","retry_after":1}`)})
	var throttle *types.TooManyRequestsException
	if errors.As(err, &throttle) {
		fmt.Println("throttled:", throttle.Reason, "retry after", *throttle.RetryAfterSeconds)
	}
	fmt.Println("calls:", s.Calls("my-function"), "throttled:", s.Stats().Throttled)
	// Output:
	// 200 3 {"id":"a","sleep_ms":10}
	// 200 Handled
	// throttled: FunctionInvocationRateLimitExceeded retry after 1
	// calls: 2 throttled: 1
}
