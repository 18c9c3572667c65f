package trace

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// chromium returns the path of a Chromium binary, or "" when there is none.
func chromium() string {
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// trap is a loopback listener given to Chromium as its HTTP proxy: every
// request the page (or the browser) makes reaches it, and it records the
// request line (GET http://host/path, or CONNECT host:443) and answers
// nothing. With a proxy, Chromium leaves name resolution to it, and
// --host-resolver-rules stops any lookup of its own, so nothing leaves
// loopback.
type trap struct {
	ln       net.Listener
	mu       sync.Mutex
	requests []string
	wg       sync.WaitGroup
}

func newTrap(t *testing.T) *trap {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &trap{ln: ln}
	tr.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.wg.Go(func() {
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				tr.mu.Lock()
				tr.requests = append(tr.requests, strings.TrimSpace(line))
				tr.mu.Unlock()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		tr.wg.Wait()
	})
	return tr
}

// chromiumOwn are requests headless Chromium makes by itself whatever the
// page (network time, component updates, account checks) and that no flag
// turns off; anything else came from the page. Chromium 148 (Debian
// bookworm) also connects to www.google.com five times for an empty page or
// about:blank, with or without --disable-features for the optimization
// guide, --no-pings and the safe-browsing flags.
var chromiumOwn = []string{
	"GET http://clients2.google.com/time/",
	"POST http://update.googleapis.com/service/update2/",
	"CONNECT update.googleapis.com:443 ",
	"CONNECT accounts.google.com:443 ",
	"CONNECT www.google.com:443 ",
}

// taken returns the requests since the last call, apart from Chromium's
// own, which it logs.
func (tr *trap) taken(t *testing.T) []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []string
	ignored := 0
	for _, r := range tr.requests {
		own := false
		for _, p := range chromiumOwn {
			own = own || strings.HasPrefix(r, p)
		}
		if own {
			ignored++
		} else if r != "" { // a preconnected socket closed unused sends nothing
			out = append(out, r)
		}
	}
	if ignored > 0 {
		t.Logf("ignored %d background requests Chromium makes by itself", ignored)
	}
	tr.requests = nil
	return out
}

// browse runs headless Chromium on the page at path with extra flags, all
// traffic sent to the trap, and returns its standard output.
func browse(t *testing.T, bin string, tr *trap, path string, flags ...string) string {
	t.Helper()
	// A guard against a hung browser, not a speed requirement.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(),
		"--proxy-server=http://" + tr.ln.Addr().String(), "--proxy-bypass-list=<-loopback>",
		"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
	}
	args = append(append(args, flags...), "file://"+path)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", flags, err, stderr.Bytes())
	}
	return stdout.String()
}

// TestBrowserRendersTimeline loads a generated timeline in headless
// Chromium and checks what it rendered, that it asked for nothing over the
// network, and saves a screenshot (kept with go test -artifacts).
func TestBrowserRendersTimeline(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("chromium not found at /usr/bin/chromium or on PATH: install the Debian package (apt-get install -y chromium) to run the browser test")
	}
	tr := newTrap(t)
	dir := t.ArtifactDir()

	// First prove the trap sees a page's fetch, so that seeing none below
	// means something.
	probe := filepath.Join(t.TempDir(), "probe.html")
	if err := os.WriteFile(probe, []byte(`<!DOCTYPE html><img src="http://probe.example/pixel.png">`), 0o644); err != nil {
		t.Fatal(err)
	}
	browse(t, bin, tr, probe, "--dump-dom")
	if got := tr.taken(t); !slices.ContainsFunc(got, func(r string) bool { return strings.HasPrefix(r, "GET http://probe.example/pixel.png") }) {
		t.Fatalf("the proxy trap did not see the probe page's fetch; it saw %q", got)
	}

	t.Run("300 tasks", func(t *testing.T) {
		r := demoRecorder(300, 8)
		s := r.Summary()
		page := filepath.Join(dir, "timeline.html")
		if err := r.WriteHTMLFile(page); err != nil {
			t.Fatal(err)
		}
		dom := browse(t, bin, tr, page, "--dump-dom")
		if !strings.Contains(dom, `<dd id="tasks">300</dd>`) {
			t.Errorf("rendered summary does not show 300 tasks")
		}
		if n := len(rectRe.FindAllString(dom, -1)); n != s.Started {
			t.Errorf("rendered %d bars, want %d", n, s.Started)
		}
		for _, id := range []string{`id="timeline"`, `id="lanes"`, `id="concurrency"`, `id="legend"`, `id="slowest"`} {
			if !strings.Contains(dom, id) {
				t.Errorf("rendered DOM lacks %s", id)
			}
		}
		if strings.Contains(dom, "<script>alert") {
			t.Errorf("a label became markup in the browser")
		}
		shot := filepath.Join(dir, "timeline.png")
		browse(t, bin, tr, page, "--screenshot="+shot, "--window-size=1400,900", "--hide-scrollbars")
		checkPNG(t, shot)
		t.Logf("screenshot: %s", shot)
	})

	t.Run("100000 tasks", func(t *testing.T) {
		r := demoRecorder(100_000, 64)
		page := filepath.Join(dir, "timeline-100k.html")
		if err := r.WriteHTMLFile(page); err != nil {
			t.Fatal(err)
		}
		dom := browse(t, bin, tr, page, "--dump-dom")
		if !strings.Contains(dom, `<dd id="tasks">100000</dd>`) || !strings.Contains(dom, `id="aggregated"`) {
			t.Errorf("rendered page lacks the task count or the aggregated notice")
		}
		shot := filepath.Join(dir, "timeline-100k.png")
		browse(t, bin, tr, page, "--screenshot="+shot, "--window-size=1400,900", "--hide-scrollbars")
		checkPNG(t, shot)
		t.Logf("screenshot: %s", shot)
	})

	if got := tr.taken(t); len(got) != 0 {
		t.Errorf("the timeline pages made network requests: %q", got)
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 10_000 {
		t.Errorf("screenshot %s is not a plausible PNG (%s bytes)", path, strconv.Itoa(len(b)))
	}
}
