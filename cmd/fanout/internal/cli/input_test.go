package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func readAll(t *testing.T, input string, max int) []Line {
	t.Helper()
	lr := NewLineReader(strings.NewReader(input), max, LineRules{SkipComments: true})
	var got []Line
	for l := range lr.Lines() {
		got = append(got, l)
	}
	if err := lr.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func texts(lines []Line) []string {
	var out []string
	for _, l := range lines {
		s := l.Text
		if l.Err != nil {
			s = "ERR " + s
		}
		out = append(out, s)
	}
	return out
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		name, input string
		want        []string
	}{
		{"empty", "", nil},
		{"only blanks", "\n\n  \n\t\n", nil},
		{"trims", "  a  \n\tb\t\n", []string{"a", "b"}},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
		{"no final newline", "a\nb", []string{"a", "b"}},
		{"comments", "# head\na\n  # indented\nb#not a comment\n", []string{"a", "b#not a comment"}},
		{"byte order mark", "\uFEFFa\nb\n", []string{"a", "b"}},
		{"not utf-8", "a\n\xff\xfe bad\nc\n", []string{"a", "ERR \uFFFD bad", "c"}},
		{"too long", "a\n" + strings.Repeat("x", 20) + "\nc\n", []string{"a", "ERR " + strings.Repeat("x", 20), "c"}},
		{"at the limit", strings.Repeat("y", 16) + "\n", []string{strings.Repeat("y", 16)}},
		{"too long at the end", strings.Repeat("z", 17), []string{"ERR " + strings.Repeat("z", 17)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, tt.input, 16)
			if diff := cmp.Diff(tt.want, texts(got)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			for i, l := range got {
				if l.Index != i {
					t.Errorf("record %d has index %d", i, l.Index)
				}
			}
		})
	}
}

func TestLineReaderLongLineIsOneRecord(t *testing.T) {
	big := strings.Repeat("http://example.com/", 1<<20/19+1) // over 1 MB
	got := readAll(t, "http://example.com/a\n"+big+"\nhttp://example.com/b\n", maxURLLine)
	if len(got) != 3 || got[0].Err != nil || got[2].Err != nil || got[2].Index != 2 {
		t.Fatalf("got %d records: %v", len(got), texts(got))
	}
	if !errors.Is(got[1].Err, ErrLineTooLong) || len(got[1].Text) > shownBytes+3 || !strings.HasPrefix(big, strings.TrimSuffix(got[1].Text, "...")) {
		t.Errorf("long line: err %v, text of %d bytes", got[1].Err, len(got[1].Text))
	}
	if !errors.Is(readAll(t, "\xff\n", 10)[0].Err, ErrNotUTF8) {
		t.Error("a non-UTF-8 line does not carry ErrNotUTF8")
	}
}

func TestLineReaderReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	lr := NewLineReader(io.MultiReader(strings.NewReader("a\nb\n"), iotest.ErrReader(boom)), 100, LineRules{SkipComments: true})
	var got []string
	for l := range lr.Lines() {
		got = append(got, l.Text)
	}
	if !errors.Is(lr.Err(), boom) || len(got) != 2 {
		t.Errorf("got %v, err %v; want a and b, then the read error", got, lr.Err())
	}
}

func TestLineReaderSmallReads(t *testing.T) {
	input := "a\n\n# c\n  long-ish line  \r\nlast"
	lr := NewLineReader(iotest.OneByteReader(strings.NewReader(input)), 100, LineRules{SkipComments: true})
	var got []Line
	for l := range lr.Lines() {
		got = append(got, l)
	}
	if diff := cmp.Diff([]string{"a", "long-ish line", "last"}, texts(got)); diff != "" {
		t.Error(diff)
	}
}

func TestArgLines(t *testing.T) {
	var got []Line
	for l := range ArgLines([]string{" http://example.com/ ", "", "#x", strings.Repeat("q", 26), "\xff"}, 25, LineRules{SkipComments: true}) {
		got = append(got, l)
	}
	if diff := cmp.Diff([]string{"http://example.com/", "ERR " + strings.Repeat("q", 26), "ERR \uFFFD"}, texts(got)); diff != "" {
		t.Error(diff)
	}
	// Without comment skipping (exec's ::: arguments, lambda's --payload),
	// an argument starting with # is a record like any other.
	got = nil
	for l := range ArgLines([]string{"#x", " ", "# y"}, 25, LineRules{}) {
		got = append(got, l)
	}
	if diff := cmp.Diff([]string{"#x", "# y"}, texts(got)); diff != "" {
		t.Error(diff)
	}
}

