package filesystem

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// MountOptions is the options parameter turned into what mount(2) takes:
// flags for the generic options, the filesystem-specific rest as data.
type MountOptions struct {
	Flags uintptr // MS_* flags of the generic options
	// Data holds the options the kernel passes to the filesystem
	// (e.g. "inode64,logbsize=256k" for xfs), comma-separated.
	Data string
	// Bind is set for "bind" and "rbind"; Recursive for "rbind" alone.
	Bind, Recursive bool
	// Remount is set for "remount".
	Remount bool
	// Propagation holds MS_SHARED, MS_PRIVATE, MS_SLAVE or MS_UNBINDABLE
	// (with MS_REC for the r* forms), applied by a call of its own after
	// the mount, as the kernel wants it.
	Propagation uintptr
}

// ReadOnly reports whether the options mount read-only.
func (o MountOptions) ReadOnly() bool { return o.Flags&unix.MS_RDONLY != 0 }

// flagOption is a generic option: the bits it sets and those it clears.
type flagOption struct{ set, clear uintptr }

// flagOptions are the generic mount options, as mount(8) spells them.
var flagOptions = map[string]flagOption{
	"defaults":    {},
	"rw":          {clear: unix.MS_RDONLY},
	"ro":          {set: unix.MS_RDONLY},
	"nosuid":      {set: unix.MS_NOSUID},
	"suid":        {clear: unix.MS_NOSUID},
	"nodev":       {set: unix.MS_NODEV},
	"dev":         {clear: unix.MS_NODEV},
	"noexec":      {set: unix.MS_NOEXEC},
	"exec":        {clear: unix.MS_NOEXEC},
	"sync":        {set: unix.MS_SYNCHRONOUS},
	"async":       {clear: unix.MS_SYNCHRONOUS},
	"dirsync":     {set: unix.MS_DIRSYNC},
	"mand":        {set: unix.MS_MANDLOCK},
	"nomand":      {clear: unix.MS_MANDLOCK},
	"noatime":     {set: unix.MS_NOATIME},
	"atime":       {clear: unix.MS_NOATIME},
	"nodiratime":  {set: unix.MS_NODIRATIME},
	"diratime":    {clear: unix.MS_NODIRATIME},
	"relatime":    {set: unix.MS_RELATIME},
	"norelatime":  {clear: unix.MS_RELATIME},
	"strictatime": {set: unix.MS_STRICTATIME},
	"lazytime":    {set: unix.MS_LAZYTIME},
	"nolazytime":  {clear: unix.MS_LAZYTIME},
	"silent":      {set: unix.MS_SILENT},
	"loud":        {clear: unix.MS_SILENT},
}

// propagationOptions set the propagation type of the new mount.
var propagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// userspaceOptions mean something to mount(8) or fstab readers only; the
// kernel never sees them, so they are accepted and dropped.
var userspaceOptions = map[string]bool{
	"auto": true, "noauto": true, "user": true, "nouser": true, "users": true,
	"owner": true, "group": true, "_netdev": true, "nofail": true, "comment": true,
}

// ParseOptions turns the options parameter into mount(2) flags and data.
// Options are separated by commas, except inside double quotes (SELinux
// contexts such as context="system_u:object_r:t:s0:c1,c2" contain commas).
// Options meant for fstab readers (noauto, _netdev, x-*) are dropped;
// those that need mount(8) itself (loop, helper=) are rejected rather than
// silently ignored.
func ParseOptions(s string) (MountOptions, error) {
	var o MountOptions
	fields, err := splitOptions(s)
	if err != nil {
		return MountOptions{}, err
	}
	var data []string
	for _, f := range fields {
		name, _, _ := strings.Cut(f, "=")
		if fl, ok := flagOptions[f]; ok {
			o.Flags = o.Flags&^fl.clear | fl.set
			continue
		}
		if p, ok := propagationOptions[f]; ok {
			o.Propagation = p
			continue
		}
		switch {
		case f == "bind":
			o.Bind = true
		case f == "rbind":
			o.Bind, o.Recursive = true, true
		case f == "remount":
			o.Remount = true
		case userspaceOptions[name]:
		case strings.HasPrefix(name, "x-") || strings.HasPrefix(name, "X-"):
			// fstab annotations for other programs: nothing for the kernel
		case name == "loop" || name == "offset" || name == "sizelimit" || name == "encryption":
			return MountOptions{}, fmt.Errorf("contains %q, which needs a loop device set up by mount(8): name the loop or block device in device instead", f)
		case name == "helper":
			return MountOptions{}, fmt.Errorf("contains %q, which only mount(8) interprets", f)
		default:
			data = append(data, f)
		}
	}
	if o.Bind {
		o.Flags |= unix.MS_BIND
		if o.Recursive {
			o.Flags |= unix.MS_REC
		}
	}
	if o.Remount {
		o.Flags |= unix.MS_REMOUNT
	}
	o.Data = strings.Join(data, ",")
	return o, nil
}

// splitOptions splits at commas outside double quotes and drops empty
// fields.
func splitOptions(s string) ([]string, error) {
	var fields []string
	var cur strings.Builder
	quoted := false
	for _, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
			cur.WriteRune(c)
		case c == ',' && !quoted:
			if f := strings.TrimSpace(cur.String()); f != "" {
				fields = append(fields, f)
			}
			cur.Reset()
		case (c == ' ' || c == '\t' || c == '\n') && !quoted:
			return nil, fmt.Errorf("has white space outside quotes in %q (separate options with commas)", s)
		case c == 0:
			return nil, fmt.Errorf("contains a NUL byte")
		default:
			cur.WriteRune(c)
		}
	}
	if quoted {
		return nil, fmt.Errorf("has an unterminated quote in %q", s)
	}
	if f := strings.TrimSpace(cur.String()); f != "" {
		fields = append(fields, f)
	}
	return fields, nil
}

// BindRemountFlags are the flags of the remount that applies a bind
// mount's per-mount options (ro, nosuid, ...): the kernel ignores them on
// the bind itself.
func (o MountOptions) BindRemountFlags() uintptr {
	const perMount = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
		unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME
	return unix.MS_REMOUNT | unix.MS_BIND | o.Flags&perMount
}

// NeedsBindRemount reports whether a bind mount needs the second call.
func (o MountOptions) NeedsBindRemount() bool {
	return o.Bind && o.BindRemountFlags() != unix.MS_REMOUNT|unix.MS_BIND
}
