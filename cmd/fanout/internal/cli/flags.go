package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// FlagSet is one subcommand's flags, parsed by spf13/pflag: GNU forms
// (-c5, -c 5, --timeout=1s, --timeout 1s), flags after positional
// arguments, "--" ending the flags. It keeps the usage text fanout prints
// (flags in definition order, with their argument names). The flag types
// are in flagtypes.go.
type FlagSet struct {
	fs       *pflag.FlagSet
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
	fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, usage printed by Parse
	fs.Usage = func() {}
	fs.SortFlags = false
	return &FlagSet{fs: fs, cmd: cmd, synopsis: synopsis}
}

// Value is a flag's value: flag.Value and the name of its argument in the
// usage text.
type Value interface {
	String() string
	Set(string) error
}

// typed adds pflag's Type method to a Value.
type typed struct {
	Value
	arg string
}

func (t typed) Type() string { return t.arg }

// Var defines a flag with an optional short name ("" for none). arg names
// the value in the usage text ("N", "FILE"); "" for a boolean flag, which
// takes no argument (--name, or --name=false).
func (f *FlagSet) Var(v Value, short, long, arg, usage string) {
	fl := f.fs.VarPF(typed{v, arg}, long, short, usage)
	if arg == "" {
		fl.NoOptDefVal = "true"
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

// Float64Var defines a float64 flag; NaN and infinities are refused.
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

// Changed reports whether the flag named long was given.
func (f *FlagSet) Changed(long string) bool { return f.fs.Changed(long) }

// Parse parses args. It returns the positional arguments; on -h or --help it
// writes the usage to w and returns errHelp. Other mistakes are a
// *UsageError of one line that names the flag as documented
// ("-c, --concurrency").
func (f *FlagSet) Parse(args []string, w io.Writer) ([]string, error) {
	err := f.fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		f.writeUsage(w)
		return nil, errHelp
	}
	if err != nil {
		return nil, usagef(f.cmd, "%s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	return f.fs.Args(), nil
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
