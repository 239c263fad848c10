package vdo

import (
	"reflect"
	"strings"
	"testing"

	"github.com/goha-ha/goha/ocf"
)

func TestResolveMode(t *testing.T) {
	tests := []struct {
		mode, volume, vg, lv string
		want                 Mode
		err                  string
	}{
		{"auto", "vdo1", "", "", Legacy, ""},
		{"auto", "", "vg0", "data", LVM, ""},
		{"auto", "vdo1", "vg0", "data", "", "set only one"},
		{"auto", "vdo1", "vg0", "", "", "set only one"},
		{"auto", "", "vg0", "", "", "must both be set"},
		{"auto", "", "", "data", "", "must both be set"},
		{"auto", "", "", "", "", "must name the volume"},
		{"vdo", "vdo1", "vg0", "data", Legacy, ""},
		{"vdo", "", "vg0", "data", "", "parameter volume is required with mode=vdo"},
		{"lvm", "vdo1", "vg0", "data", LVM, ""},
		{"lvm", "", "vg0", "", "", "are required with mode=lvm"},
	}
	for _, tc := range tests {
		got, err := resolveMode(tc.mode, tc.volume, tc.vg, tc.lv)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("resolveMode(%q, %q, %q, %q) = %q, %v; want %q, %q", tc.mode, tc.volume, tc.vg, tc.lv, got, err, tc.want, tc.err)
		}
	}
}

func config(t *testing.T, raw map[string]string) Config {
	t.Helper()
	params := params()
	v := ocf.NewValues(params, raw)
	if err := v.Validate(params); err != nil {
		t.Fatal(err)
	}
	c, err := configFrom(v)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigArgv(t *testing.T) {
	legacy := config(t, map[string]string{pVolume: "vdo1", pConfig: "/etc/ha/vdoconf.yml"})
	if legacy.Mode != Legacy || legacy.Name() != "vdo1" || legacy.DMName() != "vdo1" {
		t.Errorf("legacy config: %+v", legacy)
	}
	argv := map[string][]string{
		"status": legacy.vdoStatusArgs(),
		"start":  legacy.vdoArgs("start", "--forceRebuild"),
	}
	want := map[string][]string{
		"status": {"/usr/bin/vdo", "status", "--confFile=/etc/ha/vdoconf.yml"},
		"start":  {"/usr/bin/vdo", "start", "--name=vdo1", "--confFile=/etc/ha/vdoconf.yml", "--forceRebuild"},
	}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("vdo argv = %q, want %q", argv, want)
	}

	lvm := config(t, map[string]string{pVG: "vg-ha", pLV: "my-data", pLvmBinary: "/sbin/lvm"})
	if lvm.Mode != LVM || lvm.Name() != "vg-ha/my-data" || lvm.DMName() != "vg--ha-my--data" {
		t.Errorf("lvm config: mode %q name %q dm %q", lvm.Mode, lvm.Name(), lvm.DMName())
	}
	argv = map[string][]string{"lvs": lvm.lvsArgs(), "on": lvm.lvchangeArgs(true), "off": lvm.lvchangeArgs(false)}
	want = map[string][]string{
		"lvs": {"/sbin/lvm", "lvs", "--reportformat", "json", "-o", "lv_name,vg_name,lv_attr,segtype,pool_lv,vdo_operating_mode,vdo_index_state", "vg-ha"},
		"on":  {"/sbin/lvm", "lvchange", "-ay", "-K", "vg-ha/my-data"},
		"off": {"/sbin/lvm", "lvchange", "-an", "vg-ha/my-data"},
	}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("lvm argv = %q, want %q", argv, want)
	}
}

func TestNameChecks(t *testing.T) {
	tests := []struct {
		check func(string) error
		value string
		ok    bool
	}{
		{checkVolumeName, "vdo1", true},
		{checkVolumeName, "my.vdo_volume-2", true},
		{checkVolumeName, "a/b", false},
		{checkVolumeName, "a b", false},
		{checkVolumeName, "-n", false},
		{checkVolumeName, strings.Repeat("v", 128), false},
		{checkLVMName, "vg-ha_1.+", true},
		{checkLVMName, "-vg", false},
		{checkLVMName, "..", false},
		{checkLVMName, "vg/lv", false},
		{checkLVMName, "vé", false},
		{checkAbsolute, "/usr/bin/vdo", true},
		{checkAbsolute, "vdo", false},
	}
	for _, tc := range tests {
		if err := tc.check(tc.value); (err == nil) != tc.ok {
			t.Errorf("check(%q) = %v, want ok %v", tc.value, err, tc.ok)
		}
	}
}

func TestMetadataDescribesEveryParameter(t *testing.T) {
	for _, p := range Agent().Params {
		if p.Short == "" || p.Long == "" {
			t.Errorf("parameter %s lacks a description", p.Name)
		}
	}
	var b strings.Builder
	if err := Agent().WriteMetadata(&b); err != nil || !strings.Contains(b.String(), `<resource-agent name="vdo"`) {
		t.Errorf("meta-data: %v\n%s", err, b.String())
	}
}
