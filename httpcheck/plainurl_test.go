package httpcheck

import (
	"net/url"
	"testing"
)

// plainURLs are URLs as lists hold them, and near misses.
var plainURLs = []string{
	"http://127.0.0.1:8080/status/200?delay=50ms&i=1",
	"https://example.test/",
	"http://example.test",
	"http://Example.TEST:80/a/../b//c?q=1;r=2&s=%zz#frag",
	"http://h/a%2Fb%20c?x=%41",
	"http://h/a b",
	"http://h/é",
	"http://h/?",
	"http://h:/",
	"http://user:pw@h/",
	"http://[::1]:80/",
	"http://h/a[b]",
	"HTTP://h/",
	"http://h/*",
	"http://h/~user/_x-y.z!$'()*+,;=:@",
	"http://h/a\"b",
	"http://h/a<b>",
	"http://h/a|b{c}",
	"http://h%41/",
}

// FuzzPlainURL checks that every URL plainURL accepts prints as itself.
func FuzzPlainURL(f *testing.F) {
	for _, s := range plainURLs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !plainURL(raw) {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			return // parse reports it; no final URL
		}
		if got := u.String(); got != raw {
			t.Errorf("plainURL(%q), but it prints as %q", raw, got)
		}
	})
}

func TestPlainURL(t *testing.T) {
	plain := map[string]bool{
		"http://127.0.0.1:8080/status/200?delay=50ms&i=1": true,
		"https://example.test/":                           true,
		"http://example.test":                             true,
		"http://h/a%2Fb%20c?x=%41":                        true,
		"http://h/a b":                                    false,
		"http://h/é":                                      false,
		"http://user:pw@h/":                               false,
		"http://[::1]:80/":                                false,
		"HTTP://h/":                                       false,
		"http://h/#frag":                                  false,
	}
	for raw, want := range plain {
		if got := plainURL(raw); got != want {
			t.Errorf("plainURL(%q) = %v, want %v", raw, got, want)
		}
	}
}
