package testserver

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/status/{code}", s.status)
	mux.HandleFunc("/status/{code}/{name}", s.status)
	mux.HandleFunc("/only/{method}", s.only)
	mux.HandleFunc("/redirect/{n}", s.redirect)
	mux.HandleFunc("/loop", s.loop)
	mux.HandleFunc("/flaky/{key}", s.flaky)
	mux.HandleFunc("/reset", s.reset)
	mux.HandleFunc("/close", s.closeConn)
	mux.HandleFunc("/hang", s.hang)
	mux.HandleFunc("/stream", s.stream)
	mux.HandleFunc("/slow-headers", s.slowHeaders)
	mux.HandleFunc("/capacity/{pool}", s.capacity)
	return mux
}

// status answers /status/{code}?delay=D.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.PathValue("code"))
	if err != nil || code < 100 || code > 999 {
		http.Error(w, "bad status code", http.StatusBadRequest)
		return
	}
	delay, ok := durationParam(w, r, "delay", 0)
	if !ok {
		return
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.done:
			panic(http.ErrAbortHandler) // no answer from a closed server
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, "%d %s\n", code, http.StatusText(code))
}

// only answers /only/{method}: 200 for that method, 405 for the others.
func (s *Server) only(w http.ResponseWriter, r *http.Request) {
	want := strings.ToUpper(r.PathValue("method"))
	if r.Method != want {
		w.Header().Set("Allow", want)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Write([]byte("ok\n"))
}

// redirect answers /redirect/{n}.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		http.Error(w, "bad redirect count", http.StatusBadRequest)
		return
	}
	if n == 0 {
		w.Write([]byte("ok\n"))
		return
	}
	http.Redirect(w, r, "/redirect/"+strconv.Itoa(n-1), http.StatusFound)
}

// loop answers /loop with a redirect to itself.
func (s *Server) loop(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/loop", http.StatusFound)
}

// flaky answers /flaky/{key}?fail=K&status=S&retry-after=R.
func (s *Server) flaky(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fail, err := intParam(q.Get("fail"), 1)
	if err != nil {
		http.Error(w, "bad fail count", http.StatusBadRequest)
		return
	}
	status, err := intParam(q.Get("status"), http.StatusTooManyRequests)
	if err != nil || status < 100 || status > 999 {
		http.Error(w, "bad status", http.StatusBadRequest)
		return
	}
	key := r.PathValue("key")
	s.mu.Lock()
	s.byKey[key]++
	call := s.byKey[key]
	s.mu.Unlock()
	if call > fail {
		w.Write([]byte("ok\n"))
		return
	}
	switch after := q.Get("retry-after"); after {
	case "":
		w.Header().Set("Retry-After", "0")
	case "none":
	default:
		w.Header().Set("Retry-After", after)
	}
	http.Error(w, http.StatusText(status), status)
}

// reset answers /reset by resetting the connection.
func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	conn, _, ok := hijack(w)
	if !ok {
		return
	}
	// A zero linger makes Close send RST instead of FIN.
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// closeConn answers /close by closing the connection without a response.
func (s *Server) closeConn(w http.ResponseWriter, r *http.Request) {
	if conn, _, ok := hijack(w); ok {
		conn.Close()
	}
}

// hang answers /hang by never answering.
func (s *Server) hang(w http.ResponseWriter, r *http.Request) {
	if s.wait(r.Context()) == errClosed {
		panic(http.ErrAbortHandler) // no answer from a closed server
	}
}

// stream answers /stream with an endless body.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	chunk := []byte(strings.Repeat("fanout testserver stream\n", 1300)) // ~32 KiB
	rc := http.NewResponseController(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		default:
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// slowHeaders answers /slow-headers?interval=D&count=N, writing the header
// lines one at a time on the raw connection.
func (s *Server) slowHeaders(w http.ResponseWriter, r *http.Request) {
	interval, ok := durationParam(w, r, "interval", 100*time.Millisecond)
	if !ok {
		return
	}
	count, err := intParam(r.URL.Query().Get("count"), 20)
	if err != nil || count < 0 {
		http.Error(w, "bad count", http.StatusBadRequest)
		return
	}
	conn, buf, ok := hijack(w)
	if !ok {
		return
	}
	defer conn.Close()
	// After a hijack the request's context no longer tells when the client
	// leaves; a failed write does, and Close releases the wait below.
	if !writeFlush(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n") {
		return
	}
	tick := time.NewTicker(max(interval, time.Millisecond))
	defer tick.Stop()
	for i := range count {
		select {
		case <-tick.C:
		case <-s.done:
			return
		}
		if !writeFlush(buf, fmt.Sprintf("X-Slow-%d: %d\r\n", i, i)) {
			return
		}
	}
	writeFlush(buf, "Content-Length: 3\r\nConnection: close\r\n\r\nok\n")
}

func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, bool) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot hijack; fail loudly rather than pretend.
		http.Error(w, "cannot hijack: "+err.Error(), http.StatusHTTPVersionNotSupported)
		return nil, nil, false
	}
	return conn, buf, true
}

func writeFlush(buf *bufio.ReadWriter, s string) bool {
	if _, err := buf.WriteString(s); err != nil {
		return false
	}
	return buf.Flush() == nil
}

func durationParam(w http.ResponseWriter, r *http.Request, name string, def time.Duration) (time.Duration, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		http.Error(w, "bad "+name, http.StatusBadRequest)
		return 0, false
	}
	return d, true
}

func intParam(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	return strconv.Atoi(v)
}
