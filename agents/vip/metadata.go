// Package vip is ocf:goha:vip, the floating IP address of every goha stack.
//
// It manages one IPv4 or IPv6 address on a network interface the way
// ocf:heartbeat:IPaddr2 does (same parameter names and meanings where they
// overlap), but talks to the kernel over netlink and announces the address
// with packets it builds itself on an AF_PACKET socket: no action forks a
// program, and the monitor costs no process at all.
//
// The package reads top-down: this file declares the agent; config.go,
// route.go, assess.go, announce.go and frame.go are the pure core (parameter
// parsing, interface selection, what a monitor concludes, the announcement
// plan, packet layouts); kernel.go and socket.go are the adapters to netlink
// and to packet sockets; actions.go wires them into start, stop, monitor and
// validate-all.
//
// Announcements are sent in-process, within the operation that asks for
// them: start sends the first as soon as the address is usable and the rest
// of the arp_count burst arp_interval apart before it returns, skipping (with
// a warning) what would not fit one second before its timeout. Nothing is
// left running after an action, so stop has no sender to kill, and a monitor
// never forks, not even to refresh (arp_count_refresh).
package vip

import (
	"time"

	"github.com/goha-ha/goha/internal/version"
	"github.com/goha-ha/goha/ocf"
)

// Parameter names, shared by the declaration and the actions.
const (
	pIP                = "ip"
	pNetmask           = "cidr_netmask"
	pNIC               = "nic"
	pBroadcast         = "broadcast"
	pLabel             = "iflabel"
	pArpCount          = "arp_count"
	pArpInterval       = "arp_interval"
	pArpCountRefresh   = "arp_count_refresh"
	pPreferredLft      = "preferred_lft"
	pConflictCheck     = "conflict_check"
	defaultArpCount    = "5"
	defaultArpInterval = "200"
)

// Agent returns the ocf:goha:vip declaration and its actions.
func Agent() *ocf.Agent {
	return newAgent(&actions{net: kernel{}, wire: packetWire{}})
}

// newAgent declares the agent over a, which tests build with fakes.
func newAgent(a *actions) *ocf.Agent {
	return &ocf.Agent{
		Name:    "vip",
		Version: version.Version,
		Short:   "Floating IPv4/IPv6 address (IPaddr2-compatible, no forked programs)",
		Long: "Manages one floating IPv4 or IPv6 address on a local network interface: " +
			"start adds it and announces it to the neighbours (gratuitous ARP for IPv4, " +
			"unsolicited neighbour advertisements for IPv6), monitor checks that it is on the " +
			"right interface with the right prefix and that the link is up, stop removes exactly " +
			"that address. Parameter names and meanings follow ocf:heartbeat:IPaddr2 where they " +
			"overlap, so a resource can be switched from IPaddr2 by changing its type. Addresses, " +
			"links and routes are read and changed over netlink and announcements are sent on a " +
			"packet socket, so no action runs an external program.",
		Params: params(),
		Ops: []ocf.Op{
			{Name: "start", Timeout: 20 * time.Second},
			{Name: "stop", Timeout: 20 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 61 * time.Second, Depth: 10},
			{Name: "validate-all", Timeout: 20 * time.Second},
		},
		Start:    a.start,
		Stop:     a.stop,
		Monitor:  a.monitor,
		Validate: a.validate,
	}
}

