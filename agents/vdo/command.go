package vdo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// runner runs a program with an argv, no shell, and returns its output.
type runner interface {
	Run(ctx context.Context, argv []string) ([]byte, error)
}

// commandError is a program that failed: its argv and what it said.
type commandError struct {
	Argv   []string
	Code   int // exit status, -1 when it did not run or was killed
	Stderr string
	Err    error
}

func (e *commandError) Error() string {
	name := filepath.Base(e.Argv[0])
	if len(e.Argv) > 1 {
		name += " " + e.Argv[1]
	}
	msg := oneLine(e.Stderr)
	if msg == "" {
		return fmt.Sprintf("%s: %v", name, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", name, e.Err, msg)
}

func (e *commandError) Unwrap() error { return e.Err }

// oneLine joins the non-empty lines of what a tool printed on stderr
// with "; ", cut to a length an exit reason can show.
func oneLine(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	msg := strings.Join(lines, "; ")
	if len(msg) > 400 {
		msg = msg[:400] + "..."
	}
	return msg
}

// execRunner runs programs on this host in the C locale.
type execRunner struct{}

func (execRunner) Run(ctx context.Context, argv []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LVM_SUPPRESS_FD_WARNINGS=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		ce := &commandError{Argv: argv, Code: -1, Stderr: stderr.String(), Err: err}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ce.Code = ee.ExitCode()
		}
		return stdout.Bytes(), ce
	}
	return stdout.Bytes(), nil
}
