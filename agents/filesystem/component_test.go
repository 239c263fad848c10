package filesystem

// Component test: the agent binary against real ext4 and xfs filesystems
// on loop devices the test attaches, mounted below t.TempDir() in this
// machine's mount namespace. It needs root, losetup, mkfs.ext4, mkfs.xfs
// and ocf-tester; without them it skips and says why. Every process it
// starts it ends by pid; every mount below its directories is detached and
// every loop device released in t.Cleanup, also on failure.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/internal/agenttest"
	"github.com/goha-ha/goha/internal/proc"
	"github.com/goha-ha/goha/internal/testbuild"
)

// helperEnv makes the test binary a process that holds a filesystem busy
// (see runHelper), so holders of every kind can be started without
// depending on other programs.
const helperEnv = "GOHA_FILESYSTEM_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		runHelper(mode)
		return
	}
	code := m.Run()
	agent.Remove()
	os.Exit(code)
}

// runHelper holds a file the way mode says ("open:PATH", "mmap:PATH",
// "cwd", "stubborn" = cwd and SIGTERM ignored), says "ready" on stdout and
// sleeps until killed.
func runHelper(mode string) {
	kind, path, _ := strings.Cut(mode, ":")
	var keep any
	switch kind {
	case "open":
		f, err := os.Open(path)
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		keep = f
		os.Chdir("/")
	case "mmap":
		f, err := os.Open(path)
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		b, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		f.Close() // only the map holds the file now
		keep = b
		os.Chdir("/")
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
	}
	fmt.Println("ready")
	time.Sleep(time.Hour)
	_ = keep
}

func requireComponent(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("component test: needs root to attach loop devices and mount")
	}
	for _, prog := range []string{"losetup", "mkfs.ext4", "mkfs.xfs", "ocf-tester"} {
		if _, err := lookSbin(prog); err != nil {
			t.Skipf("component test: needs %s (util-linux, e2fsprogs, xfsprogs, resource-agents): %v", prog, err)
		}
	}
}

// agent is the agent alone (agents/filesystem/internal/filesystemcmd), built once per run, so the
// test does not depend on the agent being registered in cmd/goha.
var agent = &testbuild.Once{Name: "filesystem", Pkg: "./agents/filesystem/internal/filesystemcmd"}

func agentBinary(t *testing.T) string { return agent.Path(t) }

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	path, err := lookSbin(name)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// lab is one test's directory, with everything mounted below it detached
// at cleanup.
type lab struct {
	dir string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{dir: t.TempDir()}
	t.Cleanup(func() { l.detachAll(t) })
	return l
}

// detachAll detaches whatever is still mounted below the lab, which is an
// error when the test did not mean to leave it so.
func (l *lab) detachAll(t *testing.T) {
	left := l.mounts(t)
	for i := len(left) - 1; i >= 0; i-- {
		if err := unix.Unmount(left[i].MountPoint, unix.MNT_DETACH); err != nil {
			t.Errorf("cleanup: detach %s: %v", left[i].MountPoint, err)
		}
	}
	if len(left) > 0 && !t.Failed() {
		t.Errorf("left mounted at the end: %v", mountPoints(left))
	}
}

// mounts lists what is mounted below the lab's directory, in mount order.
func (l *lab) mounts(t *testing.T) []Mount {
	t.Helper()
	all, err := host{}.Mountinfo()
	if err != nil {
		t.Fatal(err)
	}
	var ms []Mount
	for _, m := range all {
		if isUnder(m.MountPoint, l.dir) {
			ms = append(ms, m)
		}
	}
	return ms
}

func (l *lab) mountedAt(t *testing.T, dir string) *Mount {
	t.Helper()
	return At(l.mounts(t), dir)
}

