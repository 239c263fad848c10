package osm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// maxOutput bounds how much of a command's output the agent keeps.
const maxOutput = 4096

// runner runs the service's commands.
type runner interface {
	// Run runs argv without a shell and returns its exit code (-1 when a
	// signal ended it), its output, and an error when it could not run.
	Run(ctx context.Context, argv []string) (code int, output string, err error)
	// LookPath finds a command's program as exec.LookPath does.
	LookPath(program string) (string, error)
}

// commands runs programs on this node.
type commands struct{}

func (commands) LookPath(program string) (string, error) { return exec.LookPath(program) }

// Run gives the command a file, not a pipe, for its output: a daemon that
// a start command leaves behind keeps its inherited descriptors open,
// and the agent must not wait for it to close them.
func (commands) Run(ctx context.Context, argv []string) (int, string, error) {
	out, err := os.CreateTemp("", "goha-osm-*.out")
	if err != nil {
		return -1, "", fmt.Errorf("create output file: %w", err)
	}
	os.Remove(out.Name())
	defer out.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	// The service must outlive the agent's session and process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	runErr := cmd.Run()
	text := make([]byte, maxOutput)
	n, _ := out.ReadAt(text, 0)
	output := string(text[:n])
	var ee *exec.ExitError
	switch {
	case runErr == nil:
		return 0, output, nil
	case ctx.Err() != nil:
		return -1, output, fmt.Errorf("%s: %w", argv[0], ctx.Err())
	case errors.As(runErr, &ee):
		return ee.ExitCode(), output, nil
	}
	return -1, output, runErr
}
