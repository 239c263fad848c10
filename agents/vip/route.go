package vip

import (
	"net/netip"

	"github.com/goha-ha/goha/ocf"
)

// Route is the part of a main-table route that interface selection reads.
type Route struct {
	Dst       netip.Prefix
	NIC       string // the route's output interface; "" for multipath routes
	Metric    int
	LinkScope bool // scope link: a directly connected subnet
	Unicast   bool // false for unreachable, blackhole, prohibit, local...
}

// Target is where the address goes: a resolved Config.
type Target struct {
	IP        netip.Addr
	Prefix    int
	NIC       string
	Label     string     // full kernel label ("eth0:web"), "" for none
	Broadcast netip.Addr // invalid when the address has none
}

// Net is the address with its prefix length, as the kernel stores it.
func (t Target) Net() netip.Prefix { return netip.PrefixFrom(t.IP, t.Prefix) }

// selectRoute picks the route IPaddr2's findif would: among the unicast,
// non-default routes that cover ip (and ip/prefix when prefix is set; for
// IPv4 only link-scope ones), optionally through nic, the longest prefix,
// then the lowest metric. ok is false when none qualifies.
func selectRoute(routes []Route, ip netip.Addr, nic string, prefix int) (best Route, ok bool) {
	for _, r := range routes {
		switch {
		case !r.Unicast, r.NIC == "", !r.Dst.IsValid(), r.Dst.Bits() == 0:
			continue
		case r.Dst.Addr().Is4() != ip.Is4(), !r.Dst.Contains(ip):
			continue
		case ip.Is4() && !r.LinkScope:
			continue
		case nic != "" && r.NIC != nic:
			continue
		case prefix > 0 && r.Dst.Bits() > prefix:
			continue
		}
		if !ok || r.Dst.Bits() > best.Dst.Bits() || (r.Dst.Bits() == best.Dst.Bits() && r.Metric < best.Metric) {
			best, ok = r, true
		}
	}
	return best, ok
}

// resolve completes c from the routing table: the interface and the prefix
// length when they are not configured, then the label and the broadcast
// address. routes is consulted only when something is missing.
func resolve(c Config, routes []Route) (Target, error) {
	t := Target{IP: c.IP, Prefix: c.Prefix, NIC: c.NIC}
	if t.NIC == "" || t.Prefix == 0 {
		r, ok := selectRoute(routes, c.IP, c.NIC, c.Prefix)
		if !ok {
			switch {
			case c.NIC == "" && c.Prefix == 0:
				return t, ocf.Fail(ocf.ErrGeneric, "no route covers %s: set parameters %s and %s", c.IP, pNIC, pNetmask)
			case c.NIC == "":
				return t, ocf.Fail(ocf.ErrGeneric, "no route covers %s/%d: set parameter %s", c.IP, c.Prefix, pNIC)
			default:
				return t, ocf.Fail(ocf.ErrGeneric, "no route covers %s on %s: set parameter %s", c.IP, c.NIC, pNetmask)
			}
		}
		if t.NIC == "" {
			t.NIC = r.NIC
		}
		if t.Prefix == 0 {
			t.Prefix = r.Dst.Bits()
		}
	}
	if err := checkLabelLength(t.NIC, c.Label); err != nil {
		return t, err
	}
	if c.Label != "" {
		t.Label = t.NIC + ":" + c.Label
	}
	if b, ok := broadcastFor(t.Net(), c.Broadcast); ok {
		t.Broadcast = b
	}
	return t, nil
}
