package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/agents/filesystem"
)

// Resource names of the two filesystem instances: each agent names its
// status file (OCF_CHECK_LEVEL 20) after its own.
const (
	FilesystemGohaResource      = "bench-filesystem"
	FilesystemReferenceResource = "bench-heartbeat-filesystem"
)

// FilesystemType is the filesystem both agents mount and monitor.
const FilesystemType = "ext4"

const (
	// filesystemImageSize is the size of the sparse image behind the loop
	// device: ext4 with its journal fits easily.
	filesystemImageSize = 64 << 20
	// filesystemActionTimeout bounds the setup's starts and the cleanup's
	// stops, as ocf:goha:filesystem's meta-data advertises them.
	filesystemActionTimeout = 60 * time.Second
)

// FilesystemLayout is where a filesystem case keeps its image and the two
// mount points, one per agent. The paths are fixed when the case is
// declared, since they are the agents' directory parameters; Setup creates
// them and the cleanup removes them.
type FilesystemLayout struct {
	Dir            string // holds everything below; unique to the process and level
	Image          string // the sparse file behind the loop device
	GohaMount      string // ocf:goha:filesystem's directory
	ReferenceMount string // ocf:heartbeat:Filesystem's directory
	RscTmp         string // HA_RSCTMP of both agents
}

// NewFilesystemLayout returns the layout of the case monitoring at level,
// under the system's temporary directory.
func NewFilesystemLayout(level int) FilesystemLayout {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("goha-bench-filesystem%d-%d", level, os.Getpid()))
	return FilesystemLayout{
		Dir:            dir,
		Image:          filepath.Join(dir, "image"),
		GohaMount:      filepath.Join(dir, "goha"),
		ReferenceMount: filepath.Join(dir, "heartbeat"),
		RscTmp:         filepath.Join(dir, "rsctmp"),
	}
}

// FilesystemCase compares ocf:goha:filesystem with ocf:heartbeat:Filesystem
// monitoring at OCF_CHECK_LEVEL level (0: the mount table; 20: also a
// status file written and read back): one ext4 filesystem on a loop device,
// mounted by each agent on a directory of its own, and each monitors its
// own mount. The device comes from Setup, which attaches it.
func FilesystemCase(cfg Config, level int) Case {
	l := NewFilesystemLayout(level)
	params := func(dir string) map[string]string {
		return map[string]string{"directory": dir, "fstype": FilesystemType, "OCF_CHECK_LEVEL": strconv.Itoa(level)}
	}
	goha := Invocation{
		Agent: "ocf:goha:filesystem",
		Argv:  []string{filepath.Join(cfg.AgentDir, "filesystem")},
		Env:   MonitorEnv(FilesystemGohaResource, MonitorInterval, MonitorTimeout, params(l.GohaMount)),
	}
	ref := Invocation{
		Agent: "ocf:heartbeat:Filesystem",
		Argv:  []string{filepath.Join(cfg.OCFRoot, "resource.d", "heartbeat", "Filesystem")},
		Env:   MonitorEnv(FilesystemReferenceResource, MonitorInterval, MonitorTimeout, params(l.ReferenceMount)),
	}
	name, check := "filesystem", "the agent reads the mount table"
	if level != 0 {
		name = fmt.Sprintf("filesystem-%d", level)
		check = "each agent also writes a status file below its mount point and reads it back " +
			"(the reference with dd oflag=direct, goha with a write, fsync and read in-process)"
	}
	return Case{
		Name: name,
		Notes: fmt.Sprintf("one %s filesystem on a loop device (a %d MiB sparse file in a directory made for the run, "+
			"losetup), mounted twice: ocf:goha:filesystem and ocf:heartbeat:Filesystem each started once with the "+
			"same device and fstype=%s and a mount point of its own, so both mounts share one superblock and "+
			"mount table; each monitors its own mount with OCF_CHECK_LEVEL=%d: %s. The reference needs modprobe "+
			"on PATH (kmod) even for monitor.", FilesystemType, filesystemImageSize>>20, FilesystemType, level, check),
		Goal:      &Goal{MaxRatio: 0.1, MaxForks: 0, CPUOnly: true},
		Goha:      goha,
		Reference: ref,
		Setup:     StartFilesystems(l, goha, ref),
	}
}

