package procrun

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gnuCases are GNU parallel 20221122's replacements (measured with
// `parallel -k echo {} {.} {/} {//} {/.} ::: INPUT`): in order {.}, {/},
// {//}, {/.}.
var gnuCases = []struct {
	in                      string
	noExt, base, dir, baseX string
}{
	{"a/b.c", "a/b", "b.c", "a", "b"},
	{"a/b", "a/b", "b", "a", "b"},
	{"b.c", "b", "b.c", ".", "b"},
	{"/a/b.c", "/a/b", "b.c", "/a", "b"},
	{"dir/", "dir/", "", ".", ""},
	{"a/b/", "a/b/", "", "a", ""},
	{"/", "/", "", "/", ""},
	{".bashrc", "", ".bashrc", ".", ""},
	{"a.tar.gz", "a.tar", "a.tar.gz", ".", "a.tar"},
	{"./rel.d/f", "./rel.d/f", "f", "./rel.d", "f"},
	{"noext", "noext", "noext", ".", "noext"},
	{"my file.txt", "my file", "my file.txt", ".", "my file"},
	{"dir with space/x y.tar.gz", "dir with space/x y.tar", "x y.tar.gz", "dir with space", "x y.tar"},
	{"x/.hidden", "x/", ".hidden", "x", ""},
	{"a.b/", "a.b/", "", ".", ""},
	{"..", ".", "..", ".", "."},
	{"a//b", "a//b", "b", "a", "b"},
}

func TestPlaceholders(t *testing.T) {
	tmpl, err := NewTemplate([]string{"cmd", "{}", "{.}", "{/}", "{//}", "{/.}", "{#}", "{%}", "x{}y", "{nope}", "{"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range gnuCases {
		got := tmpl.Argv(c.in, 7, 3)
		want := []string{"cmd", c.in, c.noExt, c.base, c.dir, c.baseX, "7", "3", "x" + c.in + "y", "{nope}", "{"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("input %q (-want +got):\n%s", c.in, diff)
		}
	}
}

// TestPlaceholdersMatchGNUParallel runs GNU parallel itself, when
// installed, on the same inputs.
func TestPlaceholdersMatchGNUParallel(t *testing.T) {
	if _, err := exec.LookPath("parallel"); err != nil {
		t.Skip("GNU parallel is not installed")
	}
	tmpl, _ := NewTemplate([]string{"{}", "{.}", "{/}", "{//}", "{/.}"}, false)
	args := []string{"--will-cite", "-k", "printf", `'[%s][%s][%s][%s][%s]\n'`, "{}", "{.}", "{/}", "{//}", "{/.}", ":::"}
	var want strings.Builder
	for _, c := range gnuCases {
		args = append(args, c.in)
		for _, a := range tmpl.Argv(c.in, 1, 1) {
			want.WriteString("[" + a + "]")
		}
		want.WriteString("\n")
	}
	out, err := exec.Command("parallel", args...).Output()
	if err != nil {
		t.Fatalf("parallel: %v", err)
	}
	if diff := cmp.Diff(strings.Split(want.String(), "\n"), strings.Split(string(out), "\n")); diff != "" {
		t.Errorf("GNU parallel (-) and fanout (+) differ:\n%s", diff)
	}
}

func TestArgvWithoutPlaceholderAppendsTheLine(t *testing.T) {
	tmpl, _ := NewTemplate([]string{"gzip", "-9"}, false)
	if diff := cmp.Diff([]string{"gzip", "-9", "a file; rm -rf /"}, tmpl.Argv("a file; rm -rf /", 1, 1)); diff != "" {
		t.Error(diff)
	}
	if name, ok := tmpl.FixedCommand(); !ok || name != "gzip" {
		t.Errorf("FixedCommand = %q, %v", name, ok)
	}
	tmpl, _ = NewTemplate([]string{"./{}.sh"}, false)
	if _, ok := tmpl.FixedCommand(); ok {
		t.Error("a command with a placeholder is not fixed")
	}
}

// nasty are inputs a shell would interpret.
var nasty = []string{
	"plain", "with space", `it's`, `"double"`, "$(touch pwned)", "`touch pwned`", "; touch pwned", "a|b&c>d<e",
	"$HOME", "*", "back\\slash", "tab\there", "-n", "", "{}", "ünïcode ✓", "'", "''", "\\'",
}

// TestShellQuotingRoundTrips runs each input through a real sh with
// --shell's quoting: it must come out exactly, and nothing in it may run.
func TestShellQuotingRoundTrips(t *testing.T) {
	dir := t.TempDir()
	tmpl, _ := NewTemplate([]string{"printf", "'<%s>'", "{}", "|", "cat"}, true)
	for _, in := range nasty {
		argv := tmpl.Argv(in, 1, 1)
		if len(argv) != 3 || argv[0] != "sh" || argv[1] != "-c" {
			t.Fatalf("shell argv %q", argv)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%q: %v", argv, err)
		}
		if string(out) != "<"+in+">" {
			t.Errorf("input %q came out as %q (command line %s)", in, out, argv[2])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("an input was run by the shell")
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"a/b-c_d.e": "a/b-c_d.e",
		"":          "''",
		"a b":       "'a b'",
		"it's":      `'it'\''s'`,
		"$x":        "'$x'",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// The command word is quoted where a shell would not run it as a
// program: pasted into a shell, "A=1 echo x" would run echo; fanout runs
// a program named A=1.
func TestQuoteArgvCommandWord(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{[]string{"A=1", "echo", "B=2"}, "'A=1' echo B=2"},
		{[]string{"if", "x"}, "'if' x"},
		{[]string{"!", "!"}, "'!' '!'"},
		{[]string{"{", "}"}, "'{' '}'"},
		{[]string{"echo", "if"}, "echo if"},
		{[]string{"a b", "c"}, "'a b' c"},
	} {
		if got := QuoteArgv(tt.argv); got != tt.want {
			t.Errorf("QuoteArgv(%q) = %s, want %s", tt.argv, got, tt.want)
		}
	}
	out, err := exec.Command("sh", "-c", QuoteArgv([]string{"A=1", "x"})+" 2>&1; true").Output()
	if err != nil || !strings.Contains(string(out), "A=1") {
		t.Errorf("the shell did not look for a program named A=1: %q, %v", out, err)
	}
}

func TestCommandLine(t *testing.T) {
	tmpl, _ := NewTemplate([]string{"gzip", "-k", "{}"}, false)
	if got, want := tmpl.CommandLine(tmpl.Argv("my file.txt", 1, 1)), "gzip -k 'my file.txt'"; got != want {
		t.Errorf("CommandLine = %s, want %s", got, want)
	}
	tmpl, _ = NewTemplate([]string{"gzip < {} > {.}.gz"}, true)
	if got, want := tmpl.CommandLine(tmpl.Argv("my file.txt", 1, 1)), "gzip < 'my file.txt' > 'my file'.gz"; got != want {
		t.Errorf("shell CommandLine = %s, want %s", got, want)
	}
}
