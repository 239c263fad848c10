package vip

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/goha-ha/goha/ocf"
)

// maxIfName is the longest interface name (and nic:label) the kernel takes.
const maxIfName = 15

// Config is one resource's validated configuration. NIC and Prefix may
// still be empty: they are then found in the routing table (see resolve).
type Config struct {
	IP            netip.Addr
	Prefix        int    // 0: the prefix of the covering route
	NIC           string // "": the interface of the covering route
	Label         string // the part after "nic:", "" for none (IPv4 only)
	Broadcast     Broadcast
	PreferredLft  Lifetime // IPv6 only
	ArpCount      int
	ArpInterval   time.Duration
	ArpRefresh    int
	ConflictCheck bool
}

// rawConfig holds the string parameters parseConfig reads, as Pacemaker
// passes them.
type rawConfig struct {
	IP, Netmask, NIC, Label, Broadcast, PreferredLft string
}

// configFrom reads a Config from validated parameter values.
func configFrom(v *ocf.Values) (Config, error) {
	c, err := parseConfig(rawConfig{
		IP: v.String(pIP), Netmask: v.String(pNetmask), NIC: v.String(pNIC),
		Label: v.String(pLabel), Broadcast: v.String(pBroadcast), PreferredLft: v.String(pPreferredLft),
	})
	if err != nil {
		return c, err
	}
	c.ArpCount = int(v.Int(pArpCount))
	c.ArpInterval = time.Duration(v.Int(pArpInterval)) * time.Millisecond
	c.ArpRefresh = int(v.Int(pArpCountRefresh))
	c.ConflictCheck = v.Bool(pConflictCheck)
	return c, nil
}

// parseConfig checks the address parameters together and returns an
// OCF_ERR_CONFIGURED error naming the parameter at fault. It never panics,
// whatever the input (see FuzzParseConfig).
func parseConfig(raw rawConfig) (Config, error) {
	var c Config
	if strings.TrimSpace(raw.IP) == "" {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s is required", pIP)
	}
	ip, err := parseIP(raw.IP)
	if err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pIP, err)
	}
	c.IP = ip

	nic, label, err := splitNIC(raw.NIC)
	if err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pNIC, err)
	}
	c.NIC = nic
	if raw.Label != "" && label == "" {
		if err := checkLabelSyntax(raw.Label); err != nil {
			return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pLabel, err)
		}
		label = raw.Label
	}
	if label != "" && ip.Is6() {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s: IPv6 addresses have no labels", pLabel)
	}
	c.Label = label
	if err := checkLabelLength(c.NIC, c.Label); err != nil {
		return c, err
	}
	if ip.Is6() && ip.IsLinkLocalUnicast() && c.NIC == "" {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s is required for the link-local address %s", pNIC, ip)
	}

	if raw.Netmask != "" {
		prefix, err := parseNetmask(raw.Netmask, ip)
		if err != nil {
			return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pNetmask, err)
		}
		c.Prefix = prefix
	}

	c.Broadcast, err = parseBroadcast(raw.Broadcast, ip)
	if err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pBroadcast, err)
	}

	lft := raw.PreferredLft
	if lft == "" {
		lft = "forever"
	}
	c.PreferredLft, err = parseLifetime(lft)
	if err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pPreferredLft, err)
	}
	return c, nil
}

// parseIP accepts one unicast address that can float between nodes. Its
// error completes "parameter ip ...".
func parseIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	switch {
	case err != nil:
		return ip, fmt.Errorf("is not an IPv4 or IPv6 address: %q", s)
	case ip.Zone() != "":
		return ip, fmt.Errorf("must not carry a zone (%q): set nic instead", s)
	case ip.Is4In6():
		return ip, fmt.Errorf("is an IPv4-mapped IPv6 address (%s): give the IPv4 address", ip)
	case ip.IsUnspecified():
		return ip, fmt.Errorf("is the unspecified address %s", ip)
	case ip.IsLoopback():
		return ip, fmt.Errorf("is a loopback address (%s)", ip)
	case ip.IsMulticast():
		return ip, fmt.Errorf("is a multicast address (%s)", ip)
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return ip, fmt.Errorf("is the limited broadcast address %s", ip)
	}
	return ip, nil
}

// parseNetmask reads a prefix length (or, for IPv4, a dotted-quad mask) and
// checks its range for the family of ip.
func parseNetmask(s string, ip netip.Addr) (int, error) {
	s = strings.TrimSpace(s)
	limit := ip.BitLen()
	if strings.Contains(s, ".") {
		if !ip.Is4() {
			return 0, fmt.Errorf("is a dotted-quad netmask, which only IPv4 addresses take: %q", s)
		}
		return dottedMask(s)
	}
	n, err := prefixLength(s)
	if err != nil {
		return 0, err
	}
	if n < 1 || n > limit {
		return 0, fmt.Errorf("is out of range for an IPv%d address (1 to %d): %d", familyVersion(ip), limit, n)
	}
	return n, nil
}

