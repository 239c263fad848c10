// Package systemdroot boots a real systemd for tests: PID 1 of namespaces
// of its own, in a Debian root of its own, under a cgroup of its own, so
// that agents driving systemd over D-Bus can be tested against the real
// thing without touching the host's service manager.
//
// The root is built once with debootstrap from the mirror the host's apt
// sources name, trimmed of what has no place in a container, and cached as
// a tarball (and unpacked beside it) under /var/cache/goha-test. Every
// boot mounts it as the lower layer of an overlay whose upper layer is a
// tmpfs, so each test starts from the same clean root and leaves nothing
// behind. systemd is never started in a namespace that shares the host's
// root filesystem: the boot script refuses to exec it unless / is that
// overlay and carries the root's marker file.
//
// The host reaches the container's system bus through
// /proc/<PID1>/root/run/dbus/system_bus_socket; systemd's private socket
// refuses clients from outside its PID namespace.
package systemdroot

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// CacheDir holds the built roots (tarball and unpacked tree) between runs.
const CacheDir = "/var/cache/goha-test"

// markerFile exists in every root this package builds; the boot script
// checks it before it execs systemd.
const markerFile = "etc/goha-systemdroot"

// recipe changes whenever the way a root is prepared changes, so that an
// old cached root is not reused for a new recipe.
const recipe = "3"

// masked are units with no place in a container: timers that would run
// apt or fstrim, device management, kernel tunables and modules shared
// with the host, consoles.
var masked = []string{
	"apt-daily-upgrade.timer", "apt-daily.timer", "dpkg-db-backup.timer",
	"e2scrub_all.timer", "fstrim.timer", "e2scrub_reap.service",
	"systemd-pstore.service", "getty@tty1.service", "console-getty.service",
	"systemd-udevd.service", "systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
	"systemd-udev-trigger.service", "systemd-sysctl.service", "systemd-modules-load.service",
	"kmod-static-nodes.service", "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount",
	"proc-sys-fs-binfmt_misc.mount", "systemd-hwdb-update.service", "systemd-firstboot.service",
	"systemd-random-seed.service", "systemd-timesyncd.service",
}

// RootOptions say what a root contains.
type RootOptions struct {
	// Suite is the Debian suite the root is built from, such as sid for
	// a program the host's release does not ship; empty means the host's
	// own release. It comes from the mirror the host names.
	Suite string
	// Packages are Debian packages installed besides systemd and dbus.
	Packages []string
	// Disable lists units that the packages enable but that must not
	// start at boot (a test starts them itself).
	Disable []string
}

// key names a root by its suite, content and recipe.
func (o RootOptions) key(suite string) string {
	pkgs := slices.Clone(o.Packages)
	slices.Sort(pkgs)
	dis := slices.Clone(o.Disable)
	slices.Sort(dis)
	sum := sha256.Sum256([]byte(recipe + "\n" + suite + "\n" + strings.Join(pkgs, ",") + "\n" + strings.Join(dis, ",")))
	return suite + "-" + hex.EncodeToString(sum[:6])
}

