package filesystem

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/goha-ha/goha/ocf"
)

// ForceMode is the force_unmount choice: what stop does to the processes
// that keep a filesystem busy.
type ForceMode int

const (
	// ForceKill signals the processes that use the filesystem.
	ForceKill ForceMode = iota
	// ForceSafe does the same; it exists for the reference agent's
	// "safe" value, whose /proc walk goha always uses (it never blocks).
	ForceSafe
	// ForceNone signals nobody: stop only retries the unmount.
	ForceNone
)

// parseForce reads force_unmount: true, safe or false (booleans accepted
// the way ocf_is_true reads them).
func parseForce(v string) (ForceMode, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "true", "yes", "1", "on", "y":
		return ForceKill, nil
	case "safe":
		return ForceSafe, nil
	case "false", "no", "0", "off", "n":
		return ForceNone, nil
	}
	return 0, fmt.Errorf("must be true, safe or false, not %q", v)
}

// FsckMode is the run_fsck choice.
type FsckMode string

// The run_fsck values.
const (
	FsckAuto  FsckMode = "auto"
	FsckForce FsckMode = "force"
	FsckNo    FsckMode = "no"
)

// Config is a resource's parameters, checked and normalised.
type Config struct {
	Device    string // as given
	Directory string // clean, absolute, no trailing slash
	FSType    string // "" or "none" for a bind mount
	Options   MountOptions
	RawOpts   string
	Fsck      FsckMode
	FastStop  bool
	Force     ForceMode
	// StatusFile is the file monitor depth 20 writes and reads back.
	StatusFile string
	// ForceClones allows a clone of a filesystem that is not cluster-aware.
	ForceClones bool
}

// errRemount rejects remount in options: a resource is mounted, never
// remounted, by its start.
var errRemount = errors.New("must not contain remount: start mounts, so change options and restart the resource")

// fastStopBudget is how long a fast stop spends on one mount, as in the
// reference agent.
const fastStopBudget = 6 * time.Second

// notBlockTypes never live on a block device of their own (the reference
// agent's list).
var notBlockTypes = map[string]bool{
	"nfs": true, "nfs4": true, "efs": true, "smbfs": true, "cifs": true, "none": true,
	"glusterfs": true, "ceph": true, "tmpfs": true, "overlay": true, "overlayfs": true,
	"rozofs": true, "zfs": true, "cvfs": true, "lustre": true, "ramfs": true,
}

// networkTypes are unmounted with MNT_FORCE, which aborts requests to a
// server that has gone away.
var networkTypes = map[string]bool{"nfs": true, "nfs4": true, "efs": true, "cifs": true, "smbfs": true}

// noFsckTypes are not checked by run_fsck=auto: journalling filesystems
// (they replay their log on mount), network and virtual ones.
var noFsckTypes = map[string]bool{
	"ext4": true, "ext4dev": true, "ext3": true, "reiserfs": true, "reiser4": true, "nss": true,
	"xfs": true, "jfs": true, "vfat": true, "fat": true, "nfs4": true, "nfs": true, "efs": true,
	"cifs": true, "smbfs": true, "ocfs2": true, "gfs2": true, "none": true, "lustre": true,
	"glusterfs": true, "ceph": true, "tmpfs": true, "overlay": true, "overlayfs": true,
	"rozofs": true, "zfs": true, "cvfs": true, "btrfs": true, "ramfs": true,
}

// clusterSafeTypes may be mounted on several nodes at once.
var clusterSafeTypes = map[string]bool{
	"nfs4": true, "nfs": true, "efs": true, "smbfs": true, "cifs": true, "none": true, "gfs2": true,
	"glusterfs": true, "ceph": true, "ocfs2": true, "overlay": true, "overlayfs": true, "tmpfs": true,
	"cvfs": true, "lustre": true,
}

// IsBind reports whether the resource is a bind mount.
func (c Config) IsBind() bool { return c.Options.Bind }

// OnBlockDevice reports whether device names a block device (directly or
// by UUID or label), so that depth 10 can read it and stop can find the
// same filesystem mounted elsewhere.
func (c Config) OnBlockDevice() bool {
	return !c.IsBind() && !notBlockTypes[c.FSType]
}

// IsNetwork reports whether the filesystem is served over the network.
func (c Config) IsNetwork() bool { return networkTypes[c.FSType] }

// NeedsFsck reports whether start checks the device before mounting.
func (c Config) NeedsFsck() bool {
	switch c.Fsck {
	case FsckForce:
		return c.OnBlockDevice()
	case FsckNo:
		return false
	}
	return c.OnBlockDevice() && c.FSType != "" && !noFsckTypes[c.FSType]
}

// CloneProblem says why this filesystem must not run as a clone, or "" when
// it may; warning is set when it may but the user should know the risk.
func (c Config) CloneProblem() (problem, warning string) {
	switch {
	case clusterSafeTypes[c.FSType] || c.IsBind():
		return "", ""
	case c.ForceClones:
		return "", fmt.Sprintf("%s on %s is not cluster-aware; running it as a clone because force_clones is set", c.FSType, c.Device)
	case c.Options.ReadOnly():
		return "", fmt.Sprintf("%s on %s is not cluster-aware; running it as a clone because it is mounted read-only", c.FSType, c.Device)
	}
	return fmt.Sprintf("%s on %s is not cluster-aware and must not be mounted on several nodes at once: do not clone it (or set force_clones if it is safe)", c.FSType, c.Device), ""
}

