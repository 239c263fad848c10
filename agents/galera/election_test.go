package galera

import (
	"github.com/goha-ha/goha/agents/galera/grastate"

	"reflect"
	"strings"
	"testing"
)

const (
	uuidA = "6f5e3c1a-0b2d-11ef-8a1e-2a6f1c1d3e4f"
	uuidB = "9a8b7c6d-0b2d-11ef-9b2f-3b7a2d2e4f5a"
)

func rep(node string, seq int64) Peer {
	return Peer{Node: node, State: Reported, Position: Position{UUID: uuidA, Seqno: seq}}
}

func safe(p Peer) Peer { p.Position.SafeToBootstrap = true; return p }

func withUUID(p Peer, u string) Peer { p.Position.UUID = u; return p }

func st(node string, s PeerState) Peer { return Peer{Node: node, State: s} }

func TestDecide(t *testing.T) {
	tests := []struct {
		name   string
		self   string
		peers  []Peer
		kind   PlanKind
		donors []string
		cand   string
		reason string // substring of Plan.Reason
	}{
		// The seven recovery cases of the OpenUDS guide, as the election sees them.
		{"case 1: a restarted node joins the two that stayed", "n3",
			[]Peer{st("n1", Joined), st("n2", Joined), rep("n3", 40)}, Join, []string{"n1", "n2"}, "", ""},
		{"case 2: both rejoining nodes take state from the survivor only", "n2",
			[]Peer{st("n1", Joined), rep("n2", 40), rep("n3", 40)}, Join, []string{"n1"}, "", ""},
		{"case 3: all stopped cleanly: the last one to leave bootstraps", "n2",
			[]Peer{rep("n1", 90), safe(rep("n2", 95)), rep("n3", 80)}, Bootstrap, nil, "n2", ""},
		{"case 3: the others wait for it", "n1",
			[]Peer{rep("n1", 90), safe(rep("n2", 95)), rep("n3", 80)}, Wait, nil, "n2", "n2 bootstraps"},
		{"case 4: a crashed node joins the other two", "n2",
			[]Peer{st("n1", Joined), rep("n2", 10), st("n3", Joined)}, Join, []string{"n1", "n3"}, "", ""},
		{"case 5: two crashed, not yet fenced: the survivor waits", "n1",
			[]Peer{rep("n1", 120), st("n2", Unreported), st("n3", Unreported)}, Wait, nil, "", "waiting for n2, n3"},
		{"case 5: both fenced: the survivor bootstraps", "n1",
			[]Peer{rep("n1", 120), st("n2", Down), st("n3", Down)}, Bootstrap, nil, "n1", ""},
		{"case 6: all crashed, positions recovered: the most advanced bootstraps", "n3",
			[]Peer{rep("n1", 200), rep("n2", 199), rep("n3", 201)}, Bootstrap, nil, "n3", ""},
		{"case 6: one still recovering: nobody bootstraps", "n3",
			[]Peer{rep("n1", 200), rep("n2", -1), rep("n3", 201)}, Wait, nil, "", "n2 has not recovered"},
		{"case 7: the other half is unclean: nobody bootstraps", "n1",
			[]Peer{rep("n1", 5), rep("n2", 5), st("n3", Unreported), st("n4", Unreported)}, Wait, nil, "", "waiting for n3, n4"},

		// Never behind a peer, never two, never a foreign history.
		{"safe_to_bootstrap never beats a higher seqno", "n1",
			[]Peer{safe(rep("n1", 90)), rep("n2", 91), rep("n3", 80)}, Wait, nil, "n2", ""},
		{"safe_to_bootstrap breaks a tie", "n2",
			[]Peer{rep("n1", 90), safe(rep("n2", 90)), rep("n3", 90)}, Bootstrap, nil, "n2", ""},
		{"a tie without the flag goes to the first name", "n1",
			[]Peer{rep("n3", 90), rep("n1", 90), rep("n2", 90)}, Bootstrap, nil, "n1", ""},
		{"the first name loses to a higher seqno", "n1",
			[]Peer{rep("n3", 91), rep("n1", 90), rep("n2", 90)}, Wait, nil, "n3", ""},
		{"a foreign UUID is left out even when ahead", "n3",
			[]Peer{rep("n1", 10), rep("n2", 10), withUUID(rep("n3", 500), uuidB)}, Wait, nil, "n1", ""},
		{"the majority history bootstraps", "n1",
			[]Peer{rep("n1", 10), rep("n2", 9), withUUID(rep("n3", 500), uuidB)}, Bootstrap, nil, "n1", ""},
		{"no majority history: nobody bootstraps", "n1",
			[]Peer{rep("n1", 10), withUUID(rep("n2", 500), uuidB)}, Wait, nil, "", "cluster UUID"},
		{"a node without data never bootstraps over one with data", "n1",
			[]Peer{withUUID(rep("n1", -1), grastate.ZeroUUID), rep("n2", 0)}, Wait, nil, "n2", ""},
		{"a new cluster: no node has data", "n1",
			[]Peer{withUUID(rep("n1", -1), grastate.ZeroUUID), withUUID(rep("n2", -1), grastate.ZeroUUID)}, Bootstrap, nil, "n1", ""},
		{"a down node is left out", "n2",
			[]Peer{st("n1", Down), rep("n2", 7), rep("n3", 6)}, Bootstrap, nil, "n2", ""},
		{"nobody reported", "n1",
			[]Peer{st("n1", Down), st("n2", Down)}, Wait, nil, "", "no node has reported"},
		{"an unreported node blocks even when the others agree", "n1",
			[]Peer{safe(rep("n1", 100)), rep("n2", 100), st("n3", Unreported)}, Wait, nil, "", "waiting for n3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Decide(tt.self, tt.peers)
			if p.Kind != tt.kind || !reflect.DeepEqual(p.Donors, tt.donors) || p.Candidate != tt.cand {
				t.Fatalf("Decide(%s) = %+v; want kind %s donors %v candidate %q", tt.self, p, tt.kind, tt.donors, tt.cand)
			}
			if !strings.Contains(p.Reason, tt.reason) {
				t.Fatalf("reason %q does not say %q", p.Reason, tt.reason)
			}
		})
	}
}