// dottedMask converts 255.255.255.0 to 24; non-contiguous masks are errors.
func dottedMask(s string) (int, error) {
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() {
		return 0, fmt.Errorf("is not a netmask: %q", s)
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for v&(1<<31) != 0 {
		ones++
		v <<= 1
	}
	if v != 0 {
		return 0, fmt.Errorf("is not a contiguous netmask: %q", s)
	}
	if ones == 0 {
		return 0, fmt.Errorf("is out of range for an IPv4 address (1 to 32): %q", s)
	}
	return ones, nil
}

// checkNetmaskSyntax checks cidr_netmask alone; the range for the family of
// ip is checked by parseConfig.
func checkNetmaskSyntax(s string) error {
	s = strings.TrimSpace(s)
	if strings.Contains(s, ".") {
		_, err := dottedMask(s)
		return err
	}
	n, err := prefixLength(s)
	if err != nil {
		return err
	}
	if n < 1 || n > 128 {
		return fmt.Errorf("is out of range (1 to 32 for IPv4, 1 to 128 for IPv6): %d", n)
	}
	return nil
}

// prefixLength reads one to three decimal digits.
func prefixLength(s string) (int, error) {
	if s == "" || len(s) > 3 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("is not a prefix length: %q", s)
	}
	return strconv.Atoi(s)
}

func familyVersion(ip netip.Addr) int {
	if ip.Is4() {
		return 4
	}
	return 6
}

// splitNIC splits IPaddr2's deprecated "eth0:label" form.
func splitNIC(s string) (nic, label string, err error) {
	if s == "" {
		return "", "", nil
	}
	if err := checkNICSyntax(s); err != nil {
		return "", "", err
	}
	nic, label, _ = strings.Cut(s, ":")
	return nic, label, nil
}

// checkNICSyntax accepts what the kernel accepts as an interface name
// (dev_valid_name), optionally followed by ":label".
func checkNICSyntax(s string) error {
	nic, label, hasLabel := strings.Cut(s, ":")
	if nic == "" || nic == "." || nic == ".." || len(nic) > maxIfName {
		return fmt.Errorf("is not an interface name: %q", s)
	}
	for _, r := range nic {
		if r == '/' || r <= ' ' || r == 0x7f || r > 0x7e {
			return fmt.Errorf("is not an interface name: %q", s)
		}
	}
	if hasLabel {
		return checkLabelSyntax(label)
	}
	return nil
}

// checkLabelSyntax accepts a label the kernel stores: printable ASCII, no
// blanks, at most 15 characters with its interface.
func checkLabelSyntax(s string) error {
	if s == "" || len(s) > maxIfName-2 {
		return fmt.Errorf("is not a label: %q", s)
	}
	for _, r := range s {
		if r <= ' ' || r == '/' || r == ':' || r == 0x7f || r > 0x7e {
			return fmt.Errorf("is not a label: %q", s)
		}
	}
	return nil
}

// checkLabelLength enforces the kernel's 15 characters for nic:label. With
// nic still unknown it is checked again once resolve has found it.
func checkLabelLength(nic, label string) error {
	if label == "" || nic == "" {
		return nil
	}
	if full := nic + ":" + label; len(full) > maxIfName {
		return ocf.Fail(ocf.ErrConfigured, "parameter %s: %q exceeds %d characters", pLabel, full, maxIfName)
	}
	return nil
}

// Broadcast is how the IPv4 broadcast address is chosen.
type Broadcast struct {
	Mode BroadcastMode
	Addr netip.Addr // for BroadcastAddr
}

// BroadcastMode selects the broadcast address of an IPv4 address.
type BroadcastMode int

const (
	BroadcastSet   BroadcastMode = iota // "+": host bits set (the default)
	BroadcastClear                      // "-": host bits cleared
	BroadcastNone                       // "none": no broadcast address
	BroadcastAddr                       // an explicit address
)

func parseBroadcast(s string, ip netip.Addr) (Broadcast, error) {
	switch strings.TrimSpace(s) {
	case "", "+":
		return Broadcast{Mode: BroadcastSet}, nil
	case "-":
		return Broadcast{Mode: BroadcastClear}, nil
	case "none":
		return Broadcast{Mode: BroadcastNone}, nil
	}
	if err := checkBroadcastSyntax(s); err != nil {
		return Broadcast{}, err
	}
	if ip.Is6() {
		return Broadcast{}, fmt.Errorf("is set to %s, but IPv6 addresses have no broadcast address", s)
	}
	a, _ := netip.ParseAddr(strings.TrimSpace(s))
	return Broadcast{Mode: BroadcastAddr, Addr: a}, nil
}

func checkBroadcastSyntax(s string) error {
	switch s = strings.TrimSpace(s); s {
	case "+", "-", "none":
		return nil
	}
	if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
		return fmt.Errorf("must be an IPv4 address, '+', '-' or 'none', not %q", s)
	}
	return nil
}

// broadcastFor computes the broadcast address of p; ok is false when the
// address gets none (IPv6, /31, /32, or mode none).
func broadcastFor(p netip.Prefix, b Broadcast) (netip.Addr, bool) {
	if !p.Addr().Is4() || b.Mode == BroadcastNone || p.Bits() >= 31 || p.Bits() < 0 {
		return netip.Addr{}, false
	}
	if b.Mode == BroadcastAddr {
		return b.Addr, true
	}
	a := p.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	host := uint32(math.MaxUint32) >> p.Bits()
	if b.Mode == BroadcastClear {
		v &^= host
	} else {
		v |= host
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// Lifetime is an address lifetime in seconds; Forever is the kernel's
// infinity (0xffffffff).
type Lifetime uint32

// Forever is the lifetime of an address that never expires.
const Forever Lifetime = math.MaxUint32

var errLifetime = errors.New("must be 'forever' or a number of seconds below 4294967295")

func parseLifetime(s string) (Lifetime, error) {
	s = strings.TrimSpace(s)
	if s == "forever" || s == "infinity" {
		return Forever, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n >= uint64(Forever) {
		return 0, fmt.Errorf("%w, not %q", errLifetime, s)
	}
	return Lifetime(n), nil
}
