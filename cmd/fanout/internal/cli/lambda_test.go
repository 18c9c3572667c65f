package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fanout-go/fanout/lambdainvoke"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

// Test credentials: never real, and looked for in every output.
const (
	lambdaTestKeyID  = "AKIDFANOUTCLITEST"
	lambdaTestSecret = "fanout-cli-test-secret-never-print"
)

// lambdaEnv is the environment of a `fanout lambda` test run: no AWS
// setting of the caller, static test credentials, a region, and no
// instance metadata look-ups, so no call leaves loopback.
func lambdaEnv(home string) []string {
	return []string{
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + lambdaTestKeyID,
		"AWS_SECRET_ACCESS_KEY=" + lambdaTestSecret,
		"AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
	}
}

// isolateLambdaEnv sets lambdaEnv in this process for an in-process test,
// minus the variables named in without, and restores the caller's at the
// end.
func isolateLambdaEnv(t *testing.T, without ...string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AWS_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	for _, kv := range lambdaEnv(t.TempDir()) {
		name, value, _ := strings.Cut(kv, "=")
		skip := false
		for _, w := range without {
			skip = skip || w == name
		}
		if !skip {
			t.Setenv(name, value)
		}
	}
}

// decodeLambda parses `fanout lambda`'s JSON lines, checking that no
// record shows the test credentials.
func decodeLambda(t *testing.T, out string) []lambdainvoke.Result {
	t.Helper()
	if strings.Contains(out, lambdaTestSecret) || strings.Contains(out, lambdaTestKeyID) {
		t.Errorf("the output shows the credentials:\n%s", out)
	}
	var recs []lambdainvoke.Result
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r lambdainvoke.Result
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("output is not JSON lines: %v\n%s", err, out)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestLambdaOneRecordPerLineInOrder(t *testing.T) {
	isolateLambdaEnv(t)
	s := lambdatest.StartTest(t, lambdatest.Options{})
	var in strings.Builder
	var want []string
	for i := range 20 {
		// Early lines answer last.
		p := fmt.Sprintf(`{"id":%d,"sleep_ms":%d}`, i, (20-i)*3)
		switch i {
		case 7:
			p = `{"id":` // not JSON
		case 11:
			p = `# a comment is not JSON either: it gets its record too`
		}
		want = append(want, p)
		fmt.Fprintf(&in, "  %s\n\n", p)
	}
	out, stderr, err := runCLI(t, in.String(), "lambda", "--function", "fn", "--endpoint-url", s.URL(), "-c", "5")
	var failed *FailedError
	if !errors.As(err, &failed) || failed.Failed != 2 || failed.Total != 20 {
		t.Fatalf("err = %v, want 2 of 20 failed; stderr %s", err, stderr)
	}
	recs := decodeLambda(t, out)
	if len(recs) != 20 {
		t.Fatalf("%d records for 20 lines", len(recs))
	}
	for i, r := range recs {
		switch {
		case r.Index != i:
			t.Errorf("record %d has index %d", i, r.Index)
		case i == 7 || i == 11:
			if r.ErrorKind != "invalid_payload" || r.Attempts != 0 {
				t.Errorf("record %d = %+v, want invalid_payload without a call", i, r)
			}
		case (r.Status != 200 || string(r.Response) != want[i] || r.Attempts != 1 || r.ExecutedVersion != "$LATEST"):
			t.Errorf("record %d = %+v", i, r)
		}
	}
	if st := s.Stats(); st.MaxInFlight > 5 || st.Requests != 18 {
		t.Errorf("server stats %+v: want 18 requests, at most 5 at once", st)
	}
	if stderr != "" {
		t.Errorf("stderr %q: want nothing without --summary", stderr)
	}
}

func TestLambdaNamedParameters(t *testing.T) {
	isolateLambdaEnv(t)
	s := lambdatest.StartTest(t, lambdatest.Options{Functions: []string{"orders"}, Aliases: map[string]string{"live": "12"}})
	out, stderr, err := runCLI(t, "", "lambda", "--function", "orders", "--endpoint-url", s.URL(),
		"--payload", `{"echo":"request","log":"hello"}`, "--payload", `{"n":2}`,
		"--qualifier", "live", "--log-type", "Tail", "--client-context", `{"custom":{"batch":"7"}}`)
	if err != nil {
		t.Fatalf("err = %v; stderr %s", err, stderr)
	}
	recs := decodeLambda(t, out)
	var echo struct {
		Function, Qualifier string
		InvocationType      string          `json:"invocation_type"`
		ClientContext       json.RawMessage `json:"client_context"`
	}
	if len(recs) != 2 || json.Unmarshal(recs[0].Response, &echo) != nil {
		t.Fatalf("records %+v", recs)
	}
	if echo.Function != "orders" || echo.Qualifier != "live" || echo.InvocationType != "RequestResponse" || string(echo.ClientContext) != `{"custom":{"batch":"7"}}` {
		t.Errorf("the server saw %+v", echo)
	}
	if recs[0].ExecutedVersion != "12" || !strings.Contains(recs[0].LogTail, "\nhello\n") || string(recs[1].Response) != `{"n":2}` {
		t.Errorf("records %+v", recs)
	}

	out, _, err = runCLI(t, "", "lambda", "--function", "orders", "--endpoint-url", s.URL(), "--invocation-type", "Event", "--payload", `{}`, "-o", "csv")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || lines[0] != "index,status,function_error,executed_version,response,log_tail,attempts,duration_ms,error,error_kind,may_have_run" ||
		!strings.HasPrefix(lines[1], "0,202,,,,,1,") || !strings.HasSuffix(lines[1], ",,,false") {
		t.Errorf("Event as csv: %v\n%s", err, out)
	}
}

func TestLambdaFailuresAndExitCodes(t *testing.T) {
	isolateLambdaEnv(t)
	s := lambdatest.StartTest(t, lambdatest.Options{})
	input := strings.Join([]string{
		`{"fail":"handled"}`,
		`{"id":"t","error":"throttle","fail_times":1}`,
		`{"id":"d","error":"drop"}`,
		`{"error":"not_found"}`,
	}, "\n")
	out, stderr, err := runCLI(t, input, "lambda", "--function", "fn", "--endpoint-url", s.URL(), "--summary")
	var failed *FailedError
	if !errors.As(err, &failed) || failed.Failed != 3 || failed.Total != 4 {
		t.Fatalf("err = %v, want 3 of 4 failed", err)
	}
	recs := decodeLambda(t, out)
	if recs[0].FunctionError != "Handled" || recs[0].Err != nil ||
		recs[1].Attempts != 2 || recs[1].Status != 200 ||
		recs[2].ErrorKind != "connect" || !recs[2].MayHaveRun || recs[2].Attempts != 1 ||
		recs[3].ErrorKind != "not_found" || recs[3].Status != 404 {
		t.Errorf("records %+v", recs)
	}
	if s.Attempts("d") != 1 {
		t.Errorf("a dropped call was sent %d times, want once", s.Attempts("d"))
	}
	if !strings.Contains(stderr, "4 invocations: 1 ok (200 1), 3 failed (connect 1, function_error 1, not_found 1)") {
		t.Errorf("summary:\n%s", stderr)
	}
}

func TestLambdaOverLongLine(t *testing.T) {
	isolateLambdaEnv(t)
	s := lambdatest.StartTest(t, lambdatest.Options{})
	input := `"` + strings.Repeat("x", maxPayloadLine) + `"` + "\n" + `{"after":1}` + "\n"
	out, _, err := runCLI(t, input, "lambda", "--function", "fn", "--endpoint-url", s.URL())
	recs := decodeLambda(t, out)
	var failed *FailedError
	if !errors.As(err, &failed) || len(recs) != 2 || recs[0].ErrorKind != "too_large" || recs[0].Attempts != 0 || recs[1].Err != nil || recs[1].Status != 200 {
		t.Errorf("err %v, records %+v", err, recs)
	}
}

func TestLambdaUsageErrors(t *testing.T) {
	isolateLambdaEnv(t)
	s := lambdatest.StartTest(t, lambdatest.Options{})
	file := t.TempDir() + "/payloads.jsonl"
	os.WriteFile(file, []byte("{}\n"), 0o644)
	for _, args := range [][]string{
		{"--payload", "{}"},
		{"--function", "fn", "--payload", "{}", "-i", file},
		{"--function", "fn", "--payload", "{}", "--invocation-type", "Sync"},
		{"--function", "fn", "--payload", "{}", "--log-type", "All"},
		{"--function", "fn", "--payload", "{}", "--client-context", "[1]"},
		{"--function", "fn", "--payload", "{}", "extra"},
		{"--function", "fn", "--payload", "{}", "-c", "0"},
		{"--function", "fn", "-i", t.TempDir() + "/missing"},
		// The endpoint without its scheme (given last, it wins).
		{"--function", "fn", "--payload", "{}", "--endpoint-url", strings.TrimPrefix(s.URL(), "http://")},
	} {
		_, _, err := runCLI(t, "", append([]string{"lambda", "--endpoint-url", s.URL()}, args...)...)
		if !isUsage(err) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
	// No payloads and a terminal for stdin.
	var out, errOut strings.Builder
	err := Run(t.Context(), Env{Stdout: &out, Stderr: &errOut, StdinTTY: true}, []string{"lambda", "--function", "fn", "--endpoint-url", s.URL()})
	if !isUsage(err) || !strings.Contains(err.Error(), "--payload") {
		t.Errorf("no payloads: %v", err)
	}
	if s.Stats().Requests != 0 {
		t.Errorf("%d requests sent by wrong command lines", s.Stats().Requests)
	}
}

func TestLambdaNoRegion(t *testing.T) {
	isolateLambdaEnv(t, "AWS_REGION")
	_, _, err := runCLI(t, "", "lambda", "--function", "fn", "--endpoint-url", "http://127.0.0.1:9", "--payload", "{}")
	if !isUsage(err) || !strings.Contains(err.Error(), "no AWS region: give --region, or set AWS_REGION") {
		t.Errorf("err = %v, want a usage error about the region", err)
	}
}

func TestLambdaNoCredentials(t *testing.T) {
	isolateLambdaEnv(t, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
	s := lambdatest.StartTest(t, lambdatest.Options{})
	out, _, err := runCLI(t, "", "lambda", "--function", "fn", "--endpoint-url", s.URL(), "--payload", "{}")
	// One line, exit code 2, naming what the user can set.
	msg := Message(err)
	if !isUsage(err) || out != "" || strings.Count(msg, "\n") != 1 {
		t.Errorf("err = %v, output %q", err, out)
	}
	for _, want := range []string{"no AWS credentials", "AWS_ACCESS_KEY_ID", "--profile", "--no-sign-request"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if s.Stats().Requests != 0 {
		t.Error("a call was sent without credentials")
	}
	// With --no-sign-request the same call goes out, unsigned.
	out, _, err = runCLI(t, "", "lambda", "--function", "fn", "--endpoint-url", s.URL(), "--no-sign-request", "--payload", `{"id":"a"}`)
	if recs := decodeLambda(t, out); err != nil || len(recs) != 1 || recs[0].Status != 200 {
		t.Errorf("--no-sign-request: err %v, records %s", err, out)
	}
	if s.Stats().Requests != 1 {
		t.Errorf("%d requests with --no-sign-request, want 1", s.Stats().Requests)
	}
}
