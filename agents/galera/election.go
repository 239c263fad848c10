package galera

import (
	"fmt"
	"sort"
	"strings"
)

// This file is the decision core of the agent: from what every Galera node
// has reported, it says which node bootstraps a new Primary component, who
// joins from whom, and which promotion scores Pacemaker should see. It does
// no I/O; actions.go feeds it the cluster's view and carries out its plan.
//
// The rules, in order:
//   - when a node is joined (promoted: running in a Primary component), the
//     others join it and take state only from joined nodes, which hold every
//     write set;
//   - otherwise nothing bootstraps while a node that may hold data has not
//     reported its position: a node that is up without a report, or whose
//     fate is unknown (unclean, not yet fenced), blocks the election; only a
//     node confirmed down (fenced, or left the cluster cleanly) is left out;
//   - the candidate is the node with the highest committed seqno among the
//     nodes of the majority cluster UUID; a tie goes to the node Galera marked
//     safe_to_bootstrap, then to the first name, so every node that runs the
//     election names the same one;
//   - exactly one node bootstraps: the candidate. The others wait for it.

// PeerState is what the cluster knows about one Galera node.
type PeerState int

const (
	// Unreported: the node may be running but has published no position
	// (online without a report, or unclean and not yet fenced).
	Unreported PeerState = iota
	// Reported: its server is stopped and its position is published.
	Reported
	// Joined: its instance is promoted, so its server runs in a Primary
	// component.
	Joined
	// Down: confirmed down (fenced, or left the cluster cleanly): its server
	// cannot be running, and it cannot report.
	Down
)

func (s PeerState) String() string {
	switch s {
	case Unreported:
		return "unreported"
	case Reported:
		return "reported"
	case Joined:
		return "joined"
	case Down:
		return "down"
	}
	return fmt.Sprintf("PeerState(%d)", int(s))
}

// Peer is one Galera node as the election sees it.
type Peer struct {
	Node     string // the Pacemaker node name
	State    PeerState
	Position Position // meaningful when State is Reported
}

// PlanKind is what a node's promote should do.
type PlanKind int

const (
	// Wait: neither join nor bootstrap yet; Plan.Reason says why.
	Wait PlanKind = iota
	// Bootstrap: start a new Primary component from this node's data.
	Bootstrap
	// Join: start and take the missing state from Plan.Donors.
	Join
)

func (k PlanKind) String() string {
	return [...]string{"wait", "bootstrap", "join"}[k]
}

// Plan is the outcome of the election for one node.
type Plan struct {
	Kind      PlanKind
	Donors    []string // Join: the joined peers, sorted
	Candidate string   // the node that bootstraps, when one is elected
	Reason    string   // Wait: why
}

// Decide is the election as node self runs it.
func Decide(self string, peers []Peer) Plan {
	var donors []string
	for _, p := range peers {
		if p.State == Joined && p.Node != self {
			donors = append(donors, p.Node)
		}
	}
	if len(donors) > 0 {
		sort.Strings(donors)
		return Plan{Kind: Join, Donors: donors}
	}
	cand, why := BootstrapCandidate(peers)
	switch {
	case cand == "":
		return Plan{Kind: Wait, Reason: why}
	case cand == self:
		return Plan{Kind: Bootstrap, Candidate: cand}
	}
	return Plan{Kind: Wait, Candidate: cand, Reason: fmt.Sprintf("%s bootstraps the cluster; waiting to join it", cand)}
}

// BootstrapCandidate elects the node that bootstraps when no node is joined.
// It returns "" and the reason when no node may bootstrap yet.
func BootstrapCandidate(peers []Peer) (string, string) {
	var reported []Peer
	var waiting, down []string
	for _, p := range peers {
		switch p.State {
		case Joined:
			return "", fmt.Sprintf("%s is joined already", p.Node)
		case Unreported:
			waiting = append(waiting, p.Node)
		case Down:
			down = append(down, p.Node)
		case Reported:
			if !p.Position.Known() {
				return "", fmt.Sprintf("%s has not recovered its position", p.Node)
			}
			reported = append(reported, p)
		}
	}
	if len(waiting) > 0 {
		sort.Strings(waiting)
		return "", fmt.Sprintf("waiting for %s to report a position", strings.Join(waiting, ", "))
	}
	if len(reported) == 0 {
		return "", "no node has reported a position"
	}
	eligible, why := majorityHistory(reported)
	if len(eligible) == 0 {
		return "", why
	}
	best := eligible[0]
	for _, p := range eligible[1:] {
		if ahead(p, best) {
			best = p
		}
	}
	return best.Node, ""
}

// ahead orders bootstrap candidates: higher seqno, then safe_to_bootstrap,
// then the first name.
func ahead(a, b Peer) bool {
	if a.Position.Seqno != b.Position.Seqno {
		return a.Position.Seqno > b.Position.Seqno
	}
	if a.Position.SafeToBootstrap != b.Position.SafeToBootstrap {
		return a.Position.SafeToBootstrap
	}
	return a.Node < b.Node
}

// majorityHistory keeps the reported nodes whose cluster UUID a strict
// majority of the nodes with data share. Nodes without data can bootstrap
// only a cluster where no node has data.
func majorityHistory(reported []Peer) ([]Peer, string) {
	count := map[string]int{}
	withState := 0
	for _, p := range reported {
		if p.Position.HasState() {
			count[p.Position.UUID]++
			withState++
		}
	}
	if withState == 0 {
		return reported, ""
	}
	var uuids []string
	for u := range count {
		uuids = append(uuids, u)
	}
	sort.Strings(uuids)
	for _, u := range uuids {
		if 2*count[u] > withState {
			var out []Peer
			for _, p := range reported {
				if p.Position.UUID == u {
					out = append(out, p)
				}
			}
			return out, ""
		}
	}
	var parts []string
	for _, p := range reported {
		if p.Position.HasState() {
			parts = append(parts, p.Node+" "+p.Position.UUID)
		}
	}
	return nil, "no majority of the nodes shares one cluster UUID (" + strings.Join(parts, ", ") + "); resolve by hand"
}

// Promotion scores. Pacemaker promotes instances with a positive score.
const (
	ScoreJoin      = 100  // a joined node, or one that may join one
	ScoreBootstrap = 1000 // the elected candidate, while no node is joined
)

// Scores is the promotion score each node should have: with a joined node,
// every reported or joined node may be promoted (it joins); without one, only
// the candidate (it bootstraps). Nodes absent from the map get no score.
func Scores(peers []Peer) map[string]int {
	scores := map[string]int{}
	joined := false
	for _, p := range peers {
		if p.State == Joined {
			joined = true
		}
	}
	if joined {
		for _, p := range peers {
			if p.State == Joined || p.State == Reported {
				scores[p.Node] = ScoreJoin
			}
		}
		return scores
	}
	if cand, _ := BootstrapCandidate(peers); cand != "" {
		scores[cand] = ScoreBootstrap
	}
	return scores
}
