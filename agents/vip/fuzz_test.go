package vip

import (
	"net/netip"
	"testing"

	"github.com/goha-ha/goha/ocf"
)

// FuzzParseConfig feeds arbitrary parameter strings through the validation
// core: it must never panic, must reject with OCF_ERR_CONFIGURED only, and
// whatever it accepts must be a usable address configuration.
func FuzzParseConfig(f *testing.F) {
	for _, s := range [][6]string{
		{"192.0.2.10", "24", "eth0", "", "+", "forever"},
		{"2001:db8::1", "64", "", "", "", "0"},
		{"fe80::1", "", "", "", "", ""},
		{"10.0.0.1", "255.255.255.0", "eth0:web", "x", "-", ""},
		{"10.0.0.1", "33", "", "", "none", ""},
		{"::ffff:1.2.3.4", "", "", "", "", ""},
		{"", "", "", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	f.Fuzz(func(t *testing.T, ip, netmask, nic, label, broadcast, lft string) {
		raw := rawConfig{IP: ip, Netmask: netmask, NIC: nic, Label: label, Broadcast: broadcast, PreferredLft: lft}
		c, err := parseConfig(raw)
		if err != nil {
			if ocf.StatusOf(err) != ocf.ErrConfigured || ocf.ReasonOf(err) == "" {
				t.Fatalf("parseConfig(%+v) = %v with status %v, want ErrConfigured with a reason", raw, err, ocf.StatusOf(err))
			}
			return
		}
		if !c.IP.IsValid() || c.IP.Zone() != "" || c.IP.IsUnspecified() || c.IP.IsMulticast() || c.IP.Is4In6() {
			t.Fatalf("accepted unusable ip %v from %+v", c.IP, raw)
		}
		if c.Prefix < 0 || c.Prefix > c.IP.BitLen() {
			t.Fatalf("accepted prefix %d for %v", c.Prefix, c.IP)
		}
		if c.Label != "" && (c.IP.Is6() || (c.NIC != "" && len(c.NIC)+1+len(c.Label) > maxIfName)) {
			t.Fatalf("accepted label %q on %q for %v", c.Label, c.NIC, c.IP)
		}
		if len(c.NIC) > maxIfName {
			t.Fatalf("accepted nic %q", c.NIC)
		}
		// Whatever was accepted resolves without panicking.
		routes := []Route{{Dst: netip.PrefixFrom(c.IP, c.IP.BitLen()/2).Masked(), NIC: "eth0", LinkScope: true, Unicast: true}}
		if tgt, err := resolve(c, routes); err == nil {
			if tgt.Prefix < 1 || tgt.Prefix > c.IP.BitLen() || tgt.NIC == "" {
				t.Fatalf("resolve(%+v) = %+v", c, tgt)
			}
		}
	})
}

// FuzzParsePackets feeds arbitrary bytes to the packet parsers the probes
// run on whatever the link delivers: they must never panic, and what they
// accept must be what they claim.
func FuzzParsePackets(f *testing.F) {
	ip := netip.MustParseAddr("fd00::10")
	na, _ := unsolicitedNA(ip, ourMAC)
	ns, _, _ := dadSolicitation(ip)
	f.Add(na)
	f.Add(ns)
	f.Add(garp(netip.MustParseAddr("192.0.2.10"), ourMAC))
	f.Add(arpProbe(netip.MustParseAddr("192.0.2.10"), ourMAC))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, ok := parseARP(b); ok && (len(b) < arpLen || !p.SenderIP.Is4() || !p.TargetIP.Is4() || len(p.SenderHW) != 6) {
			t.Fatalf("parseARP accepted %+v from % x", p, b)
		}
		if a, ok := parseNA(b); ok && (!a.Target.Is6() || !a.Src.Is6() || len(b) < ipv6HdrLen) {
			t.Fatalf("parseNA accepted %+v from % x", a, b)
		}
	})
}
