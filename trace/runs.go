package trace

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A Run is one recorded run for [WriteHTMLRuns]: a recorder and what to
// call it, and optionally a note shown above its timeline (such as the
// code that made it).
type Run struct {
	Name     string
	Note     string // preformatted text, shown as code; "" for none
	Recorder *Recorder
}

// WriteHTMLRuns writes one self-contained HTML page, as
// [Recorder.WriteHTML], with several runs one above the other, each with
// its summary, warnings and timeline. Every timeline starts at its run's
// first event and shares one time scale, the longest run's, so that a
// serial run and a concurrent one of the same work compare at a glance.
func WriteHTMLRuns(w io.Writer, runs ...Run) error {
	var longest int64
	for _, run := range runs {
		run.Recorder.mu.Lock()
		longest = max(longest, run.Recorder.last-run.Recorder.zero())
		run.Recorder.mu.Unlock()
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var names []string
	for _, run := range runs {
		names = append(names, run.Name)
	}
	writeHead(bw, "fanout timelines: "+strings.Join(names, ", "))
	bw.WriteString("<h1>fanout timelines</h1>\n")
	for i, run := range runs {
		r := run.Recorder
		sum := r.Summary()
		r.mu.Lock()
		tl := r.timeline(longest)
		r.mu.Unlock()
		p := page{Writer: bw, tl: tl, suffix: "-" + strconv.Itoa(i+1)}
		p.f("<section id=\"%s\">\n<h2>%s</h2>\n", p.id("run"), esc(run.Name))
		if run.Note != "" {
			p.f("<pre class=\"code\">%s</pre>\n", esc(run.Note))
		}
		p.run(sum, r.cfg.maxBars)
		p.f("</section>\n")
	}
	bw.WriteString("</body>\n</html>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write html timelines: %w", err)
	}
	return nil
}

// WriteHTMLRunsFile writes [WriteHTMLRuns] to a new file at path
// (replacing any file there).
func WriteHTMLRunsFile(path string, runs ...Run) error {
	return writeFile(path, func(w io.Writer) error { return WriteHTMLRuns(w, runs...) })
}
