// Package filesystem is ocf:goha:filesystem: a filesystem mounted on one
// node at a time, such as the XFS on VDO on DRBD that holds a backup
// server's data.
//
// The agent mounts with mount(2) itself (no mount(8), no shell), reads the
// mounted state from /proc/self/mountinfo, and on stop unmounts the
// filesystem with everything mounted on it and every other mount of the
// same device, so that the device underneath (DRBD, VDO) can be demoted or
// stopped next. When a mount is busy, stop finds the processes that use it
// by reading links in /proc (cwd, root, exe, open files, memory maps)
// without following them, so a dead NFS server elsewhere cannot hang it,
// sends them SIGTERM for the first half of the time and SIGKILL for the
// second, and retries. Parameter names and meanings follow
// ocf:heartbeat:Filesystem, so a resource can change type in place.
//
// The package reads top-down: this file declares the agent; options.go,
// mountinfo.go, holders.go, plan.go and config.go are the pure core
// (option parsing, mount table, users of a mount, stop plan and phases);
// host.go is the adapter to the kernel, /proc and fsck; actions.go wires
// them into start, stop, monitor and validate-all.
package filesystem

import (
	"time"

	"github.com/goha-ha/goha/internal/version"
	"github.com/goha-ha/goha/ocf"
)

// Parameter names, shared by the declaration and the actions.
const (
	pDevice       = "device"
	pDirectory    = "directory"
	pFSType       = "fstype"
	pOptions      = "options"
	pStatusPrefix = "statusfile_prefix"
	pRunFsck      = "run_fsck"
	pFastStop     = "fast_stop"
	pForceClones  = "force_clones"
	pForceUnmount = "force_unmount"
)

// Agent returns the ocf:goha:filesystem declaration and its actions.
func Agent() *ocf.Agent {
	return newAgent(&actions{sys: host{}})
}

// newAgent declares the agent over a, which tests build with fakes.
func newAgent(a *actions) *ocf.Agent {
	return &ocf.Agent{
		Name:    "filesystem",
		Version: version.Version,
		Short:   "Mounts a filesystem (block device, bind mount or network share)",
		Long: "Mounts a filesystem on one node: ext4, xfs or any type the kernel knows on a " +
			"block device, a bind mount of a directory, or a network share. start checks the " +
			"device with fsck when run_fsck asks for it and mounts with the given options; stop " +
			"unmounts what is mounted below the directory, the filesystem itself and every " +
			"other mount of the same device, and when a mount is busy finds the processes using " +
			"it (working directory, root, program, open files, memory maps) and sends them " +
			"SIGTERM, then SIGKILL for the second half of the stop timeout (6 s per mount with " +
			"fast_stop). monitor checks /proc/self/mountinfo and forks nothing; a filesystem " +
			"found unmounted is reported as not running (7), which Pacemaker treats as a " +
			"failure of a started resource. With OCF_CHECK_LEVEL=10 monitor also reads one " +
			"block of the device with O_DIRECT; with 20 it writes a status file under the mount " +
			"point, syncs it and reads it back. Parameter names follow ocf:heartbeat:Filesystem.",
		Params: params(),
		Ops: []ocf.Op{
			{Name: "start", Timeout: 60 * time.Second},
			{Name: "stop", Timeout: 60 * time.Second},
			{Name: "monitor", Timeout: 40 * time.Second, Interval: 20 * time.Second},
			{Name: "validate-all", Timeout: 5 * time.Second},
		},
		Start:    a.start,
		Stop:     a.stop,
		Monitor:  a.monitor,
		Validate: a.validate,
	}
}

