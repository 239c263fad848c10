package vdo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Observation is what the agent learnt about a volume's device.
type Observation struct {
	Present   bool   // the device-mapper device exists
	Suspended bool   // its I/O is suspended
	Device    string // the device-mapper name the VDO state was read from
	Target    string // the target type of that device ("vdo"); "" when not read
	Mode      string // VDO operating mode: normal, recovering, read-only; "" when not read
	Index     string // deduplication index state (online, offline, error...); "" when not read
}

// State is the verdict on a volume.
type State int

// The verdicts a monitor turns into exit codes.
const (
	Stopped State = iota // no device: cleanly stopped
	Running              // the device serves reads and writes
	Failed               // the device exists but is not usable
)

// Health is the verdict and why.
type Health struct {
	State   State
	Why     string
	Warning string // something to log on a running volume
}

// assess decides the state of the volume name from what was observed.
func assess(name string, o Observation) Health {
	switch {
	case !o.Present:
		return Health{State: Stopped, Why: fmt.Sprintf("VDO volume %s is not started", name)}
	case o.Suspended:
		return Health{State: Failed, Why: fmt.Sprintf("the device of VDO volume %s is suspended", name)}
	case o.Target != "" && o.Target != "vdo":
		return Health{State: Failed, Why: fmt.Sprintf("device %s of volume %s is a %s device, not a VDO one", o.Device, name, o.Target)}
	}
	h := Health{State: Running, Why: fmt.Sprintf("VDO volume %s is started", name)}
	switch o.Mode {
	case "normal":
		h.Why += " and in normal mode"
	case "recovering":
		h.Why += " and recovering after an unclean shutdown"
		h.Warning = fmt.Sprintf("VDO volume %s is recovering after an unclean shutdown: free space may be short until it is done", name)
	case "read-only":
		return Health{State: Failed, Why: fmt.Sprintf("VDO volume %s is in read-only mode after an unrecoverable error (see the kernel log; a forced rebuild may lose data)", name)}
	case "":
		h.Why += " (operating mode not known)"
	default:
		return Health{State: Failed, Why: fmt.Sprintf("VDO volume %s is in an unknown operating mode %q", name, o.Mode)}
	}
	if o.Index == "error" {
		h.Warning = fmt.Sprintf("VDO volume %s: the deduplication index is in error; data is still served, without deduplication", name)
	}
	return h
}

// DMStatus is the status line of a device-mapper vdo target.
type DMStatus struct {
	Target      string
	Device      string // the storage below
	Mode        string // normal, recovering, read-only
	Recovery    string // "recovering" or "-"
	Index       string
	Compression string
}

// parseDMStatus reads the first target of `dmsetup status NAME`:
// "START LENGTH TARGET PARAMS...", optionally preceded by "NAME: ". A vdo
// target's parameters are: device, operating mode, in recovery, index
// state, compression state, physical blocks used, total physical blocks.
func parseDMStatus(out []byte) (DMStatus, error) {
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(line)
	if len(f) > 0 && strings.HasSuffix(f[0], ":") {
		f = f[1:]
	}
	if len(f) < 3 || !isNumber(f[0]) || !isNumber(f[1]) {
		return DMStatus{}, fmt.Errorf("no target in dmsetup status %q", line)
	}
	s := DMStatus{Target: f[2]}
	if s.Target != "vdo" {
		return s, nil
	}
	if len(f) < 10 {
		return s, fmt.Errorf("vdo status has %d fields, want 7: %q", len(f)-3, line)
	}
	s.Device, s.Mode, s.Recovery, s.Index, s.Compression = f[3], f[4], f[5], f[6], f[7]
	return s, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// VdoVolume is what `vdo status --name=X` says of one volume.
type VdoVolume struct {
	Activated bool   // "Activate: enabled"
	DMStatus  string // "Device mapper status:", "not available" when stopped
	Mode      string // "operating mode:" of its statistics, when started
}

// parseVdoStatus finds volume name in the YAML document `vdo status`
// prints. It reads the keys it needs by indentation, which is all the
// structure that document uses; ok is false when the volume is not in it.
func parseVdoStatus(out []byte, name string) (v VdoVolume, ok bool, err error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	inVDOs, inVolume, volIndent := false, false, 0
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \r")
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(trimmed)
		key, value, isKey := strings.Cut(trimmed, ":")
		if !isKey {
			continue // a continued value: nothing the agent reads
		}
		key, value = unquote(strings.TrimSpace(key)), unquote(strings.TrimSpace(value))
		switch {
		case indent == 0:
			inVDOs, inVolume = key == "VDOs", false
		case !inVDOs:
		case inVolume && indent > volIndent:
			switch key {
			case "Activate":
				v.Activated = value == "enabled"
			case "Device mapper status":
				v.DMStatus = value
			case "operating mode":
				v.Mode = value
			}
		case inVolume:
			// A sibling of the volume: it has ended.
			return v, true, nil
		case key == name && value == "":
			inVolume, volIndent, ok = true, indent, true
		}
	}
	if err := sc.Err(); err != nil {
		return v, false, fmt.Errorf("read vdo status: %w", err)
	}
	return v, ok, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' && s[len(s)-1] == '\'' || s[0] == '"' && s[len(s)-1] == '"') {
		return s[1 : len(s)-1]
	}
	return s
}

