package lambdainvoke_test

import (
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/fanout-go/fanout/lambdainvoke"
	"github.com/fanout-go/fanout/lambdainvoke/lambdatest"
)

// TestCABundle checks that AWS_CA_BUNDLE still reaches the HTTP client
// the invoker builds: an HTTPS endpoint with a private CA works with the
// bundle, and fails verification without it (once: a certificate does not
// get better by retrying).
func TestCABundle(t *testing.T) {
	s := startServer(t, lambdatest.Options{})
	target, _ := url.Parse(s.URL())
	rp := httputil.NewSingleHostReverseProxy(target)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	rp.Transport = tr
	proxy := httptest.NewUnstartedServer(rp)
	proxy.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	proxy.StartTLS()
	defer proxy.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw})
	if err := os.WriteFile(bundle, cert, 0o600); err != nil {
		t.Fatal(err)
	}

	iv, e := newInvoker(t, proxy.URL, lambdainvoke.Template{}, lambdainvoke.Config{Retries: 2}, 1)
	got := invokeAll(t, t.Context(), iv, e, `{"tls":false}`)
	if r := got[0]; kindOf(r) != "connect" || r.Attempts != 1 || r.MayHaveRun {
		t.Errorf("without the bundle: %+v", r)
	}

	t.Setenv("AWS_CA_BUNDLE", bundle)
	iv, e = newInvoker(t, proxy.URL, lambdainvoke.Template{}, lambdainvoke.Config{}, 1)
	got = invokeAll(t, t.Context(), iv, e, `{"tls":true}`)
	if r := got[0]; r.Err != nil || string(r.Response) != `{"tls":true}` {
		t.Errorf("with AWS_CA_BUNDLE: %+v", r)
	}
}
