package cli

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The flag value types. Each refuses, at parse time, a value the run could
// not use, so that a mistake costs one line and exit code 2 before any work
// starts.

type intValue int

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not an integer")
	}
	*v = intValue(n)
	return nil
}

type floatValue float64

func (v *floatValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *floatValue) Set(s string) error {
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return errors.New("not a finite number")
	}
	*v = floatValue(x)
	return nil
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type boolValue bool

func (v *boolValue) String() string { return strconv.FormatBool(bool(*v)) }
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

// maxDuration is the longest duration a flag takes: Go's time.Duration
// tops out at about 292 years, and nobody means more than a year.
const maxDuration = 365 * 24 * time.Hour

// Set accepts Go durations (1.5s, 300ms, 2m) and a bare number of seconds.
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, err2 := strconv.ParseFloat(strings.TrimSpace(s), 64)
		switch {
		case err2 != nil || math.IsNaN(secs):
			return errors.New("not a duration such as 10s or 500ms")
		case secs < 0:
			return errors.New("negative duration")
		case secs > maxDuration.Seconds():
			return fmt.Errorf("longer than %s", fmtLimit(maxDuration))
		}
		d = time.Duration(secs * float64(time.Second))
	}
	switch {
	case d < 0:
		return errors.New("negative duration")
	case d > maxDuration:
		return fmt.Errorf("longer than %s", fmtLimit(maxDuration))
	}
	*v = durationValue(d)
	return nil
}

func fmtLimit(d time.Duration) string { return fmt.Sprintf("%d days", int(d/(24*time.Hour))) }

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

// headerList collects repeated -H "Name: value" flags. A name must be an
// HTTP token and a value must not hold control characters (CR or LF would
// make every request fail, or worse, split it).
type headerList struct{ h http.Header }

func (l *headerList) String() string { return "" }
func (l *headerList) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	switch {
	case !ok || name == "":
		return errors.New(`want "Name: value"`)
	case strings.IndexFunc(name, func(r rune) bool { return !isTokenChar(r) }) >= 0:
		return fmt.Errorf("header name %q has a character HTTP does not allow", name)
	case strings.IndexFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) >= 0:
		return errors.New("header value has a control character (CR, LF...)")
	}
	if l.h == nil {
		l.h = http.Header{}
	}
	l.h.Add(name, value)
	return nil
}

// isTokenChar reports whether r may appear in an HTTP header name (RFC 9110
// token).
func isTokenChar(r rune) bool {
	return r < 0x7f && r > ' ' && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}

// stringList collects a repeated string flag, such as --payload.
type stringList []string

func (l *stringList) String() string     { return "" }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
