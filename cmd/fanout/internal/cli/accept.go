package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
