package garbd

import (
	"strings"
	"testing"
)

// FuzzParseAddress: any accepted address names at least one node, each
// with a host and a port in range, and a rejected one says why.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"gcomm://db1", "gcomm://db1:4568,[fd00::1]:4567?pc.wait_prim=no", "gcomm://", "gcomm://[::1", "db1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		peers, err := parseAddress(addr)
		if err != nil {
			if err.Error() == "" || peers != nil {
				t.Fatalf("parseAddress(%q) = %v, %q", addr, peers, err)
			}
			return
		}
		if len(peers) == 0 {
			t.Fatalf("parseAddress(%q) accepted no node", addr)
		}
		for _, p := range peers {
			if p.Host == "" || p.Port < 1 || p.Port > 65535 || strings.ContainsAny(p.Host, ",?[] \t") {
				t.Fatalf("parseAddress(%q) gave peer %+v", addr, p)
			}
		}
	})
}

// FuzzApply: no log line makes the fold panic or invent a component
// without a "New COMPONENT" line.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		"2026-11-23 12:55:42.715  INFO: New COMPONENT: primary = yes, bootstrap = no, my_idx = 1, memb_num = 2",
		"2026-11-23 12:55:42.716  INFO: Shifting JOINED -> SYNCED (TO: 2)",
		"FATAL: Failed to open configuration file '/x' for reading.",
		"\tgroup:   gtest",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p Progress
		p.Apply(s)
		if p.Component != ComponentUnknown && !strings.Contains(s, "New COMPONENT: primary = ") {
			t.Fatalf("%q set the component to %v", s, p.Component)
		}
		_ = assess(p)
		_ = explainFailure(p)
	})
}
