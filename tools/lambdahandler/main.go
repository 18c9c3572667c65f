// Command handler is a real aws-lambda-go function for the tests of
// lambdainvoke and `fanout lambda`: they build it as `bootstrap` and run it
// under the AWS Lambda Runtime Interface Emulator. The payload's "mode"
// chooses what it does:
//
//	{"mode":"echo", ...}                 return the payload (the default)
//	{"mode":"context"}                   return the client context, function
//	                                     name and request id it was given
//	{"mode":"sleep","ms":N}              sleep N ms, deadline or not, then
//	                                     return the payload
//	{"mode":"error","message":"..."}     return an error (a handled error)
//	{"mode":"panic","message":"..."}     panic
//
// A payload that is not an object is echoed. Every call writes one line to
// stdout, which is the function's log.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Mode    string `json:"mode"`
	MS      int    `json:"ms"`
	Message string `json:"message"`
}

// contextReply is the answer of mode "context".
type contextReply struct {
	Function      string                       `json:"function"`
	RequestID     string                       `json:"request_id"`
	ClientContext *lambdacontext.ClientContext `json:"client_context"`
}

// TestError is the type of mode "error"'s error: the runtime reports its
// name as the errorType.
type TestError struct{ Message string }

func (e *TestError) Error() string { return e.Message }

func handle(ctx context.Context, payload json.RawMessage) (any, error) {
	var req request
	_ = json.Unmarshal(payload, &req) // not an object: echo it
	lc, _ := lambdacontext.FromContext(ctx)
	fmt.Printf("handler: mode %q\n", req.Mode)
	switch req.Mode {
	case "", "echo":
		return payload, nil
	case "context":
		reply := contextReply{Function: lambdacontext.FunctionName}
		if lc != nil {
			reply.RequestID = lc.AwsRequestID
			if lc.ClientContext.Custom != nil || lc.ClientContext.Env != nil || lc.ClientContext.Client != (lambdacontext.ClientApplication{}) {
				reply.ClientContext = &lc.ClientContext
			}
		}
		return reply, nil
	case "sleep":
		// It ignores its deadline, as a stuck function would: past the
		// function's timeout the runtime stops it.
		time.Sleep(time.Duration(req.MS) * time.Millisecond)
		return payload, nil
	case "error":
		return nil, &TestError{Message: req.Message}
	case "panic":
		panic(req.Message)
	}
	return nil, errors.New("handler: unknown mode " + req.Mode)
}

func main() { lambda.Start(handle) }
