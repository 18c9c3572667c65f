package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fanout-go/fanout/trace"
)

func TestDemo(t *testing.T) {
	var out strings.Builder
	runs, err := demo(t.Context(), &out, demoConfig{urls: 6, payloads: 4, delay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 {
		t.Fatalf("%d runs, want HTTP and Lambda, serial and gathered", len(runs))
	}
	text := out.String()
	for i, want := range []struct {
		records    int
		code       string
		serial     bool
		tasksNamed string
	}{{6, httpSerialCode, true, "fanout: task "}, {6, httpGatherCode, false, "fanout: task "}, {4, lambdaSerialCode, true, "fanout: invocation "}, {4, lambdaGatherCode, false, "fanout: invocation "}} {
		r := runs[i]
		if r.records != want.records || r.failed != 0 {
			t.Errorf("run %s: %d records, %d failed", r.name, r.records, r.failed)
		}
		// What the demo proves, from the recorder's figures rather than
		// the clock: the serial runs never overlapped, the others did.
		if want.serial && (r.summary.Peak != 1 || r.summary.Effective > 1.05 || !r.summary.Serial()) {
			t.Errorf("run %s: peak %d, effective %.2f, serial %v; want 1, about 1, true", r.name, r.summary.Peak, r.summary.Effective, r.summary.Serial())
		}
		if !want.serial && (r.summary.Peak < 2 || r.summary.Effective < 1.5) {
			t.Errorf("run %s: peak %d, effective %.2f; want overlap", r.name, r.summary.Peak, r.summary.Effective)
		}
		// The Go lines behind each run are printed with it.
		if !strings.Contains(text, indent(want.code)) {
			t.Errorf("output lacks the code of run %s:\n%s", r.name, want.code)
		}
	}
	if n := strings.Count(text, "fanout: task "); n != 12 {
		t.Errorf("%d task lines, want 12", n)
	}
	if n := strings.Count(text, "fanout: invocation "); n != 8 {
		t.Errorf("%d invocation lines, want 8", n)
	}
	if !strings.Contains(text, "submitted only after the previous one had finished") {
		t.Errorf("the serial runs must be flagged as the article's trap:\n%s", text)
	}
	for _, want := range []string{"1. The article's trap", "2. With fanout", "3. The article's trap again", "functools.partial", "4. With fanout", "wall time", "speed-up", "effective concurrency", "peak running at once"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "seed") {
		t.Errorf("the demo speaks of the seed, which users do not know:\n%s", text)
	}
}

// The demo's timeline holds the four runs, one above the other, and the
// demo leaves no other file behind (it used to leave a temp directory per
// run).
func TestE2EDemoTimelineAndNoTempFiles(t *testing.T) {
	tmp := t.TempDir()
	work := t.TempDir()
	cmd := binaryCmd(t, "demo", "--urls", "3", "--payloads", "3", "--delay", "20ms")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("the demo left %d entries in TMPDIR", len(entries))
	}
	entries, _ := os.ReadDir(work)
	if len(entries) != 1 || entries[0].Name() != defaultDemoTimeline {
		t.Fatalf("the demo wrote %v in its directory, want only %s", entries, defaultDemoTimeline)
	}
	html, _ := os.ReadFile(filepath.Join(work, defaultDemoTimeline))
	names := regexp.MustCompile(`<h2>(\d\. [^<]+)</h2>`).FindAllStringSubmatch(string(html), -1)
	if len(names) != 4 || names[0][1] != "1. HTTP, serial" || names[3][1] != "4. Lambda, gathered" || strings.Count(string(html), "<svg") != 4 {
		t.Errorf("timeline runs %q, %d charts", names, strings.Count(string(html), "<svg"))
	}
	if !strings.Contains(string(out), "timelines of the 4 runs, on one time scale") {
		t.Errorf("output:\n%s", out)
	}
}

func TestDemoUsage(t *testing.T) {
	for _, args := range [][]string{{"demo", "extra"}, {"demo", "--urls", "0"}, {"demo", "-c", "-1"}, {"demo", "--timeline", "/no/such/dir/t.html"}} {
		if _, _, err := runCLI(t, "", args...); !isUsage(err) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
}

// When the check of the serial run finds nothing, the demo says why it
// could not: before, a run of 2 tasks was blamed on a busy machine.
func TestDemoChecksSayWhyNothingIsSerial(t *testing.T) {
	for _, tt := range []struct {
		summary trace.Summary
		says    string
	}{
		{trace.Summary{Tasks: 2, Started: 2, Demand: 1, LimitMax: 20}, "it judges runs of 4 tasks or more, and this one had 2"},
		{trace.Summary{Tasks: 8, Started: 8, Demand: 8, LimitMax: 1}, "under a concurrency limit of 1"},
		{trace.Summary{Tasks: 8, Started: 8, Demand: 8, LimitMax: 8}, "is the machine very busy?"},
	} {
		var b strings.Builder
		writeDemoChecks(&b, demoRun{name: "serial", summary: tt.summary}, demoRun{name: "fanout"})
		if !strings.Contains(b.String(), "found nothing serial: "+tt.says) {
			t.Errorf("%+v: the demo says %q, want %q", tt.summary, b.String(), tt.says)
		}
	}
}
