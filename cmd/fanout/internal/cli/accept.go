package cli

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fanout-go/fanout/httpcheck"
)

// statusRanges is the value of --accept: HTTP statuses that count as
// success, as ranges (200-399), classes (2xx) or single codes (204),
// separated by commas, as lychee's --accept. Empty accepts every status.
type statusRanges struct {
	text   string
	ranges [][2]int
}

func (s *statusRanges) String() string { return s.text }

func (s *statusRanges) Set(v string) error {
	var ranges [][2]int
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		lo, hi, err := statusRange(part)
		if err != nil {
			return err
		}
		ranges = append(ranges, [2]int{lo, hi})
	}
	s.ranges = append(s.ranges, ranges...)
	if s.text != "" {
		s.text += ","
	}
	s.text += v
	return nil
}

func statusRange(part string) (lo, hi int, err error) {
	bad := fmt.Errorf("%q is not a status, a range such as 200-399 or a class such as 2xx", part)
	if len(part) == 3 && strings.HasSuffix(strings.ToLower(part), "xx") && part[0] >= '1' && part[0] <= '5' {
		c := int(part[0]-'0') * 100
		return c, c + 99, nil
	}
	from, to, isRange := strings.Cut(part, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(from))
	hi, err2 := lo, error(nil)
	if isRange {
		hi, err2 = strconv.Atoi(strings.TrimSpace(to))
	}
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, bad
	case lo < 100 || hi > 599 || lo > hi:
		return 0, 0, errors.New("statuses run from 100 to 599, low to high")
	}
	return lo, hi, nil
}

// Contains reports whether status counts as success: always when no range
// was given.
func (s *statusRanges) Contains(status int) bool {
	if len(s.ranges) == 0 {
		return true
	}
	for _, r := range s.ranges {
		if status >= r[0] && status <= r[1] {
			return true
		}
	}
	return false
}

// canonical names the statuses s accepts whatever way they were written:
// "2xx,404" and "200-299, 404" give the same text. "" accepts every
// status.
func (s *statusRanges) canonical() string {
	rs := slices.Clone(s.ranges)
	slices.SortFunc(rs, func(a, b [2]int) int { return a[0] - b[0] })
	var merged [][2]int
	for _, r := range rs {
		if n := len(merged); n > 0 && r[0] <= merged[n-1][1]+1 {
			merged[n-1][1] = max(merged[n-1][1], r[1])
			continue
		}
		merged = append(merged, r)
	}
	parts := make([]string, len(merged))
	for i, r := range merged {
		parts[i] = strconv.Itoa(r[0])
		if r[1] != r[0] {
			parts[i] += "-" + strconv.Itoa(r[1])
		}
	}
	return strings.Join(parts, ",")
}

// kindNotAccepted is the error kind of a record whose status --accept does
// not take.
const kindNotAccepted httpcheck.ErrorKind = "not_accepted"

// judge returns r with its status judged: a status s does not accept
// becomes the record's error, of kind not_accepted, so that every reader
// of the record (the jsonl and csv output, the journal, fanout merge, the
// summary) sees it failed.
func (s *statusRanges) judge(r httpcheck.Result) httpcheck.Result {
	if r.Err == nil && !s.Contains(r.Status) {
		r.Err = fmt.Errorf("status %d is not accepted (--accept %s)", r.Status, s.text)
		r.Error = r.Err.Error()
		r.ErrorKind = kindNotAccepted
	}
	return r
}

// tap returns all with each result judged (see judge); all itself when
// every status is accepted.
func (s *statusRanges) tap(all checkFunc) checkFunc {
	if len(s.ranges) == 0 {
		return all
	}
	return all.each(s.judge)
}
