package cli

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newTestFlags() (*FlagSet, *Common, *headerList) {
	fs := NewFlagSet("test", "fanout test [flags] [ARG...]")
	var c Common
	c.Register(fs, Env{}, Defaults{Concurrency: 7, Timeout: time.Second, Retries: 2})
	var h headerList
	fs.Var(&h, "H", "header", "'NAME: VALUE'", "a header")
	return fs, &c, &h
}

func TestFlagsLongShortAndInterspersed(t *testing.T) {
	fs, c, h := newTestFlags()
	args := []string{"a", "-c", "3", "--rate=2.5", "b", "--timeout", "1.5", "-o", "csv", "-H", "X-A: 1", "--header=X-B:2", "--unordered", "--", "-c", "d"}
	pos, err := fs.Parse(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "-c", "d"}, pos); diff != "" {
		t.Errorf("positional (-want +got):\n%s", diff)
	}
	if c.Concurrency != 3 || c.Rate != 2.5 || c.Timeout != 1500*time.Millisecond || c.Output != CSV || !c.Unordered || c.Retries != 2 {
		t.Errorf("flags = %+v", *c)
	}
	want := http.Header{"X-A": {"1"}, "X-B": {"2"}}
	if diff := cmp.Diff(want, h.h); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
}

func TestFlagsDefaultsFollowTheTerminal(t *testing.T) {
	var pipe, tty Common
	pipe.Register(NewFlagSet("x", "x"), Env{}, Defaults{Concurrency: 1})
	tty.Register(NewFlagSet("x", "x"), Env{StdoutTTY: true, StderrTTY: true}, Defaults{Concurrency: 1})
	if pipe.Output != JSONL || pipe.Summary || pipe.Progress {
		t.Errorf("pipe defaults: %+v", pipe)
	}
	if tty.Output != Table || !tty.Summary || !tty.Progress {
		t.Errorf("terminal defaults: %+v", tty)
	}
}

func TestFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--nope"}, {"-c", "many"}, {"-c", "1.5"}, {"--timeout", "soon"}, {"--timeout", "-1s"},
		{"-o", "xml"}, {"-H", "no colon"}, {"-H", ": empty name"}, {"--summary=maybe"},
	} {
		fs, _, _ := newTestFlags()
		_, err := fs.Parse(args, nil)
		var usage *UsageError
		if !errors.As(err, &usage) || usage.Command != "test" || strings.Contains(usage.Msg, "\n") {
			t.Errorf("%q: err = %#v, want a one-line *UsageError", args, err)
		}
	}
}

func TestFlagsHelp(t *testing.T) {
	fs, _, _ := newTestFlags()
	var out strings.Builder
	_, err := fs.Parse([]string{"x", "--help"}, &out)
	if err != errHelp {
		t.Fatalf("err = %v, want errHelp", err)
	}
	for _, want := range []string{"Usage: fanout test", "-c, --concurrency N", "(default 7)", "-H, --header 'NAME: VALUE'", "--unordered"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCommonCheck(t *testing.T) {
	for _, c := range []Common{{Concurrency: 0}, {Concurrency: 1, Rate: -1}, {Concurrency: 1, Retries: -1}} {
		if err := c.Check("x"); err == nil {
			t.Errorf("Check(%+v) = nil", c)
		}
	}
	if err := (&Common{Concurrency: 1}).Check("x"); err != nil {
		t.Error(err)
	}
}

func TestFlagsGNUForms(t *testing.T) {
	fs, c, _ := newTestFlags()
	if _, err := fs.Parse([]string{"-c5", "--timeout=1s", "--rate=2", "-ocsv"}, nil); err != nil {
		t.Fatal(err)
	}
	if c.Concurrency != 5 || c.Timeout != time.Second || c.Rate != 2 || c.Output != CSV {
		t.Errorf("flags = %+v", *c)
	}
}

// Every bad value is refused while parsing, in one line that names the flag
// as the usage text spells it.
func TestFlagsBadValuesNameTheFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--timeout", "soon"}, "--timeout"},
		{[]string{"--timeout=1e12"}, "longer than 365 days"},
		{[]string{"--timeout", "9000h"}, "longer than 365 days"},
		{[]string{"--rate", "NaN"}, "--rate"},
		{[]string{"--rate", "Inf"}, "not a finite number"},
		{[]string{"--rate=-Inf"}, "not a finite number"},
		{[]string{"-H", "X-A: 1\r\nX-Evil: 2"}, "control character"},
		{[]string{"-H", "X-A: a\nb"}, "control character"},
		{[]string{"-H", "X A: 1"}, "header name"},
		{[]string{"-c", "many"}, "-c, --concurrency"},
	} {
		fs, _, _ := newTestFlags()
		_, err := fs.Parse(tt.args, nil)
		var usage *UsageError
		if !errors.As(err, &usage) || strings.Contains(usage.Msg, "\n") || !strings.Contains(usage.Msg, tt.want) {
			t.Errorf("%q: err = %v, want one line with %q", tt.args, err, tt.want)
		}
		if strings.Contains(fmt.Sprint(err), " -timeout") {
			t.Errorf("%q: %v names -timeout, which is not a flag", tt.args, err)
		}
	}
}