func params() []ocf.Param {
	return []ocf.Param{
		{
			Name: pIP, Required: true, Unique: true,
			Short: "IPv4 or IPv6 address",
			Long: "The floating address, in dotted-quad IPv4 (192.0.2.10) or IPv6 (2001:db8::10) " +
				"notation. It must be a unicast address: not unspecified, loopback, multicast, " +
				"broadcast or an IPv4-mapped IPv6 address. An IPv6 link-local address (fe80::/10) " +
				"also needs nic. The family of this address decides whether IPv4 or IPv6 rules apply.",
			Check: func(v string) error { _, err := parseIP(v); return err },
		},
		{
			Name:  pNetmask,
			Short: "Prefix length (CIDR netmask)",
			Long: "The prefix length of the address: 1 to 32 for IPv4, 1 to 128 for IPv6. IPv4 also " +
				"accepts a dotted-quad netmask (255.255.255.0) for compatibility with old IPaddr2 " +
				"configurations. When empty, it is the prefix length of the most specific route " +
				"that covers the address in the main routing table (as IPaddr2's findif does).",
			Check: checkNetmaskSyntax,
		},
		{
			Name:  pNIC,
			Short: "Network interface",
			Long: "The base interface the address is added to (eth0, bond0, br0). When empty, it is " +
				"the interface of the most specific link-scope route that covers the address " +
				"(longest prefix, then lowest metric; default, unreachable, blackhole and prohibit " +
				"routes are ignored), which needs an address of that subnet already configured on " +
				"the node. The old IPaddr2 form nic=eth0:label is accepted and sets the label.",
			Check: checkNICSyntax,
		},
		{
			Name:    pBroadcast,
			Default: "+",
			Short:   "IPv4 broadcast address",
			Long: "The broadcast address of an IPv4 address: a dotted-quad address, '+' to set all " +
				"host bits of the prefix (the usual broadcast), '-' to clear them, or 'none' for no " +
				"broadcast address. /31 and /32 addresses never get one (RFC 3021). Ignored for " +
				"IPv6, which has no broadcast.",
			Check: checkBroadcastSyntax,
		},
		{
			Name:  pLabel,
			Short: "Interface label (IPv4)",
			Long: "A label for the address, shown as nic:label by ip and ifconfig; the kernel limits " +
				"nic:label to 15 characters. Only IPv4 addresses carry labels: the parameter is " +
				"rejected for IPv6. Empty means no label.",
			Check: checkLabelSyntax,
		},
		{
			Name: pArpCount, Type: ocf.Integer, Default: defaultArpCount, Min: ocf.Bound(1), Max: ocf.Bound(100),
			Short: "Announcements sent on start",
			Long: "How many gratuitous ARP requests (IPv4) or unsolicited neighbour advertisements " +
				"(IPv6) start sends so that neighbours and switches learn the new location of the " +
				"address. The first is sent as soon as the address is usable, the rest every " +
				"arp_interval milliseconds, all within the start operation: announcements that " +
				"would not fit before one second ahead of the start timeout are skipped with a warning.",
		},
		{
			Name: pArpInterval, Type: ocf.Integer, Default: defaultArpInterval, Min: ocf.Bound(1), Max: ocf.Bound(60000),
			Short: "Milliseconds between announcements",
			Long: "The interval, in milliseconds, between two announcements of a burst on start or " +
				"on monitor (arp_count_refresh). The default burst of 5 every 200 ms adds 0.8 s to start.",
		},
		{
			Name: pArpCountRefresh, Type: ocf.Integer, Default: "0", Min: ocf.Bound(0), Max: ocf.Bound(100),
			Short: "Announcements sent on each monitor",
			Long: "How many announcements each recurring monitor sends while the address is up, " +
				"arp_interval apart; 0 sends none. Refreshing helps neighbours whose ARP or neighbour " +
				"cache got stuck on the wrong node after a split brain. Probes never announce.",
		},
		{
			Name: pPreferredLft, Default: "forever",
			Short: "IPv6 preferred lifetime",
			Long: "The preferred lifetime of an IPv6 address, in seconds, or 'forever' (RFC 4862, " +
				"5.5.4). 0 makes the address deprecated at once, so the node keeps it but does not " +
				"pick it as the source of its own connections. Ignored for IPv4.",
			Check: func(v string) error { _, err := parseLifetime(v); return err },
		},
		{
			Name: pConflictCheck, Type: ocf.Boolean, Default: "false",
			Short: "Refuse to start when another host has the address",
			Long: "When true, start first probes the link for the address (an RFC 5227 ARP probe " +
				"from 0.0.0.0 for IPv4, a duplicate-address-detection neighbour solicitation from :: " +
				"for IPv6) and fails with OCF_ERR_GENERIC, naming the MAC address that answered, " +
				"instead of adding an address another host already uses. The probe listens for " +
				"about one second. IPv6 addresses are always checked by the kernel's own duplicate " +
				"address detection as well. A monitor with OCF_CHECK_LEVEL=10 runs the same probe " +
				"whatever this parameter says.",
		},
	}
}
