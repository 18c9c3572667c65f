package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fanout-go/fanout/cmd/fanout/internal/reaper"
)

func decodeExec(t *testing.T, out string) []ExecRecord {
	t.Helper()
	var recs []ExecRecord
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r ExecRecord
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("output is not JSON lines: %v\n%s", err, out)
		}
		recs = append(recs, r)
	}
	return recs
}

func failedCount(err error) int {
	var f *FailedError
	if errors.As(err, &f) {
		return f.Failed
	}
	return 0
}

// TestExecNoShell: inputs a shell would run stay data.
func TestExecNoShell(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	in := "$(touch x)\n`touch y`\n; touch z\nwith  two spaces\n#not a comment\n"
	stdout, stderr, err := runCLI(t, in, "exec", "printf", "<%s>\n")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	want := "<$(touch x)>\n<`touch y`>\n<; touch z>\n<with  two spaces>\n<#not a comment>\n"
	if stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	for _, f := range []string{"x", "y", "z"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("the input created %s", f)
		}
	}
}

// TestExecExactInput: a job gets its line's bytes as they are, surrounding
// spaces and bytes that are not UTF-8 included (file names may have both),
// with or without a shell, from stdin or after :::.
func TestExecExactInput(t *testing.T) {
	in := " lead\ncaf\xe9.txt\ntrail \r\n"
	want := "< lead>\n<caf\xe9.txt>\n<trail >\n"
	for _, args := range [][]string{
		{"exec", "-c", "1", "printf", "<%s>\n"},
		{"exec", "-c", "1", "--shell", "--", "printf '<%s>\\n' {}"},
	} {
		stdout, stderr, err := runCLI(t, in, args...)
		if err != nil || stdout != want {
			t.Errorf("%q: stdout %q, want %q (%v: %s)", args, stdout, want, err, stderr)
		}
	}
	stdout, stderr, err := runCLI(t, "", "exec", "-c", "1", "printf", "<%s>\n", ":::", " a ", "caf\xe9")
	if want := "< a >\n<caf\xe9>\n"; err != nil || stdout != want {
		t.Errorf("::: stdout %q, want %q (%v: %s)", stdout, want, err, stderr)
	}
}

// TestExecJSONExactBytes: a JSON string holds only Unicode, so a record
// whose input, stdout or stderr is not valid UTF-8 carries the exact bytes
// in base64 beside the text; valid text gets no such field. Before, a
// Latin-1 file name came out of -o jsonl as "caf\ufffd.txt", a name no
// file has.
func TestExecJSONExactBytes(t *testing.T) {
	stdout, stderr, err := runCLI(t, "caf\xe9.txt\nplain\n", "exec", "-c", "1", "-o", "jsonl", "--shell", "--",
		`printf '%s\n' {}; printf '%s' {} >&2`)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	var raw []map[string]any
	for l := range strings.Lines(stdout) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		raw = append(raw, m)
	}
	if len(raw) != 2 {
		t.Fatalf("%d records, want 2:\n%s", len(raw), stdout)
	}
	for field, want := range map[string]string{"input_base64": "caf\xe9.txt", "stdout_base64": "caf\xe9.txt\n", "stderr_base64": "caf\xe9.txt"} {
		s, _ := raw[0][field].(string)
		got, err := base64.StdEncoding.DecodeString(s)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q (%q, %v), want the bytes %q", field, s, got, err, want)
		}
	}
	if in := raw[0]["input"]; in != "caf\ufffd.txt" {
		t.Errorf("input = %q, want the text with U+FFFD", in)
	}
	for _, field := range []string{"input_base64", "stdout_base64", "stderr_base64"} {
		if v, ok := raw[1][field]; ok {
			t.Errorf("a valid UTF-8 record has %s = %q", field, v)
		}
	}
}

// TestExecShellQuotes: with --shell the template is shell code and each
// replacement is quoted.
func TestExecShellQuotes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	stdout, stderr, err := runCLI(t, "", "exec", "--shell", "-c", "1", "--", `printf '%s|' {} {/} | tr a-z A-Z`, ":::", "a b/it's", "$(touch x)")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	if want := "A B/IT'S|IT'S|$(TOUCH X)|$(TOUCH X)|"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("the input ran")
	}
}

