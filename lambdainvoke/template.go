package lambdainvoke

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Lambda's documented limits, checked before a call is sent.
const (
	// SyncPayloadLimit is the largest payload of a RequestResponse (or
	// DryRun) call: 6 MB.
	SyncPayloadLimit = 6 << 20
	// EventPayloadLimit is the largest payload of an Event call: 1 MB.
	EventPayloadLimit = 1 << 20
	// ClientContextLimit is the most bytes of base64 client context.
	ClientContextLimit = 3583
)

// Template holds the named parameters every call of a run shares: Go's
// counterpart of functools.partial(client.invoke, FunctionName=...,
// InvocationType=..., Qualifier=...). Each call supplies only its payload
// (see Input). The zero values of the optional fields leave the choice to
// Lambda: RequestResponse, no log, $LATEST.
type Template struct {
	// FunctionName is the function's name, name:alias, partial or full
	// ARN. Required.
	FunctionName string
	// Qualifier is a version or an alias; "" for $LATEST (or the one in
	// FunctionName).
	Qualifier string
	// InvocationType is RequestResponse (default), Event or DryRun.
	InvocationType types.InvocationType
	// LogType Tail asks for the last 4 KB of the call's log.
	LogType types.LogType
	// ClientContext is a JSON object given to the function (synchronous
	// calls only); Input encodes it in base64. At most 3,583 bytes once
	// encoded.
	ClientContext json.RawMessage
}

// Validate checks the template: a function name, known invocation and log
// types, and a client context that is a JSON object within the limit.
func (t Template) Validate() error {
	if t.FunctionName == "" {
		return errors.New("lambdainvoke: no function name")
	}
	switch t.InvocationType {
	case "", types.InvocationTypeRequestResponse, types.InvocationTypeEvent, types.InvocationTypeDryRun:
	default:
		return fmt.Errorf("lambdainvoke: invocation type %q: want RequestResponse, Event or DryRun", t.InvocationType)
	}
	switch t.LogType {
	case "", types.LogTypeNone, types.LogTypeTail:
	default:
		return fmt.Errorf("lambdainvoke: log type %q: want None or Tail", t.LogType)
	}
	if t.ClientContext != nil {
		trimmed := bytes.TrimSpace(t.ClientContext)
		if !json.Valid(trimmed) || len(trimmed) == 0 || trimmed[0] != '{' {
			return errors.New("lambdainvoke: the client context must be a JSON object")
		}
		if n := base64.StdEncoding.EncodedLen(len(trimmed)); n > ClientContextLimit {
			return fmt.Errorf("lambdainvoke: the client context takes %d bytes in base64, more than Lambda's %d", n, ClientContextLimit)
		}
	}
	return nil
}

// PayloadLimit returns the largest payload Lambda accepts for the
// template's invocation type.
func (t Template) PayloadLimit() int {
	if t.InvocationType == types.InvocationTypeEvent {
		return EventPayloadLimit
	}
	return SyncPayloadLimit
}

// Input returns the SDK's input for one call of the template with payload:
// the partial application. It does not check the payload; Invoker does.
func (t Template) Input(payload []byte) *lambda.InvokeInput {
	in := &lambda.InvokeInput{
		FunctionName:   aws.String(t.FunctionName),
		InvocationType: t.InvocationType,
		LogType:        t.LogType,
		Payload:        payload,
	}
	if t.Qualifier != "" {
		in.Qualifier = aws.String(t.Qualifier)
	}
	if t.ClientContext != nil {
		in.ClientContext = aws.String(base64.StdEncoding.EncodeToString(bytes.TrimSpace(t.ClientContext)))
	}
	return in
}

// checkPayload reports why payload cannot be sent with t, or nil.
func (t Template) checkPayload(payload []byte) error {
	if limit := t.PayloadLimit(); len(payload) > limit {
		return &PayloadError{TooLarge: true, Reason: fmt.Sprintf("%d bytes, more than Lambda's %d for %s calls", len(payload), limit, t.invocationType())}
	}
	if !json.Valid(payload) {
		return &PayloadError{Reason: "not valid JSON"}
	}
	return nil
}

func (t Template) invocationType() types.InvocationType {
	if t.InvocationType == "" {
		return types.InvocationTypeRequestResponse
	}
	return t.InvocationType
}
