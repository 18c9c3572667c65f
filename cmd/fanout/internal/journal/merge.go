package journal

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
)

// Source is one JSON-lines file to merge: an output or a journal.
type Source struct {
	Name string
	R    io.Reader
}

// MergeReport says what a merge found.
type MergeReport struct {
	// Records is how many records were written: one per input.
	Records int
	// Missing lists the indices from 0 to the highest seen that no record
	// has.
	Missing []int
	// Unfinished lists the indices of the inputs that have records but
	// none Done: their last record is written.
	Unfinished []int
}

// OK reports whether every index has a record and every input a Done one.
func (r MergeReport) OK() bool { return len(r.Missing) == 0 && len(r.Unfinished) == 0 }

type merged struct {
	index int
	key   string
	line  []byte
	done  bool
}

// Merge reads records from the sources, in order, and writes one record
// per input to w, in index order: for each key the last Done record, or
// the last record when none is Done. A record without a "key" field is
// keyed by its index; one without an "outcome" is Done when it has no
// "error" field. A torn last line is skipped with a call to warn; a line
// that is not a JSON record with an "index" is an error. Merge keeps one
// record per input in memory.
func Merge(w io.Writer, sources []Source, warn func(msg string)) (MergeReport, error) {
	if warn == nil {
		warn = func(string) {}
	}
	byKey := map[string]*merged{}
	for _, src := range sources {
		if err := readRecords(src, warn, func(m merged) {
			if old := byKey[m.key]; old == nil || m.done || !old.done {
				byKey[m.key] = &m
			}
		}); err != nil {
			return MergeReport{}, err
		}
	}
	all := slices.SortedFunc(maps.Values(byKey), func(a, b *merged) int {
		return cmp.Or(cmp.Compare(a.index, b.index), cmp.Compare(a.key, b.key))
	})
	var rep MergeReport
	bw := bufio.NewWriterSize(w, 64<<10)
	next := 0
	for _, m := range all {
		for ; next < m.index; next++ {
			rep.Missing = append(rep.Missing, next)
		}
		next = m.index + 1
		if !m.done {
			rep.Unfinished = append(rep.Unfinished, m.index)
		}
		bw.Write(m.line)
		rep.Records++
	}
	if err := bw.Flush(); err != nil {
		return rep, fmt.Errorf("writing output: %w", err)
	}
	return rep, nil
}

func readRecords(src Source, warn func(string), add func(merged)) error {
	r := bufio.NewReaderSize(src.R, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s: %w", src.Name, err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			var rec struct {
				Index   *int    `json:"index"`
				Key     string  `json:"key"`
				Outcome Outcome `json:"outcome"`
				Error   string  `json:"error"`
			}
			jerr := json.Unmarshal(line, &rec)
			if err == io.EOF { // no newline: a torn line unless it parses
				if jerr != nil {
					warn(fmt.Sprintf("%s:%d: the last line is incomplete: ignoring it", src.Name, lineNo))
					return nil
				}
				line = append(line, '\n')
			}
			if jerr != nil || rec.Index == nil || *rec.Index < 0 {
				return fmt.Errorf("%s:%d: not a JSON record with an index", src.Name, lineNo)
			}
			m := merged{index: *rec.Index, key: rec.Key, line: line}
			if m.key == "" {
				m.key = "index " + strconv.Itoa(m.index)
			}
			switch rec.Outcome {
			case "":
				m.done = rec.Error == ""
			default:
				m.done = rec.Outcome == Done
			}
			add(m)
		}
		if err == io.EOF {
			return nil
		}
	}
}
