package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/fanout-go/fanout/httpcheck"
)

// binDir holds the fanout binary the end-to-end tests build once.
var (
	binDir   string
	buildMu  sync.Mutex
	binPath  string
	buildErr error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// binary builds cmd/fanout once and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if binPath == "" && buildErr == nil {
		binDir, buildErr = os.MkdirTemp("", "fanout-e2e-")
		if buildErr == nil {
			binPath = filepath.Join(binDir, "fanout")
			out, err := exec.Command("go", "build", "-o", binPath, "github.com/fanout-go/fanout/cmd/fanout").CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			}
		}
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// runCLI runs a subcommand in-process with stdin and captured output.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut}
	err = Run(context.Background(), env, args)
	return out.String(), errOut.String(), err
}

// decode parses JSON-lines output.
func decode(t *testing.T, out string) []httpcheck.Result {
	t.Helper()
	var recs []httpcheck.Result
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r httpcheck.Result
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("output is not JSON lines: %v\n%s", err, out)
		}
		recs = append(recs, r)
	}
	return recs
}

func recordIndexes(recs []httpcheck.Result) []int {
	var out []int
	for _, r := range recs {
		out = append(out, r.Index)
	}
	return out
}

func isUsage(err error) bool {
	var usage *UsageError
	return errors.As(err, &usage)
}

// binaryCmd returns a command running the built binary with args.
func binaryCmd(t *testing.T, args ...string) *exec.Cmd {
	return exec.CommandContext(t.Context(), binary(t), args...)
}
