package vdo

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/goha-ha/goha/ocf"
)

// Mode is how a VDO volume is managed.
type Mode string

// The two managers of a VDO volume.
const (
	// Legacy is the vdo command of RHEL 7 and 8 (vdo start --name=X),
	// which keeps its volumes in /etc/vdoconf.yml.
	Legacy Mode = "vdo"
	// LVM is LVM-VDO (RHEL 8.5 and later, the only one in RHEL 9): a VDO
	// logical volume on a VDO pool, activated with lvchange.
	LVM Mode = "lvm"
)

// Config is one resource's validated parameters, the mode resolved.
type Config struct {
	Mode       Mode
	Volume     string // legacy VDO volume name
	VG, LV     string // LVM volume group and VDO logical volume
	ConfFile   string // vdo --confFile; "" for the vdo command's default
	Vdo        string // the vdo program
	Lvm        string // the lvm program (lvs and lvchange are its commands)
	Dmsetup    string // the dmsetup program
	Sysfs      string // where sysfs is mounted
	Rebuild    bool   // start a read-only legacy volume with --forceRebuild
	ServiceDir string // /etc/systemd/system, to see whether vdo.service is enabled
}

// configFrom resolves the parameters: the mode from mode, or from which
// of volume and vg/lv is set.
func configFrom(v *ocf.Values) (Config, error) {
	c := Config{
		Volume:     strings.TrimSpace(v.String(pVolume)),
		VG:         strings.TrimSpace(v.String(pVG)),
		LV:         strings.TrimSpace(v.String(pLV)),
		ConfFile:   v.String(pConfig),
		Vdo:        v.String(pVdoBinary),
		Lvm:        v.String(pLvmBinary),
		Dmsetup:    v.String(pDmsetupBinary),
		Sysfs:      v.String(pSysfs),
		Rebuild:    v.Bool(pRebuild),
		ServiceDir: "/etc/systemd/system",
	}
	mode, err := resolveMode(v.String(pMode), c.Volume, c.VG, c.LV)
	if err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "%v", err)
	}
	c.Mode = mode
	return c, nil
}

// resolveMode decides the mode from the mode parameter and the names
// given, and rejects a combination that names no volume or two.
func resolveMode(mode, volume, vg, lv string) (Mode, error) {
	hasLVM := vg != "" || lv != ""
	switch Mode(mode) {
	case Legacy:
		if volume == "" {
			return "", fmt.Errorf("parameter %s is required with %s=%s", pVolume, pMode, Legacy)
		}
		return Legacy, nil
	case LVM:
		if vg == "" || lv == "" {
			return "", fmt.Errorf("parameters %s and %s are required with %s=%s", pVG, pLV, pMode, LVM)
		}
		return LVM, nil
	}
	switch {
	case volume != "" && hasLVM:
		return "", fmt.Errorf("parameter %s names a vdo volume and %s/%s an LVM one: set only one, or set %s", pVolume, pVG, pLV, pMode)
	case volume != "":
		return Legacy, nil
	case vg != "" && lv != "":
		return LVM, nil
	case hasLVM:
		return "", fmt.Errorf("parameters %s and %s must both be set for an LVM-VDO volume", pVG, pLV)
	}
	return "", fmt.Errorf("parameter %s (vdo command) or %s and %s (LVM-VDO) must name the volume", pVolume, pVG, pLV)
}

// Name is the volume as the messages show it.
func (c Config) Name() string {
	if c.Mode == LVM {
		return c.VG + "/" + c.LV
	}
	return c.Volume
}

// DMName is the device-mapper name of the volume's device: the volume
// name for the vdo command, VG-LV with dashes doubled for LVM.
func (c Config) DMName() string {
	if c.Mode == LVM {
		return lvmDMName(c.VG, c.LV)
	}
	return c.Volume
}

// lvmDMName is the device-mapper name LVM gives vg/lv.
func lvmDMName(vg, lv string) string {
	return strings.ReplaceAll(vg, "-", "--") + "-" + strings.ReplaceAll(lv, "-", "--")
}

// vdoStatusArgs lists every volume of the vdo configuration: a volume
// that is not there is then told apart from a command that failed.
func (c Config) vdoStatusArgs() []string {
	argv := []string{c.Vdo, "status"}
	if c.ConfFile != "" {
		argv = append(argv, "--confFile="+c.ConfFile)
	}
	return argv
}

// vdoArgs is the argv of a vdo command on this volume.
func (c Config) vdoArgs(command string, extra ...string) []string {
	argv := []string{c.Vdo, command, "--name=" + c.Volume}
	if c.ConfFile != "" {
		argv = append(argv, "--confFile="+c.ConfFile)
	}
	return append(argv, extra...)
}

// lvsFields are the columns the agent reads from lvs.
var lvsFields = []string{"lv_name", "vg_name", "lv_attr", "segtype", "pool_lv", "vdo_operating_mode", "vdo_index_state"}

// lvsArgs lists every logical volume of the volume group as JSON: the VDO
// volume and its pool are both in it.
func (c Config) lvsArgs() []string {
	return []string{c.Lvm, "lvs", "--reportformat", "json", "-o", strings.Join(lvsFields, ","), c.VG}
}

// lvchangeArgs activates (true) or deactivates the logical volume.
// Activation ignores the activation skip flag (-K), so that a volume
// flagged with lvchange -ky, which boot-time activation leaves alone,
// still starts here.
func (c Config) lvchangeArgs(activate bool) []string {
	if activate {
		return []string{c.Lvm, "lvchange", "-ay", "-K", c.VG + "/" + c.LV}
	}
	return []string{c.Lvm, "lvchange", "-an", c.VG + "/" + c.LV}
}

// checkVolumeName accepts a device-mapper name: what the vdo command
// names its device after.
func checkVolumeName(v string) error {
	switch {
	case len(v) > 127:
		return fmt.Errorf("is longer than 127 characters")
	case strings.ContainsAny(v, "/ \t\n"):
		return fmt.Errorf("must not contain '/' or white space")
	case strings.HasPrefix(v, "-"):
		return fmt.Errorf("must not begin with '-'")
	}
	return nil
}

// checkLVMName accepts what LVM accepts in a VG or LV name.
func checkLVMName(v string) error {
	if strings.HasPrefix(v, "-") {
		return fmt.Errorf("must not begin with '-'")
	}
	if v == "." || v == ".." {
		return fmt.Errorf("is not a valid LVM name")
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+_.-", r)) {
			return fmt.Errorf("may hold only letters, digits and + _ . -")
		}
	}
	return nil
}

func checkAbsolute(v string) error {
	if !filepath.IsAbs(v) {
		return fmt.Errorf("is not an absolute path")
	}
	return nil
}
