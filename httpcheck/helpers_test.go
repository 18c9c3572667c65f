package httpcheck_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"go.uber.org/goleak"

	"github.com/fanout-go/fanout"
	"github.com/fanout-go/fanout/httpcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newChecker returns a checker for cfg and an executor with its options and
// the given limit, both closed at the end of the test.
func newChecker(t testing.TB, cfg httpcheck.Config, limit int) (*httpcheck.Checker, *fanout.Executor) {
	t.Helper()
	c, err := httpcheck.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := fanout.New(append(c.ExecutorOptions(), fanout.WithLimit(limit))...)
	t.Cleanup(func() {
		e.Close()
		c.Close()
	})
	return c, e
}

// checkAll collects CheckAll's results.
func checkAll(ctx context.Context, c *httpcheck.Checker, e *fanout.Executor, urls ...string) []httpcheck.Result {
	var out []httpcheck.Result
	for r := range c.CheckAll(ctx, e, httpcheck.URLs(urls...)) {
		out = append(out, r)
	}
	return out
}

// closedPortURL returns a loopback URL on which nothing listens.
func closedPortURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/"
}

// fakeDNS starts a DNS server on loopback UDP that answers every query with
// NXDOMAIN, and returns a resolver that asks only it: no query leaves the
// machine.
func fakeDNS(t *testing.T) *net.Resolver {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := nxdomain(buf[:n]); reply != nil {
				pc.WriteTo(reply, from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	addr := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}

// nxdomain builds the answer "no such name" to a DNS query: the query's ID
// and question, the response flag, and RCODE 3.
func nxdomain(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	end := 12
	for end < len(q) && q[end] != 0 { // the question's name, label by label
		end += int(q[end]) + 1
	}
	end += 1 + 4 // the root label, QTYPE and QCLASS
	if end > len(q) {
		return nil
	}
	r := make([]byte, end)
	copy(r, q[:end])
	r[2] = 0x80 | q[2]&0x79 // QR, the query's opcode and RD
	r[3] = 0x80 | 3         // RA, NXDOMAIN
	r[4], r[5] = 0, 1       // one question
	clear(r[6:12])          // no answer, authority or additional records
	return r
}

func kindOf(r httpcheck.Result) string {
	if r.Err == nil {
		return "ok"
	}
	return string(r.ErrorKind)
}

var errTest = errors.New("test error")
