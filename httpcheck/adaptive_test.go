package httpcheck

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/fanout-go/fanout"
)

func TestWaitHint(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		header http.Header
		want   time.Duration
		ok     bool
	}{
		{http.Header{}, 0, false},
		{http.Header{"Retry-After": {"3"}, "Ratelimit-Reset": {"9"}}, 3 * time.Second, true},
		{http.Header{"Ratelimit-Reset": {"9"}}, 9 * time.Second, true},
		{http.Header{"Ratelimit": {`"default";r=0;t=4`}}, 4 * time.Second, true},
		{http.Header{"Ratelimit": {"limit=10, remaining=0, reset=6"}}, 6 * time.Second, true},
		{http.Header{"X-Ratelimit-Reset": {"5"}}, 5 * time.Second, true},
		{http.Header{"X-Ratelimit-Reset": {fmt.Sprint(now.Unix() + 12)}}, 12 * time.Second, true},
		{http.Header{"X-Ratelimit-Reset": {"soon"}}, 0, false},
	} {
		got, ok := waitHint(c.header, now)
		if got != c.want || ok != c.ok {
			t.Errorf("waitHint(%v) = %v, %v; want %v, %v", c.header, got, ok, c.want, c.ok)
		}
	}
}

func TestOverloaded(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "http://example.com/", Err: err} }
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&StatusError{Status: 429}, true},
		{fanout.RetryAfter(&StatusError{Status: 503}, time.Second), true},
		{&StatusError{Status: 500}, false},
		{wrap(&timeoutError{after: time.Second, err: errors.New("deadline")}), true},
		{wrap(fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED)), true},
		{wrap(fmt.Errorf("read: %w", syscall.ECONNRESET)), true},
		{wrap(errors.New("x509: certificate signed by unknown authority")), false},
		{&InvalidURLError{URL: "x"}, false},
	} {
		if got := Overloaded(c.err); got != c.want {
			t.Errorf("Overloaded(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
