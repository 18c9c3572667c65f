package cli

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	Outcome: func(r testRecord) (string, bool) { return r.Err, r.Err != "" },
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
	for _, c := range []struct {
		class  string
		failed bool
	}{{"2xx", false}, {"2xx", false}, {"4xx", false}, {"dns", true}, {"", false}} {
		ta.add(c.class, c.failed)
	}
	if ta.total != 5 || ta.failed != 1 || ta.ok.String() != "2xx 2, 4xx 1" || ta.bad.String() != "dns 1" {
		t.Errorf("tally = %+v", ta)
	}
}
