package drbd

import (
	"fmt"
	"testing"

	"github.com/goha-ha/goha/ocf"
)

var ladder = Ladder{Consistent: 0, RemoteUpToDate: 10, PeerUnknown: 1000, UpToDate: 10000}

// The states the exhaustive tests sweep: every disk state DRBD reports,
// the connection states a peer can be seen in, and every role.
var (
	allDisks  = []string{UpToDate, Consistent, Outdated, Inconsistent, Diskless, Failed, "Attaching", "Negotiating", "Detaching", DUnknown}
	allConns  = []string{Connected, "Connecting", "StandAlone", "Disconnecting", "NetworkFailure", "BrokenPipe", "Unconnected", "Timeout", "ProtocolError", "TearDown"}
	allRoles  = []string{Primary, Secondary, "Unknown"}
	goodDisks = map[string]bool{UpToDate: true, Consistent: true}
)

// twoNode builds the status of a one-volume resource with one peer.
func twoNode(role, disk, conn, peerRole, peerDisk string) Status {
	return Status{Name: "r0", Role: role,
		Devices: []Device{{Volume: 0, Minor: 0, DiskState: disk, Client: disk == Diskless}},
		Connections: []Connection{{PeerNodeID: 1, Name: "beta", ConnectionState: conn, PeerRole: peerRole,
			PeerDevices: []PeerDevice{{Volume: 0, ReplicationState: "Established", PeerDiskState: peerDisk}}}}}
}

// TestScoreNamedCases pins the score of the cases the seed documents name.
func TestScoreNamedCases(t *testing.T) {
	tests := []struct {
		name  string
		up    bool
		s     Status
		two   bool
		score int
	}{
		{"down", false, Status{}, false, Ineligible},
		{"Secondary UpToDate, peer UpToDate Secondary", true, twoNode(Secondary, UpToDate, Connected, Secondary, UpToDate), false, 10000},
		{"Secondary UpToDate, peer Outdated", true, twoNode(Secondary, UpToDate, Connected, Secondary, Outdated), false, 10000},
		{"Secondary UpToDate, link lost", true, twoNode(Secondary, UpToDate, "Connecting", "Unknown", DUnknown), false, 1000},
		{"Secondary UpToDate, connected but peer disk unknown", true, twoNode(Secondary, UpToDate, Connected, Secondary, DUnknown), false, 1000},
		{"Primary UpToDate, link lost", true, twoNode(Primary, UpToDate, "Connecting", "Unknown", DUnknown), false, 10000},
		{"Secondary Consistent, peer unknown", true, twoNode(Secondary, Consistent, "Connecting", "Unknown", DUnknown), false, 0},
		{"Secondary Consistent, peer UpToDate", true, twoNode(Secondary, Consistent, Connected, Secondary, UpToDate), false, Ineligible},
		{"Secondary Consistent, peer Outdated", true, twoNode(Secondary, Consistent, Connected, Secondary, Outdated), false, 0},
		{"Secondary Outdated", true, twoNode(Secondary, Outdated, "Connecting", "Unknown", DUnknown), false, Ineligible},
		{"Secondary Inconsistent, syncing from UpToDate peer", true, twoNode(Secondary, Inconsistent, Connected, Secondary, UpToDate), false, Ineligible},
		{"Secondary Diskless client, peer UpToDate", true, twoNode(Secondary, Diskless, Connected, Secondary, UpToDate), false, Ineligible},
		{"Secondary UpToDate, peer Primary", true, twoNode(Secondary, UpToDate, Connected, Primary, UpToDate), false, Ineligible},
		{"Secondary UpToDate, peer Primary, two primaries allowed", true, twoNode(Secondary, UpToDate, Connected, Primary, UpToDate), true, 10000},
		{"Secondary UpToDate, peer was Primary, link lost", true, twoNode(Secondary, UpToDate, "Connecting", "Unknown", DUnknown), false, 1000},
		{"Primary resync target reading through the peer", true, twoNode(Primary, Inconsistent, Connected, Secondary, UpToDate), false, 10},
		{"Primary Inconsistent, peer gone", true, twoNode(Primary, Inconsistent, "Connecting", "Unknown", DUnknown), false, Ineligible},
		{"Primary Consistent", true, twoNode(Primary, Consistent, "Connecting", "Unknown", DUnknown), false, 0},
		{"single node, UpToDate", true, Status{Name: "r0", Role: Secondary, Devices: []Device{{DiskState: UpToDate}}}, false, 10000},
		{"two volumes, one Outdated", true, Status{Name: "r0", Role: Secondary,
			Devices: []Device{{Volume: 0, DiskState: UpToDate}, {Volume: 1, DiskState: Outdated}}}, false, Ineligible},
		{"two volumes, one Consistent", true, Status{Name: "r0", Role: Secondary,
			Devices: []Device{{Volume: 0, DiskState: UpToDate}, {Volume: 1, DiskState: Consistent}}}, false, 0},
		{"two volumes, peer's second unknown", true, Status{Name: "r0", Role: Secondary,
			Devices: []Device{{Volume: 0, DiskState: UpToDate}, {Volume: 1, DiskState: UpToDate}},
			Connections: []Connection{{Name: "beta", ConnectionState: Connected, PeerRole: Secondary,
				PeerDevices: []PeerDevice{{Volume: 0, PeerDiskState: UpToDate}, {Volume: 1, PeerDiskState: DUnknown}}}}}, false, 1000},
		{"three nodes, one peer lost", true, Status{Name: "r0", Role: Secondary,
			Devices: []Device{{DiskState: UpToDate}},
			Connections: []Connection{
				{Name: "beta", ConnectionState: Connected, PeerRole: Secondary, PeerDevices: []PeerDevice{{PeerDiskState: UpToDate}}},
				{Name: "gamma", ConnectionState: "Connecting", PeerRole: "Unknown", PeerDevices: []PeerDevice{{PeerDiskState: DUnknown}}}}}, false, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Score(tt.up, tt.s, ladder, tt.two); got.Score != tt.score {
				t.Errorf("Score = %d (%s), want %d", got.Score, got.Why, tt.score)
			}
		})
	}
}

