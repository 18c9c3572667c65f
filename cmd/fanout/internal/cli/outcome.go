package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fanout-go/fanout/trace"
)

// Outcome is how one record ended: the one definition of outcome classes
// that the exit code, the --summary line, the trace summary and the HTML
// timeline share. Drive counts each record's Outcome and gives its Kind to
// the trace recorder (trace.Recorder.SetOutcome), so all of them count the
// same records the same way.
type Outcome struct {
	// Kind is the class every summary counts: trace.OK, or trace.Error,
	// trace.Timeout, trace.Canceled (and trace.Panic) for a failure.
	Kind trace.Kind
	// Detail is a finer class the --summary breaks records down by: the
	// status class ("2xx", "4xx") or the error kind ("connect",
	// "function_error"). "" for none.
	Detail string
}

// Failed reports whether the record counts as a failure (exit code 1).
func (o Outcome) Failed() bool { return o.Kind != trace.OK }

// failure returns the Outcome of a record whose error kind is kind: timeout
// and canceled have their own class, every other kind is an error.
func failure(kind string) Outcome {
	switch kind {
	case "timeout":
		return Outcome{trace.Timeout, kind}
	case "canceled":
		return Outcome{trace.Canceled, kind}
	}
	return Outcome{trace.Error, kind}
}

// tally counts records by outcome.
type tally struct {
	total, failed int
	kinds         trace.Outcomes
	ok, bad       counts // details of successes and failures
}

func (t *tally) add(o Outcome) {
	t.total++
	m := &t.ok
	if o.Failed() {
		t.failed++
		m = &t.bad
	}
	switch o.Kind {
	case trace.OK:
		t.kinds.OK++
	case trace.Timeout:
		t.kinds.Timeout++
	case trace.Canceled:
		t.kinds.Canceled++
	case trace.Panic:
		t.kinds.Panic++
	default:
		t.kinds.Error++
	}
	if o.Detail != "" {
		if *m == nil {
			*m = counts{}
		}
		(*m)[o.Detail]++
	}
}

// String counts the records in the trace summary's words: "3 ok, 4 error,
// 1 timeout".
func (t *tally) String() string { return t.kinds.String() }

type counts map[string]int

// String lists the classes by name: "2xx 15, 4xx 3".
func (c counts) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}
