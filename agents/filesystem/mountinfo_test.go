package filesystem

import (
	"os"
	"reflect"
	"testing"
)

// A mount table of a node running the vProtect stack: XFS on VDO on DRBD
// at /vprotect_data, a bind of part of it, and paths with escapes.
const sampleMountinfo = `22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
40 22 252:0 / /vprotect_data rw,noatime shared:20 - xfs /dev/mapper/vdo0 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota
41 40 0:45 / /vprotect_data/tmp rw,relatime shared:21 - tmpfs tmpfs rw,size=1024k
42 22 252:0 /exports /srv/exports rw,noatime shared:20 - xfs /dev/mapper/vdo0 rw,attr2,inode64
43 22 253:0 /home/me/my\040dir /mnt/with\040space\011tab rw,relatime shared:1 - ext4 /dev/mapper/root rw
44 41 0:46 / /vprotect_data/tmp/deep rw master:3 unbindable - tmpfs none rw
`

func TestParseMountinfo(t *testing.T) {
	mounts, err := ParseMountinfo(sampleMountinfo)
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 7 {
		t.Fatalf("got %d mounts", len(mounts))
	}
	want := Mount{ID: 40, Parent: 22, Major: 252, Minor: 0, Root: "/", MountPoint: "/vprotect_data",
		Options: "rw,noatime", FSType: "xfs", Source: "/dev/mapper/vdo0",
		SuperOpts: "rw,attr2,inode64,logbufs=8,logbsize=32k,noquota"}
	if !reflect.DeepEqual(mounts[2], want) {
		t.Errorf("line 3 = %+v\nwant %+v", mounts[2], want)
	}
	if m := mounts[5]; m.Root != "/home/me/my dir" || m.MountPoint != "/mnt/with space\ttab" {
		t.Errorf("escapes: root %q mount point %q", m.Root, m.MountPoint)
	}
	if m := mounts[6]; m.FSType != "tmpfs" || m.Source != "none" || m.Parent != 41 {
		t.Errorf("optional fields: %+v", m)
	}
}

func TestParseMountinfoErrors(t *testing.T) {
	for _, line := range []string{
		"40 22 252:0 / /x rw shared:1 xfs /dev/x rw", // no separator
		"40 22 2520 / /x rw - xfs /dev/x rw",         // no colon
		"x 22 252:0 / /x rw - xfs /dev/x rw",
		"40 22 252:0 / /x rw -", // nothing after the separator
		"40 22",
	} {
		if _, err := ParseMountinfo(line); err == nil {
			t.Errorf("ParseMountinfo(%q) accepted it", line)
		}
	}
}

func TestParseMountinfoOfThisMachine(t *testing.T) {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skipf("no /proc/self/mountinfo: %v", err)
	}
	mounts, err := ParseMountinfo(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if Containing(mounts, "/proc/self") == nil || Containing(mounts, "/proc/self").FSType != "proc" {
		t.Errorf("/proc is not found on a proc filesystem in %d mounts", len(mounts))
	}
}

func TestUnescapeOctal(t *testing.T) {
	tests := map[string]string{
		`plain`:        "plain",
		`a\040b`:       "a b",
		`\134\040`:     `\ `,
		`tab\011x`:     "tab\tx",
		`nl\012`:       "nl\n",
		`short\04`:     `short\04`,
		`not\8xx`:      `not\8xx`,
		`\777overflow`: `\777overflow`,
		`end\`:         `end\`,
	}
	for in, want := range tests {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAtAndContaining(t *testing.T) {
	mounts, _ := ParseMountinfo(sampleMountinfo)
	if m := At(mounts, "/vprotect_data"); m == nil || m.ID != 40 {
		t.Errorf("At /vprotect_data = %+v", m)
	}
	if m := At(mounts, "/vprotect_data/x"); m != nil {
		t.Errorf("At a plain directory = %+v", m)
	}
	tests := map[string]int{
		"/":                       22,
		"/etc/passwd":             22,
		"/vprotect_data":          40,
		"/vprotect_data/backups":  40,
		"/vprotect_data/tmp/a":    41,
		"/vprotect_data/tmpx":     40,
		"/vprotect_data/tmp/deep": 44,
	}
	for path, id := range tests {
		if m := Containing(mounts, path); m == nil || m.ID != id {
			t.Errorf("Containing(%q) = %+v, want mount %d", path, m, id)
		}
	}
}

func TestWantMatches(t *testing.T) {
	mounts, _ := ParseMountinfo(sampleMountinfo)
	byID := map[int]Mount{}
	for _, m := range mounts {
		byID[m.ID] = m
	}
	root, ok := BindRootOf(mounts, "/home/me/my dir")
	if !ok || root != "/home/me/my dir" {
		t.Fatalf("BindRootOf = %q, %v", root, ok)
	}
	if root, _ := BindRootOf(mounts, "/vprotect_data/exports"); root != "/exports" {
		t.Errorf("BindRootOf inside a mount = %q", root)
	}
	tests := []struct {
		name  string
		w     Want
		id    int
		match bool
	}{
		{"block by number", Want{Block: true, Major: 252, Minor: 0, Source: "/dev/dm-3"}, 40, true},
		{"block by name", Want{Block: true, Major: 9, Minor: 9, Source: "/dev/mapper/vdo0"}, 40, true},
		{"block other", Want{Block: true, Major: 252, Minor: 1, Source: "/dev/dm-4"}, 40, false},
		{"bind", Want{Bind: true, Major: 253, Minor: 0, BindRoot: "/home/me/my dir"}, 43, true},
		{"bind of another directory", Want{Bind: true, Major: 253, Minor: 0, BindRoot: "/home/me"}, 43, false},
		{"bind is not the whole filesystem", Want{Bind: true, Major: 253, Minor: 0, BindRoot: "/home/me/my dir"}, 22, false},
		{"share", Want{Source: "tmpfs"}, 41, true},
		{"share trailing slash", Want{Source: "srv:/export/"}, 41, false},
	}
	for _, tt := range tests {
		if got := tt.w.Matches(byID[tt.id]); got != tt.match {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.match)
		}
	}
	nfs := Mount{Source: "srv:/export", FSType: "nfs4"}
	if !(Want{Source: "srv:/export/"}).Matches(nfs) {
		t.Error("a share with a trailing slash does not match")
	}
}
