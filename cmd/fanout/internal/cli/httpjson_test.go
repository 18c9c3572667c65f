package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fanout-go/fanout/httpcheck"
)

// encodingJSON is what the jsonl writer wrote before appendHTTPJSON:
// encoding/json with HTML escaping off, without the newline.
func encodingJSON(t testing.TB, v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// awkwardStrings escape every way encoding/json escapes.
var awkwardStrings = []string{
	"",
	"http://127.0.0.1:8080/status/200?delay=50ms&i=1",
	`quote " backslash \ slash /`,
	"a&b<c>d",
	"\b\f\n\r\t\x00\x01\x1f\x7f",
	"é 日本 🙂",
	"invalid \xff\xfe utf-8 \xc3",
	"\u2028 and \u2029",
	"truncated \xe6\x97",
	"the server closed the connection without a complete response (EOF)",
}

func TestHTTPJSONMatchesEncodingJSON(t *testing.T) {
	durations := []float64{0, 0.001, 0.5, 1, 50.123, 122.011, 1e-7, 1.5e-7, 1e20, 1e21, 3.4e22, 123456789.123}
	var recs []httpcheck.Result
	for i, s := range awkwardStrings {
		recs = append(recs, httpcheck.Result{
			Index: i, URL: s, Status: 200 + i, FinalURL: awkwardStrings[(i+1)%len(awkwardStrings)],
			Redirects: i % 3, Attempts: 1 + i%2, DurationMS: durations[i%len(durations)],
			Duration: time.Duration(i) * time.Millisecond,
		})
	}
	for i, d := range durations {
		recs = append(recs, httpcheck.Result{Index: 1000 + i, DurationMS: d})
	}
	for i, s := range awkwardStrings {
		recs = append(recs, httpcheck.Result{
			Index: 2000 + i, URL: "u", Error: s, ErrorKind: httpcheck.ErrorKind(awkwardStrings[(i+2)%len(awkwardStrings)]),
			Err: errors.New(s), Attempts: 3, Status: 0,
		})
	}
	recs = append(recs, httpcheck.Result{Index: -1, Status: -2, Redirects: math.MaxInt64, Attempts: math.MinInt64})
	for _, r := range recs {
		if got, want := string(appendHTTPJSON(nil, r)), encodingJSON(t, r); got != want {
			t.Errorf("appendHTTPJSON(%+v)\n got %s\nwant %s", r, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range awkwardStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendJSONString(nil, s)), encodingJSON(t, s); got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

func FuzzAppendJSONFloat(f *testing.F) {
	for _, v := range []float64{0, -0.5, 1e-6, 9.99e-7, 1e21, 9.99e20, 5e-324, math.MaxFloat64, 122.011} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return // encoding/json refuses them; a duration never is one
		}
		if got, want := string(appendJSONFloat(nil, v)), encodingJSON(t, v); got != want {
			t.Errorf("appendJSONFloat(%v) = %s, want %s", v, got, want)
		}
	})
}

// BenchmarkHTTPRecordJSONL writes a typical `fanout http` record in jsonl,
// as the output writer does for each check: by appendHTTPJSON, and by
// encoding/json as before it.
func BenchmarkHTTPRecordJSONL(b *testing.B) {
	r := httpcheck.Result{
		Index: 12345, URL: "http://127.0.0.1:41234/status/200?delay=50ms&i=12345", Status: 200,
		FinalURL: "http://127.0.0.1:41234/status/200?delay=50ms&i=12345", Attempts: 1, DurationMS: 51.234,
	}
	for _, enc := range []string{"append", "encoding-json"} {
		b.Run(enc, func(b *testing.B) {
			spec := httpRecords()
			if enc == "encoding-json" {
				spec.JSON = nil
			}
			w := NewWriter(io.Discard, JSONL, spec, false)
			defer w.Close()
			b.ReportAllocs()
			for b.Loop() {
				if err := w.Write(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestStatusClass(t *testing.T) {
	for status := -1000; status <= 1100; status++ {
		if got, want := statusClass(status), strconv.Itoa(status/100)+"xx"; got != want {
			t.Fatalf("statusClass(%d) = %q, want %q", status, got, want)
		}
	}
}