// loopDevice attaches a fresh image formatted with mkfs and returns the
// device; its cleanup detaches the lab's mounts before the device.
func (l *lab) loopDevice(t *testing.T, name, mkfs string, mkfsArgs ...string) string {
	t.Helper()
	img := filepath.Join(l.dir, name+".img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 320<<20); err != nil {
		t.Fatal(err)
	}
	dev := run(t, "losetup", "--find", "--show", img)
	t.Cleanup(func() {
		l.detachAll(t)
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("cleanup: losetup -d %s: %v %s", dev, err, out)
		}
	})
	run(t, mkfs, append(mkfsArgs, dev)...)
	return dev
}

// resource is one filesystem resource of the test.
type resource struct {
	lab    *lab
	params []string // NAME=VALUE
}

func (res *resource) run(t *testing.T, action string, env ...string) agenttest.Result {
	t.Helper()
	params := append(append([]string{}, res.params...), env...)
	return agenttest.Run(t, 2*time.Minute, agenttest.Env(res.lab.dir, "fs", params...), agentBinary(t), action)
}

// expect runs action and fails the test unless it exits with rc.
func (res *resource) expect(t *testing.T, action string, rc int, env ...string) agenttest.Result {
	t.Helper()
	r := res.run(t, action, env...)
	agenttest.Expect(t, fmt.Sprintf("%s %v", action, env), r, rc, "")
	return r
}

// recurring marks a monitor as a recurring one, not a probe.
const recurring = "OCF_RESKEY_CRM_meta_interval=20000"

// holder is a process the test started to keep a filesystem busy.
type holder struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startHolder runs the helper in dir with mode and waits until it is ready;
// it is killed by pid at cleanup.
func startHolder(t *testing.T, dir, mode string) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{cmd: cmd, done: make(chan struct{})}
	line := make([]byte, 64)
	n, _ := out.Read(line)
	go func() { cmd.Wait(); close(h.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-h.done
	})
	if got := strings.TrimSpace(string(line[:n])); got != "ready" {
		t.Fatalf("helper %s: %q", mode, got)
	}
	return h
}

func (h *holder) pid() int { return h.cmd.Process.Pid }

// dead waits up to d for the holder to have exited.
func (h *holder) dead(d time.Duration) bool {
	select {
	case <-h.done:
		return true
	case <-time.After(d):
		return false
	}
}

// holdsWith reports how the holder uses dir, as the agent's search sees it.
func holdsWith(t *testing.T, pid int, dir string) []string {
	t.Helper()
	var uses []string
	found, err := FindHolders(procfs{}, Target{Dirs: []string{dir}}, func(p int) bool { return p != pid })
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range found {
		uses = append(uses, h.Uses...)
	}
	return uses
}

func TestComponentOCFTester(t *testing.T) {
	requireComponent(t)
	for _, fstype := range []string{"ext4", "xfs"} {
		t.Run(fstype, func(t *testing.T) {
			l := newLab(t)
			args := []string{"-q"}
			if fstype == "xfs" {
				args = []string{"-q", "-f"}
			}
			dev := l.loopDevice(t, fstype, "mkfs."+fstype, args...)
			dir := filepath.Join(l.dir, "mnt")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "/usr/sbin/ocf-tester", "-n", "fs-"+fstype,
				"-o", "device="+dev, "-o", "directory="+dir, "-o", "fstype="+fstype, "-o", "options=noatime",
				agentBinary(t))
			cmd.Env = append(os.Environ(), "HA_RSCTMP="+l.dir)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "passed all tests") {
				t.Fatalf("ocf-tester: %v\n%s", err, out)
			}
			if left := l.mounts(t); len(left) != 0 {
				t.Errorf("ocf-tester left %v mounted", mountPoints(left))
			}
		})
	}
}

