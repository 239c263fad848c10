package vip

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/goha-ha/goha/ocf"
)

func link(dst, nic string, metric int) Route {
	return Route{Dst: netip.MustParsePrefix(dst), NIC: nic, Metric: metric, LinkScope: true, Unicast: true}
}

func TestSelectRoute(t *testing.T) {
	universe := link("192.0.2.0/24", "eth9", 0)
	universe.LinkScope = false
	blackhole := link("10.0.0.0/16", "lo", 0)
	blackhole.Unicast = false
	multipath := link("10.0.0.0/20", "", 0)
	v6 := link("2001:db8::/64", "eth1", 256)
	v6.LinkScope = false // IPv6 routes have universe scope
	v6wide := link("2001:db8::/48", "eth2", 256)
	v6wide.LinkScope = false
	v6default := link("::/0", "eth0", 1024)
	v6default.LinkScope = false

	routes := []Route{
		link("0.0.0.0/0", "eth0", 0), // default
		link("10.0.0.0/8", "eth0", 100),
		link("10.1.0.0/16", "eth1", 200),
		link("10.1.0.0/16", "eth2", 100), // same prefix, lower metric
		link("10.1.2.0/24", "eth3", 300),
		blackhole, multipath, universe,
		v6, v6wide, v6default,
	}
	tests := []struct {
		ip, nic string
		prefix  int
		want    string // "nic dst", "" for none
	}{
		{"10.1.2.3", "", 0, "eth3 10.1.2.0/24"},      // longest prefix
		{"10.1.3.3", "", 0, "eth2 10.1.0.0/16"},      // then lowest metric
		{"10.1.3.3", "eth1", 0, "eth1 10.1.0.0/16"},  // nic restricts
		{"10.1.2.3", "eth0", 0, "eth0 10.0.0.0/8"},   // nic restricts to a wider route
		{"10.1.2.3", "", 16, "eth2 10.1.0.0/16"},     // ip route list match 10.1.2.3/16
		{"10.1.2.3", "", 20, "eth2 10.1.0.0/16"},     // the /24 does not cover a /20
		{"10.200.0.1", "", 0, "eth0 10.0.0.0/8"},     // only the /8 covers it
		{"10.0.1.1", "", 0, "eth0 10.0.0.0/8"},       // blackhole /16 and multipath /20 ignored
		{"172.16.0.1", "", 0, ""},                    // only the default route covers it
		{"192.0.2.5", "", 0, ""},                     // scope universe is not a connected subnet
		{"10.1.2.3", "eth7", 0, ""},                  // no route through eth7
		{"2001:db8::5", "", 0, "eth1 2001:db8::/64"}, // IPv6 ignores scope, longest prefix
		{"2001:db8:0:1::5", "", 0, "eth2 2001:db8::/48"},
		{"2001:db9::5", "", 0, ""}, // only the default route
		{"2001:db8::5", "", 56, "eth2 2001:db8::/48"},
	}
	for _, tt := range tests {
		r, ok := selectRoute(routes, netip.MustParseAddr(tt.ip), tt.nic, tt.prefix)
		got := ""
		if ok {
			got = r.NIC + " " + r.Dst.String()
		}
		if got != tt.want {
			t.Errorf("selectRoute(%s, nic=%q, prefix=%d) = %q, want %q", tt.ip, tt.nic, tt.prefix, got, tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	routes := []Route{link("192.0.2.0/24", "eth0", 0), link("198.51.100.0/25", "eth1", 0), link("2001:db8::/64", "eth1", 256)}
	tests := []struct {
		name   string
		c      Config
		want   Target
		reason string
	}{
		{name: "all from routes", c: Config{IP: netip.MustParseAddr("192.0.2.10")},
			want: Target{Prefix: 24, NIC: "eth0", Broadcast: netip.MustParseAddr("192.0.2.255")}},
		{name: "nic and prefix given, no route needed", c: Config{IP: netip.MustParseAddr("203.0.113.5"), NIC: "eth5", Prefix: 28},
			want: Target{Prefix: 28, NIC: "eth5", Broadcast: netip.MustParseAddr("203.0.113.15")}},
		{name: "prefix from route", c: Config{IP: netip.MustParseAddr("198.51.100.7"), NIC: "eth1"},
			want: Target{Prefix: 25, NIC: "eth1", Broadcast: netip.MustParseAddr("198.51.100.127")}},
		{name: "label", c: Config{IP: netip.MustParseAddr("192.0.2.10"), Label: "web"},
			want: Target{Prefix: 24, NIC: "eth0", Label: "eth0:web", Broadcast: netip.MustParseAddr("192.0.2.255")}},
		{name: "no broadcast for /32", c: Config{IP: netip.MustParseAddr("192.0.2.10"), Prefix: 32, NIC: "eth0"},
			want: Target{Prefix: 32, NIC: "eth0"}},
		{name: "ipv6", c: Config{IP: netip.MustParseAddr("2001:db8::10")},
			want: Target{Prefix: 64, NIC: "eth1"}},
		{name: "no route", c: Config{IP: netip.MustParseAddr("203.0.113.5")},
			reason: "no route covers 203.0.113.5: set parameters nic and cidr_netmask"},
		{name: "no route with prefix", c: Config{IP: netip.MustParseAddr("203.0.113.5"), Prefix: 24},
			reason: "set parameter nic"},
		{name: "no route on nic", c: Config{IP: netip.MustParseAddr("192.0.2.10"), NIC: "eth1"},
			reason: "set parameter cidr_netmask"},
		{name: "label too long once nic is known", c: Config{IP: netip.MustParseAddr("192.0.2.10"), Label: "abcdefghijk"},
			reason: "parameter iflabel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve(tt.c, routes)
			if tt.reason != "" {
				if err == nil || !strings.Contains(ocf.ReasonOf(err), tt.reason) {
					t.Fatalf("resolve = %+v, %v; want error with %q", got, err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.IP = tt.c.IP
			if got != tt.want {
				t.Errorf("resolve = %+v, want %+v", got, tt.want)
			}
		})
	}
}
