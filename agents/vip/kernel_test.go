package vip

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestPrefixOf(t *testing.T) {
	tests := []struct {
		n    net.IPNet
		want string
	}{
		{net.IPNet{IP: net.IP{192, 0, 2, 0}, Mask: net.CIDRMask(24, 32)}, "192.0.2.0/24"},
		{net.IPNet{IP: net.ParseIP("192.0.2.10"), Mask: net.CIDRMask(32, 32)}, "192.0.2.10/32"}, // 16-byte form of an IPv4 address
		{net.IPNet{IP: net.ParseIP("2001:db8::"), Mask: net.CIDRMask(64, 128)}, "2001:db8::/64"},
	}
	for _, tt := range tests {
		got, ok := prefixOf(tt.n)
		if !ok || got.String() != tt.want {
			t.Errorf("prefixOf(%v) = %v, %v; want %s", tt.n, got, ok, tt.want)
		}
	}
	if got, ok := prefixOf(net.IPNet{IP: net.IP{1, 2, 3}}); ok {
		t.Errorf("prefixOf(3-byte IP) = %v, want not ok", got)
	}
}

func TestLinkOf(t *testing.T) {
	attrs := netlink.LinkAttrs{Name: "eth0", Index: 4, HardwareAddr: ourMAC, RawFlags: unix.IFF_UP | unix.IFF_BROADCAST}
	l := linkOf(&netlink.Device{LinkAttrs: attrs})
	if l.Name != "eth0" || l.Index != 4 || l.MAC.String() != ourMAC.String() || !l.AdminUp || l.Carrier || l.NoARP {
		t.Errorf("linkOf(up, no carrier) = %+v", l)
	}
	attrs.RawFlags = unix.IFF_UP | unix.IFF_RUNNING | unix.IFF_NOARP
	attrs.HardwareAddr = nil // e.g. a tun device
	l = linkOf(&netlink.Device{LinkAttrs: attrs})
	if !l.Carrier || !l.NoARP || l.MAC != nil {
		t.Errorf("linkOf(running, noarp, no MAC) = %+v", l)
	}
}
