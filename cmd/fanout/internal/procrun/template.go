package procrun

import (
	"errors"
	"strconv"
	"strings"
)

// A Template is a command line with placeholders, expanded once per input
// line into the argv of a job.
//
// The placeholders, as GNU parallel spells them, may appear anywhere inside
// any argument, more than once:
//
//	{}    the input line
//	{.}   the line without its extension (the last ".xxx" of the basename)
//	{/}   the basename: what follows the last "/"
//	{//}  the directory, as Perl's dirname ("." when there is none)
//	{/.}  the basename without its extension
//	{#}   the job number, from 1
//	{%}   the job slot, from 1 to the concurrency
//
// Without a placeholder the line is appended as one last argument. Each
// placeholder is replaced inside its own argument: an input with spaces,
// quotes or $(...) stays one argument and no shell ever reads it. With
// Shell, the arguments are joined with spaces into one shell command line
// for sh -c, and each replacement is quoted for the shell (see Quote), so
// the same holds for the input while the template itself may use pipes and
// redirections.
type Template struct {
	args        []string
	shell       bool
	placeholder bool
}

// placeholders lists the placeholders, longest first where one is a prefix
// of another.
var placeholders = []string{"{}", "{.}", "{/}", "{//}", "{/.}", "{#}", "{%}"}

// NewTemplate returns the template of args (the command and its
// arguments). With shell, the job runs as sh -c with the arguments joined.
func NewTemplate(args []string, shell bool) (*Template, error) {
	if len(args) == 0 {
		return nil, errors.New("no command given")
	}
	if args[0] == "" {
		return nil, errors.New("the command is an empty string")
	}
	t := &Template{args: args, shell: shell}
	for _, a := range args {
		for _, p := range placeholders {
			if strings.Contains(a, p) {
				t.placeholder = true
			}
		}
	}
	return t, nil
}

// Args returns the template as given.
func (t *Template) Args() []string { return t.args }

// Shell reports whether jobs run through sh -c.
func (t *Template) Shell() bool { return t.shell }

// FixedCommand returns the program every job runs when it does not depend
// on the input (no placeholder in the first argument, or the shell), so
// that it can be looked up once; ok is false otherwise.
func (t *Template) FixedCommand() (name string, ok bool) {
	if t.shell {
		return "sh", true
	}
	for _, p := range placeholders {
		if strings.Contains(t.args[0], p) {
			return "", false
		}
	}
	return t.args[0], true
}

// Argv returns the argv of the job for line, the job's number seq (from 1)
// and its slot (from 1).
func (t *Template) Argv(line string, seq, slot int) []string {
	quote := func(s string) string { return s }
	if t.shell {
		quote = Quote
	}
	var argv []string
	for _, a := range t.args {
		argv = append(argv, expand(a, line, seq, slot, quote))
	}
	if !t.placeholder {
		argv = append(argv, quote(line))
	}
	if t.shell {
		return []string{"sh", "-c", strings.Join(argv, " ")}
	}
	return argv
}

// expand replaces the placeholders of arg, each replacement passed through
// quote.
func expand(arg, line string, seq, slot int, quote func(string) string) string {
	if !strings.Contains(arg, "{") {
		return arg
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(arg, '{')
		if i < 0 {
			b.WriteString(arg)
			return b.String()
		}
		b.WriteString(arg[:i])
		arg = arg[i:]
		j := strings.IndexByte(arg, '}')
		if j < 0 {
			b.WriteString(arg)
			return b.String()
		}
		if v, ok := replacement(arg[:j+1], line, seq, slot); ok {
			b.WriteString(quote(v))
			arg = arg[j+1:]
			continue
		}
		b.WriteByte('{')
		arg = arg[1:]
	}
}

func replacement(p, line string, seq, slot int) (string, bool) {
	switch p {
	case "{}":
		return line, true
	case "{.}":
		return noExt(line), true
	case "{/}":
		return basename(line), true
	case "{//}":
		return dirname(line), true
	case "{/.}":
		return noExt(basename(line)), true
	case "{#}":
		return strconv.Itoa(seq), true
	case "{%}":
		return strconv.Itoa(slot), true
	}
	return "", false
}

// noExt removes a last "." and what follows when that contains no "/" or
// "." (GNU parallel's s:\.[^/.]*$::): a.tar.gz is a.tar, .bashrc is empty,
// dir.d/f and dir/ keep theirs.
func noExt(s string) string {
	i := strings.LastIndexByte(s, '.')
	if i < 0 || strings.ContainsRune(s[i+1:], '/') {
		return s
	}
	return s[:i]
}

// basename returns what follows the last "/" (GNU parallel's s:.*/::): empty
// for a path ending in "/".
func basename(s string) string {
	return s[strings.LastIndexByte(s, '/')+1:]
}

// dirname is Perl's File::Basename dirname, which GNU parallel uses: a
// trailing "/" is not a separator (a/b/ gives a), "." when there is no
// directory, "/" for the root.
func dirname(s string) string {
	s = trimSlashes(s)
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "."
	}
	if d := trimSlashes(s[:i]); d != "" {
		return d
	}
	return "/"
}

// trimSlashes removes trailing slashes but keeps a lone "/".
func trimSlashes(s string) string {
	for len(s) > 1 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// Quote returns s quoted for a POSIX shell: unchanged when it has only
// characters no shell treats specially, else in single quotes (a single
// quote inside becomes '\”).
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./=:,+@%^", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// CommandLine returns a job's argv (from Argv) as one shell command line,
// each argument quoted: what --dry-run prints. For a shell template it is
// the line given to sh -c.
func (t *Template) CommandLine(argv []string) string {
	if t.shell && len(argv) == 3 {
		return argv[2]
	}
	return QuoteArgv(argv)
}

// QuoteArgv returns argv as one POSIX shell command line that runs it:
// each argument quoted by Quote, and the command word quoted also when a
// shell would read it otherwise, as a variable assignment ("A=1") or a
// reserved word ("if", "!").
func QuoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
		if i == 0 && q[0] == a && (strings.Contains(a, "=") || reserved[a]) {
			q[0] = "'" + a + "'"
		}
	}
	return strings.Join(q, " ")
}

// reserved are the POSIX shell's reserved words made of letters,
// recognised as the first word of a command (!, { and } Quote quotes
// already).
var reserved = map[string]bool{
	"case": true, "do": true, "done": true, "elif": true, "else": true, "esac": true,
	"fi": true, "for": true, "if": true, "in": true, "then": true, "until": true, "while": true,
}
