package systemdroot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// sigPoweroff is SIGRTMIN+4 as systemd counts it (glibc's SIGRTMIN is 34):
// the signal that makes PID 1 power off cleanly.
const sigPoweroff = syscall.Signal(34 + 4)

// bootScript runs as PID 1 of the new PID, mount, UTS, IPC and network
// namespaces: it moves itself into the container's cgroup, enters a cgroup
// namespace rooted there, builds the root (overlay over the cached tree,
// fresh proc, read-only sysfs with a writable cgroup2, a tmpfs /dev with
// a private devpts, a tmpfs /tmp), pivots into it and execs systemd with
// a reduced bounding set. Its arguments are paths this package made.
const bootScript = `
name=$1 cgroup=$2 lower=$3 state=$4
echo 0 > "$cgroup/cgroup.procs"
exec unshare --cgroup /bin/sh -ec '
name=$1 lower=$2 state=$3
mount --make-rprivate /
hostname "$name"
mount -t tmpfs -o mode=700 tmpfs "$state"
mkdir "$state/upper" "$state/work" "$state/root"
R=$state/root
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$state/upper,workdir=$state/work" "$R"
test -f "$R/` + markerFile + `"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
if [ -e "$R/proc/sysrq-trigger" ]; then mount --bind -o ro /dev/null "$R/proc/sysrq-trigger"; fi
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=755,nosuid tmpfs "$R/dev"
mknod -m 666 "$R/dev/null" c 1 3
mknod -m 666 "$R/dev/zero" c 1 5
mknod -m 666 "$R/dev/full" c 1 7
mknod -m 666 "$R/dev/random" c 1 8
mknod -m 666 "$R/dev/urandom" c 1 9
mknod -m 666 "$R/dev/tty" c 5 0
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
cd "$R"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot
test -f /` + markerFile + `
test "$(stat -f -c %T /)" = overlayfs
exec setpriv --bounding-set -sys_module,-sys_rawio,-sys_time,-syslog,-wake_alarm,-mac_admin,-mac_override \
	env -i container=goha /lib/systemd/systemd
' sh "$name" "$lower" "$state"
`

// Options describe a systemd to boot.
type Options struct {
	// Name prefixes the container's hostname and cgroup, e.g. the agent
	// under test; a random suffix keeps concurrent boots apart.
	Name string
	Root RootOptions
}

// System is a booted systemd. Its PID is the host's pid of its PID 1.
type System struct {
	Name   string
	PID    int
	cgroup string
	state  string
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// Unavailable says why this machine cannot boot a systemd root, or
// returns nil when it can.
func Unavailable() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root", errUnavailable)
	}
	for _, prog := range []string{"unshare", "tar"} {
		if _, err := exec.LookPath(prog); err != nil {
			return fmt.Errorf("%w: needs %s (util-linux, tar)", errUnavailable, prog)
		}
	}
	if _, err := cgroupParent(); err != nil {
		return fmt.Errorf("%w: %v", errUnavailable, err)
	}
	return nil
}