// TestExecPlaceholders: file placeholders, the job number and slots.
func TestExecPlaceholders(t *testing.T) {
	stdout, _, err := runCLI(t, "dir.d/my file.tar.gz\nnoext\ntrail/\n", "exec", "-c", "2", "-o", "jsonl", "--", "echo", "{.}", "{/}", "{//}", "{/.}", "{#}")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range decodeExec(t, stdout) {
		got = append(got, r.Stdout)
	}
	want := []string{"dir.d/my file.tar my file.tar.gz dir.d my file.tar 1\n", "noext noext . noext 2\n", "trail/  .  3\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}

	// {%}: at -c 3, slots 1 to 3 and no two running jobs on one slot.
	var in strings.Builder
	for i := range 30 {
		fmt.Fprintln(&in, i)
	}
	stdout, _, err = runCLI(t, in.String(), "exec", "-c", "3", "--", "echo", "{%}")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(stdout) {
		if n, _ := strconv.Atoi(strings.TrimSpace(l)); n < 1 || n > 3 {
			t.Errorf("slot %q", l)
		}
	}
}

// TestExecGroupsOutput: many jobs at once, each printing many lines on
// stdout and stderr: each job's output comes whole, in input order (or
// whole in any order with --unordered).
func TestExecGroupsOutput(t *testing.T) {
	const jobs, lines = 40, 300
	var in strings.Builder
	for i := range jobs {
		fmt.Fprintln(&in, i)
	}
	script := `i=0; while [ $i -lt ` + strconv.Itoa(lines) + ` ]; do echo "$1 $i"; echo "$1 err $i" >&2; i=$((i+1)); done`
	for _, unordered := range []bool{false, true} {
		args := []string{"exec", "-c", "20"}
		if unordered {
			args = append(args, "--unordered")
		}
		stdout, stderr, err := runCLI(t, in.String(), append(args, "--", "sh", "-c", script, "sh")...)
		if err != nil {
			t.Fatal(err)
		}
		for name, out := range map[string]string{"stdout": stdout, "stderr": stderr} {
			all := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(all) != jobs*lines {
				t.Fatalf("%s: %d lines", name, len(all))
			}
			seen := map[string]bool{}
			for b := range jobs {
				block := all[b*lines : (b+1)*lines]
				id := strings.Fields(block[0])[0]
				if !unordered && id != strconv.Itoa(b) {
					t.Errorf("%s: block %d is job %s", name, b, id)
				}
				if seen[id] {
					t.Fatalf("%s: job %s's output is split", name, id)
				}
				seen[id] = true
				for i, l := range block {
					f := strings.Fields(l)
					if f[0] != id || f[len(f)-1] != strconv.Itoa(i) {
						t.Fatalf("%s: job %s line %d is %q: interleaved", name, id, i, l)
					}
				}
			}
		}
	}
}

// TestExecBinaryOutput: output passes byte for byte, large (spilled) or
// small.
func TestExecBinaryOutput(t *testing.T) {
	dir := t.TempDir()
	var in strings.Builder
	var want []byte
	for i, size := range []int{256, 200 << 10, 5, 1 << 20} {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(rand.N(256))
		}
		name := filepath.Join(dir, strconv.Itoa(i))
		os.WriteFile(name, data, 0o644)
		fmt.Fprintln(&in, name)
		want = append(want, data...)
	}
	stdout, _, err := runCLI(t, in.String(), "exec", "-c", "4", "cat")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal([]byte(stdout), want) {
		t.Errorf("output differs: %d bytes, want %d", len(stdout), len(want))
	}
}

// TestExecLineBuffer: with --line-buffer, lines of jobs writing half a
// line at a time come out whole, every one of them.
func TestExecLineBuffer(t *testing.T) {
	const jobs, lines = 10, 100
	var in strings.Builder
	for i := range jobs {
		fmt.Fprintln(&in, i)
	}
	script := `i=0; while [ $i -lt ` + strconv.Itoa(lines) + ` ]; do printf "$1 first-"; printf "second\n"; i=$((i+1)); done; printf "$1 last"`
	stdout, _, err := runCLI(t, in.String(), "exec", "-c", "10", "--line-buffer", "--", "sh", "-c", script, "sh")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for l := range strings.Lines(stdout) {
		id, rest, _ := strings.Cut(l, " ")
		if rest != "first-second\n" && rest != "last\n" {
			t.Fatalf("line %q is not whole", l)
		}
		count[id]++
	}
	for i := range jobs {
		if n := count[strconv.Itoa(i)]; n != lines+1 {
			t.Errorf("job %d: %d lines, want %d", i, n, lines+1)
		}
	}
}

