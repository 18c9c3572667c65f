// Package journal is what lets a long run of fanout stop and go on, and
// split across machines: the journal of finished records (--resume), the
// keys that name an input whatever its position, the shard an input falls
// in (--shard), and the merge of several outputs into one (fanout merge).
//
// A journal is an append-only file of JSON lines: the records a command
// writes with -o jsonl, each with two more fields, "key" (see [Keyer]) and
// "outcome" ([Done], [Failed] or [Transient]). An input whose key has a
// Done record needs no new run. Records reach the journal through a
// [Pending] only once the output they were written to has been flushed, so
// the journal never claims a record the output does not have; a missed
// record costs one more run of its input, a wrongly claimed one would lose
// it.
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"
)

// Outcome says what a record means for a later run.
type Outcome string

const (
	// Done: the input has its answer; a resumed run skips it.
	Done Outcome = "done"
	// Failed: a permanent failure (an invalid input, a missing function);
	// a resumed run skips it only with --resume-skip-failed.
	Failed Outcome = "failed"
	// Transient: canceled, timed out, throttled, a connection error;
	// always run again.
	Transient Outcome = "transient"
)

// syncEvery is how often a journal with new lines is synced to disk.
const syncEvery = time.Second

// ErrLocked is the error of opening a journal that another process has
// open.
var ErrLocked = errors.New("in use by another fanout process")

// Journal is an open journal file: what it held when opened, and the lines
// appended since. Open it with [Open]; Close it when the run ends. Its
// methods are safe for concurrent use.
//
// Appended lines are written to the file at once (a process killed later
// keeps them) and synced to disk at most a second later and at Close.
type Journal struct {
	path  string
	f     *os.File
	lock  *lockFile
	known []known // what the journal held when opened: one entry per key, sorted

	mu    sync.Mutex
	dirty bool
	err   error // the first write or sync error
	stop  chan struct{}
	done  chan struct{}
}

// Open opens the journal at path, creating it if needed, and reads what it
// holds. A second Open of the same path, in this or another process, fails
// with ErrLocked until the first is closed. A last line without its newline
// (the process was killed while writing it) is cut off, and warn is called
// with a message saying so; so is a line that is not a record, which is
// skipped. warn may be nil.
func Open(path string, warn func(msg string)) (*Journal, error) {
	if warn == nil {
		warn = func(string) {}
	}
	lock, err := lockPath(path + ".lock")
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		lock.unlock()
		return nil, err
	}
	j := &Journal{path: path, f: f, lock: lock}
	end, err := j.read(warn)
	if err == nil {
		_, err = f.Seek(end, io.SeekStart)
	}
	if err != nil {
		f.Close()
		lock.unlock()
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	j.stop, j.done = make(chan struct{}), make(chan struct{})
	go j.syncLoop()
	return j, nil
}

// read loads the records and returns the offset after the last complete
// line, cutting off a torn one.
func (j *Journal) read(warn func(string)) (int64, error) {
	r := bufio.NewReaderSize(j.f, 64<<10)
	var (
		offset int64
		lineNo int
	)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(line) > 0 {
				warn(fmt.Sprintf("%s: the last line is incomplete (the run writing it was killed): ignoring it", j.path))
				if terr := j.f.Truncate(offset); terr != nil {
					return 0, terr
				}
			}
			j.index()
			return offset, nil
		}
		if err != nil {
			return 0, err
		}
		lineNo++
		offset += int64(len(line))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		key, outcome, err := parseLine(line)
		if err != nil {
			warn(fmt.Sprintf("%s:%d: %v: ignoring it", j.path, lineNo, err))
			continue
		}
		i, _ := outcomeIndex(outcome) // parseLine checked it
		j.known = append(j.known, known{key, i})
	}
}

// known is what the journal held for one key when it was opened. A sorted
// slice of them takes 17 bytes an input, where a map of keys to outcomes
// took 40 to 80: a journal of a million inputs is read back into 17 MB.
type known struct {
	key Key
	o   uint8 // an index into outcomes
}

var outcomes = [...]Outcome{Done, Failed, Transient}

