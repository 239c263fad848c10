package vdo

import (
	"strings"
	"testing"
)

// FuzzParseDMStatus: a vdo target that parses has every field, and
// nothing parsed from a line without a numeric start and length.
func FuzzParseDMStatus(f *testing.F) {
	for _, s := range []string{"0 20971520 vdo /dev/sdb normal - online online 1048576 2621440", "vdo1: 0 8 linear ",
		"0 8 vdo /dev/sdb", "Device does not exist.", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseDMStatus([]byte(s))
		if err != nil {
			return
		}
		if st.Target == "" || st.Target == "vdo" && (st.Mode == "" || st.Index == "" || st.Compression == "") {
			t.Fatalf("parseDMStatus(%q) = %+v", s, st)
		}
	})
}

// FuzzParseVdoStatus: no document makes the reader panic, and a volume
// it finds is named as a key of the VDOs section.
func FuzzParseVdoStatus(f *testing.F) {
	f.Add(vdoStatusDoc, "vdo1")
	f.Add("VDOs:\n  x:\n    Activate: enabled\n", "x")
	f.Add("VDOs:\n x\n  :\n", "x")
	f.Fuzz(func(t *testing.T, doc, name string) {
		v, found, err := parseVdoStatus([]byte(doc), name)
		if err != nil {
			return
		}
		if found && !strings.Contains(doc, name+":") && !strings.Contains(doc, name+"'") && !strings.Contains(doc, name+`"`) {
			t.Fatalf("found %q (%+v) in %q", name, v, doc)
		}
		if _, err := observeVdoStatus(v, name); err == nil {
			_ = assess(name, Observation{})
		}
	})
}

// FuzzParseLVS: whatever lvs printed, a parsed report gives a verdict.
func FuzzParseLVS(f *testing.F) {
	f.Add(lvsDoc, "data")
	f.Add(`{"report":[{"lv":[{"lv_name":"a","vg_name":"vg0","lv_attr":"v"}]}]}`, "a")
	f.Add(`{"report":[]}`, "a")
	f.Fuzz(func(t *testing.T, doc, lv string) {
		lvs, err := parseLVS([]byte(doc))
		if err != nil {
			return
		}
		o, err := observeLVS(lvs, "vg0", lv)
		if err == nil {
			_ = assess(lv, o)
		}
		_ = checkVDOLV(lvs, "vg0", lv)
	})
}
