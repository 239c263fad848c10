// Package testbuild builds goha's programs from this tree for the tests
// that run them as Pacemaker would, as separate processes: the binary under
// test is always the one of the tree being tested, never one from PATH.
package testbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Main builds the main package pkg, a path relative to the module root
// such as "./agents/vip/internal/vipcmd", into dir/name (static, as the
// packages ship it) and returns the binary's path.
func Main(dir, name, pkg string) (string, error) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			return "", fmt.Errorf("find the go tool: %w", err)
		}
	}
	mod, err := exec.Command(gobin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command(gobin, "build", "-o", out, pkg)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(mod)))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// Once builds one program for every test of a test binary, on first use,
// into a directory of its own that ocf-tester's meta-data call (run as
// nobody) can read. TestMain calls Remove after m.Run.
type Once struct {
	Name string // the binary's file name
	Pkg  string // as for Main
	once sync.Once
	dir  string
	path string
	err  error
}

// Path builds the program on the first call and returns it; a failed
// build fails t.
func (o *Once) Path(t testing.TB) string {
	t.Helper()
	o.once.Do(func() {
		if o.dir, o.err = os.MkdirTemp("", "goha-"+o.Name+"-"); o.err != nil {
			return
		}
		if o.err = os.Chmod(o.dir, 0o755); o.err != nil {
			return
		}
		o.path, o.err = Main(o.dir, o.Name, o.Pkg)
	})
	if o.err != nil {
		t.Fatal(o.err)
	}
	return o.path
}

// Remove deletes what Path built.
func (o *Once) Remove() {
	if o.dir != "" {
		os.RemoveAll(o.dir)
	}
}