// TestScoreAllStates sweeps every combination of local role and disk,
// connection state, peer role and peer disk, with and without two
// primaries, against the rules stated as a decision table.
func TestScoreAllStates(t *testing.T) {
	n := 0
	for _, role := range []string{Primary, Secondary} {
		for _, disk := range allDisks {
			for _, conn := range allConns {
				for _, peerRole := range allRoles {
					for _, peerDisk := range allDisks {
						for _, two := range []bool{false, true} {
							n++
							s := twoNode(role, disk, conn, peerRole, peerDisk)
							got := Score(true, s, ladder, two).Score
							want := wantScore(role, disk, conn, peerRole, peerDisk, two)
							if got != want {
								t.Errorf("role %s disk %s, peer %s %s %s, two primaries %v: score %d, want %d",
									role, disk, conn, peerRole, peerDisk, two, got, want)
							}
						}
					}
				}
			}
		}
	}
	if n != 2*len(allDisks)*len(allConns)*len(allRoles)*len(allDisks)*2 {
		t.Fatalf("swept %d cases", n)
	}
}

// wantScore states the promotion rules as a decision table, top row first.
func wantScore(role, disk, conn, peerRole, peerDisk string, two bool) int {
	connected := conn == Connected
	peerKnown := connected && peerDisk != DUnknown
	switch {
	case role == Primary && disk == UpToDate:
		return ladder.UpToDate
	case role == Primary && disk == Consistent:
		return ladder.Consistent
	case role == Primary && connected && peerDisk == UpToDate:
		return ladder.RemoteUpToDate
	case role == Primary:
		return Ineligible
	case connected && peerRole == Primary && !two:
		return Ineligible // no promotion while the peer is Primary
	case disk == UpToDate && peerKnown:
		return ladder.UpToDate
	case disk == UpToDate:
		return ladder.PeerUnknown
	case disk == Consistent && connected && peerDisk == UpToDate:
		return Ineligible
	case disk == Consistent:
		return ladder.Consistent
	}
	return Ineligible // Outdated, Inconsistent, Diskless and the transient states
}

