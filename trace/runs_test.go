package trace

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Two runs of the same four 100ms tasks, serial and concurrent, drawn one
// above the other on one time scale: a task's bar is as wide in both, and
// the concurrent run ends a quarter of the way along the serial one.
func TestWriteHTMLRuns(t *testing.T) {
	serial, concurrent := New(), New()
	defer serial.Close()
	defer concurrent.Close()
	var sj, cj []job
	for i := range 4 {
		at := float64(i * 100)
		sj = append(sj, job{id: uint64(i + 1), label: "serial " + strconv.Itoa(i), queued: at, start: at, finish: at + 100})
		cj = append(cj, job{id: uint64(i + 1), label: "gathered " + strconv.Itoa(i), queued: 0, start: 0, finish: 100})
	}
	replay(serial, sj)
	replay(concurrent, cj)
	var b strings.Builder
	if err := WriteHTMLRuns(&b, Run{Name: "1. serial", Note: "for _, u := range urls {\n\tcheck(u) // <awaited>\n}", Recorder: serial}, Run{Name: "2. gathered", Recorder: concurrent}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"<h2>1. serial</h2>", "<h2>2. gathered</h2>", `id="timeline-1"`, `id="timeline-2"`, "check(u) // &lt;awaited&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(` id="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if ids[m[1]] {
			t.Errorf("id %q used twice", m[1])
		}
		ids[m[1]] = true
	}
	bar := regexp.MustCompile(`<rect class="ok" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]*><title>(serial|gathered)`)
	ends := map[string]float64{}
	widths := map[string]float64{}
	for _, m := range bar.FindAllStringSubmatch(page, -1) {
		x, _ := strconv.ParseFloat(m[1], 64)
		w, _ := strconv.ParseFloat(m[2], 64)
		ends[m[3]] = max(ends[m[3]], x+w)
		widths[m[3]] = w
	}
	if len(widths) != 2 || widths["serial"] != widths["gathered"] {
		t.Fatalf("bar widths %v: want one width for a 100ms task in both runs", widths)
	}
	serialLen, gatheredLen := ends["serial"]-plotLeft, ends["gathered"]-plotLeft
	if r := gatheredLen / serialLen; r < 0.24 || r > 0.26 {
		t.Errorf("the gathered run spans %.2f of the serial one, want 0.25 on one time scale", r)
	}
}
