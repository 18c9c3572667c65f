package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func line(t *testing.T, rec string, k Key, o Outcome) []byte {
	t.Helper()
	l, err := Line([]byte(rec), k, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func open(t *testing.T, path string) (*Journal, []string) {
	t.Helper()
	var warnings []string
	j, err := Open(path, func(msg string) { warnings = append(warnings, msg) })
	if err != nil {
		t.Fatal(err)
	}
	return j, warnings
}

func TestJournalReopenKeepsOutcomes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	keys := NewKeyer("test")
	a, b, c := keys.Key("a"), keys.Key("b"), keys.Key("c")
	j, _ := open(t, path)
	if j.Len() != 0 {
		t.Fatalf("new journal has %d inputs", j.Len())
	}
	j.Append(line(t, `{"index":0}`, a, Done), line(t, `{"index":1}`, b, Transient))
	j.Append(line(t, `{"index":0}`, a, Transient), line(t, `{"index":1}`, b, Failed), line(t, `{"index":2}`, c, Transient))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j, warnings := open(t, path)
	defer j.Close()
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	for k, want := range map[Key]Outcome{a: Done, b: Failed, c: Transient} {
		if got, ok := j.Outcome(k); !ok || got != want {
			t.Errorf("outcome %v, %v; want %v (a Done record stays done, else the last wins)", got, ok, want)
		}
	}
	if _, ok := j.Outcome(keys.Key("d")); ok {
		t.Error("an unknown key has an outcome")
	}
}

func TestJournalTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	keys := NewKeyer("test")
	a, b := keys.Key("a"), keys.Key("b")
	whole := line(t, `{"index":0}`, a, Done)
	torn := line(t, `{"index":1}`, b, Done)
	torn = torn[:len(torn)-5]
	if err := os.WriteFile(path, append(append([]byte{}, whole...), torn...), 0o644); err != nil {
		t.Fatal(err)
	}
	j, warnings := open(t, path)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "incomplete") {
		t.Errorf("warnings %q, want one about the incomplete line", warnings)
	}
	if o, _ := j.Outcome(a); o != Done {
		t.Error("the whole line was lost")
	}
	if _, ok := j.Outcome(b); ok {
		t.Error("the torn line counted")
	}
	// What is appended next must be readable: the torn bytes are cut.
	j.Append(line(t, `{"index":1}`, b, Done))
	j.Close()
	data, _ := os.ReadFile(path)
	for i, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("line %d is not JSON after the append: %q", i+1, l)
		}
	}
	j, warnings = open(t, path)
	defer j.Close()
	if o, _ := j.Outcome(b); o != Done || len(warnings) > 0 {
		t.Errorf("after the append: outcome %q, warnings %q", o, warnings)
	}
}

func TestJournalBadLineSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	k := NewKeyer("test").Key("a")
	other := NewKeyer("test").Key("b")
	data := "not json\n" + `{"index":3}` + "\n" + string(line(t, `{"index":0}`, k, Done)) +
		`{"index":1,"key":"` + other.String() + `","outcome":"maybe"}` + "\n"
	os.WriteFile(path, []byte(data), 0o644)
	j, warnings := open(t, path)
	defer j.Close()
	if len(warnings) != 3 || !strings.Contains(warnings[0], ":1:") || !strings.Contains(warnings[1], ":2:") ||
		!strings.Contains(warnings[2], `:4: unknown outcome "maybe"`) {
		t.Errorf("warnings %q, want lines 1, 2 and 4 named", warnings)
	}
	if o, _ := j.Outcome(k); o != Done {
		t.Error("a good line after bad ones was lost")
	}
	if o, ok := j.Outcome(other); ok || j.Len() != 1 {
		t.Errorf("the record with an unknown outcome counts: %q, %v, Len %d", o, ok, j.Len())
	}
}

func TestJournalLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _ := open(t, path)
	_, err := Open(path, nil)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second open: %v, want ErrLocked naming the journal", err)
	}
	j.Close()
	j, _ = open(t, path)
	j.Close()
}

func TestPendingCommitsOnlyFlushedRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	keys := NewKeyer("test")
	j, _ := open(t, path)
	p := NewPending(j)
	p.Add(line(t, `{"index":0}`, keys.Key("a"), Done))
	if data, _ := os.ReadFile(path); len(data) > 0 {
		t.Fatalf("a record reached the journal before its output was flushed: %q", data)
	}
	p.Commit()
	p.Add(line(t, `{"index":1}`, keys.Key("b"), Done))
	p.Discard()
	p.Commit()
	j.Close()
	data, _ := os.ReadFile(path)
	if n := bytes.Count(data, []byte("\n")); n != 1 || !bytes.Contains(data, []byte(`"index":0`)) {
		t.Errorf("journal %q, want the committed record alone", data)
	}
	var nilPending *Pending
	nilPending.Add(nil) // a run without --resume
	nilPending.Commit()
	nilPending.Discard()
}

func TestLine(t *testing.T) {
	var k Key
	k[0] = 0xab
	got, err := Line([]byte("{\"index\":1,\"url\":\"http://x.test/?a&b\"}\n"), k, Failed)
	want := `{"index":1,"url":"http://x.test/?a&b","key":"ab000000000000000000000000000000","outcome":"failed"}` + "\n"
	if err != nil || string(got) != want {
		t.Errorf("Line = %q, %v; want %q", got, err, want)
	}
	if got, _ := Line([]byte("{}"), k, Done); !json.Valid(got) {
		t.Errorf("Line of {} = %q", got)
	}
	if _, err := Line([]byte("[1]"), k, Done); err == nil {
		t.Error("Line accepted a JSON array")
	}
}

// TestJournalOutcomesOfManyRecords writes thousands of records, a key
// often several times in any order of outcomes, and checks what a reopened
// journal says of each key against the rule: Done if any record was, else
// the last one's.
func TestJournalOutcomesOfManyRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	keys := NewKeyer("test")
	all := make([]Key, 3000)
	for i := range all {
		all[i] = keys.Key(strconv.Itoa(i))
	}
	want := map[Key]Outcome{}
	var lines [][]byte
	rng := rand.New(rand.NewPCG(1, 2))
	for range 8000 {
		k := all[rng.IntN(len(all))]
		o := []Outcome{Done, Failed, Transient, Transient}[rng.IntN(4)]
		lines = append(lines, line(t, `{"x":1}`, k, o))
		if want[k] != Done {
			want[k] = o
		}
	}
	j, _ := open(t, path)
	if err := j.Append(lines...); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, _ = open(t, path)
	defer j.Close()
	if j.Len() != len(want) {
		t.Errorf("Len = %d, want %d", j.Len(), len(want))
	}
	for _, k := range all {
		o, ok := j.Outcome(k)
		if w, had := want[k]; ok != had || o != w {
			t.Fatalf("Outcome(%v) = %q, %v; want %q, %v", k, o, ok, w, had)
		}
	}
}
