package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goha-ha/goha/internal/testbuild"
)

func TestFilesystemCaseDeclaration(t *testing.T) {
	for _, level := range []int{0, 20} {
		c := FilesystemCase(Config{AgentDir: "/agents", OCFRoot: "/ocf"}, level)
		l := NewFilesystemLayout(level)
		wantName := map[int]string{0: "filesystem", 20: "filesystem-20"}[level]
		if c.Name != wantName || c.Action != "" {
			t.Errorf("level %d: name %q action %q, want %s and the default monitor", level, c.Name, c.Action, wantName)
		}
		if c.Goal == nil || *c.Goal != (Goal{MaxRatio: 0.1, MaxForks: 0, CPUOnly: true}) {
			t.Errorf("level %d: goal %+v, want a tenth of the reference's CPU and no fork", level, c.Goal)
		}
		if c.Setup == nil || !strings.Contains(c.Notes, "OCF_CHECK_LEVEL="+strconv.Itoa(level)) {
			t.Errorf("level %d: setup %v, notes %q: want both, the notes naming the level", level, c.Setup != nil, c.Notes)
		}
		if !strings.HasPrefix(l.Dir, os.TempDir()+"/") || !strings.HasSuffix(l.Dir, fmt.Sprintf("%d-%d", level, os.Getpid())) {
			t.Errorf("level %d: case directory %s, want one of this process and level in %s", level, l.Dir, os.TempDir())
		}
		for _, p := range []string{l.Image, l.GohaMount, l.ReferenceMount, l.RscTmp} {
			if filepath.Dir(p) != l.Dir {
				t.Errorf("level %d: %s is not in %s", level, p, l.Dir)
			}
		}
		for _, side := range []struct {
			inv                 Invocation
			agent, argv         string
			resource, directory string
		}{
			{c.Goha, "ocf:goha:filesystem", "/agents/filesystem", FilesystemGohaResource, l.GohaMount},
			{c.Reference, "ocf:heartbeat:Filesystem", "/ocf/resource.d/heartbeat/Filesystem", FilesystemReferenceResource, l.ReferenceMount},
		} {
			inv := side.inv
			if inv.Agent != side.agent || !slices.Equal(inv.Argv, []string{side.argv}) {
				t.Errorf("%s: agent %q argv %v, want %s", side.agent, inv.Agent, inv.Argv, side.argv)
			}
			if inv.Expect != 0 || inv.Netns != "" {
				t.Errorf("%s: expect %d netns %q, want 0 in the harness's namespace", side.agent, inv.Expect, inv.Netns)
			}
			env := envMap(inv.Env)
			want := map[string]string{
				"OCF_RESOURCE_INSTANCE":        side.resource,
				"OCF_RESKEY_CRM_meta_interval": "10000",
				"OCF_RESKEY_CRM_meta_timeout":  "20000",
				"OCF_RESKEY_OCF_CHECK_LEVEL":   strconv.Itoa(level),
				"OCF_RESKEY_fstype":            "ext4",
				"OCF_RESKEY_directory":         side.directory,
				"OCF_RESKEY_device":            "", // from Setup, once attached
				"HA_RSCTMP":                    "",
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s level %d: %s=%q, want %q", side.agent, level, k, env[k], v)
				}
			}
		}
	}
	if NewFilesystemLayout(0).Dir == NewFilesystemLayout(20).Dir {
		t.Error("the two levels share a directory")
	}
}

// requireFilesystemCase skips unless the case can run here.
func requireFilesystemCase(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("attaches a loop device and mounts: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to attach a loop device, mount and read taskstats")
	}
	for _, prog := range []string{"losetup", "mkfs.ext4", "modprobe", "strace"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("needs %s (mount, e2fsprogs, kmod, strace): %v", prog, err)
		}
	}
	if _, err := os.Stat("/usr/lib/ocf/resource.d/heartbeat/Filesystem"); err != nil {
		t.Skipf("needs resource-agents: %v", err)
	}
}

// filesystemAgents builds ocf:goha:filesystem alone into a directory as the
// case's Config.AgentDir.
func filesystemAgents(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := testbuild.Main(dir, "filesystem", "./agents/filesystem/internal/filesystemcmd"); err != nil {
		t.Fatal(err)
	}
	return dir
}

// loopsBackedBelow lists the loop devices whose backing file is in dir.
func loopsBackedBelow(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		t.Fatal(err)
	}
	var loops []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // detached meanwhile
		}
		if strings.HasPrefix(strings.TrimSpace(string(b)), dir+"/") {
			loops = append(loops, filepath.Base(filepath.Dir(filepath.Dir(f))))
		}
	}
	return loops
}

// assertNothingLeft fails t unless l.Dir, its mounts and its loop devices
// are gone.
func assertNothingLeft(t *testing.T, l FilesystemLayout) {
	t.Helper()
	if ms, err := mountsBelow(l.Dir); err != nil || len(ms) > 0 {
		t.Errorf("still mounted below %s: %v %v", l.Dir, ms, err)
	}
	if loops := loopsBackedBelow(t, l.Dir); len(loops) > 0 {
		t.Errorf("loop devices still attached to %s: %v", l.Dir, loops)
	}
	if _, err := os.Stat(l.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left behind: %v", l.Dir, err)
	}
}