func TestExecRecords(t *testing.T) {
	stdout, _, err := runCLI(t, "", "exec", "-o", "jsonl", "--max-output", "8", "--", "sh", "-c", `echo "out $1 and more"; echo err >&2; exit $1`, "sh", ":::", "0", "3")
	if failedCount(err) != 1 {
		t.Fatalf("error %v, want 1 failed", err)
	}
	recs := decodeExec(t, stdout)
	want := []ExecRecord{
		{Index: 0, Input: "0", ExitCode: 0, Attempts: 1, Stdout: "out 0 an", StdoutTruncated: true, Stderr: "err\n"},
		{Index: 1, Input: "3", ExitCode: 3, Attempts: 1, Stdout: "out 3 an", StdoutTruncated: true, Stderr: "err\n", Error: "exit status 3", ErrorKind: "exit"},
	}
	if diff := cmp.Diff(want, recs, cmp.FilterPath(func(p cmp.Path) bool {
		f := p.Last().String()
		return f == ".Argv" || f == ".DurationMS" || f == ".Duration" || f == ".haltedOK"
	}, cmp.Ignore())); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{"sh", "-c", `echo "out $1 and more"; echo err >&2; exit $1`, "sh", "3"}, recs[1].Argv); diff != "" {
		t.Error(diff)
	}
}

// TestExecNotFound: a missing program gives one record per input and one
// line on stderr, in both output modes.
func TestExecNotFound(t *testing.T) {
	for _, args := range [][]string{{"exec"}, {"exec", "-o", "jsonl"}} {
		stdout, stderr, err := runCLI(t, "a\nb\nc\n", append(args, "fanout-no-such-program", "{}")...)
		if failedCount(err) != 3 {
			t.Errorf("%v: error %v", args, err)
		}
		if n := strings.Count(stderr, "\n"); n != 1 || !strings.HasPrefix(stderr, "fanout: cannot run fanout-no-such-program") {
			t.Errorf("%v: stderr %q", args, stderr)
		}
		if len(args) > 1 {
			recs := decodeExec(t, stdout)
			if len(recs) != 3 {
				t.Fatalf("%d records", len(recs))
			}
			for _, r := range recs {
				if r.ErrorKind != "not_found" || r.Attempts != 0 {
					t.Errorf("record %+v", r)
				}
			}
		}
	}
}

// TestExecOrder: a job that ends after a later one still comes first,
// unless --unordered. Job a waits for a file that job b creates.
func TestExecOrder(t *testing.T) {
	t.Chdir(t.TempDir())
	script := `if [ $1 = a ]; then while [ ! -e b-done ]; do sleep 0.01; done; fi; echo $1; if [ $1 = b ]; then touch b-done; fi`
	stdout, _, err := runCLI(t, "a\nb\n", "exec", "-c", "2", "--", "sh", "-c", script, "sh")
	if err != nil || stdout != "a\nb\n" {
		t.Errorf("ordered: %q, %v", stdout, err)
	}
}

