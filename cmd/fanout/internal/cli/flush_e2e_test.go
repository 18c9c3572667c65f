package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/fanout-go/fanout/httpcheck"
	"github.com/fanout-go/fanout/internal/testserver"
)

// TestE2ERecordReachesPipeBeforeNextInput feeds `fanout http` through a
// pipe held open, as `tail -f urls | fanout http | jq` does: the record of
// the first URL must reach the reader while the input is quiet, before the
// next line is written. Before the idle flush the record waited in the
// buffer until the next one came.
func TestE2ERecordReachesPipeBeforeNextInput(t *testing.T) {
	s := testserver.StartTest(t)
	cmd := exec.CommandContext(t.Context(), binary(t), "http")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for i, path := range []string{"/status/201", "/status/202"} {
		io.WriteString(stdin, s.URL(path)+"\n")
		select {
		case l := <-lines:
			var r httpcheck.Result
			if err := json.Unmarshal([]byte(l), &r); err != nil || r.Index != i || r.Status != 201+i {
				t.Fatalf("record %d: %q (%v)", i, l, err)
			}
		case <-time.After(10 * time.Second): // a hang, not a matter of speed
			t.Fatalf("record %d did not reach the pipe while the input stayed open", i)
		}
	}
	stdin.Close()
	if _, ok := <-lines; ok {
		t.Error("more records than input lines")
	}
}
