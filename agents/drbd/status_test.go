package drbd

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// testdata/status-syncing.json is drbdsetup status --json as drbd-utils 9
// prints it (layout and keys of drbdsetup-9.0(8) status --json, with the
// resync details a SyncTarget adds), for two resources: "data", two volumes
// of which one is a resync target of a Primary peer, and "other", a Primary
// whose peer is unreachable; "other" predates the quorum key.
func TestParseStatus(t *testing.T) {
	raw, err := os.ReadFile("testdata/status-syncing.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseStatus(raw, "data")
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	want := Status{Name: "data", NodeID: 1, Role: Secondary,
		Devices: []Device{{Volume: 0, Minor: 1, DiskState: Inconsistent, Quorum: &yes}, {Volume: 1, Minor: 2, DiskState: UpToDate, Quorum: &yes}},
		Connections: []Connection{{PeerNodeID: 0, Name: "alpha", ConnectionState: Connected, PeerRole: Primary,
			PeerDevices: []PeerDevice{
				{Volume: 0, ReplicationState: "SyncTarget", PeerDiskState: UpToDate, OutOfSync: 7077532, PercentInSync: 32.5},
				{Volume: 1, ReplicationState: "Established", PeerDiskState: UpToDate, PercentInSync: 100}}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("data:\n got %+v\nwant %+v", got, want)
	}
	if p := Score(true, got, ladder, false); p.Score != Ineligible {
		t.Errorf("score of a resync target under a Primary: %+v", p)
	}

	other, err := ParseStatus(raw, "other")
	if err != nil {
		t.Fatal(err)
	}
	if other.Role != Primary || other.Devices[0].Quorum != nil || other.Connections[0].PeerDevices[0].PeerDiskState != DUnknown {
		t.Errorf("other: %+v", other)
	}
	if h := Assess(true, other); h.Status != 8 {
		t.Errorf("other: monitor %+v", h)
	}
}

func TestParseStatusErrors(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"not JSON", "data role:Secondary\n  disk:UpToDate\n", "parse drbdsetup status"},
		{"object, not array", `{"name":"data"}`, "parse drbdsetup status"},
		{"other resource only", `[{"name":"other","devices":[{"disk-state":"UpToDate"}]}]`, "not in the output"},
		{"no volume", `[{"name":"data","role":"Secondary","devices":[]}]`, "has no volume"},
		{"empty", `[]`, "not in the output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseStatus([]byte(tt.raw), "data"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzParseStatus(f *testing.F) {
	raw, err := os.ReadFile("testdata/status-syncing.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`[{"name":"data","devices":[{"disk-state":"Diskless","client":true}],"connections":[{"peer_devices":[]}]}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := ParseStatus(raw, "data")
		if err != nil {
			return
		}
		// Whatever parses, the decisions stay within their ranges.
		if p := Score(true, s, ladder, false); p.Score != Ineligible && (p.Score < 0 || p.Score > ladder.UpToDate) {
			t.Errorf("score %d", p.Score)
		}
		_ = Assess(true, s)
		_, _ = CanPromote(s, false)
	})
}
