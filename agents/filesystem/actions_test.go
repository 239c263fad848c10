package filesystem

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/ocf"
)

// fakeHolder is a process of fakeSystem that keeps a mount point busy.
type fakeHolder struct {
	pid        int
	dir        string // the mount point it uses
	ignoreTerm bool
	alive      bool
	signals    []syscall.Signal
	killed     time.Time // when SIGKILL came
}

// mountCall is one mount(2) the agent made.
type mountCall struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// fakeSystem is a kernel in memory: a mount table, block devices and
// processes that hold mounts busy.
type fakeSystem struct {
	mu        sync.Mutex
	mounts    []Mount
	nextID    int
	devices   map[string][2]uint32 // block device path -> major, minor
	dirs      map[string]bool      // directories that exist
	holders   []*fakeHolder
	calls     []mountCall
	mountErr  error
	known     map[string]bool // filesystem types
	readErr   error
	reads     []string
	statuses  []string
	terminate int // Terminate calls
}

func newFakeSystem() *fakeSystem {
	return &fakeSystem{
		nextID:  100,
		mounts:  []Mount{{ID: 1, Parent: 0, Major: 253, Minor: 0, Root: "/", MountPoint: "/", Options: "rw", FSType: "ext4", Source: "/dev/root"}},
		devices: map[string][2]uint32{"/dev/drbd0": {147, 0}},
		dirs:    map[string]bool{"/srv/www": true},
		known:   map[string]bool{"xfs": true, "ext4": true, "tmpfs": true},
	}
}

func (f *fakeSystem) Mountinfo() ([]Mount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.mounts), nil
}

func (f *fakeSystem) Realpath(path string) (string, error) { return path, nil }

func (f *fakeSystem) Stat(path string) (uint32, uint32, fs.FileMode, error) {
	if d, ok := f.devices[path]; ok {
		return d[0], d[1], fs.ModeDevice, nil
	}
	if m := Containing(f.mounts, path); m != nil && f.dirs[path] {
		return m.Major, m.Minor, fs.ModeDir, nil
	}
	return 0, 0, 0, &fs.PathError{Op: "stat", Path: path, Err: fs.ErrNotExist}
}

func (f *fakeSystem) Mount(source, target, fstype string, flags uintptr, data string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, mountCall{source, target, fstype, flags, data})
	if f.mountErr != nil {
		return f.mountErr
	}
	if flags&unix.MS_REMOUNT != 0 {
		m := &f.mounts[len(f.mounts)-1]
		if flags&unix.MS_RDONLY != 0 {
			m.Options = "ro"
		}
		return nil
	}
	if flags&(unix.MS_SHARED|unix.MS_PRIVATE|unix.MS_SLAVE|unix.MS_UNBINDABLE) != 0 {
		return nil
	}
	parent := Containing(f.mounts, target)
	m := Mount{ID: f.nextID, Parent: parent.ID, Root: "/", MountPoint: target, Options: "rw", FSType: fstype, Source: source}
	if d, ok := f.devices[source]; ok {
		m.Major, m.Minor = d[0], d[1]
	}
	if flags&unix.MS_BIND != 0 {
		src := Containing(f.mounts, source)
		m.Major, m.Minor, m.FSType, m.Source = src.Major, src.Minor, src.FSType, src.Source
		m.Root, _ = BindRootOf(f.mounts, source)
	}
	if flags&unix.MS_RDONLY != 0 {
		m.Options = "ro"
	}
	f.nextID++
	f.mounts = append(f.mounts, m)
	return nil
}

func (f *fakeSystem) Unmount(target string, flags int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := -1
	for j, m := range f.mounts {
		if m.MountPoint == target {
			i = j
		}
	}
	if i < 0 {
		return unix.EINVAL
	}
	for _, m := range f.mounts {
		if m.Parent == f.mounts[i].ID {
			return unix.EBUSY
		}
	}
	for _, h := range f.holders {
		if h.alive && h.dir == target {
			return unix.EBUSY
		}
	}
	f.mounts = slices.Delete(f.mounts, i, i+1)
	return nil
}

func (f *fakeSystem) Supported(ctx context.Context, fstype string) (bool, error) {
	return f.known[fstype], nil
}

func (f *fakeSystem) Fsck(ctx context.Context, fstype, device string) (int, string, error) {
	return 0, "clean", nil
}

