package vdo

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// writeTree writes files (path relative to root -> content; content
// "->TARGET" makes a symbolic link) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for path, content := range files {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if len(content) > 2 && content[:2] == "->" {
			err = os.Symlink(content[2:], full)
		} else {
			err = os.WriteFile(full, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindDM(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"block/loop0/size":               "0\n",
		"block/dm-0/dm/name":             "vg--ha-vpool0-vpool\n",
		"block/dm-0/dm/suspended":        "0\n",
		"block/dm-1/dm/name":             "vg--ha-data\n",
		"block/dm-1/dm/suspended":        "0\n",
		"block/dm-1/slaves/dm-0":         "->../../dm-0",
		"block/dm-2/dm/name":             "vdo1\n",
		"block/dm-2/dm/suspended":        "1\n",
		"block/dm-3/dm/name":             "vg--ha-plain\n",
		"block/dm-3/slaves/vda":          "->../../vda",
		"kvdo/vdo1/statistics/mode":      "read-only\n",
		"kvdo/vg--ha-vpool0-vpool/dummy": "",
		"kvdo/empty/statistics/mode":     "\n",
		"block/dm-9/dm/uuid":             "a device removed while listed has no name\n",
	})
	tests := []struct {
		name  string
		want  dmDevice
		found bool
		layer string
		mode  Mode
	}{
		{"vg--ha-data", dmDevice{Block: "dm-1", Name: "vg--ha-data", Below: []string{"vg--ha-vpool0-vpool"}}, true, "vg--ha-vpool0-vpool", LVM},
		{"vdo1", dmDevice{Block: "dm-2", Name: "vdo1", Suspended: true}, true, "vdo1", Legacy},
		{"vg--ha-plain", dmDevice{Block: "dm-3", Name: "vg--ha-plain"}, true, "vg--ha-plain", LVM},
		{"vdo2", dmDevice{}, false, "", Legacy},
	}
	for _, tc := range tests {
		d, found, err := findDM(root, tc.name)
		if err != nil || found != tc.found || !reflect.DeepEqual(d, tc.want) {
			t.Errorf("findDM(%s) = %+v, %v, %v; want %+v, %v", tc.name, d, found, err, tc.want, tc.found)
			continue
		}
		if found && vdoLayer(d, tc.mode) != tc.layer {
			t.Errorf("vdoLayer(%s) = %s, want %s", tc.name, vdoLayer(d, tc.mode), tc.layer)
		}
	}
	if _, _, err := findDM(filepath.Join(root, "kvdo"), "vdo1"); err == nil {
		t.Error("findDM without a block directory did not fail")
	}
	modes := map[string]struct {
		mode string
		ok   bool
	}{"vdo1": {"read-only", true}, "vg--ha-vpool0-vpool": {"", false}, "empty": {"", false}, "none": {"", false}}
	for name, want := range modes {
		if mode, ok := kvdoMode(root, name); mode != want.mode || ok != want.ok {
			t.Errorf("kvdoMode(%s) = %q, %v; want %q, %v", name, mode, ok, want.mode, want.ok)
		}
	}
}
