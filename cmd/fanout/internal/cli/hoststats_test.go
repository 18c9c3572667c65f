package cli

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/fanout-go/fanout/internal/testserver"
)

// TestHTTPAdaptiveHostStats: one host takes 2 calls at once and answers
// 429 beyond; the other takes any number. With --adaptive every URL ends
// 200, the busy host's limit comes down to 2 or less while the other's
// never comes down, and --host-stats says so per host on stderr only.
func TestHTTPAdaptiveHostStats(t *testing.T) {
	s := testserver.StartTest(t, testserver.WithPorts(2))
	bases := s.BaseURLs()
	var urls []string
	for i := range 100 {
		urls = append(urls,
			fmt.Sprintf("%s/capacity/small?n=2&delay=5ms&retry-after=0&i=%d", bases[0], i),
			fmt.Sprintf("%s/status/200?delay=5ms&i=%d", bases[1], i))
	}
	out, errOut, err := runCLI(t, strings.Join(urls, "\n")+"\n", "http", "-i", "-", "-c", "40",
		"--adaptive", "--per-host", "16", "--retries", "50", "--host-stats", "-o", "jsonl")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if n := strings.Count(out, `"status":200`); n != 200 {
		t.Errorf("%d records with status 200, want 200", n)
	}
	if strings.Contains(out, "THROTTLES") {
		t.Errorf("host stats on stdout:\n%s", out)
	}
	row := func(base string) []string {
		u, _ := url.Parse(base)
		for _, line := range strings.Split(errOut, "\n") {
			if f := strings.Fields(line); len(f) == 8 && f[1] == u.Host {
				return f
			}
		}
		t.Fatalf("no host stats line for %s in:\n%s", u.Host, errOut)
		return nil
	}
	small, big := row(bases[0]), row(bases[1])
	t.Logf("\n%s", errOut)
	limits := func(f []string) (lo, hi int) {
		parts := strings.Split(f[5], "/")
		lo, _ = strconv.Atoi(parts[0])
		hi, _ = strconv.Atoi(parts[2])
		return lo, hi
	}
	if lo, _ := limits(small); small[2] != "100" || small[3] != "2xx=100" || small[4] == "0" || lo > 2 {
		t.Errorf("small host's stats %v: want 100 calls, 2xx=100, some throttles, limit down to 2 or less", small)
	}
	if lo, hi := limits(big); big[2] != "100" || big[4] != "0" || lo != 8 || hi < 8 {
		t.Errorf("big host's stats %v: want 100 calls, no throttles, limit never below its initial 8", big)
	}
	if got := s.Capacity("small").MaxBusy; got > 2 {
		t.Errorf("the small host had %d calls at once", got)
	}
}
