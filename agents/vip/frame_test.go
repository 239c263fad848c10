package vip

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"
)

var (
	ourMAC   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	theirMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
)

func TestGARP(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.10")
	p, ok := parseARP(garp(ip, ourMAC))
	if !ok {
		t.Fatal("garp does not parse")
	}
	want := arpPacket{Op: arpRequest, SenderHW: ourMAC, SenderIP: ip, TargetHW: make(net.HardwareAddr, 6), TargetIP: ip}
	if p.Op != want.Op || !bytes.Equal(p.SenderHW, want.SenderHW) || p.SenderIP != ip || p.TargetIP != ip || !bytes.Equal(p.TargetHW, want.TargetHW) {
		t.Errorf("garp = %+v, want %+v", p, want)
	}
	raw := garp(ip, ourMAC)
	if len(raw) != arpLen || binary.BigEndian.Uint16(raw[0:]) != 1 || binary.BigEndian.Uint16(raw[2:]) != 0x0800 {
		t.Errorf("garp header = % x", raw[:8])
	}
}

func TestARPProbe(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.10")
	p, ok := parseARP(arpProbe(ip, ourMAC))
	if !ok || p.Op != arpRequest || p.SenderIP != netip.IPv4Unspecified() || p.TargetIP != ip || !bytes.Equal(p.SenderHW, ourMAC) {
		t.Errorf("arpProbe = %+v, %v; want a request from 0.0.0.0 for %s", p, ok, ip)
	}
}

func TestParseARPRejects(t *testing.T) {
	good := garp(netip.MustParseAddr("192.0.2.10"), ourMAC)
	for name, b := range map[string][]byte{
		"short":    good[:20],
		"hw type":  append([]byte{0, 6}, good[2:]...),
		"proto":    append([]byte{0, 1, 0x86, 0xdd}, good[4:]...),
		"addr len": append(append([]byte{}, good[:4]...), append([]byte{6, 16}, good[6:]...)...),
	} {
		if p, ok := parseARP(b); ok {
			t.Errorf("%s: parseARP accepted %+v", name, p)
		}
	}
}

func TestARPOwner(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.10")
	other := netip.MustParseAddr("192.0.2.11")
	tests := []struct {
		name string
		p    arpPacket
		want net.HardwareAddr
	}{
		{"reply from owner", arpPacket{Op: arpReply, SenderHW: theirMAC, SenderIP: ip, TargetHW: ourMAC}, theirMAC},
		{"announcement from owner", arpPacket{Op: arpRequest, SenderHW: theirMAC, SenderIP: ip, TargetIP: ip}, theirMAC},
		{"our own announcement", arpPacket{Op: arpRequest, SenderHW: ourMAC, SenderIP: ip, TargetIP: ip}, nil},
		{"someone else's probe", arpPacket{Op: arpRequest, SenderHW: theirMAC, SenderIP: netip.IPv4Unspecified(), TargetIP: ip}, nil},
		{"other address", arpPacket{Op: arpReply, SenderHW: theirMAC, SenderIP: other}, nil},
		{"odd opcode", arpPacket{Op: 9, SenderHW: theirMAC, SenderIP: ip}, nil},
	}
	for _, tt := range tests {
		got, ok := arpOwner(tt.p, ip, ourMAC)
		if !bytes.Equal(got, tt.want) || ok != (tt.want != nil) {
			t.Errorf("%s: arpOwner = %v, %v; want %v", tt.name, got, ok, tt.want)
		}
	}
}

// icmpv6Checksum verifies the checksum of an IPv6 packet's ICMPv6 payload
// independently of the code that wrote it: the one's-complement sum over the
// pseudo-header and the message must be 0xffff.
func icmpv6ChecksumOK(pkt []byte) bool {
	body := pkt[ipv6HdrLen:]
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(pkt[8:40])
	add([]byte{0, 0, byte(len(body) >> 8), byte(len(body)), 0, 0, 0, protoICMPv6})
	add(body)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return sum == 0xffff
}

func TestUnsolicitedNA(t *testing.T) {
	ip := netip.MustParseAddr("2001:db8::10")
	pkt, err := unsolicitedNA(ip, ourMAC)
	if err != nil {
		t.Fatal(err)
	}
	if pkt[0]>>4 != 6 || pkt[6] != protoICMPv6 || pkt[7] != 255 || int(binary.BigEndian.Uint16(pkt[4:])) != len(pkt)-ipv6HdrLen {
		t.Errorf("IPv6 header = % x", pkt[:8])
	}
	if !icmpv6ChecksumOK(pkt) {
		t.Error("ICMPv6 checksum is wrong")
	}
	na, ok := parseNA(pkt)
	if !ok {
		t.Fatal("unsolicited NA does not parse")
	}
	if na.Src != ip || na.Dst != allNodes || na.Target != ip || !na.Override || na.Solicited || na.HopLimit != 255 || !bytes.Equal(na.TargetMAC, ourMAC) {
		t.Errorf("unsolicited NA = %+v", na)
	}
	if got := multicastMAC(allNodes); got.String() != "33:33:00:00:00:01" {
		t.Errorf("multicastMAC(ff02::1) = %s", got)
	}
}