// TestComponentLifecycle: start twice, the monitor depths, a stop that
// has to clear out processes holding the filesystem in every way (and
// leaves an unrelated one alone), stop twice, and a filesystem unmounted
// behind the agent's back.
func TestComponentLifecycle(t *testing.T) {
	requireComponent(t)
	for _, fstype := range []string{"ext4", "xfs"} {
		t.Run(fstype, func(t *testing.T) {
			l := newLab(t)
			args := []string{"-q"}
			if fstype == "xfs" {
				args = []string{"-q", "-f"}
			}
			dev := l.loopDevice(t, fstype, "mkfs."+fstype, args...)
			dir := filepath.Join(l.dir, "data dir") // a space: \040 in mountinfo
			res := &resource{lab: l, params: []string{"device=" + dev, "directory=" + dir + "/", "fstype=" + fstype, "options=noatime,nodev"}}

			res.expect(t, "monitor", 7) // probe before anything
			res.expect(t, "start", 0)
			m := l.mountedAt(t, dir)
			if m == nil || m.FSType != fstype || !hasOption(m.Options, "noatime") || !hasOption(m.Options, "nodev") {
				t.Fatalf("after start: %+v", m)
			}
			res.expect(t, "start", 0)
			if n := len(l.mounts(t)); n != 1 {
				t.Fatalf("second start: %d mounts", n)
			}
			res.expect(t, "monitor", 0, recurring)
			res.expect(t, "monitor", 0, recurring, "OCF_CHECK_LEVEL=10")
			res.expect(t, "monitor", 0, recurring, "OCF_CHECK_LEVEL=20")
			status := filepath.Join(dir, ".Filesystem_status", "fs_"+hostname(t))
			if b, err := os.ReadFile(status); err != nil || !strings.HasPrefix(string(b), "fs\n") {
				t.Fatalf("status file %s: %q %v", status, b, err)
			}
			// Remounted read-only behind the agent's back (as errors=remount-ro
			// does): a failure, not "running".
			run(t, "mount", "-o", "remount,ro", dir)
			if r := res.expect(t, "monitor", 1, recurring); !strings.Contains(exitReason(r.Stderr), "read-only") {
				t.Errorf("monitor of a read-only filesystem: %s", r)
			}
			run(t, "mount", "-o", "remount,rw", dir)
			if r := res.run(t, "monitor", recurring, "OCF_CHECK_LEVEL=30"); r.RC != 6 || !strings.Contains(r.Stderr, "OCF_CHECK_LEVEL=30") {
				t.Errorf("depth 30: %s", r)
			}

			// Holders: working directory, open file, memory map; an
			// unrelated process next to the mount point.
			if err := os.MkdirAll(filepath.Join(dir, "work"), 0o755); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "work", "data.bin")
			if err := os.WriteFile(file, make([]byte, 8192), 0o644); err != nil {
				t.Fatal(err)
			}
			inCwd := startHolder(t, filepath.Join(dir, "work"), "cwd")
			withFile := startHolder(t, "/", "open:"+file)
			withMap := startHolder(t, "/", "mmap:"+file)
			outside := startHolder(t, l.dir, "cwd")
			for _, c := range []struct {
				h    *holder
				want string
			}{{inCwd, "cwd"}, {withFile, "fd "}, {withMap, "mmap " + file}} {
				if uses := holdsWith(t, c.h.pid(), dir); !containsPrefix(uses, c.want) {
					t.Fatalf("helper %d uses %v, want %s", c.h.pid(), uses, c.want)
				}
			}
			if err := unix.Unmount(dir, 0); !errors.Is(err, unix.EBUSY) {
				t.Fatalf("the filesystem is not busy before stop: umount says %v", err)
			}

			r := res.expect(t, "stop", 0, "OCF_RESKEY_CRM_meta_timeout=20000")
			if r.Took > 20*time.Second {
				t.Errorf("stop took %s, beyond its timeout", r.Took)
			}
			for _, h := range []*holder{inCwd, withFile, withMap} {
				if !h.dead(5 * time.Second) {
					t.Errorf("holder %d survived stop", h.pid())
				}
			}
			if outside.dead(0) || !proc.Alive(outside.pid()) {
				t.Error("stop killed a process outside the filesystem")
			}
			if left := l.mounts(t); len(left) != 0 {
				t.Fatalf("after stop: %v mounted\n%s", mountPoints(left), r)
			}
			res.expect(t, "stop", 0)
			res.expect(t, "monitor", 7)
			if r := res.expect(t, "monitor", 7, recurring); !strings.Contains(r.Stderr, "is not mounted") {
				t.Errorf("recurring monitor when stopped: %s", r)
			}

			// Unmounted behind the agent's back: a recurring monitor says 7.
			res.expect(t, "start", 0)
			if _, err := os.Stat(status); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("stop left the status file: %v", err)
			}
			run(t, "umount", dir)
			if r := res.expect(t, "monitor", 7, recurring); !strings.Contains(r.Stderr, "ocf-exit-reason:") {
				t.Errorf("monitor after umount has no reason: %s", r)
			}
			res.expect(t, "stop", 0)
		})
	}
}

