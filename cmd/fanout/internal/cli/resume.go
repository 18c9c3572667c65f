package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"sync"
	"sync/atomic"

	"github.com/fanout-go/fanout/cmd/fanout/internal/journal"
)

// Resume holds the flags that let a streaming command go on after a crash
// and split its input across machines: --resume FILE,
// --resume-skip-failed and --shard K/N. A command defines them with
// Register and hands them to runStream in a Resumable.
type Resume struct {
	Journal    string
	SkipFailed bool
	Shard      journal.Shard
}

// Register defines the flags on fs.
func (r *Resume) Register(fs *FlagSet) {
	fs.StringVar(&r.Journal, "", "resume", "FILE", "", "keep a journal of finished records in FILE and skip the inputs it has as done")
	fs.BoolVar(&r.SkipFailed, "", "resume-skip-failed", false, "with --resume, also skip inputs whose last record failed for good")
	fs.Var((*shardValue)(&r.Shard), "", "shard", "K/N", "take only shard K of N of the input (0-based; auto/N reads K from "+
		"JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX or SLURM_ARRAY_TASK_ID)")
}

// shardValue is the flag.Value of --shard.
type shardValue journal.Shard

func (v *shardValue) String() string {
	if v.N == 0 {
		return ""
	}
	return journal.Shard(*v).String()
}

func (v *shardValue) Set(s string) error {
	sh, err := journal.ParseShard(s, os.Getenv)
	*v = shardValue(sh)
	return err
}

// Resumable is what a streaming command gives runStream for --resume and
// --shard: its flags, and how to read its records.
type Resumable[R any] struct {
	Flags *Resume // nil: the command has no such flags
	// Fingerprint lists the options that change a result, the command's
	// name first: a record counts as done only for the same ones.
	Fingerprint []string
	// Outcome says whether a record is done, failed for good, or failed
	// for a reason that may pass (canceled, timeout, throttled, connection
	// errors: never done).
	Outcome func(R) journal.Outcome
	// Index points at the record's index, which runStream sets to the
	// input's position in the whole input.
	Index func(*R) *int
}

func (r Resumable[R]) active() bool {
	return r.Flags != nil && (r.Flags.Journal != "" || r.Flags.Shard.N > 0)
}

// resumeRun is the state of one run with --resume or --shard: it chooses
// the inputs to run and gives each record its key, outcome and whole-input
// index.
type resumeRun[R any] struct {
	Resumable[R]
	journal *journal.Journal // nil without --resume
	pending *journal.Pending
	keys    *journal.Keyer

	inputs, skipped atomic.Int64 // the shard's inputs; those skipped as done
	skippedFailed   atomic.Int64 // those skipped as failed (--resume-skip-failed)

	mu     sync.Mutex
	next   int            // the position of the next input run
	origin map[int]origin // by position among the inputs run
}

type origin struct {
	index int
	key   journal.Key
}

// startResume opens the journal; it returns nil when neither --resume nor
// --shard is given.
func startResume[R any](cmd string, stderr io.Writer, r Resumable[R]) (*resumeRun[R], error) {
	if r.Flags != nil && r.Flags.SkipFailed && r.Flags.Journal == "" {
		return nil, usagef(cmd, "--resume-skip-failed needs --resume")
	}
	if !r.active() {
		return nil, nil
	}
	rr := &resumeRun[R]{Resumable: r, keys: journal.NewKeyer(r.Fingerprint...), origin: map[int]origin{}}
	if path := r.Flags.Journal; path != "" {
		j, err := journal.Open(path, func(msg string) { fmt.Fprintf(stderr, "fanout: --resume: %s\n", msg) })
		if err != nil {
			return nil, fmt.Errorf("--resume: %w", err)
		}
		rr.journal, rr.pending = j, journal.NewPending(j)
	}
	return rr, nil
}