// TestExecUnordered: with --unordered a job's output is written as soon as
// it ends. Job a runs until the test has read job b's output from the
// binary's stdout, so a's output can only come second.
func TestExecUnordered(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary(t), "exec", "-c", "2", "--unordered", "--", "sh", "-c",
		`if [ $1 = a ]; then while [ ! -e go-a ]; do sleep 0.01; done; fi; echo $1`, "sh")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader("a\nb\n")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	r := bufio.NewReader(out)
	first, err := r.ReadString('\n')
	if err != nil || first != "b\n" {
		t.Fatalf("first output %q, %v: want b's while a still runs", first, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go-a"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "a\n" {
		t.Errorf("then %q, want a's output", rest)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
}

func TestExecRetries(t *testing.T) {
	// Fails twice, then succeeds: a counter file per input.
	script := `n=$(cat "$1" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$1"; echo "try $n"; [ $n -ge 3 ]`
	for _, tt := range []struct {
		retries  string
		attempts int
		failed   bool
	}{{"2", 3, false}, {"1", 2, true}} {
		counter := filepath.Join(t.TempDir(), "n")
		stdout, _, err := runCLI(t, counter, "exec", "-o", "jsonl", "--retries", tt.retries, "--retry-delay", "1ms", "--", "sh", "-c", script, "sh")
		recs := decodeExec(t, stdout)
		if len(recs) != 1 || recs[0].Attempts != tt.attempts || (recs[0].ErrorKind != "") != tt.failed || (err != nil) != tt.failed {
			t.Errorf("--retries %s: %+v, %v", tt.retries, recs, err)
		}
		if want := fmt.Sprintf("try %d\n", tt.attempts); recs[0].Stdout != want {
			t.Errorf("stdout %q is not the last attempt's", recs[0].Stdout)
		}
	}
}

func TestExecDryRun(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	stdout, _, err := runCLI(t, "my file.txt\nb\n", "exec", "--dry-run", "--", "touch", "{.}.done")
	if err != nil {
		t.Fatal(err)
	}
	if want := "touch 'my file.done'\ntouch b.done\n"; stdout != want {
		t.Errorf("%q, want %q", stdout, want)
	}
	stdout, _, _ = runCLI(t, "x y\n", "exec", "--dry-run", "--shell", "--", "touch {} && echo made")
	if want := "touch 'x y' && echo made\n"; stdout != want {
		t.Errorf("%q, want %q", stdout, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("dry run made %v", entries)
	}
}

// TestExecHalt covers GNU parallel's --halt meanings.
func TestExecHalt(t *testing.T) {
	seq := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintln(&b, i)
		}
		return b.String()
	}
	t.Run("now,fail=1 kills the running jobs", func(t *testing.T) {
		// Job 2 fails at once; the others would sleep for minutes.
		stdout, _, err := runCLI(t, seq(50), "exec", "-o", "jsonl", "-c", "4", "--halt", "now,fail=1", "--", "sh", "-c", `[ $1 != 2 ] || exit 1; sleep 300`, "sh")
		recs := decodeExec(t, stdout)
		if err == nil || len(recs) == 0 || len(recs) >= 50 {
			t.Fatalf("%d records, error %v", len(recs), err)
		}
		for _, r := range recs {
			switch {
			case r.Input == "2":
				if r.ErrorKind != "exit" {
					t.Errorf("the failed job: %+v", r)
				}
			case r.ErrorKind != "canceled" || !strings.Contains(r.Error, "--halt now,fail=1"):
				t.Errorf("job %s: %+v", r.Input, r)
			case r.Attempts > 0 && (r.DurationMS <= 0 || strings.Contains(r.Error, "not started")):
				t.Errorf("job %s ran and was stopped, but its record says otherwise: %+v", r.Input, r)
			case r.Attempts == 0 && !strings.Contains(r.Error, "not started"):
				t.Errorf("job %s did not start, but its record says otherwise: %+v", r.Input, r)
			}
		}
	})
	t.Run("soon,fail=1 lets running jobs finish", func(t *testing.T) {
		// Job 1 fails at once; job 2 runs until job 1 has failed, and
		// a while more, then succeeds.
		t.Chdir(t.TempDir())
		script := `if [ $1 = 1 ]; then touch failed; exit 1; fi; while [ ! -e failed ]; do sleep 0.01; done; sleep 0.5`
		stdout, _, err := runCLI(t, seq(20), "exec", "-o", "jsonl", "-c", "2", "--halt", "soon,fail=1", "--", "sh", "-c", script, "sh")
		recs := decodeExec(t, stdout)
		if failedCount(err) == 0 || len(recs) < 2 {
			t.Fatalf("%d records, error %v", len(recs), err)
		}
		if recs[0].ErrorKind != "exit" || recs[1].ErrorKind != "" || recs[1].ExitCode != 0 {
			t.Errorf("the failed job and the one running beside it: %+v", recs[:2])
		}
		for _, r := range recs[2:] {
			if r.Attempts != 0 || r.ErrorKind != "canceled" {
				t.Errorf("job %s started after the halt: %+v", r.Input, r)
			}
		}
	})
	t.Run("now,success=1 exits 0", func(t *testing.T) {
		stdout, _, err := runCLI(t, seq(10), "exec", "-o", "jsonl", "-c", "3", "--halt", "now,success=1", "--", "sh", "-c", `[ $1 = 1 ] || sleep 300`, "sh")
		recs := decodeExec(t, stdout)
		if err != nil || len(recs) < 3 || recs[0].ExitCode != 0 {
			t.Fatalf("%d records, error %v", len(recs), err)
		}
		for _, r := range recs[1:] {
			if r.ErrorKind != "canceled" {
				t.Errorf("job %s: %+v", r.Input, r)
			}
		}
	})
	t.Run("soon,fail=50% of a known number of jobs", func(t *testing.T) {
		stdout, _, err := runCLI(t, "", "exec", "-o", "jsonl", "-c", "1", "--halt", "soon,fail=50%", "--", "sh", "-c", `[ $1 = ok ]`, "sh", ":::", "bad", "bad", "ok", "ok")
		recs := decodeExec(t, stdout)
		if failedCount(err) == 0 {
			t.Fatal(err)
		}
		started := 0
		for _, r := range recs {
			if r.Attempts > 0 {
				started++
			}
		}
		if started != 2 {
			t.Errorf("%d jobs ran, want 2: %+v", started, recs)
		}
	})
}

