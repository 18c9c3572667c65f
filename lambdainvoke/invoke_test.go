package lambdainvoke_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/fanout-go/fanout/lambdainvoke"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

func TestResultsInInputOrder(t *testing.T) {
	s := startServer(t, lambdatest.Options{Aliases: map[string]string{"live": "4"}})
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{Qualifier: "live", LogType: types.LogTypeTail}, lambdainvoke.Config{}, 8)
	var payloads []string
	for i := range 12 {
		// Earlier payloads answer later, so completion order is not input order.
		payloads = append(payloads, fmt.Sprintf(`{"id":%d,"sleep_ms":%d,"log":"line %d"}`, i, (12-i)*5, i))
	}
	got := invokeAll(t, t.Context(), iv, e, payloads...)
	if len(got) != len(payloads) {
		t.Fatalf("%d results, want %d", len(got), len(payloads))
	}
	for i, r := range got {
		if r.Index != i || r.Err != nil || r.Status != 200 || r.Attempts != 1 || r.ExecutedVersion != "4" || r.FunctionError != "" {
			t.Errorf("result %d = %+v", i, r)
		}
		if string(r.Response) != payloads[i] {
			t.Errorf("result %d response %s, want %s", i, r.Response, payloads[i])
		}
		if !strings.Contains(r.LogTail, fmt.Sprintf("\nline %d\n", i)) || !strings.HasPrefix(r.LogTail, "START RequestId:") {
			t.Errorf("result %d log tail %q", i, r.LogTail)
		}
		if r.DurationMS <= 0 {
			t.Errorf("result %d duration %v", i, r.DurationMS)
		}
	}
	if st := s.Stats(); st.MaxInFlight < 2 || st.MaxInFlight > 8 {
		t.Errorf("at most %d calls at once, want 2..8", st.MaxInFlight)
	}
}

func TestRecordJSON(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{}, 2)
	got := invokeAll(t, t.Context(), iv, e, `{"response":"plain"}`, `{"fail":"handled"}`, `{"error":"not_found"}`)
	var lines []map[string]any
	for _, r := range got {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		lines = append(lines, m)
	}
	for _, field := range []string{"index", "status", "function_error", "executed_version", "attempts", "duration_ms"} {
		for i, m := range lines {
			if _, ok := m[field]; !ok {
				t.Errorf("record %d has no %s: %v", i, field, m)
			}
		}
	}
	if lines[0]["response"] != "plain" || lines[0]["error"] != nil {
		t.Errorf("record 0: %v", lines[0])
	}
	if lines[1]["function_error"] != "Handled" || lines[1]["error_kind"] != nil {
		t.Errorf("record 1: %v", lines[1])
	}
	if lines[2]["error_kind"] != "not_found" || lines[2]["status"] != float64(404) || lines[2]["response"] != nil || lines[2]["error"] == "" {
		t.Errorf("record 2: %v", lines[2])
	}
}

func TestFunctionErrorsAreResults(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{Retries: 3}, 2)
	got := invokeAll(t, t.Context(), iv, e, `{"id":"h","fail":"handled"}`, `{"id":"u","fail":"unhandled"}`)
	for i, want := range []string{"Handled", "Unhandled"} {
		r := got[i]
		var body struct{ ErrorType string }
		if r.Err != nil || r.Status != 200 || r.FunctionError != want || json.Unmarshal(r.Response, &body) != nil || body.ErrorType == "" {
			t.Errorf("%s: %+v", want, r)
		}
	}
	// A function error is the function's answer: never retried.
	if s.Attempts("h") != 1 || s.Attempts("u") != 1 {
		t.Errorf("attempts h=%d u=%d, want 1 each", s.Attempts("h"), s.Attempts("u"))
	}
}

func TestEventAndDryRun(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	for _, tt := range []struct {
		typ    types.InvocationType
		status int
	}{{types.InvocationTypeEvent, 202}, {types.InvocationTypeDryRun, 204}} {
		iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{InvocationType: tt.typ}, lambdainvoke.Config{}, 2)
		for _, r := range invokeAll(t, t.Context(), iv, e, `{"a":1}`, `[2]`) {
			if r.Err != nil || r.Status != tt.status || r.Response != nil {
				t.Errorf("%s: %+v", tt.typ, r)
			}
		}
	}
	if got := s.Stats().Invocations; got != 2 {
		t.Errorf("%d invocations, want 2 (the Events)", got)
	}
}

func TestClientContextDelivered(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	tmpl := lambdainvoke.Template{ClientContext: json.RawMessage(` {"custom":{"run":"42"}} `)}
	iv, e := newInvoker(t, s.URL(), tmpl, lambdainvoke.Config{}, 1)
	got := invokeAll(t, t.Context(), iv, e, `{"echo":"request"}`)
	var echo struct {
		ClientContext json.RawMessage `json:"client_context"`
	}
	if len(got) != 1 || got[0].Err != nil || json.Unmarshal(got[0].Response, &echo) != nil || string(echo.ClientContext) != `{"custom":{"run":"42"}}` {
		t.Errorf("results %+v", got)
	}
}

func TestTemplateValidate(t *testing.T) {
	for _, tmpl := range []lambdainvoke.Template{
		{},
		{FunctionName: "f", InvocationType: "Sync"},
		{FunctionName: "f", LogType: "All"},
		{FunctionName: "f", ClientContext: json.RawMessage(`[1]`)},
		{FunctionName: "f", ClientContext: json.RawMessage(`{"a":`)},
		{FunctionName: "f", ClientContext: json.RawMessage(`{"a":"` + strings.Repeat("x", 2700) + `"}`)},
	} {
		if err := tmpl.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", tmpl)
		}
		if _, err := lambdainvoke.New(t.Context(), tmpl, lambdainvoke.Config{Region: "us-east-1"}); err == nil {
			t.Errorf("New(%+v) succeeded", tmpl)
		}
	}
	ok := lambdainvoke.Template{FunctionName: "f", InvocationType: types.InvocationTypeEvent, ClientContext: json.RawMessage(`{"a":"` + strings.Repeat("x", 2600) + `"}`)}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	in := ok.Input([]byte(`{}`))
	if *in.FunctionName != "f" || in.InvocationType != types.InvocationTypeEvent || in.Qualifier != nil || len(*in.ClientContext) > lambdainvoke.ClientContextLimit {
		t.Errorf("Input: %+v", in)
	}
}

func TestNoRegion(t *testing.T) {
	_, err := lambdainvoke.New(t.Context(), lambdainvoke.Template{FunctionName: "f"}, lambdainvoke.Config{EndpointURL: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("New without a region: %v", err)
	}
}

func TestInvokeOne(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	iv, e := newInvoker(t, s.URL(), lambdainvoke.Template{}, lambdainvoke.Config{Retries: 1}, 1)
	r := iv.Invoke(t.Context(), e, []byte(`{"id":"one","error":"throttle","fail_times":1}`))
	if r.Err != nil || r.Status != 200 || r.Attempts != 2 || r.Index != 0 {
		t.Errorf("%+v", r)
	}
	r = iv.Invoke(t.Context(), e, []byte(`{`))
	if kindOf(r) != "invalid_payload" || r.Attempts != 0 {
		t.Errorf("%+v", r)
	}
}
