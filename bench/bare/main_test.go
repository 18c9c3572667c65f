package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestHTTP checks that every URL gets exactly one "STATUS URL" line, 0 for
// one that cannot be fetched, and that no more calls than -c run at once.
func TestHTTP(t *testing.T) {
	var running, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if r.URL.Query().Get("i") == "7" {
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer srv.Close()
	var in strings.Builder
	var want []string
	for i := range 40 {
		u := fmt.Sprintf("%s/x?i=%d", srv.URL, i)
		status := 200
		switch i {
		case 7:
			status = http.StatusTeapot
		case 9:
			u, status = "http://[::1", 0 // not a URL
		}
		fmt.Fprintln(&in, u)
		want = append(want, fmt.Sprintf("%d %s", status, u))
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"http", "-c", "4"}, strings.NewReader(in.String()), &out); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant (in any order):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p := peak.Load(); p > 4 {
		t.Errorf("%d calls at once, want at most 4", p)
	}
}

// TestLambda checks the Lambda mode against a loopback server that answers
// Invoke's HTTP binding: one "STATUS INDEX" line per payload line, 0 for a
// call whose function failed.
func TestLambda(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent",
		"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CA_BUNDLE": "",
	} {
		t.Setenv(k, v)
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/2015-03-31/functions/bench/invocations" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		buf := make([]byte, 64)
		n, _ := r.Body.Read(buf)
		if string(buf[:n]) == `{"fail":true}` {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	in := "{\"i\":0}\n{\"fail\":true}\n\n{\"i\":2}\n"
	var out strings.Builder
	err := run(context.Background(), []string{"lambda", "-c", "2", "-endpoint", srv.URL, "-function", "bench"},
		strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	sort.Strings(got)
	want := []string{"0 1", "200 0", "200 2"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("output %q, want %q in any order", got, want)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("server saw %d calls, want 3", n)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"ftp"}, {"http", "-c", "0"}, {"lambda", "-c", "2"}} {
		if err := run(context.Background(), args, strings.NewReader(""), new(strings.Builder)); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}