// TestComponentStubbornHolder: a process that ignores SIGTERM is killed in
// the second half of the stop timeout, and stop still succeeds in time.
func TestComponentStubbornHolder(t *testing.T) {
	requireComponent(t)
	l := newLab(t)
	dev := l.loopDevice(t, "ext4", "mkfs.ext4", "-q")
	dir := filepath.Join(l.dir, "mnt")
	res := &resource{lab: l, params: []string{"device=" + dev, "directory=" + dir, "fstype=ext4"}}
	res.expect(t, "start", 0)
	h := startHolder(t, dir, "stubborn")
	r := res.expect(t, "stop", 0, "OCF_RESKEY_CRM_meta_timeout=8000")
	// budget 7 s (1 s kept for the answer): SIGKILL from 3.5 s on
	if r.Took < 3*time.Second || r.Took > 8*time.Second {
		t.Errorf("stop took %s; want SIGTERM for half the time, then SIGKILL, within the timeout\n%s", r.Took, r)
	}
	if !strings.Contains(r.Stderr, "sending SIGTERM") || !strings.Contains(r.Stderr, "sending SIGKILL") {
		t.Errorf("stop did not go through both phases:\n%s", r)
	}
	if !h.dead(5 * time.Second) {
		t.Error("the stubborn holder survived")
	}
	if left := l.mounts(t); len(left) != 0 {
		t.Errorf("after stop: %v mounted", mountPoints(left))
	}

	// force_unmount=false: nobody is signalled and stop fails in time.
	res.expect(t, "start", 0)
	h = startHolder(t, dir, "cwd")
	res.params = append(res.params, "force_unmount=false")
	r = res.expect(t, "stop", 1, "OCF_RESKEY_CRM_meta_timeout=4000")
	if !strings.Contains(r.Stderr, "force_unmount=false") || r.Took > 4*time.Second {
		t.Errorf("stop without force: %s", r)
	}
	if h.dead(0) {
		t.Error("force_unmount=false killed a holder")
	}
	h.cmd.Process.Kill()
	h.dead(5 * time.Second)
	res.expect(t, "stop", 0)
}

