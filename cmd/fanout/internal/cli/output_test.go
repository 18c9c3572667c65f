package cli

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fanout-go/fanout/trace"
)

type testRecord struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	Err   string `json:"error,omitempty"`
}

var testRecords = Records[testRecord]{
	Noun: "things",
	CSV: []Column[testRecord]{
		{Name: "index", Value: func(r testRecord) string { return strconv.Itoa(r.Index) }},
		{Name: "name", Value: func(r testRecord) string { return r.Name }},
		{Name: "error", Value: func(r testRecord) string { return r.Err }},
	},
	Table: []Column[testRecord]{
		{Name: "#", Width: 3, Value: func(r testRecord) string { return strconv.Itoa(r.Index) }},
		{Name: "NAME", Width: 6, Value: func(r testRecord) string { return r.Name }},
		{Name: "ERROR", Value: func(r testRecord) string { return r.Err }},
	},
	Index: func(r testRecord) int { return r.Index },
	Outcome: func(r testRecord) Outcome {
		if r.Err != "" {
			return failure(r.Err)
		}
		return Outcome{trace.OK, ""}
	},
}

func writeRecords(t *testing.T, f Format, recs ...testRecord) string {
	var b strings.Builder
	w := NewWriter(&b, f, testRecords, false)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestWriterFormats(t *testing.T) {
	recs := []testRecord{{0, "a&b<c>", ""}, {1, "comma, \"quote\"", "bad\nline"}}
	tests := map[Format]string{
		JSONL: `{"index":0,"name":"a&b<c>"}` + "\n" + `{"index":1,"name":"comma, \"quote\"","error":"bad\nline"}` + "\n",
		CSV:   "index,name,error\n0,a&b<c>,\n1,\"comma, \"\"quote\"\"\",\"bad\nline\"\n",
		Table: "#    NAME    ERROR\n0    a&b<c>\n1    comma, \"quote\"  bad?line\n",
	}
	for f, want := range tests {
		if diff := cmp.Diff(want, writeRecords(t, f, recs...)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", f, diff)
		}
	}
	if got := writeRecords(t, CSV); got != "" {
		t.Errorf("csv of no records = %q, want nothing", got)
	}
}

func TestTally(t *testing.T) {
	var ta tally
	for _, o := range []Outcome{{trace.OK, "2xx"}, {trace.OK, "2xx"}, {trace.Error, "4xx"}, failure("dns"), failure("timeout"), {trace.OK, ""}} {
		ta.add(o)
	}
	if ta.total != 6 || ta.failed != 3 || ta.ok.String() != "2xx 2" || ta.bad.String() != "4xx 1, dns 1, timeout 1" || ta.String() != "3 ok, 2 error, 1 timeout" {
		t.Errorf("tally = %+v, %s", ta, ta.String())
	}
}

// Control characters never reach a CSV reader's screen (tab and newline,
// which a quoted field keeps, excepted).
func TestWriterCSVControlCharacters(t *testing.T) {
	got := writeRecords(t, CSV, testRecord{0, "a\x1b[31mred\rb\x00", "x\ty\nz"})
	want := "index,name,error\n0,a?[31mred?b?,\"x\ty\nz\"\n"
	if got != want {
		t.Errorf("csv = %q, want %q", got, want)
	}
}

// Columns line up by display width: wide characters take two columns.
func TestWriterTableDisplayWidth(t *testing.T) {
	got := writeRecords(t, Table, testRecord{0, "日本", "x"}, testRecord{1, "abcd", "y"}, testRecord{2, "e\u0301", "z"})
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	col := -1
	for i, l := range lines {
		c := displayWidth(l[:strings.LastIndexByte(l, ' ')+1])
		if i > 0 && c != col {
			t.Errorf("row %d: last column at %d, want %d:\n%s", i, c, col, got)
		}
		col = c
	}
}

// What fanout prints from hostile input on stderr, the --slow log lines
// and the summary, carries no control character: before, an input line
// with an escape sequence retitled the terminal and cleared its screen.
func TestStderrCarriesNoControlCharacters(t *testing.T) {
	hostile := "ctl\x01\x1b]0;pwned\x07\x1b[2J\u009b31m\x7fend"
	_, stderr, _ := runCLI(t, "", "exec", "--summary", "--slow", "1ns", "-o", "jsonl", "--", "true", ":::", hostile)
	if !strings.Contains(stderr, "slow task") || !strings.Contains(stderr, "pwned") {
		t.Fatalf("no slow-task line or summary with the label:\n%s", stderr)
	}
	if i := strings.IndexFunc(stderr, func(r rune) bool { return r != '\n' && isControl(r) }); i >= 0 {
		t.Errorf("stderr carries a control character at %d: %q", i, stderr)
	}
}

// fanout merge of a file it cannot read is a usage error (exit 2) whether
// the file is missing or a directory: before, a directory failed at its
// first read, as if records were missing (exit 1).
func TestMergeUnreadableIsUsage(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{filepath.Join(dir, "missing.jsonl"), dir} {
		if _, _, err := runCLI(t, "", "merge", name); !isUsage(err) {
			t.Errorf("merge %s: %v, want a usage error", name, err)
		}
	}
}
