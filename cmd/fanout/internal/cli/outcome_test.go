package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fanout-go/fanout/internal/testserver"
)

// TestOutcomesAgree runs one mixed workload (answers of every class, a
// retried 503, a reset, a timeout, a URL that is not one) and checks that
// the --summary line, the trace summary, the HTML timeline's legend and the
// Chrome trace's spans count and class the records alike, with and without
// --accept. Before, a 503 after its retries counted "ok" in the summary and
// "error" in the trace.
func TestOutcomesAgree(t *testing.T) {
	s := testserver.StartTest(t)
	urls := []string{
		s.URL("/status/200"), s.URL("/status/204"), s.URL("/redirect/1"),
		s.URL("/status/404"), s.URL("/status/500"), s.URL("/status/503"),
		s.URL("/reset"), s.URL("/hang"), "http//not-a-url",
	}
	tests := []struct {
		accept               []string
		ok, error, timeout   int
		summary              string
		okLabels, errorLabel []string
	}{
		{nil, 6, 2, 1, "9 URLs: 6 ok (2xx 3, 4xx 1, 5xx 2), 3 failed (invalid_url 1, reset 1, timeout 1)", nil, nil},
		{[]string{"--accept", "200-399"}, 3, 5, 1, "9 URLs: 3 ok (2xx 3), 6 failed (4xx 1, 5xx 2, invalid_url 1, reset 1, timeout 1)", nil, nil},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		tr, tl := filepath.Join(dir, "t.json"), filepath.Join(dir, "t.html")
		args := append([]string{"http", "--summary", "--retries", "1", "--timeout", "300ms", "--trace", tr, "--timeline", tl}, tt.accept...)
		out, stderr, err := runCLI(t, "", append(args, urls...)...)
		if !strings.Contains(stderr, tt.summary) {
			t.Errorf("%q: summary lacks %q:\n%s", tt.accept, tt.summary, stderr)
		}
		var failed *FailedError
		if wantFailed := tt.error + tt.timeout; !errors.As(err, &failed) || failed.Failed != wantFailed {
			t.Errorf("%q: err = %v, want %d failed", tt.accept, err, wantFailed)
		}
		want := map[string]int{"ok": tt.ok, "error": tt.error, "timeout": tt.timeout}
		// The trace summary's outcomes line.
		m := regexp.MustCompile(`(?m)^  outcomes +(.*)$`).FindStringSubmatch(stderr)
		if m == nil || parseCounts(m[1]) != fmtCounts(want) {
			t.Errorf("%q: trace summary outcomes %q, want %s", tt.accept, m, fmtCounts(want))
		}
		// The timeline's legend.
		html, _ := os.ReadFile(tl)
		legend := map[string]int{}
		for _, m := range regexp.MustCompile(`</i>(\w+) (\d+)</span>`).FindAllStringSubmatch(string(html), -1) {
			legend[m[1]], _ = strconv.Atoi(m[2])
		}
		for k, n := range want {
			if legend[k] != n {
				t.Errorf("%q: timeline legend %v, want %s", tt.accept, legend, fmtCounts(want))
				break
			}
		}
		// Each span carries its own record's class.
		recs := decode(t, out)
		kindOfRecord := map[string]string{}
		for _, r := range recs {
			if r.Error != "" { // the JSON record keeps the error's text
				r.Err = errors.New(r.Error)
			}
			kindOfRecord[r.URL] = httpRecords().Outcome(r).Kind.String()
		}
		var chrome struct {
			TraceEvents []struct {
				Ph   string `json:"ph"`
				Args struct {
					Label, Outcome string
				} `json:"args"`
			} `json:"traceEvents"`
		}
		data, _ := os.ReadFile(tr)
		if err := json.Unmarshal(data, &chrome); err != nil {
			t.Fatal(err)
		}
		// A retried task that waited between attempts has a slice per
		// stretch of attempts, each with the task's outcome.
		tasks := map[string]bool{}
		for _, e := range chrome.TraceEvents {
			if e.Args.Outcome == "" {
				continue
			}
			tasks[e.Args.Label] = true
			if k := kindOfRecord[e.Args.Label]; k != e.Args.Outcome {
				t.Errorf("%q: span %s is %s, its record %s", tt.accept, e.Args.Label, e.Args.Outcome, k)
			}
		}
		if len(tasks) != len(urls) {
			t.Errorf("%q: %d tasks with an outcome in the trace, want %d", tt.accept, len(tasks), len(urls))
		}
	}
}

// parseCounts normalizes "3 ok, 5 error, 1 timeout".
func parseCounts(s string) string {
	m := map[string]int{}
	for part := range strings.SplitSeq(s, ", ") {
		var n int
		var k string
		if f := strings.Fields(part); len(f) == 2 {
			n, _ = strconv.Atoi(f[0])
			k = f[1]
		}
		m[k] = n
	}
	return fmtCounts(m)
}

func fmtCounts(m map[string]int) string {
	var parts []string
	for _, k := range []string{"ok", "error", "timeout", "canceled", "panic", "abandoned"} {
		if m[k] > 0 {
			parts = append(parts, strconv.Itoa(m[k])+" "+k)
		}
	}
	return strings.Join(parts, ", ")
}

// Tasks whose records count no attempt (a URL refused before any request;
// an exec job halted before its process started) are never started in the
// summary and the trace too. Before, the executor's call of the function
// that refused them counted as an attempt: the summary said 3 started
// tasks and 3 attempts for records with 1.
func TestSummaryCountsAttemptsAsRecordsDo(t *testing.T) {
	s := testserver.StartTest(t)
	tr := filepath.Join(t.TempDir(), "t.json")
	_, stderr, _ := runCLI(t, "", "http", "--summary", "--trace", tr, "-o", "jsonl", "not a url", s.URL("/status/200"), "ftp://x.test/")
	if !strings.Contains(stderr, "attempts     1 (") || !strings.Contains(stderr, "over 1 started tasks") {
		t.Errorf("summary does not count 1 attempt of 1 started task:\n%s", stderr)
	}
	var chrome struct {
		TraceEvents []struct {
			Ph   string                 `json:"ph"`
			Args struct{ Label string } `json:"args"`
		} `json:"traceEvents"`
	}
	data, _ := os.ReadFile(tr)
	if err := json.Unmarshal(data, &chrome); err != nil {
		t.Fatal(err)
	}
	for _, e := range chrome.TraceEvents {
		if e.Ph == "X" && e.Args.Label != s.URL("/status/200") {
			t.Errorf("the trace draws %q as having run", e.Args.Label)
		}
	}
}
