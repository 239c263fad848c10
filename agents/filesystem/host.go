package filesystem

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/internal/proc"
)

// system is the agent's view of the kernel, /proc and the programs it
// runs; tests replace it.
type system interface {
	// Mountinfo reads /proc/self/mountinfo.
	Mountinfo() ([]Mount, error)
	// Realpath resolves symbolic links in path.
	Realpath(path string) (string, error)
	// Stat returns the device number of a block device (its rdev) or of
	// the filesystem a directory is on (its dev).
	Stat(path string) (major, minor uint32, mode fs.FileMode, err error)
	Mount(source, target, fstype string, flags uintptr, data string) error
	Unmount(target string, flags int) error
	// Supported reports whether the kernel knows fstype, loading its
	// module first when modprobe is there.
	Supported(ctx context.Context, fstype string) (bool, error)
	// Fsck runs fsck.<fstype> -p on device and returns its exit status.
	Fsck(ctx context.Context, fstype, device string) (status int, output string, err error)
	// Holders finds the processes that use t, other than the agent.
	Holders(ctx context.Context, t Target) ([]Holder, error)
	// Terminate sends SIGTERM to pids, SIGKILL at killAt, and waits until
	// they are gone or ctx ends.
	Terminate(ctx context.Context, pids []int, killAt time.Time) error
	// ReadBlock reads the first block of device with O_DIRECT.
	ReadBlock(device string) error
	// WriteStatus writes content to path with O_DIRECT (when the
	// filesystem allows it) and O_SYNC, fsyncs it, and reads it back.
	WriteStatus(path string, content []byte) error
	// FlushBuffers drops the block device's buffer cache after unmount.
	FlushBuffers(device string) error
}

// host is the real system.
type host struct{}

func (host) Mountinfo() ([]Mount, error) {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return ParseMountinfo(string(raw))
}

func (host) Realpath(path string) (string, error) { return filepath.EvalSymlinks(path) }

func (host) Stat(path string) (uint32, uint32, fs.FileMode, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, 0, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	mode := fs.FileMode(st.Mode & 0o777)
	dev := st.Dev
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
		dev = st.Rdev
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	}
	return unix.Major(dev), unix.Minor(dev), mode, nil
}

func (host) Mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", source, target, err)
	}
	return nil
}

func (host) Unmount(target string, flags int) error {
	return unix.Unmount(target, flags|unix.UMOUNT_NOFOLLOW)
}

func (host) Supported(ctx context.Context, fstype string) (bool, error) {
	name := fstype
	switch {
	case strings.HasPrefix(fstype, "fuse.") || fstype == "glusterfs" || fstype == "rozofs":
		name = "fuse"
	case fstype == "efs":
		name = "nfs4"
	}
	if ok, err := kernelKnows(name); ok || err != nil {
		return ok, err
	}
	modprobe, err := exec.LookPath("modprobe")
	if err != nil {
		return false, nil
	}
	// A failure here just leaves the type unknown: the check below says so.
	_ = exec.CommandContext(ctx, modprobe, "-q", "--", "fs-"+name).Run()
	return kernelKnows(name)
}

// kernelKnows looks fstype up in /proc/filesystems.
func kernelKnows(fstype string) (bool, error) {
	f, err := os.Open("/proc/filesystems")
	if err != nil {
		return false, fmt.Errorf("read filesystem types: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 0 && fields[len(fields)-1] == fstype {
			return true, nil
		}
	}
	return false, s.Err()
}

func (host) Fsck(ctx context.Context, fstype, device string) (int, string, error) {
	prog := "fsck." + fstype
	path, err := lookSbin(prog)
	if err != nil {
		return 0, "", err
	}
	cmd := exec.CommandContext(ctx, path, "-p", device)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= 0 {
		return ee.ExitCode(), string(out), nil
	}
	if err != nil {
		return 0, string(out), fmt.Errorf("run %s: %w", path, err)
	}
	return 0, string(out), nil
}

