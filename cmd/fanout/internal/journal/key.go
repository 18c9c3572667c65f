package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Key names one input of one kind of run: a hash of the command's options
// that change a result, the input line, and how many identical lines came
// before it. Unlike a position, it stays the same when lines are added,
// removed or reordered, and it changes when the options do.
type Key [16]byte

// String returns the key in hex, as a record's "key" field holds it.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// ParseKey parses a key written by String.
func ParseKey(s string) (Key, error) {
	var k Key
	if len(s) != 2*len(k) {
		return k, errors.New(`no "key" field of 32 hex digits`)
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, fmt.Errorf(`bad "key" field: %w`, err)
	}
	return k, nil
}

// Keyer makes the keys of a run's inputs. It is not safe for concurrent
// use. It numbers the repeats of a line, so that a line given twice is two
// inputs with two records, and for that remembers every distinct line it
// has seen, as 8 bytes of its key's hash in a set of its own (11 to 21
// bytes a line with the set's room; a map of whole keys took 28 to 45).
// Two distinct lines whose hashes share those 8 bytes (odds of about 1 in
// 3,700 for a hundred million distinct lines) make the second one count as
// a repeat: it gets another key, the same in every run over the same input,
// so nothing is lost or run twice unless the input is also reordered, when
// that one line runs again.
type Keyer struct {
	prefix  []byte
	seen    idSet             // lines seen once or more, by their first key
	repeats map[uint64]uint32 // lines seen more than once: the copies after the first
}

// NewKeyer returns a Keyer for a run whose options that change a result
// are fingerprint: the command's name first, then such values as the
// method, the headers or the function's name.
func NewKeyer(fingerprint ...string) *Keyer {
	var b []byte
	for _, f := range fingerprint {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	sum := sha256.Sum256(b)
	return &Keyer{prefix: sum[:], repeats: map[uint64]uint32{}}
}

// Key returns the key of the next input whose line is line: the first copy
// of a line gets hash 0, the next ones 1, 2...
func (k *Keyer) Key(line string) Key {
	first := k.hash(line, 0)
	id := binary.LittleEndian.Uint64(first[:8])
	if k.seen.add(id) {
		return first
	}
	n := k.repeats[id] + 1
	k.repeats[id] = n
	return k.hash(line, n)
}

// idSet is a set of uint64 ids drawn from a hash, so spread evenly: open
// addressing with linear probing, at most three quarters full. A Go map of
// the same ids took about twice the room.
type idSet struct {
	slots []uint64 // 0 marks a free slot; id 0 is stored as 1
	n     int
}

// add adds id and reports whether it was not in the set.
func (s *idSet) add(id uint64) bool {
	if id == 0 {
		id = 1
	}
	if 4*(s.n+1) > 3*len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := id & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case id:
			return false
		case 0:
			s.slots[i] = id
			s.n++
			return true
		}
	}
}

// grow doubles the slots (1,024 at first) and places the ids again.
func (s *idSet) grow() {
	old := s.slots
	s.slots = make([]uint64, max(1024, 2*len(old)))
	mask := uint64(len(s.slots) - 1)
	for _, id := range old {
		if id == 0 {
			continue
		}
		i := id & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = id
	}
}

func (k *Keyer) hash(line string, repeat uint32) Key {
	h := sha256.New()
	h.Write(k.prefix)
	h.Write(binary.BigEndian.AppendUint32(nil, repeat))
	h.Write([]byte(line))
	var key Key
	copy(key[:], h.Sum(nil))
	return key
}

// Line returns record (a JSON object, as encoding/json writes it, with or
// without a newline) with the fields "key" and "outcome" added at its end,
// and a newline: a journal line.
func Line(record []byte, k Key, o Outcome) ([]byte, error) {
	record = bytes.TrimRight(record, " \t\r\n")
	if len(record) < 2 || record[0] != '{' || record[len(record)-1] != '}' {
		return nil, errors.New("journal: a record must be a JSON object")
	}
	body := bytes.TrimSpace(record[1 : len(record)-1])
	line := make([]byte, 0, len(record)+64+len(o))
	line = append(line, '{')
	if len(body) > 0 {
		line = append(line, body...)
		line = append(line, ',')
	}
	line = append(line, `"key":"`...)
	line = append(line, k.String()...)
	line = append(line, `","outcome":"`...)
	line = append(line, o...)
	line = append(line, "\"}\n"...)
	return line, nil
}