// TestComponentSubmountsAndOtherMounts: stop unmounts what is mounted on
// the filesystem and the device's mounts elsewhere, children first.
func TestComponentSubmountsAndOtherMounts(t *testing.T) {
	requireComponent(t)
	l := newLab(t)
	dev := l.loopDevice(t, "xfs", "mkfs.xfs", "-q", "-f")
	dir := filepath.Join(l.dir, "mnt")
	res := &resource{lab: l, params: []string{"device=" + dev, "directory=" + dir, "fstype=xfs"}}
	res.expect(t, "start", 0)
	sub := filepath.Join(dir, "sub")
	os.MkdirAll(filepath.Join(dir, "exports"), 0o755)
	os.MkdirAll(sub, 0o755)
	run(t, "mount", "-t", "tmpfs", "tmpfs", sub)
	os.MkdirAll(filepath.Join(sub, "deeper"), 0o755)
	run(t, "mount", "-t", "tmpfs", "tmpfs", filepath.Join(sub, "deeper"))
	elsewhere := filepath.Join(l.dir, "elsewhere")
	os.MkdirAll(elsewhere, 0o755)
	run(t, "mount", "--bind", filepath.Join(dir, "exports"), elsewhere)
	h := startHolder(t, filepath.Join(sub, "deeper"), "cwd")
	hElse := startHolder(t, elsewhere, "cwd")
	if n := len(l.mounts(t)); n != 4 {
		t.Fatalf("%d mounts before stop", n)
	}
	r := res.expect(t, "stop", 0, "OCF_RESKEY_CRM_meta_timeout=20000")
	if left := l.mounts(t); len(left) != 0 {
		t.Fatalf("after stop: %v mounted\n%s", mountPoints(left), r)
	}
	order := unmountOrder(r.Stderr)
	want := []string{filepath.Join(sub, "deeper"), sub, elsewhere, dir}
	if strings.Join(order, "|") != strings.Join(want, "|") {
		t.Errorf("unmount order %q, want %q", order, want)
	}
	if !h.dead(5*time.Second) || !hElse.dead(5*time.Second) {
		t.Error("a holder of a submount or of the other mount survived")
	}
}

func unmountOrder(log string) []string {
	var order []string
	for _, line := range strings.Split(log, "\n") {
		if _, after, ok := strings.Cut(line, "INFO: unmounted "); ok {
			order = append(order, after)
		}
	}
	return order
}

// TestComponentBind: a read-only bind mount; its stop kills only users of
// the bind and leaves the source filesystem mounted.
func TestComponentBind(t *testing.T) {
	requireComponent(t)
	l := newLab(t)
	dev := l.loopDevice(t, "ext4", "mkfs.ext4", "-q")
	base := filepath.Join(l.dir, "base")
	os.MkdirAll(base, 0o755)
	run(t, "mount", "-t", "ext4", dev, base)
	src := filepath.Join(base, "www")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "index.html"), []byte("hello\n"), 0o644)
	dir := filepath.Join(l.dir, "var", "www")
	res := &resource{lab: l, params: []string{"device=" + src, "directory=" + dir, "fstype=none", "options=bind,ro,nosuid"}}
	res.expect(t, "monitor", 7)
	res.expect(t, "start", 0)
	res.expect(t, "start", 0)
	m := l.mountedAt(t, dir)
	if m == nil || m.Root != "/www" || !hasOption(m.Options, "ro") || !hasOption(m.Options, "nosuid") {
		t.Fatalf("bind mount: %+v", m)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "index.html")); err != nil || string(b) != "hello\n" {
		t.Fatalf("read through the bind: %q %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write to a read-only bind: %v", err)
	}
	res.expect(t, "monitor", 0, recurring)
	res.expect(t, "monitor", 0, recurring, "OCF_CHECK_LEVEL=10") // nothing to read: passes
	inBind := startHolder(t, dir, "cwd")
	inSource := startHolder(t, src, "cwd") // same files, through the source path
	res.expect(t, "stop", 0, "OCF_RESKEY_CRM_meta_timeout=20000")
	if !inBind.dead(5 * time.Second) {
		t.Error("the user of the bind survived")
	}
	if inSource.dead(0) {
		t.Error("stop of a bind mount killed a user of the source filesystem")
	}
	if l.mountedAt(t, dir) != nil || l.mountedAt(t, base) == nil {
		t.Errorf("after stop: %v", mountPoints(l.mounts(t)))
	}
	res.expect(t, "stop", 0)
	res.expect(t, "monitor", 7)
	inSource.cmd.Process.Kill()
	inSource.dead(5 * time.Second)
	run(t, "umount", base)
}

