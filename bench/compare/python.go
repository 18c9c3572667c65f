package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// pythonFile is the file the Python workload's URLs ask for.
const pythonFile = "ok.txt"

// pythonServer is a running `python3 -m http.server`.
type pythonServer struct {
	cmd *exec.Cmd
	url string // http://127.0.0.1:PORT
}

var servingLine = regexp.MustCompile(`port (\d+)`)

// startPython serves dir/ok.txt with `python3 -u -m http.server 0` on
// 127.0.0.1 and returns once it listens: it prints its port then.
func startPython(ctx context.Context, work string) (*pythonServer, error) {
	dir := filepath.Join(work, "www")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, pythonFile), []byte("ok\n"), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", dir)
	cmd.Env = contenderEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// Its request log goes to stderr: one line per request, dropped.
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &pythonServer{cmd: cmd}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		for sc.Scan() {
		}
		close(found)
	}()
	select {
	case port, ok := <-found:
		if !ok {
			s.stop()
			return nil, fmt.Errorf("python3 -m http.server printed no port")
		}
		s.url = "http://127.0.0.1:" + strings.TrimSpace(port)
		return s, nil
	case <-time.After(20 * time.Second):
		s.stop()
		return nil, fmt.Errorf("python3 -m http.server did not start in 20 s")
	}
}

// stop ends the server and waits for it.
func (s *pythonServer) stop() {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.cmd.Wait()
}
