package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// format is how a contender writes one record per call.
type format int

const (
	// jsonLines: fanout's JSON lines, with "index" and "status" (and "url"
	// for http, which must carry the same index).
	jsonLines format = iota
	// statusKey: "STATUS KEY" lines, KEY a URL with i=N or an index.
	statusKey
	// httpxJSON: httpx's JSON lines, with "input" and "status_code".
	httpxJSON
	// execJSON: fanout exec's JSON lines, with "index" and "exit_code";
	// a job that exited 0 counts as status 200.
	execJSON
	// exitOnly: no records (xargs, parallel, rush running true or sleep):
	// the run is correct when the tool exits 0, which each of them does
	// only when every job did.
	exitOnly
)

// check is what a run's output says about correctness: every call must
// appear exactly once with the status the server answers (200).
type check struct {
	n          int
	statuses   []int32 // by index; -1 when no record
	records    int
	duplicates int
	junk       int    // lines that are not a record of this run
	firstJunk  string // for the log
}

func newCheck(n int) *check {
	s := make([]int32, n)
	for i := range s {
		s[i] = -1
	}
	return &check{n: n, statuses: s}
}

// read parses every line of r in format f.
func (c *check) read(r io.Reader, f format) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		idx, status, ok := parseRecord(line, f)
		if !ok || idx < 0 || idx >= c.n {
			c.junk++
			if c.firstJunk == "" {
				c.firstJunk = string(line[:min(len(line), 200)])
			}
			continue
		}
		c.records++
		if c.statuses[idx] >= 0 {
			c.duplicates++
		}
		c.statuses[idx] = int32(status)
	}
	return sc.Err()
}

func parseRecord(line []byte, f format) (idx, status int, ok bool) {
	switch f {
	case jsonLines:
		var rec struct {
			Index  *int   `json:"index"`
			Status int    `json:"status"`
			URL    string `json:"url"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.Index == nil {
			return 0, 0, false
		}
		if rec.URL != "" {
			if i, ok := indexOfURL(rec.URL); !ok || i != *rec.Index {
				return 0, 0, false
			}
		}
		return *rec.Index, rec.Status, true
	case execJSON:
		var rec struct {
			Index     *int   `json:"index"`
			ExitCode  int    `json:"exit_code"`
			ErrorKind string `json:"error_kind"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.Index == nil {
			return 0, 0, false
		}
		if rec.ExitCode == 0 && rec.ErrorKind == "" {
			return *rec.Index, 200, true
		}
		return *rec.Index, 500, true
	case httpxJSON:
		var rec struct {
			Input  string `json:"input"`
			Status int    `json:"status_code"`
		}
		if json.Unmarshal(line, &rec) != nil {
			return 0, 0, false
		}
		idx, ok := indexOfURL(rec.Input)
		return idx, rec.Status, ok
	default:
		code, key, found := strings.Cut(string(line), " ")
		if !found {
			return 0, 0, false
		}
		status, err := strconv.Atoi(code)
		if err != nil {
			return 0, 0, false
		}
		if idx, err := strconv.Atoi(key); err == nil {
			return idx, status, true
		}
		idx, ok := indexOfURL(key)
		return idx, status, ok
	}
}

// indexOfURL returns N from the query parameter i=N that every benchmark
// URL ends with.
func indexOfURL(u string) (int, bool) {
	at := strings.LastIndex(u, "i=")
	if at < 1 || (u[at-1] != '?' && u[at-1] != '&') {
		return 0, false
	}
	n, err := strconv.Atoi(u[at+2:])
	return n, err == nil
}

// missing counts the calls without a record.
func (c *check) missing() int {
	m := 0
	for _, s := range c.statuses {
		if s < 0 {
			m++
		}
	}
	return m
}

// wrong counts records by unexpected status (want is the server's answer).
func (c *check) wrong(want int32) map[int32]int {
	w := map[int32]int{}
	for _, s := range c.statuses {
		if s >= 0 && s != want {
			w[s]++
		}
	}
	return w
}

// verdict is "ok" or what is wrong, briefly; dropped reports whether
// records are missing, which makes the run's time meaningless.
func (c *check) verdict(want int32) (text string, dropped bool) {
	var parts []string
	if m := c.missing(); m > 0 {
		parts = append(parts, fmt.Sprintf("dropped %d", m))
		dropped = true
	}
	if c.duplicates > 0 {
		parts = append(parts, fmt.Sprintf("%d duplicates", c.duplicates))
	}
	wrong := c.wrong(want)
	codes := make([]int32, 0, len(wrong))
	for s := range wrong {
		codes = append(codes, s)
	}
	sort.Slice(codes, func(i, j int) bool { return codes[i] < codes[j] })
	for _, s := range codes {
		parts = append(parts, fmt.Sprintf("%d x status %d", wrong[s], s))
	}
	if len(parts) == 0 {
		return "ok", false
	}
	return strings.Join(parts, ", "), dropped
}
