package vip

import (
	"fmt"
	"net/netip"
	"strings"
)

// Observed is what the kernel shows about a Target's interface.
type Observed struct {
	LinkFound bool
	AdminUp   bool     // IFF_UP: the interface is enabled
	Carrier   bool     // IFF_RUNNING: it is enabled and operationally up
	Addrs     []Addr   // the interface's addresses of the target's family
	Elsewhere []string // other interfaces that hold the target's IP
}

// Addr is one address on an interface.
type Addr struct {
	Net       netip.Prefix // address and prefix length
	Label     string
	Tentative bool // IPv6 duplicate address detection still running
	DADFailed bool // IPv6 duplicate address detection found another owner
}

// State is what a monitor concludes about the address.
type State int

const (
	Absent      State = iota // not on the interface
	NoLink                   // the interface does not exist
	LinkDown                 // on the interface, but the link is down
	OtherPrefix              // the IP is there with another prefix length
	Duplicate                // IPv6 DAD failed: another host owns the address
	Tentative                // IPv6 DAD still running
	Up                       // on the interface, usable
)

var stateNames = [...]string{"absent", "no link", "link down", "other prefix", "duplicate", "tentative", "up"}

func (s State) String() string { return stateNames[s] }

// Running reports whether the state counts as a started resource.
func (s State) Running() bool { return s == Up || s == Tentative }

// Verdict is a State with the one-line explanation shown to the operator.
type Verdict struct {
	State State
	Why   string
	Warn  string // something worth a warning that does not change State
}

// assess decides what the observation means for t. It looks only at t's
// own address (t.IP with t.Prefix on t.NIC): other addresses, including
// t.IP with another prefix or on another interface, never count as ours.
func assess(t Target, o Observed) Verdict {
	var v Verdict
	if len(o.Elsewhere) > 0 {
		v.Warn = fmt.Sprintf("%s is also on %s", t.IP, strings.Join(o.Elsewhere, ", "))
	}
	if !o.LinkFound {
		v.State, v.Why = NoLink, fmt.Sprintf("interface %s does not exist", t.NIC)
		return v
	}
	var ours *Addr
	var others []string
	for i := range o.Addrs {
		a := &o.Addrs[i]
		if a.Net.Addr() != t.IP {
			continue
		}
		if a.Net.Bits() == t.Prefix {
			ours = a
		} else {
			others = append(others, a.Net.String())
		}
	}
	if ours == nil {
		if len(others) > 0 {
			v.State, v.Why = OtherPrefix, fmt.Sprintf("%s has %s, not %s", t.NIC, strings.Join(others, ", "), t.Net())
			return v
		}
		v.State, v.Why = Absent, fmt.Sprintf("%s is not on %s", t.Net(), t.NIC)
		return v
	}
	if t.Label != "" && ours.Label != t.Label {
		v.Warn = strings.TrimPrefix(v.Warn+"; ", "; ") + fmt.Sprintf("%s has label %q, not %q", t.Net(), ours.Label, t.Label)
	}
	switch {
	case ours.DADFailed:
		v.State, v.Why = Duplicate, fmt.Sprintf("duplicate address detection failed for %s on %s: another host uses it", t.IP, t.NIC)
	case !o.AdminUp:
		v.State, v.Why = LinkDown, fmt.Sprintf("%s is on %s, but %s is administratively down", t.Net(), t.NIC, t.NIC)
	case !o.Carrier:
		v.State, v.Why = LinkDown, fmt.Sprintf("%s is on %s, but %s has no carrier", t.Net(), t.NIC, t.NIC)
	case ours.Tentative:
		v.State, v.Why = Tentative, fmt.Sprintf("%s is on %s, duplicate address detection still running", t.Net(), t.NIC)
	default:
		v.State, v.Why = Up, fmt.Sprintf("%s is on %s", t.Net(), t.NIC)
	}
	return v
}
