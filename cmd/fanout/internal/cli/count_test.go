package cli

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// countRecords, the progress line's total, counts what a LineReader
// yields: blank lines, comments (when skipped), a byte order mark, CR LF
// ends and lines longer than the reader's buffer included.
func TestCountRecordsMatchesLineReader(t *testing.T) {
	pieces := []string{"http://a.test/", "", "   ", "# comment", "  #x", "\r", "x\r", "\uFEFFb", strings.Repeat("y", 70<<10), " \t z ", "#" + strings.Repeat("c", 70<<10)}
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	for i := range 200 {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
			b.WriteString("\n")
		}
		if rng.IntN(2) == 0 {
			b.WriteString(pieces[rng.IntN(len(pieces))]) // no final newline
		}
		path := filepath.Join(dir, "in")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, skip := range []bool{true, false} {
			want := 0
			for range NewLineReader(strings.NewReader(b.String()), 1<<20, LineRules{SkipComments: skip}).Lines() {
				want++
			}
			got, err := countRecords(t.Context(), path, skip)
			if err != nil || got != want {
				t.Fatalf("input %d (skip comments %v): counted %d (%v), the reader yields %d:\n%.300q", i, skip, got, err, want, b.String())
			}
		}
	}
}