// outcomeIndex returns o's place in outcomes; ok is false for an outcome
// the journal does not know.
func outcomeIndex(o Outcome) (i uint8, ok bool) {
	for i, want := range outcomes {
		if o == want {
			return uint8(i), true
		}
	}
	return 0, false
}

// index sorts what read collected by key and keeps one entry per key: a
// Done record makes the key done, else the last record's outcome counts.
func (j *Journal) index() {
	// Stable: a key's records stay in journal order, so the last is last.
	slices.SortStableFunc(j.known, func(a, b known) int { return bytes.Compare(a.key[:], b.key[:]) })
	out := j.known[:0]
	for i := 0; i < len(j.known); {
		e := j.known[i]
		for i++; i < len(j.known) && j.known[i].key == e.key; i++ {
			if outcomes[e.o] != Done {
				e.o = j.known[i].o
			}
		}
		out = append(out, e)
	}
	j.known = slices.Clone(out) // without the room the duplicates took
}

// Outcome returns the outcome of key's records when the journal was
// opened: Done if any record was, else the last one's; ok is false when
// the journal had none.
func (j *Journal) Outcome(k Key) (o Outcome, ok bool) {
	i, ok := slices.BinarySearchFunc(j.known, k, func(e known, k Key) int { return bytes.Compare(e.key[:], k[:]) })
	if !ok {
		return "", false
	}
	return outcomes[j.known[i].o], true
}

// Len returns how many inputs had records when the journal was opened.
func (j *Journal) Len() int { return len(j.known) }

// Append writes lines (each a record with its key and outcome, ending in a
// newline) to the journal in one write. An error is also kept for Close.
func (j *Journal) Append(lines ...[]byte) error {
	if len(lines) == 0 {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if _, err := j.f.Write(bytes.Join(lines, nil)); err != nil {
		j.err = fmt.Errorf("writing %s: %w", j.path, err)
		return j.err
	}
	j.dirty = true
	return nil
}

func (j *Journal) syncLoop() {
	defer close(j.done)
	t := time.NewTicker(syncEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			j.sync()
		case <-j.stop:
			return
		}
	}
}

func (j *Journal) sync() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.dirty || j.err != nil {
		return
	}
	j.dirty = false
	if err := j.f.Sync(); err != nil {
		j.err = fmt.Errorf("syncing %s: %w", j.path, err)
	}
}

// Close syncs and closes the journal and releases its lock. It returns the
// first error met writing or syncing it.
func (j *Journal) Close() error {
	close(j.stop)
	<-j.done
	j.sync()
	cerr := j.f.Close()
	j.lock.unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil && cerr != nil {
		j.err = cerr
	}
	return j.err
}

// Pending holds the journal lines of records written to an output that has
// not been flushed yet. Add a record's line before writing the record,
// Commit after each flush of the output, Discard when a write fails. Its
// methods are safe for concurrent use; a nil *Pending does nothing.
type Pending struct {
	j      *Journal
	mu     sync.Mutex
	queued [][]byte
}

// NewPending returns a Pending that commits to j.
func NewPending(j *Journal) *Pending { return &Pending{j: j} }

// Add queues the line of a record about to be written.
func (p *Pending) Add(line []byte) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.queued = append(p.queued, line)
	p.mu.Unlock()
}

// Commit appends the queued lines to the journal: call it after the output
// holding their records was flushed.
func (p *Pending) Commit() {
	if p == nil {
		return
	}
	p.mu.Lock()
	lines := p.queued
	p.queued = nil
	p.mu.Unlock()
	p.j.Append(lines...) // an error is kept for Close
}

// Discard drops the queued lines: their records may not have reached the
// output.
func (p *Pending) Discard() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.queued = nil
	p.mu.Unlock()
}

// parseLine reads the key and outcome of a journal line.
func parseLine(line []byte) (Key, Outcome, error) {
	var rec struct {
		Key     string  `json:"key"`
		Outcome Outcome `json:"outcome"`
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		return Key{}, "", errors.New("not a JSON record")
	}
	k, err := ParseKey(rec.Key)
	if err != nil {
		return Key{}, "", err
	}
	if _, ok := outcomeIndex(rec.Outcome); !ok {
		return Key{}, "", fmt.Errorf("unknown outcome %q", rec.Outcome)
	}
	return k, rec.Outcome, nil
}
