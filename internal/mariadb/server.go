// Package mariadb is what goha's database agents share about a local
// MariaDB or MySQL server: its process (argv, detached launch, finding every
// server of a resource, also one whose pid file is gone), the credentials a
// check connects with, and an in-process connection over the MySQL protocol.
package mariadb

import (
	"errors"

	"github.com/goha-ha/goha/internal/proc"
	"github.com/goha-ha/goha/ocf"

	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Server is the local mariadbd a resource runs, as its parameters describe
// it. Its methods are the only place an agent starts and finds server
// processes.
type Server struct {
	Binary  string // mariadbd (or mysqld); never mysqld_safe, which respawns
	Config  string // --defaults-file
	Datadir string
	User    string
	Group   string
	Log     string // --log-error
	PidFile string
	Socket  string
	Extra   []string // additional_parameters, split on spaces (no shell)
	// Port is a TCP port only this server listens on (Galera's, or the
	// client port), for finding a leftover server; 0 for none.
	Port int
}

// Args is the argv every launch shares: the defaults file first (mariadbd
// insists), then the paths the resource's parameters fix. Callers append
// their own options, then Extra.
func (s *Server) Args() []string {
	a := []string{s.Binary}
	if s.Config != "" {
		a = append(a, "--defaults-file="+s.Config)
	}
	a = append(a,
		"--datadir="+s.Datadir,
		"--pid-file="+s.PidFile,
		"--socket="+s.Socket,
		"--user="+s.User,
	)
	if s.Log != "" {
		a = append(a, "--log-error="+s.Log)
	}
	return a
}

// Launch starts argv (from Args, plus what the caller adds) detached: its
// own session, stdin from /dev/null, output to the error log. It returns the
// pid. The server
// outlives the agent process; Find recognises it later.
func (s *Server) Launch(argv []string) (int, error) {
	for _, dir := range []string{filepath.Dir(s.PidFile), filepath.Dir(s.Socket)} {
		if err := s.EnsureDir(dir); err != nil {
			return 0, err
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, nil, nil
	if s.Log != "" {
		if err := s.EnsureDir(filepath.Dir(s.Log)); err != nil {
			return 0, err
		}
		_, statErr := os.Stat(s.Log)
		if f, err := os.OpenFile(s.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640); err == nil {
			defer f.Close()
			cmd.Stdout, cmd.Stderr = f, f
			// A log created here belongs to the server's user: MySQL opens
			// --log-error only after it switched to that user, and refuses
			// to start on a log it cannot write.
			if errors.Is(statErr, os.ErrNotExist) {
				if uid, gid, ok := LookupUser(s.User, s.Group); ok {
					if err := os.Chown(s.Log, uid, gid); err != nil {
						return 0, fmt.Errorf("give the error log %s to %s: %w", s.Log, s.User, err)
					}
				}
			}
		}
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", s.Binary, err)
	}
	pid := cmd.Process.Pid
	// Reap it in the background should it die while the agent still runs,
	// so Alive does not see a zombie; the agent never waits for it otherwise.
	go func() { _ = cmd.Wait() }()
	return pid, nil
}

// EnsureDir creates dir for the server's user when missing (as /run/mysqld
// after a reboot).
func (s *Server) EnsureDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if uid, gid, ok := LookupUser(s.User, s.Group); ok {
		_ = os.Chown(dir, uid, gid)
	}
	return nil
}

// Find returns the pids of every server of this resource still running: the
// one in the pid file, any server process whose working directory is the
// datadir (mariadbd changes into it), and any that holds the resource's
// socket or listens on its port. A server left behind by a timed-out
// start or promote is found by one of these even when its pid file is gone.
func (s *Server) Find() []int {
	found := map[int]bool{}
	if pid, _ := proc.ReadPidFile(s.PidFile); pid > 0 && s.isServer(pid) && sameMountNS(pid) {
		found[pid] = true
	}
	inodes := listeningInodes(s.Socket, s.Port)
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		// A server in another mount namespace (a container) may use the
		// same paths for other files: it is never this resource's.
		if err != nil || found[pid] || !s.isServer(pid) || !sameMountNS(pid) {
			continue
		}
		if s.worksIn(pid) {
			found[pid] = true
			continue
		}
		if holdsAny(pid, inodes) {
			found[pid] = true
		}
	}
	pids := make([]int, 0, len(found))
	for pid := range found {
		pids = append(pids, pid)
	}
	return pids
}

// Running is Find for a monitor: when the pid file names a live server of
// this mount namespace working in the datadir, that is the answer, without
// the scan of /proc/net that Find does (reading the TCP tables costs a few
// milliseconds on its own). Leftover servers beside it are stop's business.
func (s *Server) Running() []int {
	pid, _ := proc.ReadPidFile(s.PidFile)
	if pid > 0 && s.isServer(pid) && sameMountNS(pid) && s.worksIn(pid) {
		return []int{pid}
	}
	return s.Find()
}

// worksIn reports whether pid's working directory is the datadir.
func (s *Server) worksIn(pid int) bool {
	cwd, err1 := os.Stat(fmt.Sprintf("/proc/%d/cwd", pid))
	dir, err2 := os.Stat(s.Datadir)
	return err1 == nil && err2 == nil && os.SameFile(cwd, dir)
}

// isServer reports whether pid runs a MariaDB/MySQL server binary: the
// configured one, or mariadbd/mysqld by name.
func (s *Server) isServer(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	if want, err := filepath.EvalSymlinks(s.Binary); err == nil && exe == want {
		return true
	}
	base := filepath.Base(exe)
	return base == "mariadbd" || base == "mysqld"
}

// sameMountNS reports whether pid sees the same mounts as this process.
func sameMountNS(pid int) bool {
	mine, err1 := os.Readlink("/proc/self/ns/mnt")
	theirs, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	return err1 == nil && err2 == nil && mine == theirs
}

// listeningInodes returns the socket inodes of the unix socket at path and
// of TCP sockets listening on port, from /proc/net.
func listeningInodes(path string, port int) map[string]bool {
	inodes := map[string]bool{}
	if f, err := os.Open("/proc/net/unix"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// Num RefCount Protocol Flags Type St Inode Path
			if len(fields) >= 8 && fields[7] == path {
				inodes[fields[6]] = true
			}
		}
		f.Close()
	}
	if port <= 0 {
		return inodes
	}
	want := fmt.Sprintf(":%04X", port)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st ... inode is field 9; st 0A is LISTEN.
			if len(fields) >= 10 && fields[3] == "0A" && strings.HasSuffix(fields[1], want) {
				inodes[fields[9]] = true
			}
		}
		f.Close()
	}
	return inodes
}

// holdsAny reports whether pid has an open fd on one of the socket inodes.
func holdsAny(pid int, inodes map[string]bool) bool {
	if len(inodes) == 0 {
		return false
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
			return true
		}
	}
	return false
}

// LastLines returns the last n non-empty lines of b, joined by " | ", for
// exit reasons that quote the server's own complaint.
func LastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// CheckInstalled fails with OCF_ERR_INSTALLED, naming the parameter, when
// the server binary is not executable or the configuration file is missing.
func (s *Server) CheckInstalled() error {
	if fi, err := os.Stat(s.Binary); err != nil || fi.Mode()&0o111 == 0 || fi.IsDir() {
		return ocf.Fail(ocf.ErrInstalled, "%s %s is not an executable file", ParamBinary, s.Binary)
	}
	if c := s.Config; c != "" {
		if _, err := os.Stat(c); err != nil {
			return ocf.Fail(ocf.ErrInstalled, "%s %s: %v", ParamConfig, c, err)
		}
	}
	return nil
}
