package lambdainvoke_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fanout-go/fanout/lambdainvoke"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest/rie"
)

func startEmulator(t *testing.T, timeout time.Duration) *rie.Emulator {
	t.Helper()
	return rie.StartTest(t, "github.com/fanout-go/fanout/tools/lambdahandler", timeout)
}

// TestEmulator drives a real aws-lambda-go handler through the real Lambda
// runtime API, at concurrency 1 (the emulator crashes when calls overlap).
func TestEmulator(t *testing.T) {
	emu := startEmulator(t, 2*time.Second)
	tmpl := lambdainvoke.Template{
		FunctionName:  rie.FunctionName,
		ClientContext: json.RawMessage(`{"custom":{"tenant":"acme"},"env":{"stage":"test"}}`),
	}
	iv, e := newInvoker(t, emu.URL(), tmpl, lambdainvoke.Config{Retries: 2}, 1)
	payloads := []string{
		`{"hello":"world","n":[1,2.5,null]}`,
		`[1,2,3]`,
		`"just a string"`,
		`{"mode":"context"}`,
		`{"mode":"error","message":"boom"}`,
		`{"mode":"panic","message":"aaah"}`,
		`{"mode":"sleep","ms":10000}`,
		`{"after":"the timeout"}`,
	}
	got := invokeAll(t, t.Context(), iv, e, payloads...)
	if len(got) != len(payloads) {
		t.Fatalf("%d results, want %d\n%s", len(got), len(payloads), emu.Log())
	}
	defer func() {
		if t.Failed() {
			t.Logf("emulator log:\n%s", emu.Log())
		}
	}()

	// The payload round trip.
	for _, i := range []int{0, 1, 2, 7} {
		if r := got[i]; r.Err != nil || r.Status != 200 || string(r.Response) != payloads[i] || r.Attempts != 1 {
			t.Errorf("echo %d: %+v", i, r)
		}
	}

	// The client context reaches the handler, decoded by the runtime.
	var ctxReply struct {
		Function      string
		RequestID     string `json:"request_id"`
		ClientContext struct {
			Custom map[string]string
			Env    map[string]string
		} `json:"client_context"`
	}
	if r := got[3]; r.Err != nil || json.Unmarshal(r.Response, &ctxReply) != nil {
		t.Errorf("context: %+v", r)
	}
	if ctxReply.Function != rie.FunctionName || ctxReply.RequestID == "" ||
		ctxReply.ClientContext.Custom["tenant"] != "acme" || ctxReply.ClientContext.Env["stage"] != "test" {
		t.Errorf("the handler saw %+v", ctxReply)
	}

	// A handler error: the emulator answers 200 with the error as the
	// body and, unlike Lambda, no X-Amz-Function-Error.
	var fnErr struct{ ErrorType, ErrorMessage string }
	if r := got[4]; r.Err != nil || r.Status != 200 || json.Unmarshal(r.Response, &fnErr) != nil ||
		fnErr.ErrorType != "TestError" || fnErr.ErrorMessage != "boom" {
		t.Errorf("handler error: %+v", r)
	}

	// A panic is a 502: the function ran, so the call is not retried.
	if r := got[5]; kindOf(r) != "service" || r.Status != 502 || !r.MayHaveRun || r.Attempts != 1 {
		t.Errorf("panic: %+v", r)
	}
	if n := strings.Count(emu.Log(), `handler: mode "panic"`); n != 1 {
		t.Errorf("the panicking handler ran %d times, want once", n)
	}

	// The function's timeout: a 200 whose body is plain text, kept as a
	// JSON string.
	var text string
	if r := got[6]; r.Err != nil || r.Status != 200 || json.Unmarshal(r.Response, &text) != nil || !strings.Contains(text, "Task timed out") {
		t.Errorf("timeout: %+v", r)
	}
}

// TestEmulatorUnknownFunction checks the emulator's bare 404 for any name
// but "function".
func TestEmulatorUnknownFunction(t *testing.T) {
	emu := startEmulator(t, 2*time.Second)
	iv, e := newInvoker(t, emu.URL(), lambdainvoke.Template{FunctionName: "other"}, lambdainvoke.Config{Retries: 2}, 1)
	got := invokeAll(t, t.Context(), iv, e, `{}`)
	if r := got[0]; kindOf(r) != "not_found" || r.Status != 404 || r.Attempts != 1 {
		t.Errorf("%+v", r)
	}
}
