package vip

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ndp"
)

// The packets the agent sends and reads, as network-layer payloads of an
// Ethernet frame (the packet socket adds and strips the Ethernet header).

const (
	arpLen       = 28 // ARP for Ethernet and IPv4
	arpRequest   = 1
	arpReply     = 2
	ipv6HdrLen   = 40
	protoICMPv6  = 58
	ndpHopLimit  = 255 // RFC 4861: neighbour discovery packets are never routed
	etherTypeARP = 0x0806
	etherTypeV6  = 0x86dd
)

var (
	ethBroadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	allNodes     = netip.MustParseAddr("ff02::1")
)

// arpPacket is an Ethernet/IPv4 ARP message.
type arpPacket struct {
	Op       uint16
	SenderHW net.HardwareAddr
	SenderIP netip.Addr
	TargetHW net.HardwareAddr
	TargetIP netip.Addr
}

func (p arpPacket) marshal() []byte {
	b := make([]byte, arpLen)
	binary.BigEndian.PutUint16(b[0:], 1)      // hardware type Ethernet
	binary.BigEndian.PutUint16(b[2:], 0x0800) // protocol IPv4
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], p.Op)
	copy(b[8:14], p.SenderHW)
	s, t := p.SenderIP.As4(), p.TargetIP.As4()
	copy(b[14:18], s[:])
	copy(b[18:24], p.TargetHW)
	copy(b[24:28], t[:])
	return b
}

func parseARP(b []byte) (arpPacket, bool) {
	if len(b) < arpLen || binary.BigEndian.Uint16(b[0:]) != 1 || binary.BigEndian.Uint16(b[2:]) != 0x0800 || b[4] != 6 || b[5] != 4 {
		return arpPacket{}, false
	}
	return arpPacket{
		Op:       binary.BigEndian.Uint16(b[6:]),
		SenderHW: net.HardwareAddr(bytes.Clone(b[8:14])),
		SenderIP: netip.AddrFrom4([4]byte(b[14:18])),
		TargetHW: net.HardwareAddr(bytes.Clone(b[18:24])),
		TargetIP: netip.AddrFrom4([4]byte(b[24:28])),
	}, true
}

// garp is a gratuitous ARP announcement (RFC 5227, 2.3): a broadcast request
// whose sender and target are both ip, so every neighbour that has ip in its
// cache learns mac.
func garp(ip netip.Addr, mac net.HardwareAddr) []byte {
	return arpPacket{Op: arpRequest, SenderHW: mac, SenderIP: ip, TargetHW: make(net.HardwareAddr, 6), TargetIP: ip}.marshal()
}

// arpProbe asks who has ip without claiming it (RFC 5227, 2.1.1): sender IP
// 0.0.0.0, so no neighbour's cache changes.
func arpProbe(ip netip.Addr, mac net.HardwareAddr) []byte {
	return arpPacket{Op: arpRequest, SenderHW: mac, SenderIP: netip.IPv4Unspecified(), TargetHW: make(net.HardwareAddr, 6), TargetIP: ip}.marshal()
}

// arpOwner reports the hardware address of another host that claims ip in
// packet p: a reply or announcement from it, sent from a MAC that is not ours.
func arpOwner(p arpPacket, ip netip.Addr, ours net.HardwareAddr) (net.HardwareAddr, bool) {
	if p.SenderIP != ip || bytes.Equal(p.SenderHW, ours) || (p.Op != arpRequest && p.Op != arpReply) {
		return nil, false
	}
	return p.SenderHW, true
}

