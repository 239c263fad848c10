package filesystem

import (
	"reflect"
	"testing"
	"time"
)

func mountPoints(ms []Mount) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.MountPoint)
	}
	return s
}

func TestObserve(t *testing.T) {
	mounts, _ := ParseMountinfo(sampleMountinfo)
	vdo := Want{Directory: "/vprotect_data", Block: true, Major: 252, Minor: 0, Source: "/dev/mapper/vdo0"}

	s := Observe(mounts, vdo)
	if s.Mounted == nil || s.Mounted.ID != 40 || s.Other != nil {
		t.Errorf("mounted: %+v", s)
	}

	other := Want{Directory: "/vprotect_data", Block: true, Major: 147, Minor: 0, Source: "/dev/drbd0"}
	s = Observe(mounts, other)
	if s.Mounted != nil || s.Other == nil || s.Other.ID != 40 {
		t.Errorf("another device there: %+v", s)
	}

	// Not mounted, but something is below the directory.
	s = Observe(mounts, Want{Directory: "/vprotect_data/tmp/deep/x"})
	if s.Mounted != nil || s.Other != nil || len(s.Beneath) != 0 {
		t.Errorf("fresh directory: %+v", s)
	}
	s = Observe(mounts, Want{Directory: "/srv", Source: "srv:/x"})
	if got := mountPoints(s.Beneath); !reflect.DeepEqual(got, []string{"/srv/exports"}) {
		t.Errorf("beneath /srv: %v", got)
	}

	// Stacked: the resource's mount is found under one mounted over it.
	stacked := sampleMountinfo + "50 40 0:60 / /vprotect_data rw - tmpfs tmpfs rw\n"
	ms, _ := ParseMountinfo(stacked)
	if s := Observe(ms, vdo); s.Mounted == nil || s.Mounted.ID != 40 {
		t.Errorf("over-mounted: %+v", s)
	}
}

func TestPlanUnmount(t *testing.T) {
	base := `22 1 253:0 / / rw - ext4 /dev/mapper/root rw
`
	tests := []struct {
		name  string
		table string
		want  Want
		plan  []string
	}{
		{
			name:  "not mounted",
			table: base,
			want:  Want{Directory: "/data", Block: true, Major: 7, Minor: 0, Source: "/dev/loop0"},
		},
		{
			name: "alone",
			table: base + `30 22 7:0 / /data rw - xfs /dev/loop0 rw
`,
			want: Want{Directory: "/data", Block: true, Major: 7, Minor: 0, Source: "/dev/loop0"},
			plan: []string{"/data"},
		},
		{
			name: "submounts deepest first, then the device's other mounts",
			table: base + `30 22 7:0 / /data rw - xfs /dev/loop0 rw
31 30 0:50 / /data/a rw - tmpfs tmpfs rw
32 31 0:51 / /data/a/b rw - tmpfs tmpfs rw
33 30 0:52 / /data/c rw - tmpfs tmpfs rw
34 22 7:0 /exports /srv/exports rw - xfs /dev/loop0 rw
35 22 0:53 / /srv/other rw - tmpfs tmpfs rw
36 22 8:1 / /data2 rw - ext4 /dev/sda1 rw
`,
			want: Want{Directory: "/data", Block: true, Major: 7, Minor: 0, Source: "/dev/loop0"},
			plan: []string{"/data/a/b", "/data/c", "/data/a", "/srv/exports", "/data"},
		},
		{
			name: "mounted earlier below the directory: not ours to unmount",
			table: base + `29 22 0:49 / /data/hidden rw - tmpfs tmpfs rw
30 22 7:0 / /data rw - xfs /dev/loop0 rw
`,
			want: Want{Directory: "/data", Block: true, Major: 7, Minor: 0, Source: "/dev/loop0"},
			plan: []string{"/data"},
		},
		{
			name: "bind mount: never the source filesystem",
			table: base + `30 22 7:0 / /data rw - xfs /dev/loop0 rw
40 22 7:0 /www /var/www rw - xfs /dev/loop0 rw
41 40 0:60 / /var/www/cache rw - tmpfs tmpfs rw
`,
			want: Want{Directory: "/var/www", Bind: true, Major: 7, Minor: 0, BindRoot: "/www"},
			plan: []string{"/var/www/cache", "/var/www"},
		},
		{
			name: "bind of another directory at the mount point is not ours",
			table: base + `30 22 7:0 / /data rw - xfs /dev/loop0 rw
40 22 7:0 /other /var/www rw - xfs /dev/loop0 rw
`,
			want: Want{Directory: "/var/www", Bind: true, Major: 7, Minor: 0, BindRoot: "/www"},
		},
		{
			name: "the same device mounted twice at the directory",
			table: base + `30 22 7:0 / /data rw - xfs /dev/loop0 rw
31 30 7:0 / /data rw - xfs /dev/loop0 rw
`,
			want: Want{Directory: "/data", Block: true, Major: 7, Minor: 0, Source: "/dev/loop0"},
			plan: []string{"/data", "/data"},
		},
		{
			name: "a device that also holds the root filesystem",
			table: `22 1 8:1 / / rw - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw - proc proc rw
30 22 8:1 /srv /data rw - ext4 /dev/sda1 rw
31 22 0:22 / /run rw - tmpfs tmpfs rw
`,
			want: Want{Directory: "/data", Block: true, Major: 8, Minor: 1, Source: "/dev/sda1"},
			plan: []string{"/data"},
		},
		{
			name: "network share",
			table: base + `30 22 0:70 / /mnt/nfs rw - nfs4 srv:/export rw
31 30 0:71 / /mnt/nfs/x rw - tmpfs tmpfs rw
`,
			want: Want{Directory: "/mnt/nfs", Source: "srv:/export"},
			plan: []string{"/mnt/nfs/x", "/mnt/nfs"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mounts, err := ParseMountinfo(tt.table)
			if err != nil {
				t.Fatal(err)
			}
			plan := PlanUnmount(mounts, tt.want)
			if got := mountPoints(plan); !reflect.DeepEqual(got, tt.plan) {
				t.Errorf("plan %q, want %q", got, tt.plan)
			}
		})
	}
}

