// Package vdo is ocf:goha:vdo, a VDO (Virtual Data Optimizer) volume as a
// resource: deduplicated, compressed block storage that one node at a
// time may use.
//
// A VDO volume is managed in one of two ways, and the agent does both:
// the legacy vdo command of RHEL 7 and 8 (vdo start --name=X, the only one
// ocf:heartbeat:vdo-vol knows, gone from RHEL 9), and LVM-VDO, where the
// volume is a logical volume on a VDO pool that lvchange -ay and -an
// activate and deactivate. The mode follows from which parameters name
// the volume.
//
// The package reads top-down: this file declares the agent; config.go
// (parameters, mode, argv) and state.go (what vdo status, lvs and dmsetup
// status print, and the verdict on a volume) are the pure core; sysfs.go
// reads device-mapper devices from sysfs and command.go runs the tools;
// actions.go wires them into start, stop, monitor and validate-all.
//
// A monitor forks nothing where the kernel tells enough: it finds the
// volume's device by its device-mapper name in /sys/block/dm-*/dm/name
// (absent: stopped), and reads the VDO operating mode from
// /sys/kvdo/NAME/statistics/mode. Only where the module publishes no mode
// (the upstream dm-vdo) does it run dmsetup status, and only where sysfs
// cannot be read does it ask vdo status or lvs. The component tests run
// the agent against a simulator of those commands (internal/vdosim), as
// no VDO kernel module can be loaded on the test machines.
package vdo

import (
	"time"

	"github.com/goha-ha/goha/internal/version"
	"github.com/goha-ha/goha/ocf"
)

// Parameter names, shared by the declaration and the actions.
const (
	pVolume        = "volume"
	pMode          = "mode"
	pVG            = "vg"
	pLV            = "lv"
	pConfig        = "config"
	pVdoBinary     = "vdo_binary"
	pLvmBinary     = "lvm_binary"
	pDmsetupBinary = "dmsetup_binary"
	pSysfs         = "sysfs"
	pRebuild       = "rebuild_read_only"
)

// Agent returns the ocf:goha:vdo declaration and its actions.
func Agent() *ocf.Agent {
	return newAgent(&actions{run: execRunner{}})
}

// newAgent declares the agent over a, which tests build with fakes.
func newAgent(a *actions) *ocf.Agent {
	return &ocf.Agent{
		Name:    "vdo",
		Version: version.Version,
		Short:   "VDO volume (vdo command or LVM-VDO)",
		Long: "Starts and stops a VDO (Virtual Data Optimizer) volume, deduplicated and compressed " +
			"block storage, on the node that should use it. Either a volume of the vdo command " +
			"(RHEL 7 and 8: set volume; start runs vdo activate and vdo start, stop runs vdo stop and " +
			"vdo deactivate) or an LVM-VDO logical volume (RHEL 8.5 and later, the only kind in RHEL 9: " +
			"set vg and lv; start runs lvchange -ay -K, stop lvchange -an). monitor finds the volume's device-mapper " +
			"device in sysfs and fails when it is suspended or VDO has gone read-only, without " +
			"running a program where the kernel publishes the operating mode. The vdo systemd " +
			"service must be disabled, and an LVM-VDO volume must not be activated at boot (flag it " +
			"with lvchange -ky, or use a system ID or auto_activation_volume_list), so that only " +
			"Pacemaker starts the volume.",
		Params: params(),
		Ops: []ocf.Op{
			{Name: "start", Timeout: 120 * time.Second},
			{Name: "stop", Timeout: 120 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second},
			{Name: "validate-all", Timeout: 20 * time.Second},
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
			Name: pVolume, Unique: true,
			Short: "VDO volume name (vdo command)",
			Long: "The name of a volume of the vdo command (vdo start --name=VOLUME), which is also " +
				"the name of its device, /dev/mapper/VOLUME. Leave empty for an LVM-VDO volume.",
			Check: checkVolumeName,
		},
		{
			Name: pMode, Type: ocf.Enum, Default: "auto", Values: []string{"auto", "vdo", "lvm"},
			Short: "How the volume is managed: auto, vdo or lvm",
			Long: "vdo: with the legacy vdo command; lvm: as an LVM-VDO logical volume with lvchange. " +
				"auto (the default) picks vdo when volume is set and lvm when vg and lv are.",
		},
		{
			Name:  pVG,
			Short: "Volume group (LVM-VDO)",
			Long:  "The volume group of an LVM-VDO volume.",
			Check: checkLVMName,
		},
		{
			Name:  pLV,
			Short: "VDO logical volume (LVM-VDO)",
			Long: "The VDO logical volume (segment type vdo) to activate, not its VDO pool: " +
				"activating the volume activates its pool.",
			Check: checkLVMName,
		},
		{
			Name:  pConfig,
			Short: "vdo command configuration file",
			Long: "The configuration file of the vdo command (--confFile), the same on every node. " +
				"Empty means the command's default, /etc/vdoconf.yml. Only for the vdo command.",
			Check: checkAbsolute,
		},
		{
			Name: pVdoBinary, Default: "/usr/bin/vdo",
			Short: "vdo program",
			Long:  "The absolute path of the vdo command (package vdo).",
			Check: checkAbsolute,
		},
		{
			Name: pLvmBinary, Default: "/usr/sbin/lvm",
			Short: "lvm program",
			Long:  "The absolute path of the lvm program; the agent runs its lvs and lvchange commands.",
			Check: checkAbsolute,
		},
		{
			Name: pDmsetupBinary, Default: "/usr/sbin/dmsetup",
			Short: "dmsetup program",
			Long: "The absolute path of dmsetup, which monitor runs to read the VDO operating mode " +
				"where the kernel module does not publish it in sysfs.",
			Check: checkAbsolute,
		},
		{
			Name: pSysfs, Default: "/sys",
			Short: "Where sysfs is mounted",
			Long: "The sysfs directory the agent finds device-mapper devices in (block/dm-*/dm/name) " +
				"and reads VDO's operating mode from (kvdo/NAME/statistics/mode). Change it only to " +
				"point the agent at a simulated device tree in tests.",
			Check: checkAbsolute,
		},
		{
			Name: pRebuild, Type: ocf.Boolean, Default: "false",
			Short: "Rebuild a read-only volume on start (vdo command)",
			Long: "VDO goes read-only after an unrecoverable metadata error. When true, start stops " +
				"such a volume and starts it again with vdo start --forceRebuild, which makes it " +
				"writable but may lose data; when false (the default) start fails and says so, " +
				"and the volume waits for an administrator. ocf:heartbeat:vdo-vol always rebuilds.",
		},
	}
}
