package filesystem

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		in        string
		flags     uintptr
		data      string
		bind, rec bool
		remount   bool
		prop      uintptr
		err       string
	}{
		{in: ""},
		{in: "defaults"},
		{in: "ro", flags: unix.MS_RDONLY},
		{in: "ro,rw"},
		{in: "noatime,nodev,nosuid,noexec", flags: unix.MS_NOATIME | unix.MS_NODEV | unix.MS_NOSUID | unix.MS_NOEXEC},
		{in: "nodev,dev", flags: 0},
		{in: "sync,dirsync,lazytime", flags: unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC | unix.MS_LAZYTIME},
		{in: "relatime,norelatime,strictatime", flags: unix.MS_STRICTATIME},
		{in: "inode64,logbsize=256k", data: "inode64,logbsize=256k"},
		{in: "noatime,inode64,ro,usrquota", flags: unix.MS_NOATIME | unix.MS_RDONLY, data: "inode64,usrquota"},
		{in: "bind", flags: unix.MS_BIND, bind: true},
		{in: "rbind,ro", flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, bind: true, rec: true},
		{in: "remount,ro", flags: unix.MS_REMOUNT | unix.MS_RDONLY, remount: true},
		{in: "rprivate", prop: unix.MS_PRIVATE | unix.MS_REC},
		{in: "shared", prop: unix.MS_SHARED},
		{in: "noauto,_netdev,nofail,x-systemd.requires=drbd.service,x-gvfs-hide,errors=remount-ro", data: "errors=remount-ro"},
		{in: `context="system_u:object_r:httpd_sys_content_t:s0:c1,c2",noatime`, flags: unix.MS_NOATIME,
			data: `context="system_u:object_r:httpd_sys_content_t:s0:c1,c2"`},
		{in: ",,noatime,,", flags: unix.MS_NOATIME},
		{in: "loop", err: "loop device"},
		{in: "loop=/dev/loop3", err: "loop device"},
		{in: "helper=udisks2", err: "mount(8)"},
		{in: "noatime, nodev", err: "white space"},
		{in: `context="a,b`, err: "unterminated quote"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			o, err := ParseOptions(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseOptions(%q) error = %v, want one containing %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseOptions(%q): %v", tt.in, err)
			}
			if o.Flags != tt.flags || o.Data != tt.data || o.Bind != tt.bind || o.Recursive != tt.rec ||
				o.Remount != tt.remount || o.Propagation != tt.prop {
				t.Errorf("ParseOptions(%q) = %+v, want flags %#x data %q bind %v rec %v remount %v prop %#x",
					tt.in, o, tt.flags, tt.data, tt.bind, tt.rec, tt.remount, tt.prop)
			}
		})
	}
}

func TestBindRemount(t *testing.T) {
	tests := []struct {
		in    string
		needs bool
		flags uintptr
	}{
		{"bind", false, unix.MS_REMOUNT | unix.MS_BIND},
		{"bind,ro", true, unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY},
		{"rbind,nosuid,nodev", true, unix.MS_REMOUNT | unix.MS_BIND | unix.MS_NOSUID | unix.MS_NODEV},
		// sync is a superblock flag: a bind remount cannot apply it
		{"bind,sync", false, unix.MS_REMOUNT | unix.MS_BIND},
		{"ro", false, unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY},
	}
	for _, tt := range tests {
		o, err := ParseOptions(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if o.NeedsBindRemount() != tt.needs || o.BindRemountFlags() != tt.flags {
			t.Errorf("%q: needs %v flags %#x, want %v %#x", tt.in, o.NeedsBindRemount(), o.BindRemountFlags(), tt.needs, tt.flags)
		}
	}
}
