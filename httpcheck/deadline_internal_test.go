package httpcheck

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAttemptDeadline checks Config.Timeout on connections already open,
// where the lean path keeps the attempt's context lazy and sets the
// deadline on the connection instead: a server that never answers, and
// one that stops in the middle of a body, each after a first answer on
// the same connection. The records must be those of the Transport, to the
// microsecond (the clock is synctest's).
func TestAttemptDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	type record struct {
		Status   int
		Kind     ErrorKind
		Error    string
		Duration time.Duration
		Timeout  bool // errors.Is(Err, context.DeadlineExceeded)
	}
	run := func(t *testing.T, lean bool, path string) (recs []record, dials int) {
		synctest.Test(t, func(t *testing.T) {
			dial := func(context.Context, string, string) (net.Conn, error) {
				dials++
				client, server := net.Pipe()
				go func() {
					defer server.Close()
					br := bufio.NewReader(server)
					for n := 0; ; n++ {
						if _, err := http.ReadRequest(br); err != nil {
							return
						}
						if n == 0 {
							io.WriteString(server, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
							continue
						}
						if path == "/stall-body" {
							io.WriteString(server, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
						}
						io.Copy(io.Discard, server) // until the client gives up and closes
						return
					}
				}()
				return client, nil
			}
			c := newChecker(Config{Method: http.MethodGet, MaxRedirects: DefaultMaxRedirects, Concurrency: 1,
				UserAgent: "fanout", Timeout: timeout}, dial)
			defer c.Close()
			if !lean {
				c.h1 = nil
			}
			for _, p := range []string{"/first", path, "/after"} {
				r := checkOne(t.Context(), c, "http://deadline.test"+p)
				recs = append(recs, record{r.Status, r.ErrorKind, r.Error, r.Duration, errors.Is(r.Err, context.DeadlineExceeded)})
			}
		})
		return recs, dials
	}
	for _, tc := range []struct {
		path string
		want record // the second check's
	}{
		{"/hang", record{Kind: KindTimeout, Error: "timed out after 300ms", Duration: timeout, Timeout: true}},
		// The body is read only to reuse the connection: its end does not
		// change the status already known.
		{"/stall-body", record{Status: 200, Duration: timeout}},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			lean, leanDials := run(t, true, tc.path)
			std, stdDials := run(t, false, tc.path)
			if diff := cmp.Diff(std, lean); diff != "" {
				t.Errorf("lean path differs from the Transport (-Transport +lean):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, lean[1]); diff != "" {
				t.Errorf("second check (-want +got):\n%s", diff)
			}
			if lean[0].Status != 200 || lean[2].Status != 200 {
				t.Errorf("checks around it: %+v, %+v; want 200s", lean[0], lean[2])
			}
			if leanDials != 2 || stdDials != 2 {
				t.Errorf("dials: lean %d, Transport %d; want 2 (the timed-out connection is closed)", leanDials, stdDials)
			}
		})
	}
}

// TestDeadlineCtx checks the attempt context's answers while lazy, once
// made real, and once stopped, against those of context.WithDeadline.
func TestDeadlineCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		parent, cancelParent := context.WithCancel(context.WithValue(t.Context(), key{}, "v"))
		defer cancelParent()
		at := time.Now().Add(time.Second)

		d := newDeadlineCtx(parent, at)
		if got, ok := d.Deadline(); !ok || !got.Equal(at) {
			t.Errorf("Deadline = %v, %v; want %v", got, ok, at)
		}
		if d.Err() != nil || d.Value(key{}) != "v" || !d.lazy() {
			t.Errorf("lazy: Err %v, Value %v, lazy %v", d.Err(), d.Value(key{}), d.lazy())
		}
		if dl, watch := watchCtx(d); !dl.Equal(at) || watch != parent {
			t.Errorf("watchCtx of a lazy one = %v, %v; want its deadline and its parent", dl, watch)
		}
		time.Sleep(time.Second)
		if d.Err() != context.DeadlineExceeded || context.Cause(d) != context.DeadlineExceeded {
			t.Errorf("past its deadline: Err %v, Cause %v; want context.DeadlineExceeded", d.Err(), context.Cause(d))
		}
		select {
		case <-d.Done(): // made real now, already past its deadline
		default:
			t.Error("Done open past the deadline")
		}
		if d.lazy() {
			t.Error("still lazy after Done")
		}

		// Made real before its deadline: it ends with it, and its parent.
		e := newDeadlineCtx(parent, time.Now().Add(time.Second))
		child, cancelChild := context.WithCancel(e)
		defer cancelChild()
		if dl, watch := watchCtx(e); !dl.IsZero() || watch != e {
			t.Errorf("watchCtx of a real one = %v, %v; want no deadline and itself", dl, watch)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if child.Err() != context.DeadlineExceeded || e.Value(key{}) != "v" {
			t.Errorf("derived context past the deadline: %v; Value %v", child.Err(), e.Value(key{}))
		}

		// Stopped: canceled, as WithTimeout's context is after its cancel.
		f := newDeadlineCtx(parent, time.Now().Add(time.Second))
		f.stop()
		select {
		case <-f.Done():
		default:
			t.Error("Done open after stop")
		}
		if f.Err() != context.Canceled || f.Value(key{}) != "v" {
			t.Errorf("stopped: Err %v, Value %v", f.Err(), f.Value(key{}))
		}

		// The parent's end is its end.
		g := newDeadlineCtx(parent, time.Now().Add(time.Hour))
		cancelParent()
		if g.Err() != context.Canceled {
			t.Errorf("parent canceled: Err %v", g.Err())
		}

		// The connection's deadline seen by the poller counts, whatever
		// the clock says yet.
		h := newDeadlineCtx(context.Background(), time.Now().Add(time.Hour))
		expireOn(h, errors.New("other"))
		if h.Err() != nil {
			t.Errorf("after another error: Err %v", h.Err())
		}
		expireOn(h, &net.OpError{Op: "read", Err: osDeadline()})
		if h.Err() != context.DeadlineExceeded {
			t.Errorf("after the connection's deadline: Err %v", h.Err())
		}
	})
}

// osDeadline is the error a connection's read returns past its deadline.
func osDeadline() error {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	client.SetReadDeadline(time.Unix(1, 0))
	_, err := client.Read(make([]byte, 1))
	return err
}

// TestIdleAfterDeadline checks that a connection whose last attempt's
// deadline passed while it sat idle is still reused: the socket is asked
// whether it is quiet (see checkIdleAfter) through the poller, which
// refuses at once on a connection past its deadline.
func TestIdleAfterDeadline(t *testing.T) {
	defer func(d time.Duration) { checkIdleAfter = d }(checkIdleAfter)
	checkIdleAfter = 0                     // ask the socket at every reuse
	const timeout = 300 * time.Millisecond // far above a loopback answer, even under -race on a busy machine
	s := startScript(t, func(n int, _ *http.Request, w io.Writer) bool {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		return false
	})
	c := newTestChecker(t, Config{Timeout: timeout})
	// The first check dials (its attempt's context is made real for the
	// dial, and no deadline is set on the connection); the second reuses
	// the connection and leaves its deadline on it; the third comes once
	// that deadline has passed.
	for i := range 3 {
		if i == 2 {
			time.Sleep(timeout + 50*time.Millisecond)
		}
		if r := checkOne(t.Context(), c, s.url("/")); r.Status != 200 {
			t.Fatalf("check %d: %d %v", i, r.Status, r.Err)
		}
	}
	if n, _ := s.seen(); n != 1 {
		t.Errorf("server accepted %d connections for three checks one after another, want 1", n)
	}
}
