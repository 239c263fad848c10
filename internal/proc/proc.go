// Package proc reads what the agents need to know about a process from
// /proc: whether it still runs and which pid a pid file names. The agents
// that start a daemon and must prove it gone on stop share it.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goha-ha/goha/internal/atomicfile"
)

// ErrGone is returned for a process that does not exist (any more).
var ErrGone = errors.New("no such process")

// State is the state letter of /proc/<pid>/stat (R, S, D, Z, ...), or
// ErrGone.
func State(pid int) (byte, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return 0, ErrGone
	}
	if err != nil {
		return 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	return StatState(raw)
}

// StatState parses the state field of a stat line, which follows the
// parenthesised command name (itself free to contain spaces and
// parentheses).
func StatState(raw []byte) (byte, error) {
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 || i+2 >= len(raw) {
		return 0, fmt.Errorf("malformed stat %q", raw)
	}
	return raw[i+2], nil
}

// Alive reports whether pid exists and is neither a zombie nor dead.
func Alive(pid int) bool {
	s, err := State(pid)
	return err == nil && s != 'Z' && s != 'X'
}

// ReadPidFile returns the pid recorded in path; 0 when there is no file or
// it holds no positive number.
func ReadPidFile(path string) (int, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read pid file %s: %w", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return 0, nil // garbage: as good as no pid file
	}
	return pid, nil
}

// Terminate ends pids: SIGTERM (a daemon's clean shutdown), then SIGKILL at
// killAt, then waits until ctx ends. It succeeds only when every process is
// gone, so a stop built on it never reports success over a survivor.
func Terminate(ctx context.Context, pids []int, killAt time.Time) error {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	killed := false
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		alive := pids[:0:0]
		for _, pid := range pids {
			if Alive(pid) {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 {
			return nil
		}
		if !killed && time.Now().After(killAt) {
			for _, pid := range alive {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			killed = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pid %v still running: %w", alive, ctx.Err())
		case <-tick.C:
		}
	}
}

// WritePidFile records pid in path, replacing the file whole, so that a
// concurrent ReadPidFile sees the old pid or the new one.
func WritePidFile(path string, pid int) error {
	return atomicfile.Write(path, []byte(strconv.Itoa(pid)+"\n"), 0o644)
}