// TestElectionAgrees checks the property the election rests on: whichever
// node runs it, at most one node is told to bootstrap, it is never behind a
// reported peer of its history, and it is never chosen while a peer is
// unreported.
func TestElectionAgrees(t *testing.T) {
	states := []PeerState{Unreported, Reported, Down}
	seqs := []int64{-1, 3, 7}
	nodes := []string{"n1", "n2", "n3"}
	var walk func(i int, peers []Peer)
	count := 0
	walk = func(i int, peers []Peer) {
		if i == len(nodes) {
			count++
			check(t, peers)
			return
		}
		for _, s := range states {
			for _, q := range seqs {
				for _, sf := range []bool{false, true} {
					for _, u := range []string{uuidA, uuidB} {
						p := Peer{Node: nodes[i], State: s, Position: Position{UUID: u, Seqno: q, SafeToBootstrap: sf}}
						walk(i+1, append(peers, p))
					}
				}
			}
		}
	}
	walk(0, nil)
	if count == 0 {
		t.Fatal("no case generated")
	}
}

func check(t *testing.T, peers []Peer) {
	t.Helper()
	var boot []string
	for _, self := range peers {
		if self.State != Reported {
			continue
		}
		if p := Decide(self.Node, peers); p.Kind == Bootstrap {
			boot = append(boot, self.Node)
		}
	}
	if len(boot) > 1 {
		t.Fatalf("%v: %v all bootstrap", peers, boot)
	}
	if len(boot) == 0 {
		return
	}
	var me Peer
	for _, p := range peers {
		if p.Node == boot[0] {
			me = p
		}
	}
	for _, p := range peers {
		switch {
		case p.State == Unreported:
			t.Fatalf("%v: %s bootstraps while %s is unreported", peers, me.Node, p.Node)
		case p.State == Reported && !p.Position.Known():
			t.Fatalf("%v: %s bootstraps while %s has no known position", peers, me.Node, p.Node)
		case p.State == Reported && p.Position.UUID == me.Position.UUID && p.Position.Seqno > me.Position.Seqno:
			t.Fatalf("%v: %s bootstraps behind %s", peers, me.Node, p.Node)
		}
	}
	if s := Scores(peers); len(s) != 1 || s[me.Node] != ScoreBootstrap {
		t.Fatalf("%v: scores %v, want only %s", peers, s, me.Node)
	}
}

func TestScores(t *testing.T) {
	tests := []struct {
		name  string
		peers []Peer
		want  map[string]int
	}{
		{"joined: every reported or joined node", []Peer{st("n1", Joined), rep("n2", 3), st("n3", Unreported), st("n4", Down)},
			map[string]int{"n1": ScoreJoin, "n2": ScoreJoin}},
		{"no joined node: the candidate only", []Peer{rep("n1", 3), rep("n2", 4)}, map[string]int{"n2": ScoreBootstrap}},
		{"no candidate: nobody", []Peer{rep("n1", 3), st("n2", Unreported)}, map[string]int{}},
	}
	for _, tt := range tests {
		if got := Scores(tt.peers); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Scores = %v, want %v", tt.name, got, tt.want)
		}
	}
}