// lookSbin finds prog in PATH or in the sbin directories, which the
// environment of a cluster resource may lack.
func lookSbin(prog string) (string, error) {
	if p, err := exec.LookPath(prog); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, prog)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", prog, exec.ErrNotFound)
}

func (host) Holders(ctx context.Context, t Target) ([]Holder, error) {
	self := os.Getpid()
	skip := func(pid int) bool { return pid == self || pid == 1 }
	type result struct {
		h   []Holder
		err error
	}
	// Reading a process's maps waits for its memory lock, which a process
	// stuck in I/O may hold: the walk runs aside so stop keeps its
	// deadline whatever happens.
	done := make(chan result, 1)
	go func() {
		h, err := FindHolders(procfs{}, t, skip)
		done <- result{h, err}
	}()
	select {
	case r := <-done:
		return r.h, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("search /proc for users of %s: %w", strings.Join(t.Dirs, ", "), ctx.Err())
	}
}

func (host) Terminate(ctx context.Context, pids []int, killAt time.Time) error {
	return proc.Terminate(ctx, pids, killAt)
}

// blockSize is what depth 10 reads and depth 20 writes: one page, which is
// aligned for O_DIRECT on every logical block size up to 4 KiB.
const blockSize = 4096

// alignedBlock returns a page-aligned buffer for O_DIRECT and its release.
func alignedBlock() ([]byte, func(), error) {
	b, err := unix.Mmap(-1, 0, blockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, fmt.Errorf("allocate an aligned buffer: %w", err)
	}
	return b, func() { unix.Munmap(b) }, nil
}

func (host) ReadBlock(device string) error {
	buf, free, err := alignedBlock()
	if err != nil {
		return err
	}
	defer free()
	fd, err := unix.Open(device, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", device, err)
	}
	defer unix.Close(fd)
	if _, err := unix.Pread(fd, buf, 0); err != nil {
		return fmt.Errorf("read %s: %w", device, err)
	}
	return nil
}

func (host) WriteStatus(path string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create status directory: %w", err)
	}
	buf, free, err := alignedBlock()
	if err != nil {
		return err
	}
	defer free()
	n := copy(buf, content)
	clear(buf[n:])

	direct := unix.O_DIRECT
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_SYNC|unix.O_CLOEXEC|direct, 0o644)
	if errors.Is(err, unix.EINVAL) { // the filesystem has no O_DIRECT (tmpfs)
		direct = 0
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_SYNC|unix.O_CLOEXEC, 0o644)
	}
	if err != nil {
		return fmt.Errorf("open status file %s: %w", path, err)
	}
	_, err = unix.Pwrite(fd, buf, 0)
	if err == nil {
		err = unix.Fsync(fd)
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write status file %s: %w", path, err)
	}

	clear(buf)
	fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|direct, 0)
	if err != nil {
		return fmt.Errorf("open status file %s to read it back: %w", path, err)
	}
	defer unix.Close(fd)
	got, err := unix.Pread(fd, buf, 0)
	if err != nil {
		return fmt.Errorf("read status file %s back: %w", path, err)
	}
	if got < len(content) || !bytes.Equal(buf[:len(content)], content) {
		return fmt.Errorf("status file %s reads back %q, not what was written", path, bytes.TrimRight(buf[:min(got, 64)], "\x00"))
	}
	return nil
}

// blkFlushBufs is BLKFLSBUF, _IO(0x12, 97).
const blkFlushBufs = 0x1261

func (host) FlushBuffers(device string) error {
	fd, err := unix.Open(device, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", device, err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetInt(fd, blkFlushBufs, 0); err != nil {
		return fmt.Errorf("flush buffers of %s: %w", device, err)
	}
	return nil
}

// procfs is the real /proc as a ProcTree.
type procfs struct{}

func (procfs) Pids() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func (procfs) Readlink(pid int, name string) (string, error) {
	return os.Readlink("/proc/" + strconv.Itoa(pid) + "/" + name)
}

func (procfs) FDs(pid int) ([]string, error) {
	d, err := os.Open("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

func (procfs) Maps(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/maps")
	return string(b), err
}

func (procfs) Comm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
