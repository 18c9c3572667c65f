package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest/rie"
)

// lambdaCommand returns the built binary's command for `fanout lambda
// args`, with only the test's AWS environment (lambdaEnv): no caller's
// credentials, no profile, no metadata service.
func lambdaCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"lambda"}, args...)...)
	cmd.Env = append(lambdaEnv(t.TempDir()), "PATH="+os.Getenv("PATH"))
	return cmd
}

// runLambdaBinary runs `fanout lambda args` to the end.
func runLambdaBinary(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := lambdaCommand(t, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	if strings.Contains(errOut.String(), lambdaTestSecret) || strings.Contains(errOut.String(), lambdaTestKeyID) {
		t.Errorf("stderr shows the credentials:\n%s", errOut.String())
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

func TestE2ELambdaExitCodes(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{Functions: []string{"fn"}})
	tests := []struct {
		name, stdin string
		args        []string
		code        int
	}{
		{"all ok", "{}\n[1]\n", nil, 0},
		{"a function error", "{}\n{\"fail\":\"unhandled\"}\n", nil, 1},
		{"a throttle retried", `{"id":"t1","error":"throttle","fail_times":2}`, nil, 0},
		{"throttled for good", `{"error":"throttle"}`, []string{"--retries", "1"}, 1},
		{"a bad line", "{}\nnot json\n", nil, 1},
		{"no --function", "{}", []string{"--function", ""}, 2},
		{"unknown flag", "{}", []string{"--frobnicate"}, 2},
		{"empty input", "", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--function", "fn", "--endpoint-url", s.URL()}, tt.args...)
			stdout, stderr, code := runLambdaBinary(t, tt.stdin, args...)
			decodeLambda(t, stdout)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if code == 2 && !strings.HasPrefix(stderr, "fanout: ") {
				t.Errorf("usage error on stderr:\n%s", stderr)
			}
		})
	}
}

// TestE2ELambdaUnsafeNotRetried checks through the binary that calls that
// may have run are sent once, and retried with --retry-unsafe.
func TestE2ELambdaUnsafeNotRetried(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{})
	input := `{"id":"a","error":"drop"}` + "\n" + `{"id":"b","error":"service"}` + "\n"
	stdout, stderr, code := runLambdaBinary(t, input, "--function", "fn", "--endpoint-url", s.URL(), "--retries", "5")
	recs := decodeLambda(t, stdout)
	if code != 1 || len(recs) != 2 || !recs[0].MayHaveRun || !recs[1].MayHaveRun || s.Attempts("a") != 1 || s.Attempts("b") != 1 {
		t.Errorf("exit %d, records %+v, server saw a=%d b=%d; stderr:\n%s", code, recs, s.Attempts("a"), s.Attempts("b"), stderr)
	}
	input = `{"id":"c","error":"drop","fail_times":1}` + "\n" + `{"id":"d","error":"service","fail_times":1}` + "\n"
	stdout, _, code = runLambdaBinary(t, input, "--function", "fn", "--endpoint-url", s.URL(), "--retry-unsafe")
	recs = decodeLambda(t, stdout)
	if code != 0 || len(recs) != 2 || recs[0].Attempts != 2 || recs[1].Attempts != 2 || s.Attempts("c") != 2 || s.Attempts("d") != 2 {
		t.Errorf("--retry-unsafe: exit %d, records %+v", code, recs)
	}
}

// TestE2ELambdaConcurrencyAndAdaptive runs 300 calls at -c 40 against a
// server that takes 8 at once: with --adaptive all succeed, never more than
// 40 run at once, and the trace shows the limit coming down.
func TestE2ELambdaConcurrencyAndAdaptive(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{Limit: 8})
	var in strings.Builder
	for i := range 300 {
		fmt.Fprintf(&in, `{"id":%d,"sleep_ms":10}`+"\n", i)
	}
	tracePath := filepath.Join(t.TempDir(), "trace.json")
	stdout, stderr, code := runLambdaBinary(t, in.String(), "--function", "fn", "--endpoint-url", s.URL(),
		"-c", "40", "--adaptive", "--retries", "50", "--trace", tracePath)
	recs := decodeLambda(t, stdout)
	if code != 0 || len(recs) != 300 {
		t.Fatalf("exit %d, %d records; stderr:\n%s", code, len(recs), stderr)
	}
	st := s.Stats()
	if st.MaxInFlight > 40 || st.Invocations != 300 {
		t.Errorf("server stats %+v", st)
	}
	trace, err := os.ReadFile(tracePath)
	if err != nil {
		t.Fatal(err)
	}
	limits := limitSamples(t, trace)
	low := 40
	for _, l := range limits {
		low = min(low, l)
	}
	if len(limits) < 2 || low > 8 {
		t.Errorf("the trace's limit samples %v never go below the server's 8", limits)
	}
	t.Logf("%d throttles for 300 calls; limit samples: %d, lowest %d", st.Throttled, len(limits), low)
}