// StartFilesystems returns a Setup that creates l, attaches a loop device
// to a fresh ext4 image and starts the two invocations on it (goha first),
// each with its own directory. It returns the device and HA_RSCTMP. Its
// cleanup stops both (the reference first: goha's stop also unmounts other
// mounts of its device), unmounts whatever is still mounted below l.Dir,
// detaches that loop device and removes l.Dir.
func StartFilesystems(l FilesystemLayout, goha, ref Invocation) func(ctx context.Context) ([]string, func(), error) {
	return func(ctx context.Context) ([]string, func(), error) {
		for _, need := range [][2]string{{"losetup", "mount"}, {"mkfs.ext4", "e2fsprogs"}, {"modprobe", "kmod"}} {
			if _, err := exec.LookPath(need[0]); err != nil {
				return nil, nil, fmt.Errorf("filesystem case needs %s (apt-get install %s): %w", need[0], need[1], err)
			}
		}
		if err := os.Mkdir(l.Dir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("create filesystem case directory: %w", err)
		}
		var device string
		var started []Invocation
		cleanup := func() {
			ctx := context.WithoutCancel(ctx)
			for i := len(started) - 1; i >= 0; i-- {
				if err := runAction(ctx, started[i], "stop", filesystemActionTimeout, 0); err != nil {
					fmt.Fprintf(os.Stderr, "bench: %v\n", err)
				}
			}
			if err := unmountBelow(l.Dir); err != nil {
				fmt.Fprintf(os.Stderr, "bench: %v\n", err)
				return // the directory stays while something is mounted in it
			}
			if device != "" {
				if out, err := exec.CommandContext(ctx, "losetup", "-d", device).CombinedOutput(); err != nil {
					fmt.Fprintf(os.Stderr, "bench: losetup -d %s: %v: %s\n", device, err, strings.TrimSpace(string(out)))
				}
			}
			os.RemoveAll(l.Dir)
		}
		fail := func(err error) ([]string, func(), error) {
			cleanup()
			return nil, nil, fmt.Errorf("filesystem case setup: %w", err)
		}
		for _, d := range []string{l.GohaMount, l.ReferenceMount, l.RscTmp} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return fail(err)
			}
		}
		if err := createSparse(l.Image, filesystemImageSize); err != nil {
			return fail(err)
		}
		out, err := exec.CommandContext(ctx, "losetup", "--find", "--show", l.Image).Output()
		if err != nil {
			return fail(fmt.Errorf("losetup --find --show %s: %w", l.Image, commandError(err)))
		}
		device = strings.TrimSpace(string(out))
		if out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", device).CombinedOutput(); err != nil {
			return fail(fmt.Errorf("mkfs.ext4 %s: %w: %s", device, err, strings.TrimSpace(string(out))))
		}
		env := []string{"OCF_RESKEY_device=" + device, "HA_RSCTMP=" + l.RscTmp}
		for _, inv := range []Invocation{goha, ref} {
			inv = inv.With(env...)
			started = append(started, inv)
			if err := runAction(ctx, inv, "start", filesystemActionTimeout, 0); err != nil {
				return fail(err)
			}
		}
		return env, cleanup, nil
	}
}

// createSparse creates path as a sparse file of size bytes.
func createSparse(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create image: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("size image %s: %w", path, err)
	}
	return f.Close()
}

// commandError adds what a failed command wrote to stderr to its error.
func commandError(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}

// unmountBelow unmounts everything mounted at or below dir, the latest
// mount first; a mount that is busy is detached lazily. It fails when
// something is still mounted there afterwards.
func unmountBelow(dir string) error {
	mounts, err := mountsBelow(dir)
	if err != nil {
		return err
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		mp := mounts[i].MountPoint
		if err := unix.Unmount(mp, 0); err != nil {
			fmt.Fprintf(os.Stderr, "bench: unmount %s: %v; detaching it\n", mp, err)
			if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil {
				return fmt.Errorf("detach %s: %w", mp, err)
			}
		}
	}
	if left, err := mountsBelow(dir); err != nil || len(left) > 0 {
		return fmt.Errorf("still mounted below %s: %d mounts (%v)", dir, len(left), err)
	}
	return nil
}

// mountsBelow lists this process's mounts at or below dir, in mount order.
func mountsBelow(dir string) ([]filesystem.Mount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	all, err := filesystem.ParseMountinfo(string(data))
	if err != nil {
		return nil, fmt.Errorf("parse mount table: %w", err)
	}
	var below []filesystem.Mount
	for _, m := range all {
		if m.MountPoint == dir || strings.HasPrefix(m.MountPoint, dir+"/") {
			below = append(below, m)
		}
	}
	return below, nil
}