func TestDADSolicitation(t *testing.T) {
	ip := netip.MustParseAddr("2001:db8::abcd:1234")
	pkt, mac, err := dadSolicitation(ip)
	if err != nil {
		t.Fatal(err)
	}
	if mac.String() != "33:33:ff:cd:12:34" {
		t.Errorf("destination MAC = %s, want 33:33:ff:cd:12:34", mac)
	}
	src, dst := netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
	if src != netip.IPv6Unspecified() || dst != netip.MustParseAddr("ff02::1:ffcd:1234") || pkt[7] != 255 {
		t.Errorf("DAD NS from %s to %s hop %d", src, dst, pkt[7])
	}
	body := pkt[ipv6HdrLen:]
	if body[0] != 135 || netip.AddrFrom16([16]byte(body[8:24])) != ip || len(body) != 24 {
		t.Errorf("DAD NS body = % x, want type 135, target %s, no options", body, ip)
	}
	if !icmpv6ChecksumOK(pkt) {
		t.Error("ICMPv6 checksum is wrong")
	}
	if _, ok := parseNA(pkt); ok {
		t.Error("parseNA accepted a solicitation")
	}
}

func TestNAOwner(t *testing.T) {
	ip := netip.MustParseAddr("fd00::10")
	base := neighborAdvert{Target: ip, HopLimit: 255, TargetMAC: theirMAC}
	mod := func(f func(*neighborAdvert)) neighborAdvert { n := base; f(&n); return n }
	tests := []struct {
		name     string
		na       neighborAdvert
		frameSrc net.HardwareAddr
		want     net.HardwareAddr
	}{
		{"owner answers", base, theirMAC, theirMAC},
		{"no option: frame source", mod(func(n *neighborAdvert) { n.TargetMAC = nil }), theirMAC, theirMAC},
		{"our own", mod(func(n *neighborAdvert) { n.TargetMAC = ourMAC }), ourMAC, nil},
		{"from us, option spoofed", base, ourMAC, nil},
		{"routed", mod(func(n *neighborAdvert) { n.HopLimit = 64 }), theirMAC, nil},
		{"other target", mod(func(n *neighborAdvert) { n.Target = netip.MustParseAddr("fd00::11") }), theirMAC, nil},
		{"nothing to name", mod(func(n *neighborAdvert) { n.TargetMAC = nil }), nil, nil},
	}
	for _, tt := range tests {
		got, ok := naOwner(tt.na, tt.frameSrc, ip, ourMAC)
		if !bytes.Equal(got, tt.want) || ok != (tt.want != nil) {
			t.Errorf("%s: naOwner = %v, %v; want %v", tt.name, got, ok, tt.want)
		}
	}
}

func TestParseNARejects(t *testing.T) {
	good, err := unsolicitedNA(netip.MustParseAddr("fd00::10"), ourMAC)
	if err != nil {
		t.Fatal(err)
	}
	trunc := bytes.Clone(good)
	binary.BigEndian.PutUint16(trunc[4:], 200)
	udp := bytes.Clone(good)
	udp[6] = 17
	for name, b := range map[string][]byte{
		"short": good[:30], "v4": append([]byte{0x45}, good[1:]...), "length beyond packet": trunc,
		"not icmpv6": udp, "truncated body": good[:ipv6HdrLen+10],
	} {
		if na, ok := parseNA(b); ok {
			t.Errorf("%s: parseNA accepted %+v", name, na)
		}
	}
}

// TestNAFilter runs the kernel filter in the BPF interpreter.
func TestNAFilter(t *testing.T) {
	vm, err := bpf.NewVM(naFilter)
	if err != nil {
		t.Fatal(err)
	}
	na, _ := unsolicitedNA(netip.MustParseAddr("fd00::10"), ourMAC)
	ns, _, _ := dadSolicitation(netip.MustParseAddr("fd00::10"))
	udp := bytes.Clone(na)
	udp[6] = 17
	for name, tt := range map[string]struct {
		pkt  []byte
		pass bool
	}{
		"advertisement": {na, true}, "solicitation": {ns, false}, "udp": {udp, false}, "short": {na[:20], false},
	} {
		n, err := vm.Run(tt.pkt)
		if err != nil && tt.pass {
			t.Errorf("%s: %v", name, err)
		}
		if (n > 0) != tt.pass {
			t.Errorf("%s: filter returned %d, want pass=%v", name, n, tt.pass)
		}
	}
}