// take reports whether the input l runs: it is in the shard and has no
// record that makes it done.
func (rr *resumeRun[R]) take(l Line) bool {
	if rr == nil {
		return true
	}
	if !rr.Flags.Shard.Has(l.Text) {
		return false
	}
	rr.inputs.Add(1)
	key := rr.keys.Key(l.Text)
	if rr.journal != nil {
		switch o, _ := rr.journal.Outcome(key); {
		case o == journal.Done:
			rr.skipped.Add(1)
			return false
		case o == journal.Failed && rr.Flags.SkipFailed:
			rr.skippedFailed.Add(1)
			return false
		}
	}
	rr.mu.Lock()
	rr.origin[rr.next] = origin{index: l.Index, key: key}
	rr.next++
	rr.mu.Unlock()
	return true
}

// keyed is a record with its journal line: the record as jsonl writes it
// plus "key" and "outcome".
type keyed[R any] struct {
	rec  R
	task int    // the record's index among the inputs that ran: its task's place on the executor
	line []byte // ends in a newline
	err  error
}

func (k keyed[R]) MarshalJSON() ([]byte, error) {
	if k.err != nil {
		return nil, k.err
	}
	return bytes.TrimSuffix(k.line, []byte("\n")), nil
}

func (k keyed[R]) journalLine() []byte { return k.line }

// results gives each record of seq its whole-input index and its line.
func (rr *resumeRun[R]) results(seq iter.Seq[R]) iter.Seq[keyed[R]] {
	return func(yield func(keyed[R]) bool) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // as the jsonl writer
		for r := range seq {
			index := rr.Index(&r)
			task := *index
			rr.mu.Lock()
			o, ok := rr.origin[*index]
			delete(rr.origin, *index)
			rr.mu.Unlock()
			k := keyed[R]{task: task}
			if !ok { // cannot happen: one record per input run
				k.err = fmt.Errorf("internal error: a record for input %d, which did not run", *index)
			}
			*index = o.index
			k.rec = r
			buf.Reset()
			if err := enc.Encode(r); err != nil && k.err == nil {
				k.err = err
			}
			if k.err == nil {
				k.line, k.err = journal.Line(buf.Bytes(), o.key, rr.Outcome(r))
			}
			if !yield(k) {
				return
			}
		}
	}
}

// records describes keyed records by the command's own description.
func keyedRecords[R any](spec Records[R]) Records[keyed[R]] {
	wrap := func(cols []Column[R]) []Column[keyed[R]] {
		var out []Column[keyed[R]]
		for _, c := range cols {
			out = append(out, Column[keyed[R]]{Name: c.Name, Width: c.Width, Value: func(k keyed[R]) string { return c.Value(k.rec) }})
		}
		return out
	}
	var attempts func(keyed[R]) int
	if spec.Attempts != nil {
		attempts = func(k keyed[R]) int { return spec.Attempts(k.rec) }
	}
	return Records[keyed[R]]{
		Noun:     spec.Noun,
		Attempts: attempts,
		CSV:      wrap(spec.CSV),
		Table:    wrap(spec.Table),
		Index:    func(k keyed[R]) int { return k.task },
		Outcome:  func(k keyed[R]) Outcome { return spec.Outcome(k.rec) },
	}
}

// finish closes the journal and says what was skipped.
func (rr *resumeRun[R]) finish(stderr io.Writer, noun string, err error) error {
	if rr.journal == nil {
		return err
	}
	skipped, failed := rr.skipped.Load(), rr.skippedFailed.Load()
	var asFailed string
	if failed > 0 {
		// Their records are in the journal, not in this run's output:
		// the exit status is this run's records'.
		asFailed = fmt.Sprintf(", %d skipped as failed (--resume-skip-failed)", failed)
	}
	fmt.Fprintf(stderr, "fanout: --resume: %d %s skipped as done%s, %d ran\n", skipped, noun, asFailed, rr.inputs.Load()-skipped-failed)
	if cerr := rr.journal.Close(); cerr != nil {
		return errors.Join(fmt.Errorf("--resume: %w", cerr), err)
	}
	return err
}

// journalLine returns the journal line of a keyed record, nil for another.
func journalLine(r any) []byte {
	if k, ok := r.(interface{ journalLine() []byte }); ok {
		return k.journalLine()
	}
	return nil
}
