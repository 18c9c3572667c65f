// Command compare runs `fanout http`, `fanout lambda` and `fanout exec` side by side with
// the tools their users would pick instead, on the same machine, in the same
// run, against the project's own loopback servers, and prints a Markdown
// table of the results to stdout.
//
//	cd bench && go run ./compare [-quick] [-rounds N] [-httpx=false] [-o FILE]
//
// It first builds `fanout`, the test servers and projectdiscovery httpx
// v1.11.0 (in a scratch module under the user cache directory; cached after
// the first build). Then, where `unshare -n` works (as root), it runs itself
// again inside a new network namespace with only the loopback interface up,
// so that the servers and every contender share a network from which nothing
// can leave. See bench/README.md for the workloads and the latest figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
)

// config is what the flags select.
type config struct {
	quick  bool
	rounds int
	httpx  bool
	rush   bool
	netns  bool
	only   string
	adapt  bool // -adaptive: the adaptive per-host workload only (adaptive.go)
	concs  string
	out    string
	before string // a git revision whose fanout runs beside this one

	// Set by the outer process for the one it starts in the namespace.
	inner    bool
	bin      string
	isolated bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fanout: compare: %v\n", err)
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() > 0 {
			os.Exit(exit.ExitCode())
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	var cfg config
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.BoolVar(&cfg.quick, "quick", false, "small workloads and one round: a smoke run of a minute or two")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds per workload; the table shows medians (ignored with -quick: 1)")
	fs.BoolVar(&cfg.httpx, "httpx", true, "build and run projectdiscovery httpx v1.11.0")
	fs.BoolVar(&cfg.rush, "rush", true, "build and run rush "+rushVersion+" in the exec workloads")
	fs.BoolVar(&cfg.netns, "netns", true, "run inside a new network namespace (unshare -n) when possible")
	fs.StringVar(&cfg.only, "only", "", "run only the workloads whose name contains this text (or one of several, separated by |)")
	fs.BoolVar(&cfg.adapt, "adaptive", false, "run only the adaptive per-host workload: --adaptive against fixed --per-host values")
	fs.StringVar(&cfg.concs, "conc", "", "run only at these concurrencies (comma-separated)")
	fs.StringVar(&cfg.out, "o", "", "also write the Markdown report to this file")
	fs.StringVar(&cfg.before, "before", "", "also run fanout built from this git revision (rows marked before)")
	fs.BoolVar(&cfg.inner, "inner", false, "internal: run the workloads with the binaries in -bin")
	fs.StringVar(&cfg.bin, "bin", "", "internal: directory of the built binaries")
	fs.BoolVar(&cfg.isolated, "isolated", false, "internal: running inside the namespace")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.quick {
		cfg.rounds = 1
	}
	if cfg.rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1")
	}
	if cfg.inner {
		return runWorkloads(ctx, cfg)
	}

	if err := checkTools(); err != nil {
		return err
	}
	bin, err := os.MkdirTemp("", "fanout-compare-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	if err := buildAll(ctx, bin, cfg.httpx, cfg.rush, cfg.before); err != nil {
		return err
	}
	cfg.bin = bin
	if cfg.netns && canUnshare(ctx) {
		return reexecIsolated(ctx, args, bin)
	}
	logf("running without a private network namespace (unshare -n is not available)")
	return runWorkloads(ctx, cfg)
}

// canUnshare reports whether this process may make a network namespace.
func canUnshare(ctx context.Context) bool {
	return exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", "ip link set lo up").Run() == nil
}

// reexecIsolated runs this program again inside a new network namespace
// whose loopback interface is up; the servers and every contender then run
// in that namespace. The builds happen before, outside: they need the
// module proxy.
func reexecIsolated(ctx context.Context, args []string, bin string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	inner := append([]string{"-n", "sh", "-c", `ip link set lo up && exec "$0" "$@"`, self,
		"-inner", "-isolated", "-bin", bin}, args...)
	cmd := exec.CommandContext(ctx, "unshare", inner...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	return cmd.Run()
}

// checkTools fails early, with the Debian package to install, when a tool
// the contenders need is missing.
func checkTools() error {
	need := map[string]string{
		"curl":          "curl",
		"xargs":         "findutils",
		"python3":       "python3",
		"/usr/bin/time": "time",
		"ip":            "iproute2",
	}
	var missing []string
	for tool, pkg := range need {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", filepath.Base(tool), pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing tools: %v", missing)
	}
	return nil
}

// logf writes a progress message to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fanout: compare: "+format+"\n", args...)
}
