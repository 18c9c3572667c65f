package journal

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestMergeKeepsLastDonePerKey(t *testing.T) {
	keys := NewKeyer("test")
	a, b, c, d := keys.Key("a"), keys.Key("b"), keys.Key("c"), keys.Key("d")
	rec := func(i int, k Key, o Outcome, note string) string {
		return string(line(t, fmt.Sprintf(`{"index":%d,"note":%q}`, i, note), k, o))
	}
	first := rec(0, a, Done, "a first") + rec(1, b, Transient, "b canceled") + rec(3, d, Transient, "d canceled")
	second := rec(1, b, Done, "b done") + rec(0, a, Done, "a again") + rec(3, d, Failed, "d failed") +
		rec(1, b, Transient, "b canceled later") + `{"index":4,"key":"` + c.String() // torn
	var out strings.Builder
	var warnings []string
	rep, err := Merge(&out, []Source{{"first", strings.NewReader(first)}, {"second", strings.NewReader(second)}},
		func(m string) { warnings = append(warnings, m) })
	if err != nil {
		t.Fatal(err)
	}
	want := rec(0, a, Done, "a again") + rec(1, b, Done, "b done") + rec(3, d, Failed, "d failed")
	if out.String() != want {
		t.Errorf("merged:\n%s\nwant:\n%s", out.String(), want)
	}
	if rep.Records != 3 || !slices.Equal(rep.Missing, []int{2}) || !slices.Equal(rep.Unfinished, []int{3}) || rep.OK() {
		t.Errorf("report %+v, want 3 records, 2 missing, 3 unfinished", rep)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "second:5") {
		t.Errorf("warnings %q, want the torn line of second named", warnings)
	}
}

func TestMergePlainOutputs(t *testing.T) {
	// Outputs without key or outcome (a run without --shard or --resume):
	// keyed by index, done when they have no error. A last line without
	// its newline that parses is kept.
	in := `{"index":1,"url":"b"}` + "\n" + `{"index":0,"url":"a","error":"boom"}` + "\n" + `{"index":0,"url":"a"}`
	var out strings.Builder
	rep, err := Merge(&out, []Source{{"out", strings.NewReader(in)}}, nil)
	want := `{"index":0,"url":"a"}` + "\n" + `{"index":1,"url":"b"}` + "\n"
	if err != nil || out.String() != want || !rep.OK() {
		t.Errorf("Merge = %q, %+v, %v; want %q", out.String(), rep, err, want)
	}
	_, err = Merge(&out, []Source{{"bad", strings.NewReader("{\"url\":\"x\"}\n")}}, nil)
	if err == nil || !strings.Contains(err.Error(), "bad: no JSON record with an index") {
		t.Errorf("a file without one record: %v", err)
	}
}

// A run killed while writing a record larger than its output buffer
// leaves it torn, and the next run's output, appended, goes on from the
// middle of that line. Before, merge refused the whole file at that line.
// Now the line is skipped with a warning: its input ran again and has its
// record further on.
func TestMergeSkipsATornRecord(t *testing.T) {
	in := `{"index":0,"url":"a"}` + "\n" +
		`{"index":1,"url":"b","stdout":"aaaa` + `{"index":2,"url":"c"}` + "\n" + // torn, then the rerun
		`{"index":1,"url":"b"}` + "\n"
	var out strings.Builder
	var warnings []string
	rep, err := Merge(&out, []Source{{"out", strings.NewReader(in)}}, func(m string) { warnings = append(warnings, m) })
	want := `{"index":0,"url":"a"}` + "\n" + `{"index":1,"url":"b"}` + "\n"
	if err != nil || out.String() != want || !rep.OK() {
		t.Errorf("Merge = %q, %+v, %v; want %q", out.String(), rep, err, want)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "out:2: not a JSON record") {
		t.Errorf("warnings %q, want one for line 2", warnings)
	}
	// The input whose record was torn and never written again is missing.
	rep, _ = Merge(io.Discard, []Source{{"out", strings.NewReader(in[:strings.LastIndex(in[:len(in)-1], "\n")+1] + `{"index":3,"url":"d"}` + "\n")}}, nil)
	if rep.OK() || rep.MissingCount != 2 || !slices.Equal(rep.Missing, []int{1, 2}) {
		t.Errorf("with index 1's record lost: %+v", rep)
	}
}

// One record with an index far above the others cost a list of every
// index below it: 2.6 GB and 82 s for two lines with index 100,000,000.
// The report now counts them and lists the first few.
func TestMergeHugeIndexIsACount(t *testing.T) {
	in := `{"index":0}` + "\n" + `{"index":4000000000000000000}` + "\n"
	rep, err := Merge(io.Discard, []Source{{"h", strings.NewReader(in)}}, nil)
	if err != nil || rep.MissingCount != 4000000000000000000-1 || len(rep.Missing) != MaxListed || rep.Missing[0] != 1 || rep.OK() {
		t.Errorf("Merge: %d missing, listed %v, err %v", rep.MissingCount, rep.Missing, err)
	}
}

// Merge puts the outputs of shards, or of several resumed runs, back into
// one stream in input order.
func ExampleMerge() {
	keys := NewKeyer("http", "GET")
	a, b := keys.Key("http://a.test"), keys.Key("http://b.test")
	shard0, _ := Line([]byte(`{"index":1,"url":"http://b.test"}`), b, Done)
	// shard 1 timed out on http://a.test, then a resumed run got its answer
	shard1a, _ := Line([]byte(`{"index":0,"url":"http://a.test","error_kind":"timeout"}`), a, Transient)
	shard1b, _ := Line([]byte(`{"index":0,"url":"http://a.test"}`), a, Done)
	rep, _ := Merge(os.Stdout, []Source{
		{"shard0.jsonl", strings.NewReader(string(shard0))},
		{"shard1.jsonl", strings.NewReader(string(shard1a) + string(shard1b))},
	}, nil)
	fmt.Println(rep.Records, rep.OK())
	// Output:
	// {"index":0,"url":"http://a.test","key":"adc5a9801d94333cbb5df5feb9993704","outcome":"done"}
	// {"index":1,"url":"http://b.test","key":"74f6633bcccc4859f1fd57da132a2ef3","outcome":"done"}
	// 2 true
}

// Outputs written on Windows, or through a tool that added CRs, merge
// with LF ones into lines that all end alike: before, the CRs were kept.
func TestMergeLineEndings(t *testing.T) {
	var out strings.Builder
	_, err := Merge(&out, []Source{
		{"crlf", strings.NewReader(`{"index":1}` + "\r\n")},
		{"lf", strings.NewReader(`{"index":0}` + "\n")},
	}, nil)
	if want := `{"index":0}` + "\n" + `{"index":1}` + "\n"; err != nil || out.String() != want {
		t.Errorf("Merge = %q, %v; want %q", out.String(), err, want)
	}
}