// observeVdoStatus turns the vdo command's view of a volume into an
// observation.
func observeVdoStatus(v VdoVolume, name string) (Observation, error) {
	if v.DMStatus == "" || v.DMStatus == "not available" {
		return Observation{}, nil
	}
	s, err := parseDMStatus([]byte(v.DMStatus))
	if err != nil {
		return Observation{}, err
	}
	o := Observation{Present: true, Device: name, Target: s.Target, Mode: s.Mode, Index: s.Index}
	if o.Mode == "" {
		o.Mode = v.Mode
	}
	return o, nil
}

// LV is one row of `lvs --reportformat json`.
type LV struct {
	Name          string `json:"lv_name"`
	VG            string `json:"vg_name"`
	Attr          string `json:"lv_attr"`
	Segtype       string `json:"segtype"`
	Pool          string `json:"pool_lv"`
	OperatingMode string `json:"vdo_operating_mode"`
	IndexState    string `json:"vdo_index_state"`
}

// state is the fifth lv_attr character: a active, s suspended, '-' inactive...
func (l LV) state() byte {
	if len(l.Attr) < 5 {
		return '-'
	}
	return l.Attr[4]
}

// Active reports whether the logical volume has a live device (active
// or suspended).
func (l LV) Active() bool { return l.state() == 'a' || l.state() == 's' }

// parseLVS reads the logical volumes of `lvs --reportformat json`.
func parseLVS(out []byte) ([]LV, error) {
	var doc struct {
		Report []struct {
			LV []LV `json:"lv"`
		} `json:"report"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("parse lvs json: %w", err)
	}
	var lvs []LV
	for _, r := range doc.Report {
		lvs = append(lvs, r.LV...)
	}
	return lvs, nil
}

// findLV returns the logical volume vg/name of lvs.
func findLV(lvs []LV, vg, name string) (LV, bool) {
	for _, l := range lvs {
		if l.VG == vg && l.Name == name {
			return l, true
		}
	}
	return LV{}, false
}

// checkVDOLV rejects a logical volume that is not a VDO volume.
func checkVDOLV(lvs []LV, vg, name string) error {
	l, ok := findLV(lvs, vg, name)
	switch {
	case !ok:
		return fmt.Errorf("no logical volume %s in volume group %s", name, vg)
	case l.Segtype == "vdo-pool":
		var users []string
		for _, u := range lvs {
			if u.Segtype == "vdo" && u.Pool == name {
				users = append(users, u.Name)
			}
		}
		return fmt.Errorf("%s/%s is a VDO pool: name its VDO volume (%s)", vg, name, strings.Join(users, ", "))
	case l.Segtype != "vdo":
		return fmt.Errorf("%s/%s is a %s volume, not a VDO one", vg, name, l.Segtype)
	}
	return nil
}

// observeLVS turns lvs's view of vg/name and its pool into an observation.
func observeLVS(lvs []LV, vg, name string) (Observation, error) {
	l, ok := findLV(lvs, vg, name)
	if !ok {
		return Observation{}, fmt.Errorf("no logical volume %s in volume group %s", name, vg)
	}
	if !l.Active() {
		return Observation{}, nil
	}
	o := Observation{Present: true, Suspended: l.state() == 's', Device: lvmDMName(vg, name)}
	if pool, ok := findLV(lvs, vg, l.Pool); ok && l.Segtype == "vdo" {
		o.Device = lvmDMName(vg, pool.Name) + "-vpool"
		o.Target = "vdo"
		o.Mode, o.Index = pool.OperatingMode, pool.IndexState
	}
	return o, nil
}
