// Package mysqlroot runs MySQL servers for tests: Debian ships no MySQL
// server for the host's release, but Debian unstable (sid) ships
// mysql-server-core (MySQL 9.7, successor of the 8.4 LTS with the same
// replication statements). Its mysqld needs a newer C library than the
// host's, so it runs in a root of its own: built once with debootstrap by
// internal/systemdroot and cached, and mounted per test as the lower layer
// of an overlay, so that no test changes the cache.
//
// A test's own directory (data, sockets, pid files, logs) is bind-mounted
// into that root at the same path, so a path means the same file to a
// program on the host (an agent, a client) and to mysqld in the root. The
// server runs through a wrapper that chroots into the root without a mount
// or PID namespace of its own: it is an ordinary host process with host
// pids, found by /proc as any server is.
//
// New prepares two such servers on loopback (127.0.0.21 and 127.0.0.22,
// one port), ready to replicate from each other, as an
// internal/mysqlpair.Pair, so the tests written for MariaDB pairs run on it.
package mysqlroot

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/goha-ha/goha/internal/systemdroot"
)

// Options is the root the servers run in: Debian unstable with the MySQL
// server binaries.
var Options = systemdroot.RootOptions{Suite: "sid", Packages: []string{"mysql-server-core"}}

// ServerUser is the account mysqld runs as; the root gets it with the
// host's uid and gid, so files in shared directories belong to the same
// user on both sides.
const ServerUser = "mysql"

// Missing says what this machine lacks to run a MySQL root, "" when nothing.
// Whether the mirror can be reached shows only when Prepare builds the root.
func Missing() string {
	if os.Geteuid() != 0 {
		return "needs root to mount a root and run mysqld"
	}
	for _, prog := range []string{"debootstrap", "chroot", "tar"} {
		if _, err := exec.LookPath(prog); err != nil {
			return "needs " + prog
		}
	}
	if _, err := user.Lookup(ServerUser); err != nil {
		return "needs the " + ServerUser + " user"
	}
	return ""
}

// ErrNoRoot is why Mount and New fail when the root cannot be built (no
// route to the Debian mirror, say): a reason for a test to skip.
var ErrNoRoot = errors.New("cannot build a Debian unstable root with mysql-server-core")

// Root is a mounted MySQL root.
type Root struct {
	// Dir is the root's directory on the host.
	Dir string
	// mounts are unmounted by Close, last first.
	mounts []string
}

// Mount builds or reuses the cached root and mounts it at dir/root as an
// overlay whose changes go to dir/upper, adds the server user, and
// bind-mounts each of shared at its own path inside it. Close undoes it.
func Mount(dir string, shared ...string) (*Root, error) {
	lower, err := systemdroot.Prepare(Options)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoRoot, err)
	}
	r := &Root{Dir: filepath.Join(dir, "root")}
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{r.Dir, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := syscall.Mount("overlay", r.Dir, "overlay", 0, opts); err != nil {
		return nil, fmt.Errorf("mount overlay on %s: %w", r.Dir, err)
	}
	r.mounts = append(r.mounts, r.Dir)
	if err := r.addServerUser(); err != nil {
		r.Close()
		return nil, err
	}
	for _, s := range shared {
		target := r.Path(s)
		if err := os.MkdirAll(target, 0o755); err != nil {
			r.Close()
			return nil, err
		}
		if err := syscall.Mount(s, target, "", syscall.MS_BIND, ""); err != nil {
			r.Close()
			return nil, fmt.Errorf("bind-mount %s into the root: %w", s, err)
		}
		r.mounts = append(r.mounts, target)
	}
	return r, nil
}

// Path is where path inside the root lies on the host.
func (r *Root) Path(path string) string { return filepath.Join(r.Dir, path) }

// Close unmounts what Mount mounted, the shared directories first.
func (r *Root) Close() error {
	var first error
	for i := len(r.mounts) - 1; i >= 0; i-- {
		if err := syscall.Unmount(r.mounts[i], 0); err != nil {
			if err := syscall.Unmount(r.mounts[i], syscall.MNT_DETACH); err != nil && first == nil {
				first = fmt.Errorf("unmount %s: %w", r.mounts[i], err)
			}
		}
	}
	r.mounts = nil
	return first
}

// addServerUser gives the root's passwd and group the server user with
// the host's ids (mysql-server-core creates no account; mysql-server's
// maintainer scripts would).
func (r *Root) addServerUser() error {
	u, err := user.Lookup(ServerUser)
	if err != nil {
		return err
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return err
	}
	for _, f := range []struct{ file, name, line string }{
		{"/etc/group", g.Name, fmt.Sprintf("%s:x:%s:\n", g.Name, u.Gid)},
		{"/etc/passwd", u.Username, fmt.Sprintf("%s:x:%s:%s:MySQL Server:/nonexistent:/usr/sbin/nologin\n", u.Username, u.Uid, u.Gid)},
	} {
		path := r.Path(f.file)
		if has, err := hasEntry(path, f.name); err != nil || has {
			if err != nil {
				return err
			}
			continue
		}
		file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("add %s to the root: %w", f.name, err)
		}
		_, err = file.WriteString(f.line)
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("add %s to the root's %s: %w", f.name, f.file, err)
		}
	}
	return nil
}

// hasEntry reports whether a passwd-style file has an entry called name.
func hasEntry(path, name string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if n, _, _ := strings.Cut(s.Text(), ":"); n == name {
			return true, nil
		}
	}
	return false, s.Err()
}

// WriteWrapper writes an executable at path that runs /usr/sbin/mysqld in
// the root with its own arguments: what the agent's binary parameter names.
// chroot execs mysqld, so the wrapper's pid is the server's.
func (r *Root) WriteWrapper(path string) error {
	chroot, err := exec.LookPath("chroot")
	if err != nil {
		return err
	}
	script := "#!/bin/sh\n# mysqld from the MySQL test root\nexec " + chroot + " " + shellQuote(r.Dir) + " /usr/sbin/mysqld \"$@\"\n"
	return os.WriteFile(path, []byte(script), 0o755)
}

// Command is mysqld in the root with args, for initialising data
// directories.
func (r *Root) Command(args ...string) *exec.Cmd {
	return exec.Command("chroot", slices.Concat([]string{r.Dir, "/usr/sbin/mysqld"}, args)...)
}

// shellQuote quotes s for sh in single quotes.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
