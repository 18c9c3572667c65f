package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// FlagSet is a flag.FlagSet for one subcommand where a flag may have a
// short and a long name (-c and --concurrency; either takes one or two
// dashes), and flags may come after positional arguments, as in GNU tools.
// "--" ends the flags.
type FlagSet struct {
	fs       *flag.FlagSet
	cmd      string
	synopsis string
	flags    []flagDoc
}

type flagDoc struct {
	short, long, arg, usage, def string
}

// NewFlagSet returns an empty flag set for the subcommand cmd; synopsis is
// the usage line, such as "fanout http [flags] [URL...]".
func NewFlagSet(cmd, synopsis string) *FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, usage printed by Parse
	fs.Usage = func() {}
	return &FlagSet{fs: fs, cmd: cmd, synopsis: synopsis}
}

// Var defines a flag with an optional short name ("" for none). arg names
// the value in the usage text ("N", "FILE"); "" for a boolean flag.
func (f *FlagSet) Var(v flag.Value, short, long, arg, usage string) {
	f.fs.Var(v, long, usage)
	if short != "" {
		f.fs.Var(v, short, usage)
	}
	def := v.String()
	if def == "0" || def == "false" || def == "" || def == "0s" {
		def = ""
	}
	f.flags = append(f.flags, flagDoc{short, long, arg, usage, def})
}

// IntVar defines an int flag.
func (f *FlagSet) IntVar(p *int, short, long string, value int, usage string) {
	*p = value
	f.Var((*intValue)(p), short, long, "N", usage)
}

// Float64Var defines a float64 flag.
func (f *FlagSet) Float64Var(p *float64, short, long string, value float64, usage string) {
	*p = value
	f.Var((*floatValue)(p), short, long, "R", usage)
}

// StringVar defines a string flag; arg names its value in the usage text.
func (f *FlagSet) StringVar(p *string, short, long, arg, value, usage string) {
	*p = value
	f.Var((*stringValue)(p), short, long, arg, usage)
}

// BoolVar defines a boolean flag (--name, --name=false).
func (f *FlagSet) BoolVar(p *bool, short, long string, value bool, usage string) {
	*p = value
	f.Var((*boolValue)(p), short, long, "", usage)
}

// DurationVar defines a duration flag (10s, 500ms; a bare number is seconds).
func (f *FlagSet) DurationVar(p *time.Duration, short, long string, value time.Duration, usage string) {
	*p = value
	f.Var((*durationValue)(p), short, long, "D", usage)
}

// Parse parses args. It returns the positional arguments; on -h or --help it
// writes the usage to w and returns errHelp. Other mistakes are a
// *UsageError of one line.
func (f *FlagSet) Parse(args []string, w io.Writer) ([]string, error) {
	var positional []string
	for {
		err := f.fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.writeUsage(w)
			return nil, errHelp
		}
		if err != nil {
			return nil, usagef(f.cmd, "%v", err)
		}
		rest := f.fs.Args()
		consumed := len(args) - len(rest)
		if len(rest) == 0 || consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// errHelp is returned by Parse after it printed the usage for -h: the
// subcommand returns nil.
var errHelp = errors.New("help requested")

func (f *FlagSet) writeUsage(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s\n\nFlags:\n", f.synopsis)
	for _, d := range f.flags {
		name := "    --" + d.long
		if d.short != "" {
			name = "-" + d.short + ", --" + d.long
		}
		if d.arg != "" {
			name += " " + d.arg
		}
		fmt.Fprintf(&b, "  %-26s %s", name, d.usage)
		if d.def != "" && !strings.Contains(d.usage, "(default") {
			fmt.Fprintf(&b, " (default %s)", d.def)
		}
		b.WriteByte('\n')
	}
	io.WriteString(w, b.String())
}

// The flag.Value types. The standard library's are unexported; these add a
// friendlier duration syntax and the enumerations below.

type intValue int

func (v *intValue) String() string { return fmt.Sprint(int(*v)) }
func (v *intValue) Set(s string) error {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil || fmt.Sprint(n) != strings.TrimSpace(s) {
		return errors.New("not an integer")
	}
	*v = intValue(n)
	return nil
}

type floatValue float64

func (v *floatValue) String() string { return fmt.Sprint(float64(*v)) }
func (v *floatValue) Set(s string) error {
	var x float64
	if _, err := fmt.Sscan(s, &x); err != nil {
		return errors.New("not a number")
	}
	*v = floatValue(x)
	return nil
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type boolValue bool

func (v *boolValue) String() string   { return fmt.Sprint(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on":
		*v = true
	case "false", "0", "no", "off":
		*v = false
	default:
		return errors.New("want true or false")
	}
	return nil
}

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }

// Set accepts Go durations (1.5s, 300ms, 2m) and a bare number of seconds.
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		var secs float64
		if _, err2 := fmt.Sscan(s, &secs); err2 != nil || strings.ContainsAny(s, " \t") {
			return errors.New("not a duration such as 10s or 500ms")
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 {
		return errors.New("negative duration")
	}
	*v = durationValue(d)
	return nil
}

// Format is an output format: jsonl, csv or table.
type Format string

// The output formats.
const (
	JSONL Format = "jsonl"
	CSV   Format = "csv"
	Table Format = "table"
)

func (f *Format) String() string { return string(*f) }
func (f *Format) Set(s string) error {
	switch Format(strings.ToLower(s)) {
	case JSONL, "json", "ndjson":
		*f = JSONL
	case CSV:
		*f = CSV
	case Table:
		*f = Table
	default:
		return errors.New("want jsonl, csv or table")
	}
	return nil
}

// headerList collects repeated -H "Name: value" flags.
type headerList struct{ h http.Header }

func (l *headerList) String() string { return "" }
func (l *headerList) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return errors.New(`want "Name: value"`)
	}
	if l.h == nil {
		l.h = http.Header{}
	}
	l.h.Add(name, strings.TrimSpace(value))
	return nil
}

// stringList collects a repeated string flag, such as --payload.
type stringList []string

func (l *stringList) String() string     { return "" }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