// TestExactLines: exec's rules keep a line's bytes as they are (file
// names may have surrounding spaces and need not be UTF-8), but for a \r
// before the newline; blank lines are still skipped.
func TestExactLines(t *testing.T) {
	input := "  lead and trail  \r\ncaf\xe9.txt\n\n \t \n#not a comment\nnul\x00\n" + strings.Repeat("x", 30) + "\nlast"
	var got []Line
	for l := range NewLineReader(strings.NewReader(input), 25, LineRules{Exact: true}).Lines() {
		got = append(got, l)
	}
	want := []string{"  lead and trail  ", "caf\xe9.txt", "#not a comment", "ERR nul\x00", "ERR " + strings.Repeat("x", 30), "last"}
	if diff := cmp.Diff(want, texts(got)); diff != "" {
		t.Error(diff)
	}
	got = nil
	for l := range ArgLines([]string{" a ", "", "\xff"}, 25, LineRules{Exact: true}) {
		got = append(got, l)
	}
	if diff := cmp.Diff([]string{" a ", "\xff"}, texts(got)); diff != "" {
		t.Error(diff)
	}
}

// referenceLines is the reader's specification in its simplest form: split
// the whole input at newlines.
func referenceLines(input []byte, max int) []string {
	var out []string
	for i, raw := range bytes.Split(input, []byte("\n")) {
		if i == 0 {
			raw = bytes.TrimPrefix(raw, []byte("\uFEFF"))
		}
		line := bytes.TrimSpace(raw)
		tooLong := len(raw) > max
		if !tooLong && (len(line) == 0 || line[0] == '#') {
			continue
		}
		switch {
		case tooLong:
			out = append(out, "too long")
		case !utf8.Valid(line):
			out = append(out, "not utf-8")
		default:
			out = append(out, string(line))
		}
	}
	return out
}

func FuzzReader(f *testing.F) {
	for _, seed := range []string{
		"", "a\nb\n", "  # c\n\n x \r\n", "\xff\xfe\n", "\uFEFF#bom\nz",
		strings.Repeat("y", 40) + "\nshort\n", "a\r\r\n\t\n#\n", "\n\n\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		const max = 32
		lr := newLineReader(bytes.NewReader(input), max, LineRules{SkipComments: true}, 16) // lines span buffer refills
		var got []string
		for l := range lr.Lines() {
			if l.Index != len(got) {
				t.Fatalf("record %d has index %d", len(got), l.Index)
			}
			if !utf8.ValidString(l.Text) {
				t.Fatalf("record %d: text %q is not valid UTF-8", l.Index, l.Text)
			}
			switch {
			case errors.Is(l.Err, ErrLineTooLong):
				got = append(got, "too long")
			case errors.Is(l.Err, ErrNotUTF8):
				got = append(got, "not utf-8")
			case l.Err != nil:
				t.Fatalf("unexpected error %v", l.Err)
			default:
				if l.Text == "" || l.Text[0] == '#' || strings.TrimSpace(l.Text) != l.Text || len(l.Text) > max {
					t.Fatalf("record %q should have been trimmed or skipped", l.Text)
				}
				got = append(got, l.Text)
			}
		}
		if lr.Err() != nil {
			t.Fatal(lr.Err())
		}
		if diff := cmp.Diff(referenceLines(input, max), got); diff != "" {
			t.Fatalf("input %q (-reference +reader):\n%s", input, diff)
		}
	})
}

func ExampleLineReader() {
	input := "# my URLs\nhttp://example.com/a\n\n  http://example.com/b  \n\xff\n"
	lr := NewLineReader(strings.NewReader(input), 1024, LineRules{SkipComments: true})
	for l := range lr.Lines() {
		fmt.Println(l.Index, l.Text, l.Err)
	}
	// Output:
	// 0 http://example.com/a <nil>
	// 1 http://example.com/b <nil>
	// 2 � line is not valid UTF-8
}

// The limit is on the line, not on its line ending: a line of the limit's
// length is taken whether it ends in LF or in CRLF, with the \r read in
// the same buffer as the line or in the next (bufio's smallest, 16 bytes,
// makes both happen). Before, the CRLF one was too long.
func TestLineLimitLeavesOutTheCR(t *testing.T) {
	const max = 20
	at := strings.Repeat("x", max)
	over := at + "y"
	for _, bufSize := range []int{16, 64 << 10} {
		for _, pad := range []string{"", "a", "ab", "abcdefghijkl", "abcdefghijklm"} { // where the line falls in the buffer
			input := pad + "\n" + at + "\r\n" + at + "\n" + over + "\r\n" + at + "\r"
			for _, rules := range []LineRules{{}, {Exact: true}} {
				lr := newLineReader(strings.NewReader(input), max, rules, bufSize)
				var got []string
				for l := range lr.Lines() {
					s := l.Text
					if errors.Is(l.Err, ErrLineTooLong) {
						s = "TOO LONG"
					}
					got = append(got, s)
				}
				want := []string{at, at, "TOO LONG", at}
				if pad != "" {
					want = append([]string{pad}, want...)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("buffer %d, pad %q, exact %v (-want +got):\n%s", bufSize, pad, rules.Exact, diff)
				}
			}
		}
	}
}
