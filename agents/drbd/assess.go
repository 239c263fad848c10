package drbd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/goha-ha/goha/ocf"
)

// Disk states as DRBD names them (drbdsetup-9.0(8), "disk-state").
const (
	UpToDate     = "UpToDate"
	Consistent   = "Consistent"
	Outdated     = "Outdated"
	Inconsistent = "Inconsistent"
	Diskless     = "Diskless"
	Failed       = "Failed"
	DUnknown     = "DUnknown"
)

// Roles and the connection state of a working link.
const (
	Primary   = "Primary"
	Secondary = "Secondary"
	Connected = "Connected"
)

// diskRank orders disk states by how good the data is: only the top two
// may ever be promoted, everything else (Outdated, Inconsistent, Diskless,
// Failed, and the transient Attaching, Negotiating, Detaching, DUnknown)
// holds data nobody should be promoted on.
func diskRank(state string) int {
	switch state {
	case UpToDate:
		return 4
	case Consistent:
		return 3
	case Outdated:
		return 2
	case Inconsistent:
		return 1
	}
	return 0
}

// weakestDisk returns the local disk state of the worst volume: a resource
// is only as good as its worst volume.
func weakestDisk(s Status) string {
	worst := ""
	for _, d := range s.Devices {
		if worst == "" || diskRank(d.DiskState) < diskRank(worst) {
			worst = d.DiskState
		}
	}
	if worst == "" {
		return DUnknown
	}
	return worst
}

// peerPrimary returns the name of a connected peer in the Primary role.
func peerPrimary(s Status) string {
	for _, c := range s.Connections {
		if c.ConnectionState == Connected && c.PeerRole == Primary {
			return c.Name
		}
	}
	return ""
}

// peersKnown reports whether every peer is connected and its disk state
// known for every volume: only then does an UpToDate node know it is not
// behind a peer it cannot see.
func peersKnown(s Status) bool {
	for _, c := range s.Connections {
		if c.ConnectionState != Connected {
			return false
		}
		for _, pd := range c.PeerDevices {
			if pd.PeerDiskState == DUnknown || pd.PeerDiskState == "" {
				return false
			}
		}
	}
	return true
}

// peerUpToDate returns the name of a connected peer whose every volume is
// UpToDate.
func peerUpToDate(s Status) string {
	for _, c := range s.Connections {
		if c.ConnectionState != Connected || len(c.PeerDevices) == 0 {
			continue
		}
		all := true
		for _, pd := range c.PeerDevices {
			all = all && pd.PeerDiskState == UpToDate
		}
		if all {
			return c.Name
		}
	}
	return ""
}

// Ladder is the promotion scores of adjust_master_score, in the order and
// with the meaning ocf:linbit:drbd gives them.
type Ladder struct {
	Consistent     int // the data is Consistent, and no connected peer has better
	RemoteUpToDate int // a Primary whose own disk is not UpToDate reads through an UpToDate peer (a resync target)
	PeerUnknown    int // UpToDate, but some peer's disk is unknown: it might be as good
	UpToDate       int // UpToDate and Primary, or UpToDate with every peer's disk known
}

// DefaultLadder is adjust_master_score's default.
const DefaultLadder = "0 10 1000 10000"

// ParseLadder reads four non-decreasing, non-negative integers.
func ParseLadder(v string) (Ladder, error) {
	f := strings.Fields(v)
	if len(f) != 4 {
		return Ladder{}, fmt.Errorf("needs four scores, got %d", len(f))
	}
	var n [4]int
	for i, s := range f {
		x, err := strconv.Atoi(s)
		if err != nil || x < 0 || x > 1000000 {
			return Ladder{}, fmt.Errorf("has %q, not a score from 0 to 1000000", s)
		}
		if i > 0 && x < n[i-1] {
			return Ladder{}, fmt.Errorf("must not decrease (%d after %d)", x, n[i-1])
		}
		n[i] = x
	}
	return Ladder{Consistent: n[0], RemoteUpToDate: n[1], PeerUnknown: n[2], UpToDate: n[3]}, nil
}

// Health is the monitor's answer for one observation.
type Health struct {
	Status ocf.Status
	Why    string
}

