package vdosim

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run calls the simulated program in-process, as the link s.Bin(program)
// would.
func run(s *Sim, program string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Main(append([]string{s.Bin(program)}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func read(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestVdoVolumeLifecycle(t *testing.T) {
	s, err := New(t.TempDir(), "/nonexistent/vdosim")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddVDO("vdo1", "/dev/sdb"); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(s, "vdo", "start", "--name=vdo1"); code != 1 || !strings.Contains(stderr, "not activated") {
		t.Fatalf("start of a deactivated volume: %d %q", code, stderr)
	}
	for _, cmd := range []string{"activate", "start"} {
		if code, _, stderr := run(s, "vdo", cmd, "-n", "vdo1"); code != 0 {
			t.Fatalf("vdo %s: %d %s", cmd, code, stderr)
		}
	}
	if got := read(t, filepath.Join(s.Sysfs(), "block", "dm-1", "dm", "name")); got != "vdo1\n" {
		t.Fatalf("sysfs name %q", got)
	}
	if got := read(t, filepath.Join(s.Sysfs(), "kvdo", "vdo1", "statistics", "mode")); got != "normal\n" {
		t.Fatalf("sysfs mode %q", got)
	}
	_, status, _ := run(s, "vdo", "status")
	if !strings.Contains(status, "  vdo1:\n") || !strings.Contains(status, "Device mapper status: 0 20971520 vdo /dev/sdb normal - online online") {
		t.Fatalf("vdo status:\n%s", status)
	}
	if _, out, _ := run(s, "dmsetup", "status", "vdo1"); !strings.HasPrefix(out, "0 20971520 vdo /dev/sdb normal") {
		t.Fatalf("dmsetup status %q", out)
	}
	if err := s.Inject("vdo stop", &Fault{Exit: 3, Stderr: "boom\n", Times: 1}); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(s, "vdo", "stop", "--name=vdo1"); code != 3 || stderr != "boom\n" {
		t.Fatalf("injected fault: %d %q", code, stderr)
	}
	if code, _, _ := run(s, "vdo", "stop", "--name=vdo1"); code != 0 {
		t.Fatalf("stop after a one-time fault: %d", code)
	}
	if _, err := os.Stat(filepath.Join(s.Sysfs(), "block", "dm-1")); !os.IsNotExist(err) {
		t.Fatalf("the device is still in sysfs after stop: %v", err)
	}
	if code, _, stderr := run(s, "dmsetup", "status", "vdo1"); code != 1 || !strings.Contains(stderr, "Device does not exist") {
		t.Fatalf("dmsetup status of a stopped volume: %d %q", code, stderr)
	}
	calls, err := s.Calls()
	if err != nil || len(calls) != 8 || calls[0] != "vdo start --name=vdo1" || calls[2] != "vdo start -n vdo1" {
		t.Fatalf("calls %q, %v", calls, err)
	}
}

func TestLVMVolume(t *testing.T) {
	s, err := New(t.TempDir(), "/nonexistent/vdosim")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddLVM("vg-ha", "data", "vpool0"); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(s, "lvm", "lvchange", "-ay", "vg-ha/data"); code != 0 {
		t.Fatalf("lvchange -ay: %d %s", code, stderr)
	}
	_, out, _ := run(s, "lvm", "lvs", "--reportformat", "json", "-o", "lv_name,lv_attr,segtype,vdo_operating_mode", "vg-ha")
	var doc struct {
		Report []struct {
			LV []map[string]string `json:"lv"`
		} `json:"report"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Report) != 1 || len(doc.Report[0].LV) != 2 {
		t.Fatalf("lvs json %v:\n%s", err, out)
	}
	want := []map[string]string{
		{"lv_name": "data", "lv_attr": "vwi-a-v---", "segtype": "vdo", "vdo_operating_mode": ""},
		{"lv_name": "vpool0", "lv_attr": "dwi-a-v---", "segtype": "vdo-pool", "vdo_operating_mode": "normal"},
	}
	for i, row := range doc.Report[0].LV {
		for k, v := range want[i] {
			if row[k] != v {
				t.Errorf("row %d %s = %q, want %q", i, k, row[k], v)
			}
		}
	}
	names := map[string]string{}
	blocks, _ := os.ReadDir(filepath.Join(s.Sysfs(), "block"))
	for _, b := range blocks {
		names[strings.TrimSpace(read(t, filepath.Join(s.Sysfs(), "block", b.Name(), "dm", "name")))] = b.Name()
	}
	lv, pool := names["vg--ha-data"], names["vg--ha-vpool0-vpool"]
	if lv == "" || pool == "" {
		t.Fatalf("sysfs devices %v", names)
	}
	if _, err := os.Stat(filepath.Join(s.Sysfs(), "block", lv, "slaves", pool)); err != nil {
		t.Fatalf("the volume does not sit on its pool: %v", err)
	}
	if err := s.Volume(KindLVM, "vg-ha/data", func(v *Volume) { v.InUse = true }); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(s, "lvm", "lvchange", "-an", "vg-ha/data"); code != 5 || !strings.Contains(stderr, "in use") {
		t.Fatalf("lvchange -an in use: %d %q", code, stderr)
	}
	if code, _, stderr := run(s, "lvm", "lvs", "--reportformat", "json", "-o", "lv_name", "vg9"); code != 5 || !strings.Contains(stderr, `Volume group "vg9" not found`) {
		t.Fatalf("lvs of a missing group: %d %q", code, stderr)
	}
}

// TestAdmin drives the simulator through its own program name, as a test
// outside the agent's tree does: a new simulator, a volume, and a power
// loss that stops the started volume and empties its device tree.
func TestAdmin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sim")
	admin := func(args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := Main(append([]string{"/somewhere/" + AdminName}, args...), &stdout, &stderr); code != 0 {
			t.Fatalf("vdosim %q: exit %d: %s", args, code, stderr.String())
		}
	}
	admin("new", dir)
	admin("add-vdo", dir, "vdo1", "/dev/drbd0")
	s := &Sim{Dir: dir}
	if target, err := os.Readlink(s.Bin("vdo")); err != nil || !filepath.IsAbs(target) {
		t.Fatalf("bin/vdo links to %q (%v), want this program", target, err)
	}
	for _, cmd := range []string{"activate", "start"} {
		if code, _, stderr := run(s, "vdo", cmd, "--name=vdo1"); code != 0 {
			t.Fatalf("vdo %s: %d %s", cmd, code, stderr)
		}
	}
	if names, _ := filepath.Glob(filepath.Join(s.Sysfs(), "block", "dm-*")); len(names) != 1 {
		t.Fatalf("started volume: devices %q, want one", names)
	}
	admin("power-loss", dir)
	st, err := s.Load()
	if err != nil || len(st.Volumes) != 1 || st.Volumes[0].Started || !st.Volumes[0].Activated {
		t.Fatalf("after the power loss: %+v %v; want stopped, still activated", st.Volumes, err)
	}
	if names, _ := filepath.Glob(filepath.Join(s.Sysfs(), "block", "dm-*")); len(names) != 0 {
		t.Fatalf("after the power loss: devices %q, want none", names)
	}
	var stderr bytes.Buffer
	if code := Main([]string{AdminName, "explode", dir}, &bytes.Buffer{}, &stderr); code != 2 {
		t.Fatalf("unknown command: exit %d %s", code, stderr.String())
	}
}