func params() []ocf.Param {
	return []ocf.Param{
		{
			Name: pDevice, Required: true,
			Short: "Block device, source directory or network share",
			Long: "What to mount: a block device (/dev/drbd0, /dev/mapper/vdo0, " +
				"/dev/disk/by-uuid/...), a filesystem by UUID=... or LABEL=... (also -U/-L as mount " +
				"takes them), the directory to bind for a bind mount, or a share such as " +
				"server:/export for NFS. A block device is recognised in the mount table by its " +
				"device number, so any name of the same device works.",
		},
		{
			Name: pDirectory, Required: true,
			Short: "Mount point",
			Long: "The absolute path to mount on. It is created when missing. Trailing slashes do " +
				"not matter.",
			Check: checkDirectory,
		},
		{
			Name: pFSType, Required: true,
			Short: "Filesystem type",
			Long: "The filesystem type (ext4, xfs, nfs4, ...), as the kernel lists it in " +
				"/proc/filesystems. Use none for a bind mount (options then contain bind).",
			Check: checkFSType,
		},
		{
			Name:  pOptions,
			Short: "Mount options",
			Long: "Mount options, separated by commas, as for mount -o: generic ones (ro, rw, " +
				"noatime, relatime, nodev, nosuid, noexec, sync, dirsync, lazytime, bind, rbind, " +
				"private/shared/slave/unbindable ...) become mount flags and the rest is passed to " +
				"the filesystem (e.g. inode64,logbsize=256k for xfs). For a bind mount use bind (or " +
				"rbind) with fstype none; per-mount options such as ro are applied by a remount of " +
				"the bind, as mount(8) does. fstab-only options (noauto, _netdev, x-*) are ignored; " +
				"loop is not supported: name the loop device in device.",
			Check: func(v string) error {
				o, err := ParseOptions(v)
				if err == nil && o.Remount {
					return errRemount
				}
				return err
			},
		},
		{
			Name: pStatusPrefix, Default: ".Filesystem_status/",
			Short: "Status file prefix",
			Long: "Where monitor depth 20 writes its status file, relative to directory: the file " +
				"is directory/PREFIX<resource>[_<clone>]_<node>. The default puts status files into " +
				"a directory of their own, named as ocf:heartbeat:Filesystem names it.",
			Check: checkPrefix,
		},
		{
			Name: pRunFsck, Type: ocf.Enum, Values: []string{"auto", "force", "no"}, Default: "auto",
			Short: "Whether start runs fsck: auto, force or no",
			Long: "auto checks the device with fsck.FSTYPE -p before mounting unless the " +
				"filesystem type does not need it (journalling types such as ext4 and xfs, network " +
				"and virtual ones); force always checks a block device; no never checks. A check " +
				"that reports uncorrected errors (exit status 4 or more) fails the start. For xfs " +
				"fsck.xfs checks nothing (xfs replays its log when mounted): run xfs_repair by hand when needed.",
		},
		{
			Name: pFastStop, Type: ocf.Boolean, Default: "no",
			Short: "Give up on a busy mount after 6 seconds",
			Long: "When true, stop spends at most 6 seconds on each busy mount (3 s of SIGTERM, " +
				"then SIGKILL) and fails after that, for setups whose users exit quickly. When " +
				"false, stop may use its whole timeout, half of it for SIGTERM. Defaults to false " +
				"for gfs2 in any case.",
		},
		{
			Name: pForceClones, Type: ocf.Boolean, Default: "false",
			Short: "Allow a clone of a filesystem that is not cluster-aware",
			Long: "A clone of ext4, xfs and other local filesystems is refused, since mounting one " +
				"read-write on several nodes at once corrupts it. Set this only for setups that are " +
				"safe all the same (each node its own device, e.g. under GlusterFS).",
		},
		{
			Name: pForceUnmount, Default: "true",
			Short: "Whether stop kills processes using the filesystem: true, safe or false",
			Long: "true or safe: when an unmount is refused because the filesystem is busy, stop " +
				"sends SIGTERM (first half of the time), then SIGKILL to every process with its " +
				"working directory, root, program, an open file or a memory map on it, and " +
				"retries. Both values use the same search, which reads links in /proc without " +
				"following them and so never blocks on an unresponsive NFS server. false: signal " +
				"nobody; stop fails when the filesystem stays busy.",
			Check: func(v string) error { _, err := parseForce(v); return err },
		},
	}
}