// ipv6Packet wraps an ICMPv6 neighbour-discovery message in an IPv6 header
// with hop limit 255 and the ICMPv6 checksum filled in.
func ipv6Packet(src, dst netip.Addr, m ndp.Message) ([]byte, error) {
	body, err := ndp.MarshalMessageChecksum(m, src, dst)
	if err != nil {
		return nil, fmt.Errorf("marshal %v: %w", m.Type(), err)
	}
	b := make([]byte, ipv6HdrLen, ipv6HdrLen+len(body))
	b[0] = 6 << 4
	binary.BigEndian.PutUint16(b[4:], uint16(len(body)))
	b[6], b[7] = protoICMPv6, ndpHopLimit
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return append(b, body...), nil
}

// unsolicitedNA announces that ip now lives at mac (RFC 4861, 7.2.6): a
// neighbour advertisement to all nodes with the Override flag and the target
// link-layer address option, from ip itself.
func unsolicitedNA(ip netip.Addr, mac net.HardwareAddr) ([]byte, error) {
	return ipv6Packet(ip, allNodes, &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}},
	})
}

// dadSolicitation is the neighbour solicitation of duplicate address
// detection (RFC 4862, 5.4.2): from ::, to the solicited-node group of ip,
// without a source link-layer option. A host that owns ip answers with an
// advertisement to all nodes.
func dadSolicitation(ip netip.Addr) (pkt []byte, dstMAC net.HardwareAddr, err error) {
	group, err := ndp.SolicitedNodeMulticast(ip)
	if err != nil {
		return nil, nil, err
	}
	pkt, err = ipv6Packet(netip.IPv6Unspecified(), group, &ndp.NeighborSolicitation{TargetAddress: ip})
	return pkt, multicastMAC(group), err
}

// multicastMAC is the Ethernet group address of an IPv6 multicast address
// (RFC 2464, 7): 33:33 and its last four bytes.
func multicastMAC(group netip.Addr) net.HardwareAddr {
	a := group.As16()
	return net.HardwareAddr{0x33, 0x33, a[12], a[13], a[14], a[15]}
}

// neighborAdvert is a parsed neighbour advertisement.
type neighborAdvert struct {
	Src, Dst  netip.Addr
	HopLimit  int
	Target    netip.Addr
	Override  bool
	Solicited bool
	TargetMAC net.HardwareAddr // from the target link-layer option; nil without
}

// parseNA reads an IPv6 packet carrying a neighbour advertisement without
// extension headers; ok is false for anything else.
func parseNA(b []byte) (na neighborAdvert, ok bool) {
	if len(b) < ipv6HdrLen || b[0]>>4 != 6 || b[6] != protoICMPv6 {
		return na, false
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if ipv6HdrLen+n > len(b) {
		return na, false
	}
	m, err := ndp.ParseMessage(b[ipv6HdrLen : ipv6HdrLen+n])
	if err != nil {
		return na, false
	}
	adv, isNA := m.(*ndp.NeighborAdvertisement)
	if !isNA {
		return na, false
	}
	na = neighborAdvert{
		Src: netip.AddrFrom16([16]byte(b[8:24])), Dst: netip.AddrFrom16([16]byte(b[24:40])),
		HopLimit: int(b[7]), Target: adv.TargetAddress, Override: adv.Override, Solicited: adv.Solicited,
	}
	for _, o := range adv.Options {
		if lla, isLLA := o.(*ndp.LinkLayerAddress); isLLA && lla.Direction == ndp.Target {
			na.TargetMAC = lla.Addr
		}
	}
	return na, true
}

// naOwner reports the hardware address of another host that claims ip in an
// advertisement received from frameSrc: its target link-layer option, or the
// frame's source when the option is missing.
func naOwner(na neighborAdvert, frameSrc net.HardwareAddr, ip netip.Addr, ours net.HardwareAddr) (net.HardwareAddr, bool) {
	if na.Target != ip || na.HopLimit != ndpHopLimit {
		return nil, false
	}
	mac := na.TargetMAC
	if mac == nil {
		mac = frameSrc
	}
	if mac == nil || bytes.Equal(mac, ours) || bytes.Equal(frameSrc, ours) {
		return nil, false
	}
	return mac, true
}
