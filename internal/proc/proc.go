// Package proc reads what the agents need to know about a process from
// /proc: whether it still runs and which pid a pid file names. The agents
// that start a daemon and must prove it gone on stop share it.
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
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