func TestHaltSpec(t *testing.T) {
	for in, want := range map[string]string{
		"now,fail=1": "now,fail=1", "soon,success=30%": "soon,success=30%", "2": "now,fail=1", "1": "soon,fail=1", "never": "never",
	} {
		var h haltSpec
		if err := h.Set(in); err != nil || h.String() != want {
			t.Errorf("%s: %s, %v", in, h.String(), err)
		}
	}
	for _, bad := range []string{"now", "now,fail", "later,fail=1", "now,fail=0", "now,fail=101%", "now,done=1x"} {
		var h haltSpec
		if h.Set(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	pct := haltSpec{when: haltSoon, why: haltFail, n: 50, percent: true}
	for _, c := range []struct {
		count, finished, total int
		met                    bool
	}{{1, 1, 4, false}, {2, 2, 4, true}, {5, 5, -1, false}, {5, 10, -1, true}, {4, 10, -1, false}} {
		if got := pct.met(c.count, c.finished, c.total); got != c.met {
			t.Errorf("50%%: %d of %d finished (total %d): met %v", c.count, c.finished, c.total, got)
		}
	}
}

func TestExecUsage(t *testing.T) {
	for _, args := range [][]string{
		{"exec"},
		{"exec", "-c", "2", "grep", "-n", "x"},
		{"exec", "-o", "jsonl", "--line-buffer", "--", "echo"},
		{"exec", "--halt", "sometimes", "--", "echo"},
		{"exec", "-i", "f", "--", "echo", ":::", "a"},
		{"exec", "stray", "--", "echo"},
	} {
		_, _, err := runCLI(t, "", args...)
		if !isUsage(err) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	// Flags, then a command with no dashed argument: no -- needed.
	stdout, _, err := runCLI(t, "", "exec", "-c", "1", "echo", "hi", ":::", "a")
	if err != nil || stdout != "hi a\n" {
		t.Errorf("%q %v", stdout, err)
	}
}

// TestExecTimeoutStopsGrandchildren: --timeout ends the job and the
// grandchild it put in the background.
func TestExecTimeoutStopsGrandchildren(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pids")
	stdout, _, err := runCLI(t, pidfile, "exec", "-o", "jsonl", "--timeout", "1s", "--", "sh", "-c", `sleep 300 & echo $! >> "$1"; echo $$ >> "$1"; sleep 300`, "sh")
	recs := decodeExec(t, stdout)
	if failedCount(err) != 1 || len(recs) != 1 || recs[0].ErrorKind != "timeout" || recs[0].Signal != "SIGTERM" {
		t.Fatalf("%+v %v", recs, err)
	}
	assertPidsGone(t, readPids(t, pidfile, 2))
}

// TestE2EExecInterruptStopsEveryJob: SIGINT to fanout exec stops every
// running job's whole group, writes a record per line read, exits 130.
func TestE2EExecInterruptStopsEveryJob(t *testing.T) {
	dir := t.TempDir()
	var in strings.Builder
	for i := range 20 {
		fmt.Fprintln(&in, filepath.Join(dir, strconv.Itoa(i)))
	}
	cmd := exec.Command(binary(t), "exec", "-c", "3", "-o", "jsonl", "--", "sh", "-c", `echo started; sleep 300 & echo $! >> "$1"; echo $$ >> "$1"; sleep 300`, "sh")
	cmd.Stdin = strings.NewReader(in.String())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for i := range 3 {
		pids = append(pids, readPids(t, filepath.Join(dir, strconv.Itoa(i)), 2)...)
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d, want 130; stderr:\n%s", code, errOut.String())
	}
	assertPidsGone(t, pids)
	recs := decodeExec(t, out.String())
	if len(recs) < 3 {
		t.Fatalf("%d records", len(recs))
	}
	for i, r := range recs {
		if r.Index != i || r.ErrorKind != "canceled" {
			t.Errorf("record %d: %+v", i, r)
		}
		// The three jobs that ran (their pids were read) have the record
		// of their run: an attempt, its time, its output so far. Before,
		// they were recorded "not started", their output lost.
		ran := r.Attempts == 1 && r.DurationMS > 0 && r.Stdout == "started\n" && len(r.Argv) > 0 && !strings.Contains(r.Error, "not started")
		if i < 3 && !ran {
			t.Errorf("record %d, of a job that ran: %+v", i, r)
		}
		if i >= 3 && r.Attempts == 0 && !strings.Contains(r.Error, "not started") {
			t.Errorf("record %d, of a job that did not start: %+v", i, r)
		}
	}
}

// TestE2EExecKilledFanoutTakesItsJobs: when fanout itself is killed
// (SIGKILL: no chance to stop anything), the kernel kills each job's
// process rather than leaving it running unwatched.
func TestE2EExecKilledFanoutTakesItsJobs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	cmd, pids := startPidJobs(t, `echo $$ >> "$1"; exec sleep 300`)
	cmd.Process.Kill()
	cmd.Wait()
	waitPidsGone(t, pids)
}

// startPidJobs starts fanout exec with three jobs running script under sh,
// each given a file of its own as $1 to write a pid to, and returns the
// command and the three pids once written.
func startPidJobs(t *testing.T, script string) (*exec.Cmd, []int) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(binary(t), "exec", "-c", "3", "--", "sh", "-c", script, "sh", ":::",
		filepath.Join(dir, "0"), filepath.Join(dir, "1"), filepath.Join(dir, "2"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for i := range 3 {
		pids = append(pids, readPids(t, filepath.Join(dir, strconv.Itoa(i)), 1)...)
	}
	return cmd, pids
}

// TestE2EExecKilledFanoutTakesBackgroundProcesses: when fanout itself is
// killed, what its jobs put in the background is killed too (the reaper's
// doing: the kernel's parent-death signal takes only each job's own
// process), and the reaper then exits.
func TestE2EExecKilledFanoutTakesBackgroundProcesses(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the reaper is Linux's")
	}
	cmd, pids := startPidJobs(t, `sleep 300 & echo $! >> "$1"; wait`)
	reaper := reaperOf(cmd.Process.Pid) // started before the first job
	cmd.Process.Kill()
	cmd.Wait()
	waitPidsGone(t, pids)
	if reaper == 0 {
		t.Fatal("no reaper ran beside fanout")
	}
	waitPidsGone(t, []int{reaper})
}

// TestE2EExecReaperEndsWithTheRun: after a normal run, the reaper fanout
// started at its first job is gone too: fanout waited for it.
func TestE2EExecReaperEndsWithTheRun(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the reaper is Linux's")
	}
	dir := t.TempDir()
	proceed := filepath.Join(dir, "proceed")
	if err := syscall.Mkfifo(proceed, 0o600); err != nil {
		t.Fatal(err)
	}
	// The job says it runs, then waits for the test to let it end.
	cmd := exec.Command(binary(t), "exec", "--", "sh", "-c", `echo $$ > "$1/pid"; read x < "$1/proceed"`, "sh", ":::", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readPids(t, filepath.Join(dir, "pid"), 1)
	reaper := reaperOf(cmd.Process.Pid)
	if reaper == 0 {
		t.Error("no reaper ran beside fanout")
	}
	f, err := os.OpenFile(proceed, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("go\n")
	f.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if reaper != 0 {
		assertPidsGone(t, []int{reaper}) // no waiting: fanout reaped it
	}
}

// TestExecStartsTheReaperAtTheFirstJob: the reaper starts once a job
// starts, once per run, never in a run without jobs; and a reaper that
// cannot start does not fail the run.
func TestExecStartsTheReaperAtTheFirstJob(t *testing.T) {
	for _, tt := range []struct {
		name   string
		stdin  string
		args   []string
		starts int
	}{
		{"jobs", "", []string{"exec", "-c", "2", "true", ":::", "a", "b", "c"}, 1},
		{"no input", "", []string{"exec", "true"}, 0},
		{"dry run", "", []string{"exec", "--dry-run", "true", ":::", "a"}, 0},
		{"no such program", "", []string{"exec", "fanout-no-such-program", ":::", "a"}, 0},
		{"usage", "", []string{"exec", "--frobnicate", "--", "true"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var starts atomic.Int32
			env := Env{
				Stdin: strings.NewReader(tt.stdin), Stdout: io.Discard, Stderr: io.Discard,
				StartReaper: func(string) (*reaper.Reaper, error) {
					starts.Add(1)
					return nil, errors.New("no reaper in this test")
				},
			}
			err := Run(t.Context(), env, tt.args)
			if got := int(starts.Load()); got != tt.starts {
				t.Errorf("%d reapers started, want %d", got, tt.starts)
			}
			if tt.starts > 0 && err != nil {
				t.Errorf("the run failed: %v", err)
			}
		})
	}
}

// reaperOf returns the pid of the reaper running beside fanout (the child
// of fanout's that runs as "fanout-reaper"), 0 if there is none.
func reaperOf(fanout int) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// After the command name in parentheses: state, ppid.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(fanout) {
			continue
		}
		if argv, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); bytes.HasPrefix(argv, []byte("fanout-reaper\x00")) {
			return pid
		}
	}
	return 0
}