// limitSamples returns the values of the "limit" counter of a Chrome trace
// (the executor's limit over time).
func limitSamples(t *testing.T, trace []byte) []int {
	t.Helper()
	var doc struct {
		TraceEvents []struct {
			Ph   string
			Name string
			Args map[string]any
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(trace, &doc); err != nil {
		t.Fatalf("trace: %v", err)
	}
	var out []int
	for _, ev := range doc.TraceEvents {
		if ev.Ph != "C" || ev.Name != "limit" {
			continue
		}
		for _, v := range ev.Args {
			if f, ok := v.(float64); ok {
				out = append(out, int(f))
			}
		}
	}
	return out
}

// TestE2ELambdaInterrupt interrupts a run with calls in flight: one record
// per line read, in order, the finished ones ok, the rest canceled, and
// those in flight marked as possibly run.
func TestE2ELambdaInterrupt(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{})
	var lines []string
	for i := range 3 {
		lines = append(lines, fmt.Sprintf(`{"id":"quick%d"}`, i))
	}
	for range 40 {
		lines = append(lines, `{"sleep_ms":3600000}`)
	}
	file := filepath.Join(t.TempDir(), "payloads.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := lambdaCommand(t, "--function", "fn", "--endpoint-url", s.URL(), "-c", "4", "-i", file, "--summary")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return s.Stats().Invocations == 7 }) // 3 done, 4 sleeping
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("no exit a minute after SIGINT; stderr:\n%s", errOut.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d, want 130; stderr:\n%s", code, errOut.String())
	}
	recs := decodeLambda(t, out.String())
	if len(recs) < 7 {
		t.Fatalf("%d records, want the 3 done and at least the 4 in flight", len(recs))
	}
	for i, r := range recs {
		switch {
		case r.Index != i:
			t.Errorf("record %d has index %d: want each line read once, in order", i, r.Index)
		case i < 3 && (r.Status != 200 || r.ErrorKind != ""):
			t.Errorf("record %d: %+v, want 200", i, r)
		case i >= 3 && r.ErrorKind != "canceled":
			t.Errorf("record %d: %+v, want canceled", i, r)
		case i >= 3 && i < 7 && (!r.MayHaveRun || r.Attempts != 1):
			t.Errorf("record %d was in flight: %+v, want may_have_run and 1 attempt", i, r)
		case i >= 7 && (r.MayHaveRun || r.Attempts != 0):
			t.Errorf("record %d never started: %+v", i, r)
		}
	}
	if !strings.Contains(errOut.String(), "fanout: interrupted") || !strings.Contains(errOut.String(), "invocations: 3 ok") {
		t.Errorf("stderr:\n%s", errOut.String())
	}
}

// TestE2ELambdaEmulator runs the binary against a real aws-lambda-go
// handler under the Runtime Interface Emulator, at -c 1.
func TestE2ELambdaEmulator(t *testing.T) {
	emu := rie.StartTest(t, "github.com/fanout-go/fanout/tools/lambdahandler", 5*time.Second)
	input := `{"order":1}` + "\n" + `{"mode":"context"}` + "\n" + `{"mode":"panic","message":"no"}` + "\n" + `{"order":4}` + "\n"
	stdout, stderr, code := runLambdaBinary(t, input, "--function", rie.FunctionName, "--endpoint-url", emu.URL(), "-c", "1",
		"--client-context", `{"custom":{"from":"fanout"}}`)
	recs := decodeLambda(t, stdout)
	if code != 1 || len(recs) != 4 {
		t.Fatalf("exit %d, %d records; stderr:\n%s\nemulator:\n%s", code, len(recs), stderr, emu.Log())
	}
	if string(recs[0].Response) != `{"order":1}` || string(recs[3].Response) != `{"order":4}` {
		t.Errorf("echo: %s, %s", recs[0].Response, recs[3].Response)
	}
	if !strings.Contains(string(recs[1].Response), `"custom":{"from":"fanout"}`) {
		t.Errorf("client context: %s", recs[1].Response)
	}
	if r := recs[2]; r.ErrorKind != "service" || r.Status != 502 || !r.MayHaveRun || r.Attempts != 1 {
		t.Errorf("panic: %+v", r)
	}
}