// TestComponentBadConfig: errors are answered with the right code and a
// reason that names the parameter.
func TestComponentBadConfig(t *testing.T) {
	requireComponent(t)
	l := newLab(t)
	dev := l.loopDevice(t, "ext4", "mkfs.ext4", "-q")
	dir := filepath.Join(l.dir, "mnt")
	tests := []struct {
		name   string
		params []string
		env    []string
		action string
		rc     int
		reason string
	}{
		{"unknown fstype", []string{"device=" + dev, "directory=" + dir, "fstype=nosuchfs"}, nil, "start", 5, "parameter fstype"},
		{"unknown fstype, validate-all", []string{"device=" + dev, "directory=" + dir, "fstype=nosuchfs"}, nil, "validate-all", 5, "parameter fstype"},
		{"malformed fstype", []string{"device=" + dev, "directory=" + dir, "fstype=ext4,ro"}, nil, "start", 6, "parameter fstype"},
		{"wrong fstype for the device", []string{"device=" + dev, "directory=" + dir, "fstype=xfs"}, nil, "start", 1, "wrong fstype"},
		{"missing device", []string{"device=/dev/goha-no-such-device", "directory=" + dir, "fstype=ext4"}, nil, "start", 5, "parameter device"},
		{"relative directory", []string{"device=" + dev, "directory=mnt", "fstype=ext4"}, nil, "start", 6, "parameter directory"},
		{"loop option", []string{"device=" + dev, "directory=" + dir, "fstype=ext4", "options=loop"}, nil, "start", 6, "parameter options"},
		{"clone of ext4", []string{"device=" + dev, "directory=" + dir, "fstype=ext4"}, []string{"OCF_RESKEY_CRM_meta_clone=0", "OCF_RESKEY_CRM_meta_clone_max=2"}, "start", 6, "not cluster-aware"},
		{"bad fstype, probe", []string{"device=" + dev, "directory=" + dir, "fstype=ext4,ro"}, nil, "monitor", 7, ""},
		{"missing device, stop", []string{"device=/dev/goha-no-such-device", "directory=" + dir, "fstype=ext4"}, nil, "stop", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &resource{lab: l, params: tt.params}
			r := res.expect(t, tt.action, tt.rc, tt.env...)
			if tt.reason != "" && !strings.Contains(exitReason(r.Stderr), tt.reason) {
				t.Errorf("reason %q does not contain %q\n%s", exitReason(r.Stderr), tt.reason, r)
			}
			if left := l.mounts(t); len(left) != 0 {
				t.Errorf("left %v mounted", mountPoints(left))
			}
		})
	}
}

// TestComponentFsck: run_fsck=force checks the device before mounting it.
func TestComponentFsck(t *testing.T) {
	requireComponent(t)
	l := newLab(t)
	dev := l.loopDevice(t, "ext4", "mkfs.ext4", "-q")
	dir := filepath.Join(l.dir, "mnt")
	res := &resource{lab: l, params: []string{"device=" + dev, "directory=" + dir, "fstype=ext4", "run_fsck=force"}}
	r := res.expect(t, "start", 0)
	if !strings.Contains(r.Stderr, "checking "+dev+" with fsck.ext4 -p") || !strings.Contains(r.Stderr, "fsck.ext4: ") {
		t.Errorf("start did not report the check:\n%s", r)
	}
	res.expect(t, "stop", 0)
	// A filesystem fsck cannot repair unattended fails the start.
	// The root inode cleared on a filesystem marked unclean: fsck -p
	// refuses to repair that unattended and exits 4.
	run(t, "debugfs", "-w", "-R", "clri <2>", dev)
	run(t, "debugfs", "-w", "-R", "ssv state 0", dev)
	r = res.expect(t, "start", 1)
	if !strings.Contains(exitReason(r.Stderr), "fsck.ext4 -p") {
		t.Errorf("reason: %s", r)
	}
}

func exitReason(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if _, after, ok := strings.Cut(line, "ocf-exit-reason:"); ok {
			return after
		}
	}
	return ""
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