func TestE2EExecExitCodes(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"exec", "true", ":::", "a", "b"}, 0},
		{[]string{"exec", "--", "sh", "-c", "exit $1", "sh", ":::", "0", "5", "0"}, 1},
		{[]string{"exec", "--frobnicate", "--", "true"}, 2},
	} {
		_, stderr, code := run(t, "", tt.args...)
		if code != tt.code {
			t.Errorf("%q: exit code %d, want %d; stderr:\n%s", tt.args, code, tt.code, stderr)
		}
	}
}

func readPids(t *testing.T, file string, n int) []int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		b, _ := os.ReadFile(file)
		var out []int
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				out = append(out, p)
			}
		}
		if len(out) >= n {
			return out
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never held %d pids", file, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitPidsGone waits for the processes to end (the kernel signals them
// asynchronously), then fails for each one still running. The deadline
// only keeps a regression from hanging the test.
func waitPidsGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && slices.ContainsFunc(pids, running) {
		time.Sleep(10 * time.Millisecond)
	}
	assertPidsGone(t, pids)
}

// running reports whether process p exists and is not a zombie.
func running(p int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return !(i > 0 && i+2 < len(s) && s[i+2] == 'Z')
}

// assertPidsGone fails for each pid still running (a zombie waiting to be
// reaped has ended).
func assertPidsGone(t *testing.T, pids []int) {
	t.Helper()
	for _, p := range pids {
		if running(p) {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
			t.Errorf("process %d of a job is still running: %s", p, b)
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

// TestExecResumeHooks: what resume keys exec's records on, and when a
// record counts as done.
func TestExecResumeHooks(t *testing.T) {
	base := execResultOptions([]string{"gzip", "{}"}, false)
	for _, other := range [][]string{
		execResultOptions([]string{"gzip", "{}"}, true),
		execResultOptions([]string{"gzip", "-9", "{}"}, false),
		execResultOptions([]string{"gzip {}"}, false),
	} {
		if slices.Equal(base, other) {
			t.Errorf("%q and %q key the same", base, other)
		}
	}
	for _, tt := range []struct {
		r    ExecRecord
		done bool
	}{
		{ExecRecord{Attempts: 1, ExitCode: 0}, true},
		{ExecRecord{Attempts: 2, ExitCode: 1, ErrorKind: "exit"}, false},
		{ExecRecord{Attempts: 1, ExitCode: -1, Signal: "SIGTERM", ErrorKind: "timeout"}, false},
		{ExecRecord{Attempts: 0, ExitCode: -1, ErrorKind: "canceled"}, false},
	} {
		if got := execSucceeded(tt.r); got != tt.done {
			t.Errorf("execSucceeded(%+v) = %v", tt.r, got)
		}
	}
}

// TestExecResume: exec keys its records on the command template, so a
// second run with --resume runs only the jobs that did not exit 0, a third
// runs nothing, and a changed command runs everything again. Each job
// appends to a file named after its input, which counts its runs.
func TestExecResume(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal.jsonl")
	inputs := "ok1\nfail\nok2\n"
	script := `echo run >> "$0.count"; case "$0" in *fail) exit 3;; esac`
	run := func(want int, extra ...string) []ExecRecord {
		t.Helper()
		args := append([]string{"exec", "-o", "jsonl", "--resume", journal}, extra...)
		args = append(args, "--", "sh", "-c", script, filepath.Join(dir, "{}"))
		stdout, stderr, err := runCLI(t, inputs, args...)
		if got := failedCount(err); got != want {
			t.Fatalf("%v: %d failed (%v), want %d; stderr %s", extra, got, err, want, stderr)
		}
		return decodeExec(t, stdout)
	}
	counts := func() (c [3]int) {
		for i, name := range []string{"ok1", "fail", "ok2"} {
			b, _ := os.ReadFile(filepath.Join(dir, name+".count"))
			c[i] = strings.Count(string(b), "run")
		}
		return c
	}
	if recs := run(1); len(recs) != 3 {
		t.Fatalf("first run: %d records, want 3", len(recs))
	}
	recs := run(1)
	if len(recs) != 1 || recs[0].Input != "fail" || recs[0].Index != 1 {
		t.Fatalf("second run: %+v, want only the failed job, index 1", recs)
	}
	if got := counts(); got != [3]int{1, 2, 1} {
		t.Errorf("runs per input after the second run: %v, want [1 2 1]", got)
	}
	if recs := run(0, "--resume-skip-failed"); len(recs) != 0 {
		t.Errorf("--resume-skip-failed ran %+v: an exit 3 is a failure for good", recs)
	}
	// It says what it skipped as what: before, the failed job was
	// counted "skipped as done".
	args := []string{"exec", "-o", "jsonl", "--resume", journal, "--resume-skip-failed", "--", "sh", "-c", script, filepath.Join(dir, "{}")}
	if _, stderr, _ := runCLI(t, inputs, args...); !strings.Contains(stderr, "2 input lines skipped as done, 1 skipped as failed (--resume-skip-failed), 0 ran") {
		t.Errorf("--resume-skip-failed says %q", stderr)
	}
	script += "; true"
	if recs := run(1); len(recs) != 3 {
		t.Errorf("a changed command ran %d jobs, want all 3", len(recs))
	}
}

// TestExecResumeNamesJobsByLine: with --resume, a job's message names its
// line's job number in the whole input, not its place among the jobs that
// ran this time.
func TestExecResumeNamesJobsByLine(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	args := []string{"exec", "--resume", journal, "--timeout", "100ms", "--kill-after", "100ms",
		"--", "sh", "-c", `case "$0" in slow) sleep 30;; esac`, "{}"}
	for run := range 2 {
		_, stderr, err := runCLI(t, "fast\nslow\n", args...)
		if failedCount(err) != 1 {
			t.Fatalf("run %d: %v; stderr %s", run, err, stderr)
		}
		if !strings.Contains(stderr, "fanout: job 2 (slow):") {
			t.Errorf("run %d: stderr %q, want the timeout of job 2 (slow)", run, stderr)
		}
	}
}

// escapeeScript leaves a process of its own session (setsid) running, a
// sleep that first appends its pid to the file $1.
const escapeeScript = `setsid sh -c 'echo $$ >> "$1"; exec sleep 300' sh "$1" >/dev/null 2>&1 & `

// TestExecStopsEscapees: what a job put outside its process group with
// setsid (a daemon does) is stopped with the job, whether the job timed out
// or exited, and is gone as fanout returns.
func TestExecStopsEscapees(t *testing.T) {
	for _, tt := range []struct {
		name, script, kind string
	}{
		{"timed out", escapeeScript + `sleep 300`, "timeout"},
		{"exited", escapeeScript + `while ! [ -s "$1" ]; do sleep 0.01; done`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "pids")
			stdout, _, _ := runCLI(t, pidfile, "exec", "-o", "jsonl", "--timeout", "1s", "--kill-after", "200ms", "--", "sh", "-c", tt.script, "sh")
			recs := decodeExec(t, stdout)
			if len(recs) != 1 || recs[0].ErrorKind != tt.kind {
				t.Fatalf("%+v", recs)
			}
			assertPidsGone(t, readPids(t, pidfile, 1))
		})
	}
}

// TestExecSparesRunningJobsEscapees: a job's escapee, handed to fanout
// while its job runs (its parent exited), lives on while other jobs end,
// and is stopped when its own job ends.
func TestExecSparesRunningJobsEscapees(t *testing.T) {
	dir := t.TempDir()
	// a leaves an orphaned escapee and waits for the test; b ends once
	// the escapee is fanout's; c starts once b has ended (-c 2) and says so.
	script := `case $1 in
a) (` + strings.Replace(escapeeScript, `sh "$1"`, `sh "$2/escapee"`, 1) + `); echo > "$2/adopted"; while ! [ -e "$2/proceed" ]; do sleep 0.01; done;;
b) while ! [ -s "$2/escapee" ] || ! [ -e "$2/adopted" ]; do sleep 0.01; done;;
c) echo 1 > "$2/c";;
esac`
	// Let job a end, even when the test fails early.
	proceed := sync.OnceFunc(func() { os.WriteFile(filepath.Join(dir, "proceed"), nil, 0o600) })
	done := make(chan error, 1)
	go func() {
		_, _, err := runCLI(t, "a\nb\nc\n", "exec", "-c", "2", "--", "sh", "-c", script, "sh", "{}", dir)
		done <- err
	}()
	t.Cleanup(func() { proceed(); <-done })
	escapee := readPids(t, filepath.Join(dir, "escapee"), 1)
	readPids(t, filepath.Join(dir, "c"), 1) // b has ended
	if !running(escapee[0]) {
		t.Errorf("the running job's escapee %d was stopped as another job ended", escapee[0])
	}
	proceed()
	if err := <-done; err != nil {
		t.Error(err)
	}
	done <- nil // for the cleanup
	assertPidsGone(t, escapee)
}

// TestE2EExecKilledFanoutTakesEscapees: when fanout itself is killed, the
// reaper kills what its jobs put outside their process groups too.
func TestE2EExecKilledFanoutTakesEscapees(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the reaper is Linux's")
	}
	cmd, pids := startPidJobs(t, escapeeScript+`sleep 300`)
	cmd.Process.Kill()
	cmd.Wait()
	waitPidsGone(t, pids)
}

// TestExecMarksJobs: each job sees its number ({#}) as FANOUT_SEQ and the
// run's id, the same for all of them, as FANOUT_RUN.
func TestExecMarksJobs(t *testing.T) {
	stdout, _, err := runCLI(t, "", "exec", "-c", "1", "--", "sh", "-c", `echo "$FANOUT_SEQ $FANOUT_RUN"`, ":::", "a", "b")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if err != nil || len(lines) != 2 {
		t.Fatalf("%q %v", stdout, err)
	}
	seq1, run1, _ := strings.Cut(lines[0], " ")
	seq2, run2, _ := strings.Cut(lines[1], " ")
	if seq1 != "1" || seq2 != "2" || run1 == "" || run1 != run2 {
		t.Errorf("jobs saw %q", lines)
	}
}
