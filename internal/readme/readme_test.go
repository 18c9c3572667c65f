package readme

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository's root, from this package's directory.
const root = "../.."

// snippet is a ```go block of README.md and what it claims to be.
type snippet struct {
	line       int // of the opening fence
	file, fn   string
	code       string
	hasComment bool
}

var marker = regexp.MustCompile(`^<!-- snippet: (\S+) (\w+) -->$`)

func readmeSnippets(t *testing.T) []snippet {
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		out  []snippet
		cur  *snippet
		prev string
		body []string
	)
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && line == "```go":
			cur = &snippet{line: n}
			if m := marker.FindStringSubmatch(prev); m != nil {
				cur.file, cur.fn, cur.hasComment = m[1], m[2], true
			}
			body = nil
		case cur != nil && line == "```":
			cur.code = strings.Join(body, "\n")
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
		if strings.TrimSpace(line) != "" {
			prev = line
		}
	}
	return out
}

// exampleLines returns the lines between "// readme:begin" and
// "// readme:end" in function fn of file, without their common indent.
func exampleLines(file, fn string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return "", err
	}
	src := string(data)
	start := strings.Index(src, "\nfunc "+fn+"(")
	if start < 0 {
		return "", fmt.Errorf("no func %s in %s", fn, file)
	}
	src = src[start:]
	if end := strings.Index(src, "\n}\n"); end >= 0 {
		src = src[:end]
	}
	_, after, ok := strings.Cut(src, "// readme:begin\n")
	body, _, ok2 := strings.Cut(after, "// readme:end")
	if !ok || !ok2 {
		return "", fmt.Errorf("func %s in %s has no // readme:begin ... // readme:end", fn, file)
	}
	lines := strings.Split(strings.TrimRight(body, " \t\n"), "\n")
	indent := ""
	for i, l := range lines {
		lead := l[:len(l)-len(strings.TrimLeft(l, "\t"))]
		if i == 0 || strings.TrimSpace(l) != "" && len(lead) < len(indent) {
			indent = lead
		}
	}
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, indent)
	}
	return strings.Join(lines, "\n"), nil
}

// TestREADMESnippetsAreExamples fails when a Go snippet of README.md is not
// tied to an example, or differs from it: a snippet edited in one place
// only, or one that no longer compiles.
func TestREADMESnippetsAreExamples(t *testing.T) {
	snippets := readmeSnippets(t)
	if len(snippets) == 0 {
		t.Fatal("no Go snippets found in README.md")
	}
	for _, s := range snippets {
		if !s.hasComment {
			t.Errorf("README.md:%d: a Go snippet without a <!-- snippet: FILE FUNC --> comment above it", s.line)
			continue
		}
		want, err := exampleLines(s.file, s.fn)
		if err != nil {
			t.Errorf("README.md:%d: %v", s.line, err)
			continue
		}
		if s.code != want {
			t.Errorf("README.md:%d differs from %s %s:\nREADME:\n%s\nexample:\n%s", s.line, s.file, s.fn, s.code, want)
		}
	}
}