// Prepare returns the directory of a root built for o: unpacked already,
// unpacked from the cached tarball, or built with debootstrap (about a
// minute) and cached. Concurrent callers, also in other processes, wait
// for one another.
func Prepare(o RootOptions) (string, error) {
	release, err := hostRelease("/etc/os-release")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create cache directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(CacheDir, "systemd-root.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("open cache lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock cache: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	suite := o.Suite
	if suite == "" {
		suite = release
	}
	name := "systemd-root-" + o.key(suite)
	dir := filepath.Join(CacheDir, name)
	tarball := dir + ".tar"
	if _, err := os.Stat(filepath.Join(dir, markerFile)); err == nil {
		return dir, nil
	}
	tmp := dir + ".tmp"
	if err := unmountUnder(tmp); err != nil {
		return "", err
	}
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("remove half-built root: %w", err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", fmt.Errorf("create root: %w", err)
	}
	if _, err := os.Stat(tarball); err == nil {
		if err := run("tar", "--numeric-owner", "-xpf", tarball, "-C", tmp); err != nil {
			return "", fmt.Errorf("unpack cached root: %w", err)
		}
	} else {
		err := build(tmp, suite, release, o)
		if uerr := unmountUnder(tmp); err == nil {
			err = uerr
		}
		if err != nil {
			return "", err
		}
		if err := run("tar", "--numeric-owner", "-cf", tarball+".tmp", "-C", tmp, "."); err != nil {
			return "", fmt.Errorf("cache root: %w", err)
		}
		if err := os.Rename(tarball+".tmp", tarball); err != nil {
			return "", fmt.Errorf("cache root: %w", err)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, markerFile)); err != nil {
		return "", fmt.Errorf("root in %s has no marker file: %w", tmp, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("remove stale root: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("install root: %w", err)
	}
	return dir, nil
}

// build debootstraps suite into dir and trims it for a container. The
// mirror is the one the host's sources name for suite or, when they name
// none (another release's suite), for the host's own release.
func build(dir, suite, release string, o RootOptions) error {
	const deb822, oneLine = "/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"
	mirror, err := debianMirror(deb822, oneLine, suite)
	if err != nil && suite != release {
		mirror, err = debianMirror(deb822, oneLine, release)
	}
	if err != nil {
		return err
	}
	include := append([]string{"systemd", "systemd-sysv", "dbus"}, o.Packages...)
	if err := run("debootstrap", "--variant=minbase", "--include="+strings.Join(include, ","), suite, dir, mirror); err != nil {
		return fmt.Errorf("debootstrap %s from %s: %w", suite, mirror, err)
	}
	units := filepath.Join(dir, "etc/systemd/system")
	for _, u := range masked {
		path := filepath.Join(units, u)
		os.Remove(path)
		if err := os.Symlink("/dev/null", path); err != nil {
			return fmt.Errorf("mask %s: %w", u, err)
		}
	}
	wants, _ := filepath.Glob(filepath.Join(units, "*.wants", "*"))
	for _, w := range wants {
		if slices.Contains(o.Disable, filepath.Base(w)) {
			if err := os.Remove(w); err != nil {
				return fmt.Errorf("disable %s: %w", filepath.Base(w), err)
			}
		}
	}
	journald := filepath.Join(dir, "etc/systemd/journald.conf.d")
	if err := os.MkdirAll(journald, 0o755); err != nil {
		return fmt.Errorf("configure journald: %w", err)
	}
	if err := os.WriteFile(filepath.Join(journald, "volatile.conf"), []byte("[Journal]\nStorage=volatile\n"), 0o644); err != nil {
		return fmt.Errorf("configure journald: %w", err)
	}
	for _, pattern := range []string{"var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*"} {
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, f := range files {
			os.Remove(f)
		}
	}
	return os.WriteFile(filepath.Join(dir, markerFile), []byte("a root for tests, built by internal/systemdroot\n"), 0o644)
}

// hostRelease reads VERSION_CODENAME from an os-release file: the root is
// built from the host's own release, whose mirror the host names.
func hostRelease(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VERSION_CODENAME="); ok {
			if v = strings.Trim(v, `"'`); v != "" {
				return v, nil
			}
		}
	}
	return "", fmt.Errorf("%s names no VERSION_CODENAME", path)
}

// debianMirror returns the first archive URI that the host's apt sources
// use for release: a deb822 file first, the one-line format second.
func debianMirror(deb822, oneLine, release string) (string, error) {
	if f, err := os.Open(deb822); err == nil {
		defer f.Close()
		if uri := mirrorFromDeb822(f, release); uri != "" {
			return uri, nil
		}
	}
	if f, err := os.Open(oneLine); err == nil {
		defer f.Close()
		if uri := mirrorFromList(f, release); uri != "" {
			return uri, nil
		}
	}
	return "", fmt.Errorf("no Debian mirror for %s in %s or %s", release, deb822, oneLine)
}

// mirrorFromDeb822 finds a stanza of type deb whose Suites include release.
func mirrorFromDeb822(f *os.File, release string) string {
	var uris, suites, types string
	flush := func() string {
		defer func() { uris, suites, types = "", "", "" }()
		if (types == "" || slices.Contains(strings.Fields(types), "deb")) && slices.Contains(strings.Fields(suites), release) {
			if u := strings.Fields(uris); len(u) > 0 {
				return u[0]
			}
		}
		return ""
	}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" {
			if uri := flush(); uri != "" {
				return uri
			}
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "uris":
			uris = value
		case "suites":
			suites = value
		case "types":
			types = value
		}
	}
	return flush()
}

// mirrorFromList finds a "deb URI release ..." line.
func mirrorFromList(f *os.File, release string) string {
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 0 && fields[0] == "deb" {
			fields = fields[1:]
			if len(fields) > 0 && strings.HasPrefix(fields[0], "[") {
				for len(fields) > 0 && !strings.HasSuffix(fields[0], "]") {
					fields = fields[1:]
				}
				if len(fields) > 0 {
					fields = fields[1:]
				}
			}
			if len(fields) >= 2 && fields[1] == release {
				return fields[0]
			}
		}
	}
	return ""
}

// unmountUnder unmounts whatever a failed debootstrap left mounted below
// dir (its /proc, /sys), deepest first, so that removing or archiving dir
// never reaches into them.
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("read mount table: %w", err)
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	slices.Sort(points)
	slices.Reverse(points)
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", p, err)
		}
	}
	return nil
}

// run runs a program and returns its output in the error when it fails.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		if len(out) > 4000 {
			out = out[len(out)-4000:]
		}
		return fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return nil
}

// errUnavailable wraps the reasons a machine cannot boot a systemd root.
var errUnavailable = errors.New("cannot boot a systemd root here")
