package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goha-ha/goha/internal/proc"
)

// system is what the actions need from the operating system.
type system interface {
	// Cmdline returns a live process's argv, proc.ErrGone when it is not
	// alive.
	Cmdline(pid int) ([]string, error)
	// Find returns the live processes whose argv satisfies match.
	Find(match func(argv []string) bool) ([]int, error)
	// Session returns the live processes of session sid, its leader
	// included: the daemon and the rsync and ssh it runs.
	Session(sid int) ([]int, error)
	// Launch starts the daemon of c detached from the agent.
	Launch(c Config) (*launched, error)
	// Terminate ends pids (SIGTERM, SIGKILL at killAt) before ctx ends.
	Terminate(ctx context.Context, pids []int, killAt time.Time) error
}

// launched is a daemon that start just ran; Exited is closed when it ends.
type launched struct {
	Pid    int
	Exited <-chan struct{}
}

// host is the system the agent runs on.
type host struct{}

// Cmdline reads /proc/<pid>/cmdline of a process that is not a zombie.
func (host) Cmdline(pid int) ([]string, error) {
	if !proc.Alive(pid) {
		return nil, proc.ErrGone
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return nil, proc.ErrGone
	}
	if err != nil {
		return nil, fmt.Errorf("read cmdline of %d: %w", pid, err)
	}
	raw = bytes.TrimRight(raw, "\x00")
	if len(raw) == 0 {
		return nil, nil
	}
	return strings.Split(string(raw), "\x00"), nil
}

// Find scans /proc.
func (h host) Find(match func([]string) bool) ([]int, error) {
	var found []int
	err := eachPid(func(pid int) {
		if argv, err := h.Cmdline(pid); err == nil && match(argv) {
			found = append(found, pid)
		}
	})
	return found, err
}

// Session scans /proc for the session id in each process's stat.
func (host) Session(sid int) ([]int, error) {
	var found []int
	err := eachPid(func(pid int) {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if s, state, ok := statSession(raw); ok && s == sid && state != 'Z' && state != 'X' {
			found = append(found, pid)
		}
	})
	return found, err
}

// statSession reads the state and session fields of a /proc stat line.
func statSession(raw []byte) (sid int, state byte, ok bool) {
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 4 || len(f[0]) != 1 {
		return 0, 0, false
	}
	sid, err := strconv.Atoi(f[3])
	return sid, f[0][0], err == nil
}

func eachPid(fn func(pid int)) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("scan /proc: %w", err)
	}
	self := os.Getpid()
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != self {
			fn(pid)
		}
	}
	return nil
}

// Launch runs this program as the daemon of c, in a session of its own,
// with stdin on /dev/null and its output appended to c's log file. A
// goroutine reaps it if it exits while the agent still runs.
func (host) Launch(c Config) (*launched, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program: %w", err)
	}
	log, err := os.OpenFile(c.logFile(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", c.logFile(), err)
	}
	defer log.Close()
	argv := c.daemonArgv(exe)
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        argv,
		Dir:         "/",
		Env:         daemonEnv(os.Environ()),
		Stdout:      log,
		Stderr:      log,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", strings.Join(argv, " "), err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	return &launched{Pid: cmd.Process.Pid, Exited: done}, nil
}

// daemonEnv keeps what the daemon and the rsync and ssh it runs need:
// the logging settings of the cluster (HA_* but the agent's tag), HOME for ssh's known_hosts
// and keys, and a fixed PATH and locale.
func daemonEnv(environ []string) []string {
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	home := "HOME=/root"
	for _, kv := range environ {
		switch {
		case strings.HasPrefix(kv, "HA_LOGTAG="):
			// The daemon tags its lines with its own pid.
		case strings.HasPrefix(kv, "HA_"):
			env = append(env, kv)
		case strings.HasPrefix(kv, "HOME="):
			home = kv
		}
	}
	return append(env, home)
}

func (host) Terminate(ctx context.Context, pids []int, killAt time.Time) error {
	return proc.Terminate(ctx, pids, killAt)
}