// Boot builds or reuses the root, boots systemd in it and waits until it
// has reached its default target. It skips t when the machine cannot boot
// one (not root, a program missing) and fails it on any other error. The
// container is powered off, and its cgroups and state removed, in
// t.Cleanup, also when Boot itself fails half way.
func Boot(t testing.TB, o Options) *System {
	t.Helper()
	if err := Unavailable(); err != nil {
		t.Skip(err)
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		if _, ok := cachedRoot(o.Root); !ok {
			t.Skipf("%v: needs debootstrap to build the root once (apt-get install debootstrap)", errUnavailable)
		}
	}
	lower, err := Prepare(o.Root)
	if err != nil {
		t.Fatalf("prepare systemd root: %v", err)
	}
	s, err := start(o.Name, lower)
	if s != nil {
		t.Cleanup(func() {
			if err := s.Shutdown(); err != nil {
				t.Errorf("shut down systemd root: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatalf("boot systemd: %v", err)
	}
	return s
}

// cachedRoot reports whether a root for o is already built or cached.
func cachedRoot(o RootOptions) (string, bool) {
	release, err := hostRelease("/etc/os-release")
	if err != nil {
		return "", false
	}
	dir := filepath.Join(CacheDir, "systemd-root-"+o.key(release))
	if _, err := os.Stat(filepath.Join(dir, markerFile)); err == nil {
		return dir, true
	}
	if _, err := os.Stat(dir + ".tar"); err == nil {
		return dir, true
	}
	return "", false
}

// cgroupParent is the cgroup2 directory containers' cgroups are made in:
// the unified hierarchy of a hybrid host, or the root of a pure one.
func cgroupParent() (string, error) {
	for _, dir := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return dir, nil
		}
	}
	return "", errors.New("no cgroup2 hierarchy is mounted")
}

func start(prefix, lower string) (*System, error) {
	if prefix == "" {
		prefix = "goha"
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	s := &System{Name: prefix + "-" + hex.EncodeToString(suffix), exited: make(chan struct{})}
	parent, err := cgroupParent()
	if err != nil {
		return nil, err
	}
	s.cgroup = filepath.Join(parent, s.Name)
	if err := os.Mkdir(s.cgroup, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	if s.state, err = os.MkdirTemp("", s.Name+"-"); err != nil {
		return s, fmt.Errorf("create state directory: %w", err)
	}
	s.log = filepath.Join(s.state, "boot.log")
	logFile, err := os.Create(s.log)
	if err != nil {
		return s, fmt.Errorf("create boot log: %w", err)
	}
	defer logFile.Close()
	mnt := filepath.Join(s.state, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		return s, fmt.Errorf("create mount point: %w", err)
	}
	s.cmd = exec.Command("unshare", "--pid", "--fork", "--kill-child", "--mount", "--uts", "--ipc", "--net",
		"--propagation", "private", "/bin/sh", "-ec", bootScript, "sh", s.Name, s.cgroup, lower, mnt)
	s.cmd.Stdin = nil
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := s.cmd.Start(); err != nil {
		close(s.exited)
		return s, fmt.Errorf("start unshare: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.waitBooted(ctx); err != nil {
		out, _ := os.ReadFile(s.log)
		return s, fmt.Errorf("%w\nboot log:\n%s", err, out)
	}
	return s, nil
}

// waitBooted finds PID 1, then waits for its bus and its default target.
func (s *System) waitBooted(ctx context.Context) error {
	for s.PID == 0 {
		select {
		case <-s.exited:
			return errors.New("the boot script exited")
		case <-ctx.Done():
			return errors.New("PID 1 did not appear")
		case <-time.After(10 * time.Millisecond):
		}
		pid := s.cmd.Process.Pid
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			s.PID, _ = strconv.Atoi(f[0])
		}
	}
	var last string
	for {
		select {
		case <-s.exited:
			return errors.New("systemd exited while booting")
		case <-ctx.Done():
			return fmt.Errorf("systemd did not finish booting (last state %q)", last)
		case <-time.After(20 * time.Millisecond):
		}
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", s.PID)); strings.TrimSpace(string(comm)) != "systemd" {
			continue
		}
		if _, err := os.Stat(s.Path("/run/dbus/system_bus_socket")); err != nil {
			continue
		}
		c, err := s.Connect(ctx)
		if err != nil {
			last = err.Error()
			continue
		}
		p, err := c.SystemStateContext(ctx)
		c.Close()
		if err != nil {
			last = err.Error()
			continue
		}
		state, _ := p.Value.Value().(string)
		last = state
		if state == "running" || state == "degraded" {
			return nil
		}
	}
}

// Path is path inside the container, as the host sees it.
func (s *System) Path(path string) string {
	return fmt.Sprintf("/proc/%d/root%s", s.PID, path)
}

// BusAddress is the D-Bus address of the container's system bus.
func (s *System) BusAddress() string {
	return "unix:path=" + s.Path("/run/dbus/system_bus_socket")
}

// NetNS is the container's network namespace file, for nsenter --net.
func (s *System) NetNS() string {
	return fmt.Sprintf("/proc/%d/ns/net", s.PID)
}

// Connect opens a go-systemd connection to the container's systemd; it
// is closed when ctx ends.
func (s *System) Connect(ctx context.Context) (*sd.Conn, error) {
	return sd.NewConnection(func() (*dbus.Conn, error) {
		return dialBus(ctx, s.BusAddress())
	})
}

// WriteUnit writes a unit file to /etc/systemd/system in the container
// and makes systemd reload its units.
func (s *System) WriteUnit(ctx context.Context, name, text string) error {
	if err := os.WriteFile(s.Path("/etc/systemd/system/"+name), []byte(text), 0o644); err != nil {
		return fmt.Errorf("write unit %s: %w", name, err)
	}
	return s.Reload(ctx)
}

// Reload makes systemd reload its unit files (daemon-reload).
func (s *System) Reload(ctx context.Context) error {
	c, err := s.Connect(ctx)
	if err != nil {
		return fmt.Errorf("connect to systemd: %w", err)
	}
	defer c.Close()
	if err := c.ReloadContext(ctx); err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	return nil
}

// Shutdown powers the container off (SIGRTMIN+4 to PID 1), kills what is
// left after 15 s, and removes its cgroups and state. Calling it again
// does nothing.
func (s *System) Shutdown() error {
	var errs []error
	if s.cmd != nil && s.cmd.Process != nil {
		select {
		case <-s.exited:
		default:
			if s.PID > 0 {
				syscall.Kill(s.PID, sigPoweroff)
			}
			select {
			case <-s.exited:
			case <-time.After(15 * time.Second):
				errs = append(errs, errors.New("systemd did not power off within 15 s: killed"))
				if s.PID > 0 {
					syscall.Kill(s.PID, syscall.SIGKILL)
				}
				s.cmd.Process.Kill()
				select {
				case <-s.exited:
				case <-time.After(10 * time.Second):
					errs = append(errs, fmt.Errorf("unshare (pid %d) survived SIGKILL", s.cmd.Process.Pid))
				}
			}
		}
	}
	if s.cgroup != "" {
		if err := removeCgroup(s.cgroup, 10*time.Second); err != nil {
			errs = append(errs, err)
		} else {
			s.cgroup = ""
		}
	}
	if s.state != "" {
		if err := os.RemoveAll(s.state); err != nil {
			errs = append(errs, fmt.Errorf("remove state: %w", err))
		}
		s.state = ""
	}
	return errors.Join(errs...)
}

// removeCgroup removes dir and the cgroups below it, deepest first, and
// retries while their last processes are being reaped.
func removeCgroup(dir string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var dirs []string
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		slices.Reverse(dirs)
		var last error
		for _, d := range dirs {
			if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
				last = err
			}
		}
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dialBus opens an authenticated connection to the bus at address.
func dialBus(ctx context.Context, address string) (*dbus.Conn, error) {
	conn, err := dbus.Dial(address, dbus.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}