// Assess turns the resource's state into a monitor answer: 7 when it is
// down, 0 for a healthy Secondary, 8 for a healthy Primary, and 1 or 9
// when the node lost its backing disk.
func Assess(up bool, s Status) Health {
	if !up {
		return Health{ocf.NotRunning, "resource is down (not configured in the kernel)"}
	}
	lost := ""
	for _, d := range s.Devices {
		if d.DiskState == Failed || (d.DiskState == Diskless && !d.Client) {
			lost = fmt.Sprintf("volume %d lost its backing disk (%s)", d.Volume, d.DiskState)
			break
		}
	}
	switch s.Role {
	case Primary:
		if lost != "" {
			return Health{ocf.FailedPromoted, "Primary, but " + lost}
		}
		return Health{ocf.RunningPromoted, "Primary, disk " + weakestDisk(s)}
	case Secondary:
		if lost != "" {
			return Health{ocf.ErrGeneric, "Secondary, but " + lost}
		}
		return Health{ocf.Success, "Secondary, disk " + weakestDisk(s)}
	}
	return Health{ocf.ErrGeneric, fmt.Sprintf("resource is up in role %q", s.Role)}
}

// Promotion is the score this node publishes and why.
type Promotion struct {
	Score int // negative: no score, the node must not be promoted
	Why   string
}

// Ineligible is the score that removes the node from promotion.
const Ineligible = -1

// Score decides the promotion score from the local and peer disk states.
// UpToDate data scores highest, Consistent data lower, and Outdated,
// Inconsistent or Diskless data never. A Secondary connected to a Primary
// peer gets no score unless two primaries are allowed: promoting it would
// fail or, worse, split the data.
func Score(up bool, s Status, l Ladder, twoPrimaries bool) Promotion {
	if !up {
		return Promotion{Ineligible, "resource is down"}
	}
	disk := weakestDisk(s)
	if s.Role == Primary {
		switch {
		case disk == UpToDate:
			return Promotion{l.UpToDate, "Primary with UpToDate data"}
		case disk == Consistent:
			return Promotion{l.Consistent, "Primary with Consistent data"}
		case peerUpToDate(s) != "":
			return Promotion{l.RemoteUpToDate, fmt.Sprintf("Primary with a %s disk, reading UpToDate data from %s", disk, peerUpToDate(s))}
		}
		return Promotion{Ineligible, fmt.Sprintf("Primary without access to UpToDate data (disk %s)", disk)}
	}
	if p := peerPrimary(s); p != "" && !twoPrimaries {
		return Promotion{Ineligible, fmt.Sprintf("peer %s is Primary", p)}
	}
	switch disk {
	case UpToDate:
		if peersKnown(s) {
			return Promotion{l.UpToDate, "UpToDate, every peer's disk known"}
		}
		return Promotion{l.PeerUnknown, "UpToDate, but a peer's disk is unknown"}
	case Consistent:
		if p := peerUpToDate(s); p != "" {
			return Promotion{Ineligible, fmt.Sprintf("only Consistent while peer %s is UpToDate", p)}
		}
		return Promotion{l.Consistent, "Consistent: not known to be the newest data"}
	}
	return Promotion{Ineligible, fmt.Sprintf("disk is %s", disk)}
}

// PromoteVerdict says whether promote should run `drbdadm primary` now.
type PromoteVerdict int

const (
	// PromoteNow means the data may be promoted: ask DRBD.
	PromoteNow PromoteVerdict = iota
	// AlreadyPrimary means there is nothing to do.
	AlreadyPrimary
	// WaitPeerPrimary means a peer is still Primary; it may be demoting
	// or gone without DRBD having noticed yet, so look again until the
	// deadline.
	WaitPeerPrimary
	// NeverPromote means the local data is not good enough: retrying
	// cannot help.
	NeverPromote
)

// CanPromote decides what promote does with the current state.
func CanPromote(s Status, twoPrimaries bool) (PromoteVerdict, string) {
	if s.Role == Primary {
		return AlreadyPrimary, "already Primary"
	}
	if p := peerPrimary(s); p != "" && !twoPrimaries {
		return WaitPeerPrimary, fmt.Sprintf("peer %s is Primary", p)
	}
	if disk := weakestDisk(s); diskRank(disk) < diskRank(Consistent) {
		return NeverPromote, fmt.Sprintf("disk is %s: no access to UpToDate data", disk)
	}
	return PromoteNow, ""
}
