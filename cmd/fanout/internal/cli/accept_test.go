package cli

import (
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fanout-go/fanout/httpcheck"
	"github.com/fanout-go/fanout/internal/testserver"
)

// A status --accept does not take is the record's error in every format,
// not only in the table: a jq filter on .error, or a csv reader, must see
// the record failed as the exit code does.
func TestNotAcceptedStatusIsTheRecordsError(t *testing.T) {
	s := testserver.StartTest(t)
	ok, notFound := s.URL("/status/200"), s.URL("/status/404")

	out, _, err := runCLI(t, "", "http", "-o", "jsonl", "--accept", "2xx", ok, notFound)
	if err == nil {
		t.Fatal("a 404 outside --accept 2xx did not fail the run")
	}
	recs := decode(t, out)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2:\n%s", len(recs), out)
	}
	if recs[0].Error != "" || recs[0].ErrorKind != "" {
		t.Errorf("the accepted 200 has error %q (%s)", recs[0].Error, recs[0].ErrorKind)
	}
	if r := recs[1]; r.Status != 404 || r.ErrorKind != kindNotAccepted || !strings.Contains(r.Error, "404") || !strings.Contains(r.Error, "--accept 2xx") {
		t.Errorf("the 404's record: status %d, error %q, kind %q; want 404, an error naming the status and --accept, kind %q", r.Status, r.Error, r.ErrorKind, kindNotAccepted)
	}

	out, _, _ = runCLI(t, "", "http", "-o", "csv", "--accept", "2xx", notFound)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv %v: %q", err, out)
	}
	col := map[string]string{}
	for i, name := range rows[0] {
		col[name] = rows[1][i]
	}
	if col["error_kind"] != string(kindNotAccepted) || col["error"] == "" {
		t.Errorf("csv row: error %q, error_kind %q; want an error of kind %s", col["error"], col["error_kind"], kindNotAccepted)
	}

	// Without --accept every status is a result, as before.
	out, _, err = runCLI(t, "", "http", "-o", "jsonl", notFound)
	if err != nil {
		t.Fatalf("without --accept a 404 failed the run: %v", err)
	}
	if r := decode(t, out)[0]; r.Error != "" || r.ErrorKind != "" {
		t.Errorf("without --accept the 404 has error %q (%s)", r.Error, r.ErrorKind)
	}
}

// With --resume, a status --accept does not take is journaled failed, not
// done: the next run checks it again (or skips it with
// --resume-skip-failed), and fails again. Before, the journal said done and
// the rerun skipped the 404 and exited 0.
func TestResumeDoesNotSkipNotAccepted(t *testing.T) {
	s := testserver.StartTest(t)
	ok, notFound := s.URL("/status/200"), s.URL("/status/404")
	jpath := filepath.Join(t.TempDir(), "journal.jsonl")
	resume := func(extra ...string) ([]httpcheck.Result, error) {
		t.Helper()
		args := append([]string{"http", "-o", "jsonl", "--resume", jpath, "--accept", "2xx"}, extra...)
		out, _, err := runCLI(t, "", append(args, ok, notFound)...)
		return decode(t, out), err
	}

	if _, err := resume(); err == nil {
		t.Fatal("the first run passed with a 404 outside --accept 2xx")
	}
	outcomes := map[string]string{}
	for _, r := range readRecords(t, jpath) {
		outcomes[r.URL] = r.Outcome
	}
	if outcomes[ok] != "done" || outcomes[notFound] != "failed" {
		t.Errorf("journal outcomes: 200 %q, 404 %q; want done and failed", outcomes[ok], outcomes[notFound])
	}

	recs, err := resume()
	if err == nil || len(recs) != 1 || recs[0].URL != notFound {
		t.Errorf("the rerun: err %v, %d records; want the 404 checked again, and failed", err, len(recs))
	}
	if n := s.Count("/status/404"); n != 2 {
		t.Errorf("the 404 was requested %d times over two runs, want 2", n)
	}

	recs, err = resume("--resume-skip-failed")
	if err != nil || len(recs) != 0 {
		t.Errorf("with --resume-skip-failed: err %v, %d records; want nothing run", err, len(recs))
	}
}

// The journal's keys hold the statuses --accept takes, however written: a
// run with other statuses accepted asks another question and checks every
// URL again; the same statuses written another way do not.
func TestResumeKeyHoldsAccept(t *testing.T) {
	canon := func(v string) string {
		var a statusRanges
		if v != "" {
			if err := a.Set(v); err != nil {
				t.Fatal(err)
			}
		}
		return a.canonical()
	}
	for _, tt := range []struct{ a, b string }{
		{"2xx,404", "200-299, 404"},
		{"2xx", "200-250,251-299"},
		{"3xx,2xx", "200-399"},
		{"204,200-203", "200-204"},
	} {
		if ca, cb := canon(tt.a), canon(tt.b); ca != cb {
			t.Errorf("--accept %q is %q, --accept %q is %q: the same statuses", tt.a, ca, tt.b, cb)
		}
	}
	if canon("2xx") == canon("2xx,404") || canon("") == canon("2xx") {
		t.Error("different accepted statuses have one canonical form")
	}

	s := testserver.StartTest(t)
	u := s.URL("/status/404")
	jpath := filepath.Join(t.TempDir(), "journal.jsonl")
	runCLI(t, "", "http", "--resume", jpath, u)
	if _, _, err := runCLI(t, "", "http", "--resume", jpath, "--accept", "2xx", u); err == nil {
		t.Error("a 404 checked without --accept was skipped as done by a run with --accept 2xx")
	}
	if n := s.Count("/status/404"); n != 2 {
		t.Errorf("the 404 was requested %d times, want 2", n)
	}
}
