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
// use. It remembers each distinct line (about 40 bytes each) to number the
// repeats, so that a line given twice is two inputs with two records.
type Keyer struct {
	prefix []byte
	seen   map[Key]uint32
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
	return &Keyer{prefix: sum[:], seen: map[Key]uint32{}}
}

// Key returns the key of the next input whose line is line.
func (k *Keyer) Key(line string) Key {
	first := k.hash(line, 0)
	n := k.seen[first]
	k.seen[first] = n + 1
	if n == 0 {
		return first
	}
	return k.hash(line, n)
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
