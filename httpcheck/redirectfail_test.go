package httpcheck_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/fanout-go/fanout/httpcheck"
)

// A check whose redirect leads to a request that fails, or to a Location
// no request can go to, still says how many redirects it followed and
// where it ended. Before, such a record had 0 redirects and no final URL,
// as if the URL checked had failed by itself.
func TestRedirectThenFailureKeepsTheRedirects(t *testing.T) {
	closed := closedPortURL(t) + "gone"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-closed":
			http.Redirect(w, r, "/hop?to="+url.QueryEscape(closed), http.StatusFound)
		case "/hop":
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		case "/to-bad-port":
			w.Header().Set("Location", "http://127.0.0.1:99999/x")
			w.WriteHeader(http.StatusFound)
		}
	}))
	t.Cleanup(srv.Close)
	c, e := newChecker(t, httpcheck.Config{}, 4)
	got := checkAll(t.Context(), c, e, srv.URL+"/to-closed", srv.URL+"/to-bad-port")

	if r := got[0]; r.ErrorKind != httpcheck.KindConnect || r.Redirects != 2 || r.FinalURL != closed {
		t.Errorf("redirected to a closed port: kind %q, %d redirects, final URL %q; want connect, 2, %q", r.ErrorKind, r.Redirects, r.FinalURL, closed)
	}
	// The Location's port no connection can have: the server's mistake,
	// found without a request. The final URL is the one that answered.
	if r := got[1]; r.Err == nil || r.ErrorKind == httpcheck.KindConnect || r.Redirects != 0 || r.FinalURL != srv.URL+"/to-bad-port" || r.Attempts != 1 {
		t.Errorf("redirected to port 99999: kind %q (%q), %d redirects, final URL %q, %d attempts; want an error other than connect, 0 redirects, %q, 1 attempt",
			r.ErrorKind, r.Error, r.Redirects, r.FinalURL, r.Attempts, srv.URL+"/to-bad-port")
	}
}
