package lab

import (
	"fmt"
	"net/netip"
	"regexp"
)

// Limits of a lab.
const (
	MaxNodes = 5   // nodes per lab
	MaxSlot  = 250 // labs side by side
)

// Address plan inside a lab's /24: nodes are .1 to .MaxNodes, clients start
// at clientBase+1, VIPs for tests start at vipBase, the host bridge is .254.
const (
	clientBase = 100
	vipBase    = 200
	bridgeHost = 254
	maxClients = 50
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)

// ValidName reports whether s can name a lab or a client: it becomes part of
// namespace, cgroup and directory names.
func ValidName(s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("invalid name %q: want a lower-case letter then up to 15 of [a-z0-9-]", s)
	}
	return nil
}

// NodeName is the name of node i (1-based): n1, n2, ...
func NodeName(i int) string { return fmt.Sprintf("n%d", i) }

// Subnet is the /24 of the lab in slot k (1..MaxSlot).
func Subnet(slot int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(slot), 0}), 24)
}

// hostAddr returns address .host in the lab's subnet.
func hostAddr(slot, host int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 213, byte(slot), byte(host)})
}

// NodeAddr is the address of node i (1-based) in the lab in slot k.
func NodeAddr(slot, i int) netip.Addr { return hostAddr(slot, i) }

// ClientAddr is the address of the j-th client (1-based).
func ClientAddr(slot, j int) netip.Addr { return hostAddr(slot, clientBase+j) }

// BridgeAddr is the host's address on the lab bridge.
func BridgeAddr(slot int) netip.Addr { return hostAddr(slot, bridgeHost) }

// VIPAddr is the i-th address (0-based) reserved for floating IPs in tests.
func VIPAddr(slot, i int) netip.Addr { return hostAddr(slot, vipBase+i) }

// BridgeName is the host bridge of the lab in slot k (at most 15 bytes).
func BridgeName(slot int) string { return fmt.Sprintf("glab%d", slot) }

// NodeVeth is the host-side veth of node i.
func NodeVeth(slot, i int) string { return fmt.Sprintf("glab%dn%d", slot, i) }

// ClientVeth is the host-side veth of client j.
func ClientVeth(slot, j int) string { return fmt.Sprintf("glab%dc%d", slot, j) }

// NetNSName is the name under /run/netns of a node's or client's network
// namespace.
func NetNSName(lab, member string) string { return "goha-" + lab + "-" + member }

// FreeSlot returns the lowest slot in 1..MaxSlot that is not in used and
// whose subnet overlaps none of the host's prefixes.
func FreeSlot(used map[int]bool, host []netip.Prefix) (int, error) {
next:
	for k := 1; k <= MaxSlot; k++ {
		if used[k] {
			continue
		}
		s := Subnet(k)
		for _, p := range host {
			if p.Overlaps(s) {
				continue next
			}
		}
		return k, nil
	}
	return 0, fmt.Errorf("no free lab slot: %d labs or address conflicts", MaxSlot)
}
