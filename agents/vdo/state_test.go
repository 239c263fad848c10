package vdo

import (
	"strings"
	"testing"
)

// vdoStatusDoc is a vdo status document in the shape the vdo command
// prints: one started volume (vdo1) with its statistics, one stopped
// (backup-2, quoted as YAML quotes a name that could be read as another
// type), and a third after it.
const vdoStatusDoc = `VDO status:
  Date: '2026-01-01 10:00:00+00:00'
  Node: node1
Kernel module:
  Loaded: true
  Name: kvdo
  Version information:
    kvdo version: 6.2.8.7
Configuration:
  File: /etc/vdoconf.yml
  Last modified: '2026-01-01 09:00:00'
VDOs:
  vdo1:
    Acknowledgement threads: 1
    Activate: enabled
    Bio rotation interval: 64
    Device mapper status: 0 20971520 vdo /dev/sdb normal - online online 1048576 2621440
    Storage device: /dev/disk/by-id/scsi-1
    VDO statistics:
      /dev/mapper/vdo1:
        1K-blocks: 10485760
        operating mode: normal
        recovery progress (%): N/A
  '2024':
    Activate: disabled
    Device mapper status: not available
    Storage device: /dev/sdc
    VDO statistics: not available
  vdo3:
    Activate: enabled
    Device mapper status: 0 20971520 vdo /dev/sdd read-only - error offline 1048576 2621440
    VDO statistics:
      /dev/mapper/vdo3:
        operating mode: read-only
`

func TestParseVdoStatus(t *testing.T) {
	tests := []struct {
		doc, name string
		want      VdoVolume
		found     bool
	}{
		{vdoStatusDoc, "vdo1", VdoVolume{Activated: true, DMStatus: "0 20971520 vdo /dev/sdb normal - online online 1048576 2621440", Mode: "normal"}, true},
		{vdoStatusDoc, "2024", VdoVolume{DMStatus: "not available"}, true},
		{vdoStatusDoc, "vdo3", VdoVolume{Activated: true, DMStatus: "0 20971520 vdo /dev/sdd read-only - error offline 1048576 2621440", Mode: "read-only"}, true},
		{vdoStatusDoc, "vdo", VdoVolume{}, false},
		{vdoStatusDoc, "Activate", VdoVolume{}, false}, // a key inside a volume is not a volume
		{vdoStatusDoc, "Kernel module", VdoVolume{}, false},
		{"VDO status:\n  Node: n\nVDOs: {}\n", "vdo1", VdoVolume{}, false},
		{"", "vdo1", VdoVolume{}, false},
		{"VDOs:\r\n  vdo1:\r\n    Activate: enabled\r\n", "vdo1", VdoVolume{Activated: true}, true},
	}
	for _, tc := range tests {
		got, found, err := parseVdoStatus([]byte(tc.doc), tc.name)
		if err != nil || found != tc.found || got != tc.want {
			t.Errorf("parseVdoStatus(%q) = %+v, %v, %v; want %+v, %v", tc.name, got, found, err, tc.want, tc.found)
		}
	}
}