// StopBudget is how long stop may spend unmounting one mount, given the
// time left in the action.
func (c Config) StopBudget(left time.Duration) time.Duration {
	if c.FastStop && left > fastStopBudget {
		return fastStopBudget
	}
	return left
}

// configFrom reads the parameters. Types and per-parameter checks have
// already passed; what is checked here concerns several parameters.
func configFrom(p *ocf.Values, resource, clone, node string) (Config, error) {
	c := Config{
		Device:      strings.TrimSpace(p.String(pDevice)),
		Directory:   cleanDirectory(p.String(pDirectory)),
		FSType:      strings.TrimSpace(p.String(pFSType)),
		RawOpts:     p.String(pOptions),
		Fsck:        FsckMode(p.String(pRunFsck)),
		FastStop:    p.Bool(pFastStop),
		ForceClones: p.Bool(pForceClones),
	}
	if !p.IsSet(pFastStop) && c.FSType == "gfs2" {
		c.FastStop = false
	}
	var err error
	if c.Force, err = parseForce(p.String(pForceUnmount)); err != nil {
		return Config{}, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pForceUnmount, err)
	}
	if c.Options, err = ParseOptions(c.RawOpts); err != nil {
		return Config{}, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pOptions, err)
	}
	if c.Options.Remount {
		return Config{}, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pOptions, errRemount)
	}
	switch {
	case c.Device == "":
		return Config{}, ocf.Fail(ocf.ErrConfigured, "parameter %s is required", pDevice)
	case c.Directory == "":
		return Config{}, ocf.Fail(ocf.ErrConfigured, "parameter %s is required", pDirectory)
	case c.Directory == "/":
		return Config{}, ocf.Fail(ocf.ErrConfigured, "parameter %s: refusing to manage the root filesystem", pDirectory)
	}
	if c.IsBind() {
		if c.FSType != "" && c.FSType != "none" {
			return Config{}, ocf.Fail(ocf.ErrConfigured, "parameter %s must be none (or empty) for a bind mount, not %q", pFSType, c.FSType)
		}
		if !filepath.IsAbs(c.Device) {
			return Config{}, ocf.Fail(ocf.ErrConfigured, "parameter %s must be the absolute path of the directory to bind, not %q", pDevice, c.Device)
		}
		c.FSType = "none"
	} else if c.FSType == "" || c.FSType == "none" {
		return Config{}, ocf.Fail(ocf.ErrConfigured, "parameter %s is required unless options contain bind", pFSType)
	}
	c.StatusFile = statusFile(c.Directory, p.String(pStatusPrefix), resource, clone, node)
	return c, nil
}

// cleanDirectory removes trailing slashes and dot segments: mountinfo shows
// mount points that way.
func cleanDirectory(d string) string {
	d = strings.TrimSpace(d)
	if d == "" {
		return ""
	}
	return filepath.Clean(d)
}

// statusFile is the depth-20 file: directory/prefix + resource[_clone]_node,
// the reference agent's name, so both agents' files look alike.
func statusFile(dir, prefix, resource, clone, node string) string {
	suffix := resource
	if clone != "" {
		suffix += "_" + clone
	}
	suffix += "_" + node
	return filepath.Join(dir, prefix+suffix)
}

// DeviceSpec is the device parameter resolved to a path: UUID=, LABEL=,
// PARTUUID=, PARTLABEL=, -U, -L, --uuid and --label name a link under
// /dev/disk.
func DeviceSpec(device string) string {
	tags := []struct {
		prefixes []string
		dir      string
	}{
		{[]string{"UUID=", "--uuid=", "--uuid ", "-U"}, "/dev/disk/by-uuid/"},
		{[]string{"LABEL=", "--label=", "--label ", "-L"}, "/dev/disk/by-label/"},
		{[]string{"PARTUUID="}, "/dev/disk/by-partuuid/"},
		{[]string{"PARTLABEL="}, "/dev/disk/by-partlabel/"},
	}
	for _, t := range tags {
		for _, p := range t.prefixes {
			if v, ok := strings.CutPrefix(device, p); ok {
				v = strings.Trim(strings.TrimSpace(v), `"`)
				return t.dir + v
			}
		}
	}
	return device
}

// checkFSType rejects what cannot be a filesystem type.
func checkFSType(v string) error {
	if strings.ContainsAny(v, " \t\n,/\x00") {
		return fmt.Errorf("is not a filesystem type: %q", v)
	}
	return nil
}

// checkDirectory wants an absolute path.
func checkDirectory(v string) error {
	if !filepath.IsAbs(strings.TrimSpace(v)) {
		return fmt.Errorf("must be an absolute path, not %q", v)
	}
	return nil
}

// checkPrefix wants a relative path that stays under the mount point.
func checkPrefix(v string) error {
	if filepath.IsAbs(v) || strings.HasPrefix(filepath.Clean(v), "..") {
		return fmt.Errorf("must be relative to directory and stay below it, not %q", v)
	}
	return nil
}
