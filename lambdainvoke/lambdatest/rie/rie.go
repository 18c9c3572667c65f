// Package rie builds and runs the AWS Lambda Runtime Interface Emulator on
// the loopback interface, so that tests can invoke a real aws-lambda-go
// handler through the real Lambda runtime API.
//
// The emulator is a tool dependency of the checkout's tools module
// (tools/go.mod: github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie),
// kept out of lambdainvoke's own go.mod so that its users never download it
// or inherit its go line. [Build] compiles it, and a handler such as
// [HandlerPackage], with the go command inside that module, so the pinned
// version is used and Go's build cache makes later builds quick. It needs
// the fanout source checkout, and it runs on Linux only; [Supported] says
// whether this system can run it.
//
// The emulator's quirks shape how to use it: its only function name is
// "function"; it handles one invocation at a time and crashes when two
// overlap, so callers must invoke it at concurrency 1; it ignores the
// qualifier, Event and DryRun (always a synchronous 200), sends no
// X-Amz-Function-Error (a handler error is a 200 whose body has errorType
// and errorMessage), answers a handler panic with 502, and a timeout with a
// 200 and a plain-text body.
//
// [Start] always passes loopback addresses (the emulator's default listens
// on every interface) and a minimal environment: no AWS credentials of the
// caller reach the function.
package rie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// EmulatorPackage is the import path of the emulator's command.
const EmulatorPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// HandlerPackage is the import path of the test handler, a real
// aws-lambda-go function in the tools module (see its doc for the payloads
// it understands).
const HandlerPackage = "github.com/fanout-go/fanout/tools/lambdahandler"

// FunctionName is the only function name the emulator serves.
const FunctionName = "function"

// Supported reports whether the emulator runs on this system (Linux), and
// if not, why.
func Supported() (bool, string) {
	if runtime.GOOS != "linux" {
		return false, "the Lambda Runtime Interface Emulator runs on Linux only, not " + runtime.GOOS
	}
	return true, ""
}

// Build compiles the Go package pkg (an import path that the checkout's
// tools module can build, such as [EmulatorPackage] or [HandlerPackage])
// into dir/name with the go command, for this system. Build a handler as
// "bootstrap".
func Build(ctx context.Context, dir, name, pkg string) (string, error) {
	goCmd, err := goCommand()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	// The caller's environment, so that the build cache a plain `go build`
	// warmed (as CI does for the emulator) serves this build too.
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", out, pkg)
	cmd.Dir = toolsDir()
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("rie: go build %s: %w\n%s", pkg, err, msg)
	}
	return out, nil
}

// toolsDir is the checkout's tools module, found beside this source file:
// its go.mod pins the emulator and aws-lambda-go. Within the workspace
// (go.work) any directory would do; the tools module also works without it.
func toolsDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "tools")
}

// goCommand finds the go command on $PATH, else where Go installs itself
// on Linux.
func goCommand() (string, error) {
	p, err := exec.LookPath("go")
	if err == nil {
		return p, nil
	}
	if q := "/usr/local/go/bin/go"; fileExists(q) {
		return q, nil
	}
	return "", fmt.Errorf("rie: no go command to build with: %w", err)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Options says how to run the emulator.
type Options struct {
	Emulator  string        // path of the aws-lambda-rie binary
	Bootstrap string        // path of the handler binary
	Timeout   time.Duration // the function's timeout (whole seconds; default 30s)
	Env       []string      // more environment for the function, KEY=value
	Log       io.Writer     // where the emulator's and the handler's output go (nil: kept for Log())
}

// Emulator is a running emulator. Stop it with Close.
type Emulator struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // the process's exit error, set before done closes

	closeOnce sync.Once

	logMu sync.Mutex
	log   bytes.Buffer
}

// Start starts the emulator on two free loopback ports and waits until it
// accepts connections.
func Start(ctx context.Context, o Options) (*Emulator, error) {
	if ok, why := Supported(); !ok {
		return nil, errors.New("rie: " + why)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	// A free port can be taken between its check and the emulator's
	// listen; try again with others then.
	var lastErr error
	for range 3 {
		e, err := start(ctx, o)
		if err == nil {
			return e, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, o Options) (*Emulator, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	e := &Emulator{url: "http://" + addr, done: make(chan struct{})}
	cmd := exec.Command(o.Emulator,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		"--log-level", "warn",
		o.Bootstrap)
	cmd.Dir = filepath.Dir(o.Bootstrap)
	secs := int((o.Timeout + time.Second - 1) / time.Second)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(secs),
		"AWS_LAMBDA_FUNCTION_NAME=" + FunctionName,
		"AWS_REGION=us-east-1",
	}, o.Env...)
	var out io.Writer = &lockedWriter{mu: &e.logMu, w: &e.log}
	if o.Log != nil {
		out = o.Log
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so Close can stop the handler it started
	// too, even if the emulator itself crashed.
	cmd.SysProcAttr = newProcessGroup()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("rie: start %s: %w", o.Emulator, err)
	}
	e.cmd = cmd
	go func() {
		e.err = cmd.Wait()
		close(e.done)
	}()
	if err := e.waitReady(ctx, addr); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// waitReady waits until addr accepts a connection, the process exits, or
// ctx ends (or 30 s pass).
func (e *Emulator) waitReady(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-e.done:
			return fmt.Errorf("rie: the emulator exited before it listened (%v): %s", e.err, e.Log())
		case <-ctx.Done():
			return fmt.Errorf("rie: the emulator did not listen on %s: %w", addr, ctx.Err())
		case <-tick.C:
		}
	}
}

// URL returns the emulator's base URL, such as http://127.0.0.1:41234: the
// endpoint URL to give the SDK. Invoke the function named FunctionName.
func (e *Emulator) URL() string { return e.url }

// Log returns what the emulator and the handler wrote, unless Options.Log
// took it.
func (e *Emulator) Log() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.log.String()
}

// Exited reports whether the emulator's process has exited (it does after
// overlapping invocations, for one).
func (e *Emulator) Exited() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// Close stops the emulator and waits for it to exit. On SIGTERM the
// emulator kills its handler itself; when it crashed earlier, or does not
// exit within 5 s, Close kills its process group (the emulator and the
// handler it started, nothing else).
// It is safe to call more than once.
func (e *Emulator) Close() { e.closeOnce.Do(e.stop) }

func (e *Emulator) stop() {
	if e.Exited() {
		killGroup(e.cmd.Process.Pid)
		return
	}
	terminate(e.cmd.Process)
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		killGroup(e.cmd.Process.Pid)
		<-e.done
	}
}

// freePorts returns n loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("rie: find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TB is the part of testing.TB that StartTest uses; this package does not
// import testing.
type TB interface {
	Helper()
	Fatal(args ...any)
	Skip(args ...any)
	Cleanup(func())
	Context() context.Context
	TempDir() string
}

// StartTest builds the emulator and the handler package into the test's
// temporary directory (Go's build cache makes this quick after the first
// time), starts them with the function timeout given, and stops them when
// the test ends. It skips the test where the emulator cannot run, and fails
// it when a build or the start fails.
func StartTest(t TB, handlerPkg string, timeout time.Duration) *Emulator {
	t.Helper()
	if ok, why := Supported(); !ok {
		t.Skip(why)
	}
	dir := t.TempDir()
	emulator, err := Build(t.Context(), dir, "aws-lambda-rie", EmulatorPackage)
	if err != nil {
		t.Fatal(err)
	}
	bootstrap, err := Build(t.Context(), dir, "bootstrap", handlerPkg)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Start(t.Context(), Options{Emulator: emulator, Bootstrap: bootstrap, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}
