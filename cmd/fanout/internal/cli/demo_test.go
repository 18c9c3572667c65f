package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDemo(t *testing.T) {
	var out strings.Builder
	timeline := filepath.Join(t.TempDir(), "t.html")
	runs, err := demo(t.Context(), &out, demoConfig{urls: 6, delay: 100 * time.Millisecond, limit: 6, timeline: timeline})
	if err != nil {
		t.Fatal(err)
	}
	serial, fan := runs[0], runs[1]
	if serial.records != 6 || fan.records != 6 || serial.failed+fan.failed != 0 {
		t.Fatalf("runs: %+v", runs)
	}
	// What the demo proves, from the recorder's figures rather than the
	// clock: the first run never overlapped, the second did.
	if serial.summary.Peak != 1 || serial.summary.Effective > 1.05 {
		t.Errorf("serial run: peak %d, effective %.2f; want 1 and about 1", serial.summary.Peak, serial.summary.Effective)
	}
	if fan.summary.Peak < 2 || fan.summary.Effective < 1.5 {
		t.Errorf("fanout run: peak %d, effective %.2f; want overlap", fan.summary.Peak, fan.summary.Effective)
	}
	text := out.String()
	if n := strings.Count(text, "fanout: task "); n != 12 {
		t.Errorf("%d task lines, want 12", n)
	}
	if !serial.summary.Serial() || !strings.Contains(text, "warns: serial run") || !strings.Contains(text, "submitted only after the previous one had finished") {
		t.Errorf("the serial run must be flagged as the seed's bug:\n%s", text)
	}
	for _, want := range []string{"1. The seed's trap", "2. With fanout", "wall time", "speed-up", "effective concurrency", "peak running at once", timeline} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if html, err := os.ReadFile(timeline); err != nil || !strings.Contains(string(html), "<svg") {
		t.Errorf("timeline: %v, %d bytes", err, len(html))
	}
}

func TestDemoUsage(t *testing.T) {
	for _, args := range [][]string{{"demo", "extra"}, {"demo", "--urls", "0"}, {"demo", "-c", "-1"}} {
		if _, _, err := runCLI(t, "", args...); !isUsage(err) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
}
