package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cgroup2Base returns the mount point of the unified (v2) hierarchy, or ""
// if there is none. Hybrid hosts mount it at /sys/fs/cgroup/unified.
func cgroup2Base() string {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p
		}
	}
	return ""
}

// memoryBase returns the cgroup v1 memory hierarchy, or "".
func memoryBase() string {
	p := "/sys/fs/cgroup/memory"
	if _, err := os.Stat(filepath.Join(p, "memory.usage_in_bytes")); err == nil {
		return p
	}
	return ""
}

// labCgroups returns the lab's cgroup directories (empty where the
// hierarchy is missing).
func labCgroups(name string) (v2, mem string) {
	if b := cgroup2Base(); b != "" {
		v2 = filepath.Join(b, "goha-lab", name)
	}
	if b := memoryBase(); b != "" {
		mem = filepath.Join(b, "goha-lab", name)
	}
	return v2, mem
}

// cgroupKill kills every process in a cgroup v2 directory (cgroup.kill).
func cgroupKill(dir string) error {
	if dir == "" {
		return nil
	}
	err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// cgroupFreeze freezes or thaws a cgroup v2 directory and waits until the
// kernel reports the new state.
func cgroupFreeze(ctx context.Context, dir string, freeze bool) error {
	v := "0"
	if freeze {
		v = "1"
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte(v), 0); err != nil {
		return err
	}
	want := "frozen " + v
	for {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l == want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s in %s: %w", want, dir, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// cgroupFrozen reports whether a cgroup v2 directory is frozen.
func cgroupFrozen(dir string) bool {
	if dir == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.freeze"))
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// memoryUsage reads memory.usage_in_bytes of a cgroup v1 memory directory.
func memoryUsage(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, "memory.usage_in_bytes"))
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// removeCgroupTree removes a cgroup directory and its children, deepest
// first. Cgroup directories hold only kernel files, so rmdir is all it takes
// once they are empty of processes.
func removeCgroupTree(dir string) error {
	if dir == "" {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if e.IsDir() {
			errs = append(errs, removeCgroupTree(filepath.Join(dir, e.Name())))
		}
	}
	if err := unix.Rmdir(dir); err != nil && err != unix.ENOENT {
		errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
	}
	return errors.Join(errs...)
}

// rmdirIfEmpty removes dir if it is an empty directory (or, for cgroups,
// one with no child groups).
func rmdirIfEmpty(dir string) { _ = unix.Rmdir(dir) }
