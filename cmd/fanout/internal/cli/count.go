package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
)

// countRecords counts the records of a regular input file the way a
// LineReader reads them (blank lines, and # lines when skipComments, do
// not count; an over-long line counts once), without keeping them: the
// progress line's total. It reads the file at disk speed, about 1 GB/s
// from the page cache, and stops early when ctx ends.
func countRecords(ctx context.Context, path string, skipComments bool) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	n, lines := 0, 0
	inLine, counted := false, false // within a line; that line already counted
	for {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 {
			body := bytes.TrimRight(chunk, "\n")
			if !inLine {
				trimmed := bytes.TrimLeft(body, " \t\r\v\f\uFEFF")
				counted = false
				if len(trimmed) > 0 && !(skipComments && trimmed[0] == '#') {
					n++
					counted = true
				}
				inLine = len(trimmed) == 0 && err == bufio.ErrBufferFull // only blanks so far
			} else if !counted && len(bytes.TrimSpace(body)) > 0 {
				n++
				counted = true
			}
			if err == nil {
				inLine = false
			} else if err == bufio.ErrBufferFull {
				inLine = true
			}
		}
		switch {
		case err == io.EOF:
			return n, nil
		case err != nil && !errors.Is(err, bufio.ErrBufferFull):
			return n, err
		}
		if lines++; lines%4096 == 0 && ctx.Err() != nil {
			return n, ctx.Err()
		}
	}
}