// TestFilesystemCaseMeasures runs both levels of the case on a real loop
// device, a few calls each: both agents' mounts are in place while they are
// measured, at level 20 each agent has written its status file (and at
// level 0 neither has), goha forks nothing, and the cleanup leaves no
// mount, loop device or directory behind.
func TestFilesystemCaseMeasures(t *testing.T) {
	requireFilesystemCase(t)
	agents := filesystemAgents(t)
	for _, level := range []int{0, 20} {
		t.Run(fmt.Sprintf("level%d", level), func(t *testing.T) {
			c := FilesystemCase(Config{AgentDir: agents, OCFRoot: "/usr/lib/ocf"}, level)
			l := NewFilesystemLayout(level)
			t.Cleanup(func() { emergencyCleanup(t, l) })
			var device string
			statusFiles := map[string][]string{}
			setup := c.Setup
			c.Setup = func(ctx context.Context) ([]string, func(), error) {
				env, cleanup, err := setup(ctx)
				if err != nil {
					return env, cleanup, err
				}
				device = envValue(env, "OCF_RESKEY_device")
				ms, err := mountsBelow(l.Dir)
				if err != nil {
					t.Error(err)
				}
				var at []string
				for _, m := range ms {
					if m.Source != device || m.FSType != "ext4" {
						t.Errorf("mount %+v, want %s (ext4)", m, device)
					}
					at = append(at, m.MountPoint)
				}
				if !slices.Equal(at, []string{l.GohaMount, l.ReferenceMount}) {
					t.Errorf("after setup mounted at %v, want goha's then the reference's mount point", at)
				}
				return env, func() {
					for _, mp := range []string{l.GohaMount, l.ReferenceMount} {
						files, _ := filepath.Glob(filepath.Join(mp, ".Filesystem_status", "*"))
						statusFiles[mp] = files
					}
					cleanup()
				}, nil
			}
			var log strings.Builder
			res, err := Measure(context.Background(), c, Options{Calls: 10, Warmup: 2, Traced: 2, Log: &log})
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			if !strings.HasPrefix(device, "/dev/loop") {
				t.Errorf("setup gave device %q, want a loop device", device)
			}
			// Both mount points show the one filesystem, so each shows
			// both agents' status files.
			for _, mp := range []string{l.GohaMount, l.ReferenceMount} {
				var names []string
				for _, f := range statusFiles[mp] {
					names = append(names, filepath.Base(f))
				}
				wrote := func(resource string) bool {
					return slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, resource+"_") })
				}
				switch {
				case level == 20 && (len(names) != 2 || !wrote(FilesystemGohaResource) || !wrote(FilesystemReferenceResource)):
					t.Errorf("status files in %s: %v, want one of each agent", mp, names)
				case level == 0 && len(names) > 0:
					t.Errorf("status files in %s at level 0: %v", mp, names)
				}
			}
			for _, ar := range []AgentResult{res.Goha, res.Reference} {
				if ar.Calls != 10 || ar.WallP50 <= 0 || ar.CPU <= 0 || ar.Procs.Traced != 2 {
					t.Errorf("%s: %+v", ar.Agent, ar.Summary)
				}
			}
			if p := res.Goha.Procs; p.ForksMax != 0 || p.ExecsMax != 0 {
				t.Errorf("goha's monitor forked: %+v", p)
			}
			// The reference runs at least its mount-table readers (and dd at 20).
			if p := res.Reference.Procs; p.ExecsMin < 5 {
				t.Errorf("the reference executed %d programs: %+v", p.ExecsMin, p)
			}
			if res.Goha.CPU >= res.Reference.CPU {
				t.Errorf("goha's monitor cost %v of CPU, the reference's %v", res.Goha.CPU, res.Reference.CPU)
			}
			ok, why := res.Goal.Check(res)
			t.Logf("level %d: goha wall p50 %v, CPU %v; reference wall p50 %v, CPU %v, %d–%d forks; goal met %v %s", level,
				res.Goha.WallP50, res.Goha.CPU, res.Reference.WallP50, res.Reference.CPU,
				res.Reference.Procs.ForksMin, res.Reference.Procs.ForksMax, ok, why)
			assertNothingLeft(t, l)
		})
	}
}

// TestFilesystemSetupCleansUpOnFailure makes the reference's start fail
// after goha's has mounted: Setup must fail and leave nothing behind.
func TestFilesystemSetupCleansUpOnFailure(t *testing.T) {
	requireFilesystemCase(t)
	c := FilesystemCase(Config{AgentDir: filesystemAgents(t), OCFRoot: t.TempDir()}, 10)
	l := NewFilesystemLayout(10)
	t.Cleanup(func() { emergencyCleanup(t, l) })
	env, cleanup, err := c.Setup(context.Background())
	if err == nil {
		cleanup()
		t.Fatalf("setup with a missing reference agent succeeded: %v", env)
	}
	if !strings.Contains(err.Error(), "ocf:heartbeat:Filesystem start") {
		t.Errorf("setup failed with %v, want the reference's start named", err)
	}
	assertNothingLeft(t, l)
}

// emergencyCleanup undoes what a failed test may have left of l, by
// directory and by backing file.
func emergencyCleanup(t *testing.T, l FilesystemLayout) {
	if err := unmountBelow(l.Dir); err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for _, loop := range loopsBackedBelow(t, l.Dir) {
		if out, err := exec.Command("losetup", "-d", "/dev/"+loop).CombinedOutput(); err != nil {
			t.Errorf("cleanup: losetup -d /dev/%s: %v %s", loop, err, out)
		}
	}
	os.RemoveAll(l.Dir)
}
