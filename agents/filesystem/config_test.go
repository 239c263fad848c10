package filesystem

import (
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/ocf"
)

func values(raw map[string]string) *ocf.Values { return ocf.NewValues(params(), raw) }

func TestConfigFrom(t *testing.T) {
	tests := []struct {
		name   string
		raw    map[string]string
		status ocf.Status // 0: accepted
		reason string
		check  func(t *testing.T, c Config)
	}{
		{
			name: "xfs on vdo",
			raw:  map[string]string{"device": "/dev/mapper/vdo0", "directory": "/vprotect_data/", "fstype": "xfs", "options": "noatime,inode64"},
			check: func(t *testing.T, c Config) {
				if c.Directory != "/vprotect_data" || !c.OnBlockDevice() || c.IsBind() || c.NeedsFsck() || c.Force != ForceKill || c.FastStop {
					t.Errorf("%+v", c)
				}
				if c.StatusFile != "/vprotect_data/.Filesystem_status/fs_node1" {
					t.Errorf("status file %s", c.StatusFile)
				}
			},
		},
		{
			name: "bind",
			raw:  map[string]string{"device": "/srv/www", "directory": "/var/www", "fstype": "none", "options": "bind,ro", "force_unmount": "safe"},
			check: func(t *testing.T, c Config) {
				if !c.IsBind() || c.OnBlockDevice() || c.Force != ForceSafe || c.NeedsFsck() {
					t.Errorf("%+v", c)
				}
			},
		},
		{
			name: "bind without fstype",
			raw:  map[string]string{"device": "/srv/www", "directory": "/var/www", "options": "bind"},
			check: func(t *testing.T, c Config) {
				if c.FSType != "none" {
					t.Errorf("fstype %q", c.FSType)
				}
			},
		},
		{
			name: "ext2 is checked, forced xfs too, no never",
			raw:  map[string]string{"device": "/dev/sdb1", "directory": "/d", "fstype": "ext2"},
			check: func(t *testing.T, c Config) {
				if !c.NeedsFsck() {
					t.Error("ext2 with run_fsck=auto is not checked")
				}
				c.Fsck = FsckNo
				if c.NeedsFsck() {
					t.Error("run_fsck=no checks")
				}
				c.FSType, c.Fsck = "xfs", FsckForce
				if !c.NeedsFsck() {
					t.Error("run_fsck=force does not check")
				}
			},
		},
		{
			name: "nfs",
			raw:  map[string]string{"device": "srv:/export", "directory": "/mnt/nfs", "fstype": "nfs4", "force_unmount": "no", "fast_stop": "yes"},
			check: func(t *testing.T, c Config) {
				if c.OnBlockDevice() || !c.IsNetwork() || c.Force != ForceNone || !c.FastStop || c.NeedsFsck() {
					t.Errorf("%+v", c)
				}
			},
		},
		{
			name: "gfs2 keeps a slow stop unless told",
			raw:  map[string]string{"device": "/dev/vg/gfs", "directory": "/gfs", "fstype": "gfs2"},
			check: func(t *testing.T, c Config) {
				if c.FastStop {
					t.Error("fast stop")
				}
			},
		},
		{
			name:   "bind with a type",
			raw:    map[string]string{"device": "/srv/www", "directory": "/var/www", "fstype": "xfs", "options": "bind"},
			status: ocf.ErrConfigured, reason: "parameter fstype must be none",
		},
		{
			name:   "bind of a relative path",
			raw:    map[string]string{"device": "srv/www", "directory": "/var/www", "fstype": "none", "options": "bind"},
			status: ocf.ErrConfigured, reason: "absolute path of the directory to bind",
		},
		{
			name:   "no fstype",
			raw:    map[string]string{"device": "/dev/sdb1", "directory": "/d", "fstype": "none"},
			status: ocf.ErrConfigured, reason: "parameter fstype is required",
		},
		{
			name:   "root",
			raw:    map[string]string{"device": "/dev/sdb1", "directory": "//", "fstype": "ext4"},
			status: ocf.ErrConfigured, reason: "root filesystem",
		},
		{
			name:   "remount",
			raw:    map[string]string{"device": "/dev/sdb1", "directory": "/d", "fstype": "ext4", "options": "remount,ro"},
			status: ocf.ErrConfigured, reason: "parameter options must not contain remount",
		},
		{
			name:   "loop",
			raw:    map[string]string{"device": "/img", "directory": "/d", "fstype": "ext4", "options": "loop"},
			status: ocf.ErrConfigured, reason: "parameter options contains \"loop\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := configFrom(values(tt.raw), "fs", "", "node1")
			if tt.status != 0 {
				if ocf.StatusOf(err) != tt.status || !strings.Contains(ocf.ReasonOf(err), tt.reason) {
					t.Fatalf("error %v (status %d), want %d containing %q", err, ocf.StatusOf(err), tt.status, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestParamChecks(t *testing.T) {
	tests := []struct {
		raw    map[string]string
		reason string
	}{
		{map[string]string{"device": "/dev/x", "directory": "data", "fstype": "xfs"}, "parameter directory must be an absolute path"},
		{map[string]string{"device": "/dev/x", "directory": "/d", "fstype": "xfs,ro"}, "parameter fstype is not a filesystem type"},
		{map[string]string{"device": "/dev/x", "directory": "/d", "fstype": "xfs", "force_unmount": "maybe"}, "parameter force_unmount must be true, safe or false"},
		{map[string]string{"device": "/dev/x", "directory": "/d", "fstype": "xfs", "run_fsck": "always"}, "parameter run_fsck must be one of"},
		{map[string]string{"device": "/dev/x", "directory": "/d", "fstype": "xfs", "statusfile_prefix": "../x"}, "parameter statusfile_prefix must be relative"},
		{map[string]string{"device": "/dev/x", "directory": "/d", "fstype": "xfs", "options": "remount"}, "parameter options must not contain remount"},
		{map[string]string{"directory": "/d", "fstype": "xfs"}, "device"},
	}
	for _, tt := range tests {
		err := values(tt.raw).Validate(params())
		if ocf.StatusOf(err) != ocf.ErrConfigured || !strings.Contains(ocf.ReasonOf(err), tt.reason) {
			t.Errorf("%v: %v, want ERR_CONFIGURED containing %q", tt.raw, err, tt.reason)
		}
	}
	ok := map[string]string{"device": "UUID=1234", "directory": "/d/", "fstype": "xfs", "force_unmount": "safe", "options": "noatime"}
	if err := values(ok).Validate(params()); err != nil {
		t.Errorf("valid parameters rejected: %v", err)
	}
}

func TestCloneProblem(t *testing.T) {
	tests := []struct {
		fstype, opts  string
		forceClones   bool
		problem, warn bool
	}{
		{"xfs", "", false, true, false},
		{"ext4", "noatime", false, true, false},
		{"xfs", "ro", false, false, true},
		{"ext4", "", true, false, true},
		{"gfs2", "", false, false, false},
		{"nfs4", "", false, false, false},
		{"none", "bind", false, false, false},
	}
	for _, tt := range tests {
		o, _ := ParseOptions(tt.opts)
		c := Config{Device: "/dev/x", FSType: tt.fstype, Options: o, ForceClones: tt.forceClones}
		p, w := c.CloneProblem()
		if (p != "") != tt.problem || (w != "") != tt.warn {
			t.Errorf("%s %q force=%v: problem %q warning %q", tt.fstype, tt.opts, tt.forceClones, p, w)
		}
	}
}

func TestStopBudget(t *testing.T) {
	c := Config{}
	if got := c.StopBudget(59 * time.Second); got != 59*time.Second {
		t.Errorf("slow stop budget %s", got)
	}
	c.FastStop = true
	if got := c.StopBudget(59 * time.Second); got != fastStopBudget {
		t.Errorf("fast stop budget %s", got)
	}
	if got := c.StopBudget(2 * time.Second); got != 2*time.Second {
		t.Errorf("fast stop with little time: %s", got)
	}
}

func TestDeviceSpec(t *testing.T) {
	tests := map[string]string{
		"/dev/drbd0":          "/dev/drbd0",
		"UUID=abcd-1234":      "/dev/disk/by-uuid/abcd-1234",
		`UUID="abcd"`:         "/dev/disk/by-uuid/abcd",
		"-U abcd":             "/dev/disk/by-uuid/abcd",
		"--uuid=abcd":         "/dev/disk/by-uuid/abcd",
		"LABEL=data":          "/dev/disk/by-label/data",
		"-Ldata":              "/dev/disk/by-label/data",
		"--label data":        "/dev/disk/by-label/data",
		"PARTUUID=1-2":        "/dev/disk/by-partuuid/1-2",
		"PARTLABEL=vprotect":  "/dev/disk/by-partlabel/vprotect",
		"server:/export/data": "server:/export/data",
	}
	for in, want := range tests {
		if got := DeviceSpec(in); got != want {
			t.Errorf("DeviceSpec(%q) = %q, want %q", in, got, want)
		}
	}
}
