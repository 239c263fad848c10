package garbd

import (
	"github.com/goha-ha/goha/internal/atomicfile"
	"github.com/goha-ha/goha/internal/proc"

	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// errGone is returned for a process that does not exist or is a zombie.
var errGone = proc.ErrGone

// system is what the actions need from the operating system: processes,
// /proc and the agent's files.
type system interface {
	// Cmdline returns a live process's argv, errGone when it is not alive.
	Cmdline(pid int) ([]string, error)
	// Find returns the live processes whose argv satisfies match.
	Find(match func(argv []string) bool) ([]int, error)
	Signal(pid int, sig syscall.Signal) error
	// Launch starts argv detached, as described in Config.
	Launch(c Config) (*launched, error)
	// OpenLog opens the log a live pid writes to: its stderr when that is a
	// file (which survives a rotation), else the file at path.
	OpenLog(pid int, path string) (io.ReadSeekCloser, error)
}

// launched is a garbd that start just ran; Exited is closed when it ends.
type launched struct {
	Pid       int
	LogOffset int64 // where its output begins in the log
	Exited    <-chan struct{}
	ExitErr   *error // valid once Exited is closed
}

// host is the system the agent runs on.
type host struct{}

// Cmdline reads /proc/<pid>/cmdline after checking that pid is not a zombie.
func (host) Cmdline(pid int) ([]string, error) {
	state, err := proc.State(pid)
	if err != nil {
		return nil, err
	}
	if state == 'Z' || state == 'X' {
		return nil, errGone
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return nil, errGone
	}
	if err != nil {
		return nil, fmt.Errorf("read cmdline of %d: %w", pid, err)
	}
	return splitCmdline(raw), nil
}

// splitCmdline splits a NUL-separated /proc cmdline.
func splitCmdline(raw []byte) []string {
	raw = bytes.TrimRight(raw, "\x00")
	if len(raw) == 0 {
		return nil
	}
	return strings.Split(string(raw), "\x00")
}

// Find scans /proc.
func (h host) Find(match func([]string) bool) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("scan /proc: %w", err)
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		argv, err := h.Cmdline(pid)
		if err != nil {
			continue // gone meanwhile, or a kernel thread
		}
		if match(argv) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func (host) Signal(pid int, sig syscall.Signal) error {
	err := syscall.Kill(pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return errGone
	}
	return err
}

// Launch runs garbd in a session of its own, as c.User, in c.Workdir, with
// stdin on /dev/null and stdout and stderr appended to c.Log. A goroutine
// reaps it if it exits while the agent still runs.
func (host) Launch(c Config) (*launched, error) {
	cred, err := credential(c.User, c.Group)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Workdir, 0o750); err != nil {
		return nil, fmt.Errorf("create working directory %s: %w", c.Workdir, err)
	}
	if err := os.Chown(c.Workdir, int(cred.Uid), int(cred.Gid)); err != nil {
		return nil, fmt.Errorf("hand working directory %s to %s: %w", c.Workdir, c.User, err)
	}
	if err := os.MkdirAll(filepath.Dir(c.Log), 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	log, err := os.OpenFile(c.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", c.Log, err)
	}
	defer log.Close()
	offset, err := log.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("find the end of log %s: %w", c.Log, err)
	}
	argv := c.Argv()
	cmd := &exec.Cmd{
		Path:   argv[0],
		Args:   argv,
		Dir:    c.Workdir,
		Env:    []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + c.Workdir, "LANG=C"},
		Stdout: log,
		Stderr: log,
		SysProcAttr: &syscall.SysProcAttr{
			Setsid:     true,
			Credential: cred,
		},
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s as %s in %s: %w", c.Binary, c.User, c.Workdir, err)
	}
	done := make(chan struct{})
	l := &launched{Pid: cmd.Process.Pid, LogOffset: offset, Exited: done, ExitErr: new(error)}
	go func() {
		*l.ExitErr = cmd.Wait()
		close(done)
	}()
	return l, nil
}

// credential resolves the account garbd runs as.
func credential(userName, groupName string) (*syscall.Credential, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return nil, fmt.Errorf("look up user %s: %w", userName, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s has uid %q: %w", userName, u.Uid, err)
	}
	gidText := u.Gid
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			return nil, fmt.Errorf("look up group %s: %w", groupName, err)
		}
		gidText = g.Gid
	}
	gid, err := strconv.ParseUint(gidText, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("group id %q: %w", gidText, err)
	}
	var groups []uint32
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if n, err := strconv.ParseUint(id, 10, 32); err == nil {
				groups = append(groups, uint32(n))
			}
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, nil
}

// OpenLog prefers the process's own stderr, which is the log file even
// after it was renamed by a rotation.
func (host) OpenLog(pid int, path string) (io.ReadSeekCloser, error) {
	if pid > 0 {
		fd := fmt.Sprintf("/proc/%d/fd/2", pid)
		if st, err := os.Stat(fd); err == nil && st.Mode().IsRegular() {
			if f, err := os.Open(fd); err == nil {
				return f, nil
			}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	return f, nil
}

// maxLogRead bounds what one action reads of the log: a garbd cut off
// from the cluster logs a line every few seconds, and a monitor only needs
// the latest component change.
const maxLogRead = 4 << 20

// follow folds the complete lines of log from offset into p and returns
// the offset after the last complete line. A log shorter than offset was
// truncated (copytruncate rotation) and is read from its beginning.
func follow(log io.ReadSeeker, offset int64, p *Progress) (int64, error) {
	size, err := log.Seek(0, io.SeekEnd)
	if err != nil {
		return offset, fmt.Errorf("size of log: %w", err)
	}
	if size < offset {
		offset = 0
	}
	skipPartial := false
	if size-offset > maxLogRead {
		offset, skipPartial = size-maxLogRead, true
	}
	if _, err := log.Seek(offset, io.SeekStart); err != nil {
		return offset, fmt.Errorf("seek log: %w", err)
	}
	r := bufio.NewReaderSize(io.LimitReader(log, size-offset), 64<<10)
	for {
		text, err := r.ReadString('\n')
		if err == io.EOF {
			return offset, nil // an incomplete last line is read next time
		}
		if err != nil {
			return offset, fmt.Errorf("read log: %w", err)
		}
		offset += int64(len(text))
		if skipPartial {
			skipPartial = false
			continue
		}
		p.Apply(text)
	}
}

// runState is what the agent keeps between actions about the garbd it
// started: which process, how far its log has been read and what it said.
type runState struct {
	Pid      int      `json:"pid"`
	Offset   int64    `json:"offset"`
	Progress Progress `json:"progress"`
}

func statePath(c Config) string { return c.Pid + ".state" }

// loadState returns the saved state for pid, or a fresh one that reads
// the log from its beginning when there is none for that process.
func loadState(c Config, pid int) runState {
	raw, err := os.ReadFile(statePath(c))
	var s runState
	if err != nil || json.Unmarshal(raw, &s) != nil || s.Pid != pid {
		return runState{Pid: pid}
	}
	return s
}

func saveState(c Config, s runState) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return atomicfile.Write(statePath(c), append(raw, '\n'), 0o644)
}

// removeRunFiles deletes the pid and state files.
func removeRunFiles(c Config) error {
	for _, p := range []string{c.Pid, statePath(c)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}
