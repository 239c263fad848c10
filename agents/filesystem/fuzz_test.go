package filesystem

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzParseMountinfo: whatever the input, parsing does not panic, fails
// without a result, or gives mounts whose every field is filled in.
func FuzzParseMountinfo(f *testing.F) {
	for _, line := range strings.Split(sampleMountinfo, "\n") {
		f.Add(line)
	}
	f.Add(`1 0 0:1 / /a\040b rw - ext4 /dev/x\134y rw`)
	f.Add(`1 0 0:1 / / rw a b c d - t s`)
	f.Add("1 0 0:1 / / rw -")
	f.Fuzz(func(t *testing.T, data string) {
		mounts, err := ParseMountinfo(data)
		if err != nil {
			if mounts != nil {
				t.Fatalf("mounts %v with error %v", mounts, err)
			}
			return
		}
		for _, m := range mounts {
			if m.FSType == "" || m.Source == "" || m.Options == "" {
				t.Fatalf("accepted a mount with an empty field: %+v from %q", m, data)
			}
			_ = Containing(mounts, m.MountPoint)
		}
	})
}

// FuzzParseOptions: any accepted options string gives data without the
// generic options (those became flags), and bind flags only with bind.
func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{"", "ro,noatime", "bind,ro", "rbind", "inode64,logbsize=256k", `context="a,b",ro`,
		"loop", "x-systemd.automount,_netdev", "rw, ro", `"`, "remount,rprivate"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOptions(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseOptions(%q): empty error", s)
			}
			return
		}
		for _, d := range strings.Split(o.Data, ",") {
			if _, generic := flagOptions[d]; generic || d == "bind" || d == "rbind" || d == "remount" {
				t.Fatalf("ParseOptions(%q) passed generic option %q as data %q", s, d, o.Data)
			}
		}
		if (o.Flags&unix.MS_BIND != 0) != o.Bind || (o.Flags&unix.MS_REC != 0) != o.Recursive {
			t.Fatalf("ParseOptions(%q) = %+v: bind flags and fields disagree", s, o)
		}
	})
}