func TestParseDMStatus(t *testing.T) {
	tests := []struct {
		in      string
		want    DMStatus
		wantErr string
	}{
		{"0 20971520 vdo /dev/sdb normal - online online 1048576 2621440\n",
			DMStatus{Target: "vdo", Device: "/dev/sdb", Mode: "normal", Recovery: "-", Index: "online", Compression: "online"}, ""},
		{"vdo1: 0 20971520 vdo /dev/sdb recovering recovering opening offline 1 2",
			DMStatus{Target: "vdo", Device: "/dev/sdb", Mode: "recovering", Recovery: "recovering", Index: "opening", Compression: "offline"}, ""},
		{"0 20971520 vdo 253:2 read-only - error online 1 2", DMStatus{Target: "vdo", Device: "253:2", Mode: "read-only", Recovery: "-", Index: "error", Compression: "online"}, ""},
		{"0 20971520 linear \n", DMStatus{Target: "linear"}, ""},
		{"0 20971520 vdo /dev/sdb normal", DMStatus{Target: "vdo"}, "has 2 fields, want 7"},
		{"", DMStatus{}, "no target"},
		{"Device does not exist.", DMStatus{}, "no target"},
	}
	for _, tc := range tests {
		got, err := parseDMStatus([]byte(tc.in))
		if got != tc.want || (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("parseDMStatus(%q) = %+v, %v; want %+v, %q", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// lvsDoc is lvs --reportformat json output for a group with a VDO volume
// (active), its pool, a second VDO volume on the pool (inactive) and a
// linear volume.
const lvsDoc = `  {
      "report": [
          {
              "lv": [
                  {"lv_name":"data", "vg_name":"vg0", "lv_attr":"vwi-aov---", "segtype":"vdo", "pool_lv":"vpool0", "vdo_operating_mode":"", "vdo_index_state":""},
                  {"lv_name":"more", "vg_name":"vg0", "lv_attr":"vwi---v---", "segtype":"vdo", "pool_lv":"vpool0", "vdo_operating_mode":"", "vdo_index_state":""},
                  {"lv_name":"vpool0", "vg_name":"vg0", "lv_attr":"dwi-a-v---", "segtype":"vdo-pool", "pool_lv":"", "vdo_operating_mode":"normal", "vdo_index_state":"online"},
                  {"lv_name":"root", "vg_name":"vg0", "lv_attr":"-wi-ao----", "segtype":"linear", "pool_lv":"", "vdo_operating_mode":"", "vdo_index_state":""},
                  {"lv_name":"frozen", "vg_name":"vg0", "lv_attr":"vwi-s-v---", "segtype":"vdo", "pool_lv":"vpool0", "vdo_operating_mode":"", "vdo_index_state":""}
              ]
          }
      ]
  }
`

func TestLVS(t *testing.T) {
	lvs, err := parseLVS([]byte(lvsDoc))
	if err != nil || len(lvs) != 5 {
		t.Fatalf("parseLVS: %d volumes, %v", len(lvs), err)
	}
	if _, err := parseLVS([]byte("  Volume group not found")); err == nil {
		t.Error("parseLVS accepted text")
	}
	checks := []struct{ lv, err string }{
		{"data", ""},
		{"more", ""},
		{"vpool0", "is a VDO pool: name its VDO volume (data, more, frozen)"},
		{"root", "is a linear volume, not a VDO one"},
		{"gone", "no logical volume gone in volume group vg0"},
	}
	for _, tc := range checks {
		err := checkVDOLV(lvs, "vg0", tc.lv)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("checkVDOLV(%s) = %v, want %q", tc.lv, err, tc.err)
		}
	}
	observations := []struct {
		lv   string
		want Observation
		err  bool
	}{
		{"data", Observation{Present: true, Device: "vg0-vpool0-vpool", Target: "vdo", Mode: "normal", Index: "online"}, false},
		{"more", Observation{}, false},
		{"frozen", Observation{Present: true, Suspended: true, Device: "vg0-vpool0-vpool", Target: "vdo", Mode: "normal", Index: "online"}, false},
		{"root", Observation{Present: true, Device: "vg0-root"}, false},
		{"gone", Observation{}, true},
	}
	for _, tc := range observations {
		got, err := observeLVS(lvs, "vg0", tc.lv)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("observeLVS(%s) = %+v, %v; want %+v, error %v", tc.lv, got, err, tc.want, tc.err)
		}
	}
}

func TestObserveVdoStatus(t *testing.T) {
	tests := []struct {
		v    VdoVolume
		want Observation
		err  bool
	}{
		{VdoVolume{DMStatus: "not available"}, Observation{}, false},
		{VdoVolume{}, Observation{}, false},
		{VdoVolume{DMStatus: "0 8 vdo /dev/sdb normal - online online 1 2", Mode: "normal"},
			Observation{Present: true, Device: "v", Target: "vdo", Mode: "normal", Index: "online"}, false},
		{VdoVolume{DMStatus: "0 8 linear ", Mode: "read-only"}, Observation{Present: true, Device: "v", Target: "linear", Mode: "read-only"}, false},
		{VdoVolume{DMStatus: "garbage"}, Observation{}, true},
	}
	for _, tc := range tests {
		got, err := observeVdoStatus(tc.v, "v")
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("observeVdoStatus(%+v) = %+v, %v; want %+v", tc.v, got, err, tc.want)
		}
	}
}

func TestAssess(t *testing.T) {
	tests := []struct {
		name    string
		o       Observation
		state   State
		why     string
		warning string
	}{
		{"no device", Observation{}, Stopped, "is not started", ""},
		{"normal", Observation{Present: true, Mode: "normal"}, Running, "started and in normal mode", ""},
		{"mode unknown", Observation{Present: true}, Running, "operating mode not known", ""},
		{"recovering", Observation{Present: true, Mode: "recovering"}, Running, "recovering", "free space may be short"},
		{"read-only", Observation{Present: true, Mode: "read-only"}, Failed, "read-only mode", ""},
		{"unknown mode", Observation{Present: true, Mode: "confused"}, Failed, `unknown operating mode "confused"`, ""},
		{"suspended", Observation{Present: true, Suspended: true, Mode: "normal"}, Failed, "is suspended", ""},
		{"suspended and read-only", Observation{Present: true, Suspended: true, Mode: "read-only"}, Failed, "is suspended", ""},
		{"not a vdo target", Observation{Present: true, Device: "v", Target: "linear"}, Failed, "is a linear device, not a VDO one", ""},
		{"index error", Observation{Present: true, Target: "vdo", Mode: "normal", Index: "error"}, Running, "normal mode", "without deduplication"},
	}
	for _, tc := range tests {
		h := assess("v", tc.o)
		if h.State != tc.state || !strings.Contains(h.Why, tc.why) || !strings.Contains(h.Warning, tc.warning) || tc.warning == "" && h.Warning != "" {
			t.Errorf("%s: assess = %+v, want state %d with %q, warning %q", tc.name, h, tc.state, tc.why, tc.warning)
		}
	}
}