// TestScoreNeverPromotesBadData checks the rule the ladder exists for from
// the other side: no Secondary without UpToDate or Consistent data ever
// gets a score, whatever the peers.
func TestScoreNeverPromotesBadData(t *testing.T) {
	for _, disk := range allDisks {
		if goodDisks[disk] {
			continue
		}
		for _, conn := range allConns {
			for _, peerDisk := range allDisks {
				s := twoNode(Secondary, disk, conn, Secondary, peerDisk)
				if p := Score(true, s, ladder, true); p.Score >= 0 {
					t.Errorf("disk %s, peer %s %s: score %d (%s)", disk, conn, peerDisk, p.Score, p.Why)
				}
			}
		}
	}
}

func TestCanPromoteAllStates(t *testing.T) {
	for _, role := range []string{Primary, Secondary} {
		for _, disk := range allDisks {
			for _, conn := range allConns {
				for _, peerRole := range allRoles {
					for _, two := range []bool{false, true} {
						s := twoNode(role, disk, conn, peerRole, UpToDate)
						got, why := CanPromote(s, two)
						var want PromoteVerdict
						switch {
						case role == Primary:
							want = AlreadyPrimary
						case conn == Connected && peerRole == Primary && !two:
							want = WaitPeerPrimary
						case !goodDisks[disk]:
							want = NeverPromote
						default:
							want = PromoteNow
						}
						if got != want {
							t.Errorf("%s %s, peer %s %s, two %v: verdict %d (%s), want %d", role, disk, conn, peerRole, two, got, why, want)
						}
					}
				}
			}
		}
	}
}

func TestAssessAllStates(t *testing.T) {
	if h := Assess(false, Status{}); h.Status != ocf.NotRunning {
		t.Errorf("down: %v", h)
	}
	for _, role := range allRoles {
		for _, disk := range allDisks {
			for _, client := range []bool{false, true} {
				s := Status{Name: "r0", Role: role, Devices: []Device{{DiskState: disk, Client: client}}}
				lost := disk == Failed || (disk == Diskless && !client)
				var want ocf.Status
				switch {
				case role == Primary && lost:
					want = ocf.FailedPromoted
				case role == Primary:
					want = ocf.RunningPromoted
				case role == Secondary && lost:
					want = ocf.ErrGeneric
				case role == Secondary:
					want = ocf.Success
				default:
					want = ocf.ErrGeneric
				}
				if h := Assess(true, s); h.Status != want {
					t.Errorf("%s %s client=%v: %v (%s), want %v", role, disk, client, h.Status, h.Why, want)
				}
			}
		}
	}
}

func TestParseLadder(t *testing.T) {
	tests := []struct {
		in      string
		want    Ladder
		wantErr bool
	}{
		{DefaultLadder, ladder, false},
		{" 5  5 5   5 ", Ladder{5, 5, 5, 5}, false},
		{"0 10 1000", Ladder{}, true},
		{"0 10 1000 10000 5", Ladder{}, true},
		{"0 10 x 10000", Ladder{}, true},
		{"0 -1 2 3", Ladder{}, true},
		{"0 100 10 1000", Ladder{}, true},
		{"0 0 0 2000000", Ladder{}, true},
		{"", Ladder{}, true},
	}
	for _, tt := range tests {
		got, err := ParseLadder(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("ParseLadder(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

func TestOutdateOnStop(t *testing.T) {
	tests := []struct {
		n    ocf.Notification
		want string
	}{
		{ocf.Notification{}, ""},
		{ocf.Notification{Promoted: []string{"alpha"}}, ""},
		{ocf.Notification{Promoted: []string{"beta"}}, "beta"},
		{ocf.Notification{Promoted: []string{"beta"}, Stop: []string{"beta"}}, ""},
		{ocf.Notification{Promoted: []string{"beta"}, Demote: []string{"beta"}}, ""},
		{ocf.Notification{Promoted: []string{"ALPHA", "gamma"}}, "gamma"},
	}
	for i, tt := range tests {
		if got := OutdateOnStop("alpha", tt.n); got != tt.want {
			t.Errorf("%d: %+v: %q, want %q", i, tt.n, got, tt.want)
		}
	}
}

func ExampleScore() {
	s := twoNode(Secondary, UpToDate, "Connecting", "Unknown", DUnknown)
	p := Score(true, s, ladder, false)
	fmt.Println(p.Score, p.Why)
	// Output: 1000 UpToDate, but a peer's disk is unknown
}
