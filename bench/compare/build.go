package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// httpxVersion is the projectdiscovery httpx release the harness builds.
const httpxVersion = "v1.11.0"

// buildAll builds fanout, the two test servers and the bare Go client
// (the floor) from this checkout into bin, and httpx and rush from their modules when withHTTPX and withRush
// are set. A piece that does not
// build is reported and left out (its file bin/NAME.err says why); only a
// checkout where nothing builds is an error.
func buildAll(ctx context.Context, bin string, withHTTPX, withRush bool, before string) error {
	root, err := repoRoot(ctx)
	if err != nil {
		return err
	}
	built := 0
	for name, pkg := range map[string]string{
		"fanout":       "./cmd/fanout",
		"testserver":   "./cmd/fanout/internal/cmd/testserver",
		"lambdaserver": "./cmd/fanout/internal/cmd/lambdaserver",
		"bare":         "./bench/bare",
	} {
		logf("building %s", pkg)
		out, err := goCmd(ctx, root, "build", "-o", filepath.Join(bin, name), pkg)
		if err != nil {
			logf("cannot build %s: %v", pkg, err)
			writeErr(bin, name, fmt.Sprintf("%s does not build: %s", pkg, lastLine(out)))
			continue
		}
		built++
	}
	if built == 0 {
		return fmt.Errorf("nothing could be built in %s", root)
	}
	if !withRush {
		writeErr(bin, "rush", "not run (-rush=false)")
	} else if path, err := buildRush(ctx); err != nil {
		logf("cannot build rush %s, going on without it: %v", rushVersion, err)
		writeErr(bin, "rush", fmt.Sprintf("rush %s could not be built: %v", rushVersion, err))
	} else if err := os.Symlink(path, filepath.Join(bin, "rush")); err != nil {
		return err
	}
	if before != "" {
		if err := buildBefore(ctx, root, before, bin); err != nil {
			logf("cannot build fanout at %s: %v", before, err)
			writeErr(bin, "fanout-before", fmt.Sprintf("fanout at %s does not build: %v", before, err))
		}
	}
	if !withHTTPX {
		writeErr(bin, "httpx", "not run (-httpx=false)")
		return nil
	}
	path, err := buildHTTPX(ctx)
	if err != nil {
		logf("cannot build httpx %s, going on without it: %v", httpxVersion, err)
		writeErr(bin, "httpx", fmt.Sprintf("httpx %s could not be built: %v", httpxVersion, err))
		return nil
	}
	return os.Symlink(path, filepath.Join(bin, "httpx"))
}

// rushVersion is the shenwei356/rush release the harness builds.
const rushVersion = "v0.9.0"

// buildBefore builds fanout as it was at the git revision rev, from a copy
// of that tree (git archive), into bin/fanout-before.
func buildBefore(ctx context.Context, root, rev, bin string) error {
	src, err := os.MkdirTemp("", "fanout-compare-before-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	logf("building fanout at %s", rev)
	archive := exec.CommandContext(ctx, "sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, rev, src)
	if out, err := archive.CombinedOutput(); err != nil {
		return fmt.Errorf("git archive: %w: %s", err, lastLine(string(out)))
	}
	if out, err := goCmd(ctx, src, "build", "-o", filepath.Join(bin, "fanout-before"), "./cmd/fanout"); err != nil {
		return fmt.Errorf("go build: %w: %s", err, lastLine(out))
	}
	return nil
}

// buildHTTPX builds httpx in a scratch module under the user cache
// directory and returns the binary's path; a binary built before is reused.
func buildHTTPX(ctx context.Context) (string, error) {
	logf("building httpx %s (about 90 s the first time)", httpxVersion)
	return buildScratch(ctx, "httpx", "github.com/projectdiscovery/httpx", httpxVersion, "github.com/projectdiscovery/httpx/cmd/httpx")
}

// buildRush builds rush (a Go module, like httpx) the same way.
func buildRush(ctx context.Context) (string, error) {
	logf("building rush %s", rushVersion)
	return buildScratch(ctx, "rush", "github.com/shenwei356/rush", rushVersion, "github.com/shenwei356/rush")
}

// buildScratch builds the command pkg of module at version in a scratch
// module under the user cache directory (a go.mod requiring it, a tools.go
// importing the command, go mod tidy, go build) and returns the binary's
// path; a binary built before is reused.
func buildScratch(ctx context.Context, name, module, version, pkg string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "fanout-bench", name+"-"+version)
	exe := filepath.Join(dir, name)
	if _, err := os.Stat(exe); err == nil {
		return exe, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	gomod := "module scratch/" + name + "\n\ngo 1.26\n\nrequire " + module + " " + version + "\n"
	// A tools file keeps the requirement through `go mod tidy`; its build
	// tag keeps it out of every build.
	tools := "//go:build tools\n\npackage tools\n\nimport _ \"" + pkg + "\"\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "tools.go"), []byte(tools), 0o644); err != nil {
		return "", err
	}
	if out, err := goCmd(ctx, dir, "mod", "tidy"); err != nil {
		return "", fmt.Errorf("go mod tidy: %w: %s", err, lastLine(out))
	}
	tmp := exe + ".tmp"
	// -mod=mod lets the build settle go.sum entries tidy left out; it
	// only ever touches the scratch module.
	if out, err := goCmd(ctx, dir, "build", "-mod=mod", "-o", tmp, pkg); err != nil {
		return "", fmt.Errorf("go build: %w: %s", err, lastLine(out))
	}
	return exe, os.Rename(tmp, exe)
}

// repoRoot is the directory of the fanout module this bench module
// replaces with the checkout.
func repoRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/fanout-go/fanout").Output()
	if err != nil {
		return "", fmt.Errorf("locate the fanout checkout (run from bench/): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// goCmd runs the go command in dir and returns its combined output.
func goCmd(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// writeErr records why the binary name is missing from bin.
func writeErr(bin, name, reason string) {
	_ = os.WriteFile(filepath.Join(bin, name+".err"), []byte(reason), 0o644)
}

// missingReason says why bin has no binary name, or "" when it has one.
func missingReason(bin, name string) string {
	if _, err := os.Stat(filepath.Join(bin, name)); err == nil {
		return ""
	}
	if b, err := os.ReadFile(filepath.Join(bin, name+".err")); err == nil {
		return string(b)
	}
	return name + " is missing"
}

// lastLine is the last line of s: go reports a failure there.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
