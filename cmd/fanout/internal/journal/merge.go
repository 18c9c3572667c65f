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
	// MissingCount is how many indices from 0 to the highest seen no
	// record has, and Missing lists the first of them (at most
	// MaxListed): an index far above the others costs a count, not a
	// list of every number below it.
	MissingCount int
	Missing      []int
	// Unfinished lists the indices of the inputs that have records but
	// none Done: their last record is written.
	Unfinished []int
}

// OK reports whether every index has a record and every input a Done one.
func (r MergeReport) OK() bool { return r.MissingCount == 0 && len(r.Unfinished) == 0 }

// MaxListed bounds MergeReport.Missing.
const MaxListed = 10

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
// "error" field. A line that is not a JSON record with an "index" (a torn
// last line, or a record torn by a kill and followed by the next run's
// output, appended) is skipped with a call to warn: the input it was for
// has a record elsewhere, or is reported missing. A source with lines but
// no record at all is an error. Merge keeps one record per input in
// memory.
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
		if gap := m.index - next; gap > 0 {
			rep.MissingCount += gap
			for i := next; i < m.index && len(rep.Missing) < MaxListed; i++ {
				rep.Missing = append(rep.Missing, i)
			}
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

// maxSkipWarnings bounds the warnings about lines skipped in one source.
const maxSkipWarnings = 5

func readRecords(src Source, warn func(string), add func(merged)) error {
	r := bufio.NewReaderSize(src.R, 64<<10)
	records, skipped := 0, 0
	skip := func(lineNo int, what string) {
		if skipped++; skipped <= maxSkipWarnings {
			warn(fmt.Sprintf("%s:%d: %s: ignoring it", src.Name, lineNo, what))
		}
	}
	defer func() {
		if skipped > maxSkipWarnings {
			warn(fmt.Sprintf("%s: %d more lines that are not records ignored", src.Name, skipped-maxSkipWarnings))
		}
	}()
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
			switch {
			case err == io.EOF && jerr != nil: // no newline: a torn line
				skip(lineNo, "the last line is incomplete")
				return noRecords(src, records, skipped)
			case jerr != nil || rec.Index == nil || *rec.Index < 0:
				skip(lineNo, "not a JSON record with an index (a run killed mid-write leaves one)")
				continue
			case err == io.EOF:
				line = append(line, '\n')
			}
			if n := len(line); n >= 2 && line[n-2] == '\r' {
				line = append(line[:n-2], '\n') // one line ending in the output, whatever each file had
			}
			records++
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
			return noRecords(src, records, skipped)
		}
	}
}

// noRecords is the error of a source whose lines were none of them a
// record: not a file of records at all.
func noRecords(src Source, records, skipped int) error {
	if records == 0 && skipped > 0 {
		return fmt.Errorf("%s: no JSON record with an index in it", src.Name)
	}
	return nil
}