func (f *fakeSystem) Holders(ctx context.Context, t Target) ([]Holder, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var hs []Holder
	for _, h := range f.holders {
		if h.alive && slices.Contains(t.Dirs, h.dir) {
			hs = append(hs, Holder{Pid: h.pid, Comm: "fake", Uses: []string{"cwd"}})
		}
	}
	return hs, nil
}

// Terminate behaves like proc.Terminate over the fake processes.
func (f *fakeSystem) Terminate(ctx context.Context, pids []int, killAt time.Time) error {
	f.mu.Lock()
	f.terminate++
	f.mu.Unlock()
	f.signal(pids, syscall.SIGTERM)
	for {
		if !time.Now().Before(killAt) {
			f.signal(pids, syscall.SIGKILL)
		}
		if f.allGone(pids) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (f *fakeSystem) signal(pids []int, sig syscall.Signal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.holders {
		if slices.Contains(pids, h.pid) && h.alive {
			h.signals = append(h.signals, sig)
			if sig == syscall.SIGKILL {
				h.killed = time.Now()
			}
			if sig == syscall.SIGKILL || !h.ignoreTerm {
				h.alive = false
			}
		}
	}
}

func (f *fakeSystem) allGone(pids []int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.holders {
		if slices.Contains(pids, h.pid) && h.alive {
			return false
		}
	}
	return true
}

func (f *fakeSystem) ReadBlock(device string) error {
	f.reads = append(f.reads, device)
	return f.readErr
}

func (f *fakeSystem) WriteStatus(path string, content []byte) error {
	f.statuses = append(f.statuses, path+"="+string(content))
	return nil
}

func (f *fakeSystem) FlushBuffers(device string) error { return nil }

// harness runs the agent's actions over a fakeSystem.
type harness struct {
	t      *testing.T
	sys    *fakeSystem
	a      *ocf.Agent
	params []string
	dir    string
}

func newHarness(t *testing.T, params ...string) *harness {
	sys := newFakeSystem()
	dir := filepath.Join(t.TempDir(), "data")
	return &harness{t: t, sys: sys, a: newAgent(&actions{sys: sys}), dir: dir,
		params: append([]string{"device=/dev/drbd0", "directory=" + dir, "fstype=xfs"}, params...)}
}

func (h *harness) run(action string, env ...string) (ocf.Status, string, time.Duration) {
	h.t.Helper()
	environ := []string{"OCF_RESOURCE_INSTANCE=fs"}
	for _, p := range h.params {
		environ = append(environ, "OCF_RESKEY_"+p)
	}
	environ = append(environ, env...)
	lookup := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		lookup[k] = v
	}
	var stderr bytes.Buffer
	start := time.Now()
	st := h.a.Run(context.Background(), action, ocf.System{
		Environ: environ, Getenv: func(k string) string { return lookup[k] },
		Stdout: io.Discard, Stderr: &stderr, NoLock: true,
	})
	return st, stderr.String(), time.Since(start)
}

func (h *harness) expect(action string, want ocf.Status, reason string, env ...string) string {
	h.t.Helper()
	got, stderr, _ := h.run(action, env...)
	if got != want || !strings.Contains(stderr, reason) {
		h.t.Fatalf("%s %v: %v\n%s\nwant %v with %q", action, env, got, stderr, want, reason)
	}
	return stderr
}

func TestStartMonitorStop(t *testing.T) {
	h := newHarness(t, "options=noatime,inode64")
	h.expect("monitor", ocf.NotRunning, "")
	h.expect("monitor", ocf.NotRunning, "is not mounted on", recurring)
	h.expect("start", ocf.Success, "")
	h.expect("start", ocf.Success, "already mounted")
	want := []mountCall{{"/dev/drbd0", h.dir, "xfs", unix.MS_NOATIME, "inode64"}}
	if !slices.Equal(h.sys.calls, want) {
		t.Fatalf("mount calls %+v, want %+v", h.sys.calls, want)
	}
	h.expect("monitor", ocf.Success, "", recurring)
	h.expect("monitor", ocf.Success, "", recurring, "OCF_CHECK_LEVEL=10")
	if !slices.Equal(h.sys.reads, []string{"/dev/drbd0"}) {
		t.Errorf("depth 10 read %v", h.sys.reads)
	}
	h.expect("monitor", ocf.Success, "", recurring, "OCF_CHECK_LEVEL=20")
	if len(h.sys.statuses) != 1 || !strings.HasPrefix(h.sys.statuses[0], h.dir+"/.Filesystem_status/fs_") || !strings.HasSuffix(h.sys.statuses[0], "=fs\n") {
		t.Errorf("depth 20 wrote %v", h.sys.statuses)
	}
	h.sys.readErr = unix.EIO
	h.expect("monitor", ocf.ErrGeneric, "cannot read device /dev/drbd0", recurring, "OCF_CHECK_LEVEL=10")
	h.sys.readErr = nil

	// The filesystem turned read-only after an error.
	h.sys.mounts[len(h.sys.mounts)-1].SuperOpts = "ro,errors=remount-ro"
	h.expect("monitor", ocf.ErrGeneric, "has become read-only", recurring)
	h.sys.mounts[len(h.sys.mounts)-1].SuperOpts = "rw"

	h.expect("stop", ocf.Success, "")
	h.expect("stop", ocf.Success, "")
	h.expect("monitor", ocf.NotRunning, "")
	if len(h.sys.mounts) != 1 {
		t.Errorf("left %v", mountPoints(h.sys.mounts))
	}
}

func TestMonitorAnotherFilesystemThere(t *testing.T) {
	h := newHarness(t)
	h.sys.mounts = append(h.sys.mounts, Mount{ID: 50, Parent: 1, Major: 8, Minor: 1, Root: "/", MountPoint: h.dir, Options: "rw", FSType: "ext4", Source: "/dev/sdb1"})
	h.expect("monitor", ocf.NotRunning, "")
	h.expect("monitor", ocf.NotRunning, "(/dev/sdb1 is)", recurring)
	h.expect("start", ocf.ErrGeneric, "already has /dev/sdb1 (ext4) mounted on it")
}

func TestStartRefusesToHideMounts(t *testing.T) {
	h := newHarness(t)
	h.sys.mounts = append(h.sys.mounts, Mount{ID: 50, Parent: 1, Root: "/", MountPoint: h.dir + "/sub", Options: "rw", FSType: "tmpfs", Source: "tmpfs"})
	h.expect("start", ocf.ErrConfigured, "mounted below it")
}

func TestStartErrors(t *testing.T) {
	h := newHarness(t)
	h.params[2] = "fstype=btrfs"
	h.expect("start", ocf.ErrInstalled, "parameter fstype: the kernel does not support \"btrfs\"")
	h.params[2] = "fstype=xfs"
	h.sys.mountErr = unix.EINVAL
	h.expect("start", ocf.ErrGeneric, "wrong fstype, bad option")
	h.sys.mountErr = unix.ENODEV
	h.expect("start", ocf.ErrInstalled, "parameter fstype")
	h.sys.mountErr = nil
	h.params[0] = "device=/dev/drbd9"
	h.expect("start", ocf.ErrInstalled, "parameter device: device /dev/drbd9 does not exist")
	h.expect("stop", ocf.Success, "")
	h.expect("start", ocf.ErrConfigured, "not cluster-aware", "OCF_RESKEY_CRM_meta_clone=1")
}

func TestBindReadOnly(t *testing.T) {
	h := newHarness(t, "options=bind,ro")
	h.params[0], h.params[2] = "device=/srv/www", "fstype=none"
	h.expect("start", ocf.Success, "")
	want := []mountCall{
		{"/srv/www", h.dir, "", unix.MS_BIND, ""},
		{"", h.dir, "", unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY, ""},
	}
	if !slices.Equal(h.sys.calls, want) {
		t.Fatalf("mount calls %+v, want %+v", h.sys.calls, want)
	}
	h.expect("monitor", ocf.Success, "", recurring)
	h.expect("start", ocf.Success, "already mounted")
	h.expect("stop", ocf.Success, "")
	if len(h.sys.mounts) != 1 {
		t.Errorf("left %v", mountPoints(h.sys.mounts))
	}
}

func TestStopPhases(t *testing.T) {
	h := newHarness(t)
	h.expect("start", ocf.Success, "")
	polite := &fakeHolder{pid: 10, dir: h.dir, alive: true}
	stubborn := &fakeHolder{pid: 11, dir: h.dir, alive: true, ignoreTerm: true}
	h.sys.holders = []*fakeHolder{polite, stubborn}
	st, stderr, took := h.run("stop", "OCF_RESKEY_CRM_meta_timeout=3000")
	if st != ocf.Success {
		t.Fatalf("stop: %v\n%s", st, stderr)
	}
	// budget 2 s: SIGTERM until 1 s, then SIGKILL
	if took < 900*time.Millisecond || took > 3*time.Second {
		t.Errorf("stop took %s", took)
	}
	if !slices.Equal(polite.signals, []syscall.Signal{syscall.SIGTERM}) {
		t.Errorf("polite holder got %v", polite.signals)
	}
	if n := len(stubborn.signals); n < 2 || stubborn.signals[n-1] != syscall.SIGKILL || stubborn.signals[0] != syscall.SIGTERM {
		t.Errorf("stubborn holder got %v", stubborn.signals)
	}
	if !strings.Contains(stderr, "sending SIGKILL to 11 (fake: cwd)") {
		t.Errorf("no SIGKILL round logged:\n%s", stderr)
	}
}

func TestStopFastStop(t *testing.T) {
	h := newHarness(t, "fast_stop=true")
	h.expect("start", ocf.Success, "")
	stubborn := &fakeHolder{pid: 11, dir: h.dir, alive: true, ignoreTerm: true}
	h.sys.holders = []*fakeHolder{stubborn}
	start := time.Now()
	h.expect("stop", ocf.Success, "", "OCF_RESKEY_CRM_meta_timeout=60000")
	if d := stubborn.killed.Sub(start); d < 2900*time.Millisecond || d > 4*time.Second {
		t.Errorf("fast stop sent SIGKILL %s after the start, want 3 s", d)
	}
}

func TestStopWithoutForce(t *testing.T) {
	h := newHarness(t, "force_unmount=false")
	h.expect("start", ocf.Success, "")
	holder := &fakeHolder{pid: 10, dir: h.dir, alive: true}
	h.sys.holders = []*fakeHolder{holder}
	st, stderr, took := h.run("stop", "OCF_RESKEY_CRM_meta_timeout=2000")
	if st != ocf.ErrGeneric || !strings.Contains(stderr, "force_unmount=false") || took > 2*time.Second {
		t.Errorf("stop: %v after %s\n%s", st, took, stderr)
	}
	if len(holder.signals) != 0 || h.sys.terminate != 0 {
		t.Errorf("signalled: %v", holder.signals)
	}
	holder.alive = false
	h.expect("stop", ocf.Success, "")
}

func TestStopUnkillableFailsInTime(t *testing.T) {
	h := newHarness(t)
	h.expect("start", ocf.Success, "")
	// A process that survives SIGKILL (stuck in the kernel) keeps it
	// busy: Terminate never sees it go.
	stuck := &fakeHolder{pid: 12, dir: h.dir, alive: true, ignoreTerm: true}
	h.sys.holders = []*fakeHolder{stuck}
	h.a = newAgent(&actions{sys: &stuckSystem{fakeSystem: h.sys}})
	st, stderr, took := h.run("stop", "OCF_RESKEY_CRM_meta_timeout=3000")
	if st != ocf.ErrGeneric || !strings.Contains(stderr, "still busy") || !strings.Contains(stderr, "used by 12") || took > 3*time.Second {
		t.Errorf("stop: %v after %s\n%s", st, took, stderr)
	}
	if !stuck.alive {
		t.Error("the fake let the stuck process die")
	}
}

// stuckSystem is a fakeSystem whose processes survive every signal.
type stuckSystem struct{ *fakeSystem }

func (s *stuckSystem) Terminate(ctx context.Context, pids []int, killAt time.Time) error {
	<-ctx.Done()
	return errors.New("still there")
}

func TestStopAfterTheSourceVanished(t *testing.T) {
	h := newHarness(t, "options=bind")
	h.params[0], h.params[2] = "device=/srv/www", "fstype=none"
	h.expect("start", ocf.Success, "")
	delete(h.sys.dirs, "/srv/www")
	h.expect("monitor", ocf.ErrGeneric, "/srv/www cannot be resolved", recurring)
	h.expect("monitor", ocf.ErrGeneric, "/srv/www cannot be resolved")
	h.expect("stop", ocf.Success, "unmounting /dev/root from "+h.dir)
	if len(h.sys.mounts) != 1 {
		t.Errorf("left %v", mountPoints(h.sys.mounts))
	}

	// A block device that disappeared is still recognised by its name.
	h = newHarness(t)
	h.expect("start", ocf.Success, "")
	delete(h.sys.devices, "/dev/drbd0")
	h.expect("monitor", ocf.Success, "", recurring)
	h.expect("stop", ocf.Success, "")
	if len(h.sys.mounts) != 1 {
		t.Errorf("left %v", mountPoints(h.sys.mounts))
	}
}