func TestUnmountTarget(t *testing.T) {
	root := Mount{ID: 1, Major: 8, Minor: 1, MountPoint: "/"}
	sub := Mount{ID: 31, Parent: 30, Major: 0, Minor: 40, MountPoint: "/data/a"}
	data := Mount{ID: 30, Parent: 1, Major: 147, Minor: 0, MountPoint: "/data"}
	plan := []Mount{sub, data}
	got := UnmountTarget([]Mount{root, data, sub}, plan, Want{Block: true, Major: 147, Minor: 0})
	if !reflect.DeepEqual(got, Target{Dirs: []string{"/data/a", "/data"}, Devs: []string{"93:00"}}) {
		t.Errorf("block target %+v", got)
	}
	got = UnmountTarget([]Mount{root, data, sub}, plan, Want{Bind: true, Major: 147, Minor: 0})
	if got.Devs != nil {
		t.Errorf("a bind target matches the source device: %+v", got)
	}
	// The device also holds the root filesystem, which stays mounted.
	data.Major, data.Minor = 8, 1
	got = UnmountTarget([]Mount{root, data, sub}, []Mount{sub, data}, Want{Block: true, Major: 8, Minor: 1})
	if got.Devs != nil {
		t.Errorf("the root device's users are targeted: %+v", got)
	}
}

func TestPhaseAt(t *testing.T) {
	tests := []struct {
		elapsed, budget time.Duration
		want            Phase
	}{
		{0, 60 * time.Second, PhaseTerm},
		{29 * time.Second, 60 * time.Second, PhaseTerm},
		{30 * time.Second, 60 * time.Second, PhaseKill},
		{59 * time.Second, 60 * time.Second, PhaseKill},
		{60 * time.Second, 60 * time.Second, PhaseGiveUp},
		{3 * time.Second, fastStopBudget, PhaseKill},
		{0, 0, PhaseGiveUp},
	}
	for _, tt := range tests {
		if got := PhaseAt(tt.elapsed, tt.budget); got != tt.want {
			t.Errorf("PhaseAt(%s, %s) = %d, want %d", tt.elapsed, tt.budget, got, tt.want)
		}
	}
}
