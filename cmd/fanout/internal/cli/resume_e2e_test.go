package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fanout-go/fanout/internal/testserver"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

// journalRecord is the part of a record with key and outcome the tests read.
type journalRecord struct {
	Index   int    `json:"index"`
	URL     string `json:"url"`
	Key     string `json:"key"`
	Outcome string `json:"outcome"`
	line    string
}

// readRecords reads a JSON-lines file of keyed records; a torn last line
// (a killed run) is left out.
func readRecords(t *testing.T, path string) []journalRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var recs []journalRecord
	for l := range strings.Lines(string(data)) {
		if !strings.HasSuffix(l, "\n") {
			break
		}
		var r journalRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%s: a whole line is not JSON: %q", path, l)
		}
		r.line = l
		recs = append(recs, r)
	}
	return recs
}

// doneURLs returns the URLs with a done record, and fails the test if one
// has two.
func doneURLs(t *testing.T, recs []journalRecord) map[string]bool {
	t.Helper()
	done := map[string]bool{}
	for _, r := range recs {
		if r.Outcome == "done" {
			if done[r.URL] {
				t.Errorf("%s has two done records: it ran again after it succeeded", r.URL)
			}
			done[r.URL] = true
		}
	}
	return done
}

func urlPath(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Path
}

// faultInput writes n URLs to a file: most answer 200 after a random delay
// of up to 40ms, every fifth answers 503 on its first request (a transient
// outcome) and 200 later.
func faultInput(t *testing.T, s *testserver.Server, n int, rng *rand.Rand) (string, []string) {
	t.Helper()
	var urls []string
	for i := range n {
		if i%5 == 0 {
			urls = append(urls, s.URL(fmt.Sprintf("/flaky/r%d?fail=1&status=503", i)))
		} else {
			urls = append(urls, s.URL(fmt.Sprintf("/status/200/u%d?delay=%dms", i, rng.IntN(40))))
		}
	}
	path := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(path, []byte(strings.Join(urls, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, urls
}

// resumeRounds runs `fanout http --resume` on the input again and again,
// stopping the first stopRounds runs with signal after a random time, then
// letting runs finish until every URL is done. After every round it checks
// that the journal holds only records that the round wrote to its output,
// that no URL done before the round was requested again, and that a
// finished round wrote a record for every input not done before it.
func resumeRounds(t *testing.T, signal syscall.Signal, stopRounds int) {
	s := testserver.StartTest(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14))
	input, urls := faultInput(t, s, 120, rng)
	dir := t.TempDir()
	jpath := filepath.Join(dir, "journal.jsonl")
	written := map[string]bool{} // every output line of every round
	stopped := 0
	for round := 0; ; round++ {
		if round > stopRounds+10 {
			t.Fatalf("not done after %d rounds", round)
		}
		before := doneURLs(t, readRecords(t, jpath))
		if len(before) == len(urls) {
			break
		}
		counts := map[string]int64{}
		for u := range before {
			counts[u] = s.Count(urlPath(t, u))
		}
		outPath := filepath.Join(dir, fmt.Sprintf("out%d.jsonl", round))
		out, err := os.Create(outPath)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"http", "-c", "8", "-i", input, "--resume", jpath, "-o", "jsonl"}
		if round%2 == 1 {
			args = append(args, "--unordered")
		}
		cmd := exec.Command(binary(t), args...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = out, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if round < stopRounds {
			// A SIGINT before the handler is set kills: give it time.
			wait := 5 + rng.IntN(250)
			if signal == syscall.SIGINT {
				wait = 40 + rng.IntN(120)
			}
			time.Sleep(time.Duration(wait) * time.Millisecond)
			cmd.Process.Signal(signal)
		}
		err = cmd.Wait()
		out.Close()
		code := cmd.ProcessState.ExitCode()
		if round < stopRounds && (code == 130 || signal == syscall.SIGKILL && code == -1) {
			stopped++
		}
		switch {
		case code == 0:
		case signal == syscall.SIGINT && code == 130:
		case code == -1: // killed, or interrupted before its handler was set
		default:
			t.Fatalf("round %d: %v, exit %d; stderr:\n%s", round, err, code, stderr.String())
		}

		outRecs := readRecords(t, outPath)
		for _, r := range outRecs {
			written[r.line] = true
			if before[r.URL] {
				t.Errorf("round %d: %s ran again though it was done", round, r.URL)
			}
			if r.URL != urls[r.Index] {
				t.Errorf("round %d: record of %s has index %d, the input's %d is %s", round, r.URL, r.Index, r.Index, urls[r.Index])
			}
		}
		journal := readRecords(t, jpath)
		for _, r := range journal {
			if !written[r.line] {
				t.Errorf("round %d: the journal has a record that no output has: %s", round, r.line)
			}
		}
		doneURLs(t, journal)
		for u, c := range counts {
			if now := s.Count(urlPath(t, u)); now != c {
				t.Errorf("round %d: %s was requested %d more times after it was done", round, u, now-c)
			}
		}
		if code == 0 {
			// A finished round has a record for each input not done before.
			got := map[string]bool{}
			for _, r := range outRecs {
				got[r.URL] = true
			}
			for _, u := range urls {
				if !before[u] && !got[u] {
					t.Errorf("round %d: %s was neither done before nor run", round, u)
				}
			}
			want := fmt.Sprintf("fanout: --resume: %d URLs skipped as done, %d ran", len(before), len(urls)-len(before))
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("round %d: stderr lacks %q:\n%s", round, want, stderr.String())
			}
		}
	}
	if stopped == 0 {
		t.Errorf("no round was stopped before its end: the test proved nothing")
	}
	t.Logf("%d of %d rounds stopped by %v before their end", stopped, stopRounds, signal)
}

func TestE2EResumeAfterKill9(t *testing.T) { resumeRounds(t, syscall.SIGKILL, 15) }

func TestE2EResumeAfterInterrupt(t *testing.T) { resumeRounds(t, syscall.SIGINT, 10) }

func TestE2EResumeEditedInput(t *testing.T) {
	s := testserver.StartTest(t)
	u := func(name string) string { return s.URL("/status/200/" + name) }
	flaky := s.URL("/flaky/f?fail=1&status=503")
	dir := t.TempDir()
	jpath := filepath.Join(dir, "journal.jsonl")
	runWith := func(args []string, lines ...string) []journalRecord {
		t.Helper()
		stdout, stderr, code := run(t, strings.Join(lines, "\n"), append([]string{"http", "--resume", jpath}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		path := filepath.Join(dir, "out")
		os.WriteFile(path, []byte(stdout), 0o644)
		return readRecords(t, path)
	}
	runInput := func(lines ...string) []journalRecord { return runWith(nil, lines...) }
	runInput(u("a"), u("b"), flaky, u("c"), u("d"), u("a"))
	// b removed, c and d swapped, e added at the top, a given a third time.
	recs := runInput(u("e"), u("a"), flaky, u("d"), u("c"), u("a"), u("a"))
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%d %s", r.Index, r.URL))
	}
	want := []string{"0 " + u("e"), "2 " + flaky, "6 " + u("a")}
	if !slices.Equal(got, want) {
		t.Errorf("the edited input ran %q, want only the new and unfinished lines %q", got, want)
	}
	for name, n := range map[string]int64{"a": 3, "b": 1, "c": 1, "d": 1, "e": 1} {
		if c := s.Count("/status/200/" + name); c != n {
			t.Errorf("%s requested %d times, want %d", name, c, n)
		}
	}
	// Other options that change the result: everything runs again.
	if recs := runWith([]string{"-X", "HEAD"}, u("a"), u("b")); len(recs) != 2 {
		t.Errorf("with -X HEAD %d records, want 2: the key ignores the method", len(recs))
	}
}

func TestE2EShardsMergeToUnshardedRun(t *testing.T) {
	s := testserver.StartTest(t)
	var urls []string
	for i := range 50 {
		urls = append(urls, s.URL(fmt.Sprintf("/status/%d/s%d", 200+i%3, i)))
	}
	urls = append(urls, urls[7], "not a url", urls[3]) // repeats and a permanent failure
	dir := t.TempDir()
	input := filepath.Join(dir, "urls.txt")
	os.WriteFile(input, []byte(strings.Join(urls, "\n")), 0o644)

	// normalize drops what differs between runs: timings, and the fields
	// a plain run does not write.
	normalize := func(out string) []map[string]any {
		var recs []map[string]any
		for l := range strings.Lines(out) {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("not JSON: %q", l)
			}
			delete(m, "duration_ms")
			delete(m, "key")
			delete(m, "outcome")
			recs = append(recs, m)
		}
		return recs
	}
	plain, _, _ := run(t, "", "http", "-i", input, "-o", "jsonl")
	want := normalize(plain)
	if len(want) != len(urls) {
		t.Fatalf("the unsharded run wrote %d records for %d URLs", len(want), len(urls))
	}

	for _, n := range []int{1, 2, 7} {
		var files []string
		var cmds []*exec.Cmd
		for k := range n {
			path := filepath.Join(dir, fmt.Sprintf("shard-%d-of-%d.jsonl", k, n))
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(binary(t), "http", "-i", input, "-o", "jsonl", "--shard", fmt.Sprintf("auto/%d", n))
			cmd.Env = append(os.Environ(), fmt.Sprintf("JOB_COMPLETION_INDEX=%d", k))
			if k%2 == 1 {
				cmd.Args[len(cmd.Args)-1] = fmt.Sprintf("%d/%d", k, n)
				cmd.Env = os.Environ()
			}
			cmd.Stdout = f
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			files = append(files, path)
			cmds = append(cmds, cmd)
		}
		seen := map[int]int{}
		for k, cmd := range cmds {
			cmd.Wait() // exit 1: the shard with "not a url" has a failure
			for _, r := range readRecords(t, files[k]) {
				if prev, ok := seen[r.Index]; ok {
					t.Errorf("N=%d: index %d is in shards %d and %d", n, r.Index, prev, k)
				}
				seen[r.Index] = k
			}
		}
		if len(seen) != len(urls) {
			t.Errorf("N=%d: the shards cover %d of %d inputs", n, len(seen), len(urls))
		}
		merged, stderr, code := run(t, "", append([]string{"merge"}, files...)...)
		if code != 1 || !strings.Contains(stderr, "1 inputs have no successful record: indices 51") {
			t.Errorf("N=%d: merge exit %d, stderr %q; want 1 for the invalid URL", n, code, stderr)
		}
		if diff := cmp.Diff(want, normalize(merged)); diff != "" {
			t.Errorf("N=%d: merged shards differ from the unsharded run (-want +got):\n%s", n, diff)
		}
		if _, _, code := run(t, "", append([]string{"merge", "--allow-missing"}, files...)...); code != 0 {
			t.Errorf("N=%d: merge --allow-missing exit %d", n, code)
		}
		if n == 7 {
			_, stderr, code := run(t, "", append([]string{"merge"}, files[1:]...)...)
			if code != 1 || !strings.Contains(stderr, "have no record") {
				t.Errorf("merge without shard 0: exit %d, stderr %q; want missing indices reported", code, stderr)
			}
		}
	}
	cmd := exec.Command(binary(t), "http", "--shard", "auto/3", s.URL("/status/200"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "JOB_COMPLETION_INDEX") {
		t.Errorf("--shard auto/3 without the variables: exit %d, %q; want a usage error naming them", code, out)
	}
}

func TestE2EResumeSecondProcessRefused(t *testing.T) {
	s := testserver.StartTest(t)
	jpath := filepath.Join(t.TempDir(), "journal.jsonl")
	first := exec.Command(binary(t), "http", "--resume", jpath, s.URL("/hang"))
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	for s.Stats().InFlight == 0 { // the first holds the journal by then
		time.Sleep(5 * time.Millisecond)
	}
	_, stderr, code := run(t, "", "http", "--resume", jpath, s.URL("/status/200"))
	if code != 1 || !strings.Contains(stderr, "in use by another fanout process") || !strings.Contains(stderr, jpath) {
		t.Errorf("second process: exit %d, stderr %q; want a clear refusal", code, stderr)
	}
	if got := s.Count("/status/200"); got != 0 {
		t.Errorf("the refused process sent %d requests", got)
	}
	first.Process.Signal(syscall.SIGINT)
	first.Wait()
	recs := readRecords(t, jpath)
	if len(recs) != 1 || recs[0].Outcome != "transient" {
		t.Errorf("journal after the interrupted first run: %+v, want its one canceled record", recs)
	}
	// Once the first is gone, the journal is free.
	if _, stderr, code := run(t, "", "http", "--resume", jpath, s.URL("/status/200")); code != 0 {
		t.Errorf("after the first ended: exit %d, %s", code, stderr)
	}
}

func TestE2EResumeTornLastLine(t *testing.T) {
	s := testserver.StartTest(t)
	jpath := filepath.Join(t.TempDir(), "journal.jsonl")
	a, b := s.URL("/status/200/a"), s.URL("/status/200/b")
	if _, stderr, code := run(t, "", "http", "--resume", jpath, a, b); code != 0 {
		t.Fatal(stderr)
	}
	data, _ := os.ReadFile(jpath)
	lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	// The record of b cut in the middle, as by a kill during its write.
	last := lines[len(lines)-1]
	os.WriteFile(jpath, []byte(strings.Join(lines[:len(lines)-1], "")+last[:len(last)/2]), 0o644)
	stdout, stderr, code := run(t, "", "http", "--resume", jpath, a, b)
	if code != 0 || !strings.Contains(stderr, "incomplete") {
		t.Errorf("exit %d, stderr %q; want a warning about the incomplete line", code, stderr)
	}
	ran := bufio.NewScanner(strings.NewReader(stdout))
	var n int
	for ran.Scan() {
		n++
	}
	bURL := strings.Contains(stdout, "/status/200/b")
	if n != 1 || !bURL {
		t.Errorf("stdout %q: want the torn record's URL alone to run again", stdout)
	}
	if done := doneURLs(t, readRecords(t, jpath)); len(done) != 2 {
		t.Errorf("journal done URLs %v, want both", done)
	}
	if s.Count("/status/200/a") != 1 || s.Count("/status/200/b") != 2 {
		t.Errorf("requests a %d, b %d; want 1 and 2", s.Count("/status/200/a"), s.Count("/status/200/b"))
	}
}

// TestE2ELambdaResume: `fanout lambda --resume` runs again what was
// throttled, and what failed for good only without --resume-skip-failed.
func TestE2ELambdaResume(t *testing.T) {
	s := lambdatest.StartTest(t, lambdatest.Options{})
	jpath := filepath.Join(t.TempDir(), "journal.jsonl")
	input := `{"id":"a"}` + "\n" + `{"id":"b","error":"throttle"}` + "\n" + `{"id":"c","fail":"unhandled"}` + "\n" +
		"not json\n" + `{"id":"e"}` + "\n"
	args := []string{"--function", "fn", "--endpoint-url", s.URL(), "--retries", "0", "--resume", jpath}
	indexes := func(stdout string) []int {
		var got []int
		for _, r := range decodeLambda(t, stdout) {
			got = append(got, r.Index)
		}
		return got
	}
	runLambdaBinary(t, input, args...)
	stdout, stderr, _ := runLambdaBinary(t, input, args...)
	if got := indexes(stdout); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("second run ran %v, want the throttled, the function error and the bad line [1 2 3]", got)
	}
	if !strings.Contains(stderr, "2 payloads skipped as done, 3 ran") {
		t.Errorf("stderr lacks the resume summary:\n%s", stderr)
	}
	stdout, _, _ = runLambdaBinary(t, input, append(args, "--resume-skip-failed")...)
	if got := indexes(stdout); !slices.Equal(got, []int{1}) {
		t.Errorf("with --resume-skip-failed ran %v, want the throttled one alone [1]", got)
	}
	for id, want := range map[string]int{"a": 1, "e": 1, "c": 2, "b": 3} {
		if got := s.Attempts(id); got != want {
			t.Errorf("payload %s sent %d times, want %d", id, got, want)
		}
	}
}
