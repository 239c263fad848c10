package vip

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/goha-ha/goha/ocf"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name   string
		raw    rawConfig
		want   Config // compared on IP, Prefix, NIC, Label, Broadcast, PreferredLft
		reason string // substring of the ErrConfigured reason; "" for success
	}{
		{name: "ipv4 minimal", raw: rawConfig{IP: "192.0.2.10"},
			want: Config{IP: netip.MustParseAddr("192.0.2.10"), PreferredLft: Forever}},
		{name: "ipv4 full", raw: rawConfig{IP: "192.0.2.10", Netmask: "24", NIC: "eth0", Label: "web", Broadcast: "192.0.2.255", PreferredLft: "forever"},
			want: Config{IP: netip.MustParseAddr("192.0.2.10"), Prefix: 24, NIC: "eth0", Label: "web",
				Broadcast: Broadcast{Mode: BroadcastAddr, Addr: netip.MustParseAddr("192.0.2.255")}, PreferredLft: Forever}},
		{name: "dotted quad netmask", raw: rawConfig{IP: "10.0.0.1", Netmask: "255.255.240.0"},
			want: Config{IP: netip.MustParseAddr("10.0.0.1"), Prefix: 20, PreferredLft: Forever}},
		{name: "legacy nic:label", raw: rawConfig{IP: "10.0.0.1", NIC: "eth0:vip", Label: "ignored"},
			want: Config{IP: netip.MustParseAddr("10.0.0.1"), NIC: "eth0", Label: "vip", PreferredLft: Forever}},
		{name: "broadcast minus", raw: rawConfig{IP: "10.0.0.1", Broadcast: "-"},
			want: Config{IP: netip.MustParseAddr("10.0.0.1"), Broadcast: Broadcast{Mode: BroadcastClear}, PreferredLft: Forever}},
		{name: "broadcast none", raw: rawConfig{IP: "10.0.0.1", Broadcast: "none"},
			want: Config{IP: netip.MustParseAddr("10.0.0.1"), Broadcast: Broadcast{Mode: BroadcastNone}, PreferredLft: Forever}},
		{name: "ipv6 with lifetime 0", raw: rawConfig{IP: "2001:db8::10", Netmask: "64", PreferredLft: "0"},
			want: Config{IP: netip.MustParseAddr("2001:db8::10"), Prefix: 64, PreferredLft: 0}},
		{name: "ipv6 128", raw: rawConfig{IP: "fd00::5", Netmask: "128", NIC: "eth1"},
			want: Config{IP: netip.MustParseAddr("fd00::5"), Prefix: 128, NIC: "eth1", PreferredLft: Forever}},
		{name: "ipv6 link-local with nic", raw: rawConfig{IP: "fe80::5", NIC: "eth1", Netmask: "64"},
			want: Config{IP: netip.MustParseAddr("fe80::5"), Prefix: 64, NIC: "eth1", PreferredLft: Forever}},
		{name: "ipv6 broadcast plus ignored", raw: rawConfig{IP: "fd00::5", Broadcast: "+"},
			want: Config{IP: netip.MustParseAddr("fd00::5"), PreferredLft: Forever}},

		{name: "missing ip", raw: rawConfig{}, reason: "parameter ip is required"},
		{name: "blank ip", raw: rawConfig{IP: "  "}, reason: "parameter ip is required"},
		{name: "bad ip", raw: rawConfig{IP: "300.1.1.1"}, reason: "parameter ip is not an IPv4 or IPv6 address"},
		{name: "hostname", raw: rawConfig{IP: "vip.example.com"}, reason: "parameter ip is not an IPv4 or IPv6 address"},
		{name: "leading zeros", raw: rawConfig{IP: "010.0.0.1"}, reason: "parameter ip is not"},
		{name: "cidr in ip", raw: rawConfig{IP: "10.0.0.1/24"}, reason: "parameter ip is not"},
		{name: "zone", raw: rawConfig{IP: "fe80::1%eth0"}, reason: "parameter ip must not carry a zone"},
		{name: "mapped", raw: rawConfig{IP: "::ffff:10.0.0.1"}, reason: "IPv4-mapped"},
		{name: "unspecified", raw: rawConfig{IP: "0.0.0.0"}, reason: "unspecified"},
		{name: "loopback", raw: rawConfig{IP: "127.0.0.2"}, reason: "loopback"},
		{name: "multicast", raw: rawConfig{IP: "ff02::1"}, reason: "multicast"},
		{name: "limited broadcast", raw: rawConfig{IP: "255.255.255.255"}, reason: "broadcast"},
		{name: "netmask 0", raw: rawConfig{IP: "10.0.0.1", Netmask: "0"}, reason: "parameter cidr_netmask is out of range for an IPv4 address (1 to 32): 0"},
		{name: "netmask 33", raw: rawConfig{IP: "10.0.0.1", Netmask: "33"}, reason: "parameter cidr_netmask is out of range for an IPv4 address (1 to 32): 33"},
		{name: "netmask 129", raw: rawConfig{IP: "fd00::1", Netmask: "129"}, reason: "parameter cidr_netmask is out of range for an IPv6 address (1 to 128): 129"},
		{name: "netmask signed", raw: rawConfig{IP: "10.0.0.1", Netmask: "+8"}, reason: "parameter cidr_netmask is not a prefix length"},
		{name: "netmask text", raw: rawConfig{IP: "10.0.0.1", Netmask: "big"}, reason: "parameter cidr_netmask is not a prefix length"},
		{name: "netmask non-contiguous", raw: rawConfig{IP: "10.0.0.1", Netmask: "255.0.255.0"}, reason: "not a contiguous netmask"},
		{name: "netmask dotted zero", raw: rawConfig{IP: "10.0.0.1", Netmask: "0.0.0.0"}, reason: "out of range"},
		{name: "netmask dotted for v6", raw: rawConfig{IP: "fd00::1", Netmask: "255.255.255.0"}, reason: "only IPv4"},
		{name: "nic with slash", raw: rawConfig{IP: "10.0.0.1", NIC: "eth/0"}, reason: "parameter nic is not an interface name"},
		{name: "nic too long", raw: rawConfig{IP: "10.0.0.1", NIC: "abcdefghijklmnop"}, reason: "parameter nic is not an interface name"},
		{name: "nic blank", raw: rawConfig{IP: "10.0.0.1", NIC: "eth 0"}, reason: "parameter nic is not an interface name"},
		{name: "label too long with nic", raw: rawConfig{IP: "10.0.0.1", NIC: "enp0s31f6", Label: "webvip"}, reason: `parameter iflabel: "enp0s31f6:webvip" exceeds 15`},
		{name: "label bad", raw: rawConfig{IP: "10.0.0.1", Label: "a b"}, reason: "parameter iflabel is not a label"},
		{name: "label on v6", raw: rawConfig{IP: "fd00::1", Label: "x"}, reason: "parameter iflabel: IPv6 addresses have no labels"},
		{name: "link-local without nic", raw: rawConfig{IP: "fe80::1"}, reason: "parameter nic is required for the link-local address"},
		{name: "bad broadcast", raw: rawConfig{IP: "10.0.0.1", Broadcast: "x"}, reason: "parameter broadcast must be an IPv4 address"},
		{name: "v6 broadcast address", raw: rawConfig{IP: "fd00::1", Broadcast: "10.0.0.255"}, reason: "parameter broadcast is set to 10.0.0.255, but IPv6"},
		{name: "bad lifetime", raw: rawConfig{IP: "fd00::1", PreferredLft: "soon"}, reason: "parameter preferred_lft must be 'forever'"},
		{name: "lifetime is infinity", raw: rawConfig{IP: "fd00::1", PreferredLft: "4294967295"}, reason: "parameter preferred_lft"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.raw)
			if tt.reason != "" {
				if ocf.StatusOf(err) != ocf.ErrConfigured || !strings.Contains(ocf.ReasonOf(err), tt.reason) {
					t.Fatalf("parseConfig(%+v) = %v (%v), want ErrConfigured with %q", tt.raw, err, ocf.StatusOf(err), tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%+v): %v", tt.raw, err)
			}
			if got.IP != tt.want.IP || got.Prefix != tt.want.Prefix || got.NIC != tt.want.NIC || got.Label != tt.want.Label ||
				got.Broadcast != tt.want.Broadcast || got.PreferredLft != tt.want.PreferredLft {
				t.Errorf("parseConfig(%+v) = %+v, want %+v", tt.raw, got, tt.want)
			}
		})
	}
}

func TestBroadcastFor(t *testing.T) {
	tests := []struct {
		prefix string
		b      Broadcast
		want   string // "" for none
	}{
		{"192.0.2.10/24", Broadcast{Mode: BroadcastSet}, "192.0.2.255"},
		{"192.0.2.10/24", Broadcast{Mode: BroadcastClear}, "192.0.2.0"},
		{"10.1.2.3/8", Broadcast{Mode: BroadcastSet}, "10.255.255.255"},
		{"10.1.2.3/1", Broadcast{Mode: BroadcastSet}, "127.255.255.255"},
		{"172.16.5.4/30", Broadcast{Mode: BroadcastSet}, "172.16.5.7"},
		{"172.16.5.4/31", Broadcast{Mode: BroadcastSet}, ""},
		{"172.16.5.4/32", Broadcast{Mode: BroadcastSet}, ""},
		{"192.0.2.10/24", Broadcast{Mode: BroadcastNone}, ""},
		{"192.0.2.10/24", Broadcast{Mode: BroadcastAddr, Addr: netip.MustParseAddr("192.0.2.127")}, "192.0.2.127"},
		{"2001:db8::1/64", Broadcast{Mode: BroadcastSet}, ""},
	}
	for _, tt := range tests {
		got, ok := broadcastFor(netip.MustParsePrefix(tt.prefix), tt.b)
		gotS := ""
		if ok {
			gotS = got.String()
		}
		if gotS != tt.want {
			t.Errorf("broadcastFor(%s, %+v) = %q, want %q", tt.prefix, tt.b, gotS, tt.want)
		}
	}
}

func TestDottedMask(t *testing.T) {
	for mask, want := range map[string]int{
		"255.255.255.255": 32, "255.255.255.254": 31, "255.255.255.0": 24, "255.255.128.0": 17,
		"255.0.0.0": 8, "128.0.0.0": 1,
	} {
		if got, err := dottedMask(mask); err != nil || got != want {
			t.Errorf("dottedMask(%s) = %d, %v; want %d", mask, got, err, want)
		}
	}
	for _, bad := range []string{"0.0.0.0", "255.255.0.255", "1.2.3", "255.255.255.256", "::"} {
		if got, err := dottedMask(bad); err == nil {
			t.Errorf("dottedMask(%s) = %d, want an error", bad, got)
		}
	}
}

func TestParseLifetime(t *testing.T) {
	for in, want := range map[string]Lifetime{"forever": Forever, "infinity": Forever, "0": 0, "3600": 3600, "4294967294": 4294967294} {
		if got, err := parseLifetime(in); err != nil || got != want {
			t.Errorf("parseLifetime(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1h", "4294967295", "99999999999"} {
		if _, err := parseLifetime(bad); err == nil {
			t.Errorf("parseLifetime(%q) succeeded, want an error", bad)
		}
	}
}

// TestParamChecks runs the declaration's per-parameter checks, which the
// runtime applies before validate-all sees the configuration.
func TestParamChecks(t *testing.T) {
	checks := map[string]func(string) error{}
	for _, p := range params() {
		if p.Check != nil {
			checks[p.Name] = p.Check
		}
		if p.Long == "" || p.Short == "" {
			t.Errorf("parameter %s lacks a description", p.Name)
		}
	}
	tests := []struct {
		param, value string
		ok           bool
	}{
		{pIP, "10.0.0.1", true}, {pIP, "fd00::1", true}, {pIP, "10.0.0", false}, {pIP, "", false},
		{pNetmask, "24", true}, {pNetmask, "128", true}, {pNetmask, "129", false}, {pNetmask, "0", false},
		{pNetmask, "255.255.255.0", true}, {pNetmask, "255.0.255.0", false},
		{pNIC, "eth0", true}, {pNIC, "eth0:1", true}, {pNIC, "eth0:", false}, {pNIC, "..", false},
		{pBroadcast, "+", true}, {pBroadcast, "10.0.0.255", true}, {pBroadcast, "fd00::ff", false},
		{pLabel, "web", true}, {pLabel, "a:b", false},
		{pPreferredLft, "forever", true}, {pPreferredLft, "x", false},
	}
	for _, tt := range tests {
		check, ok := checks[tt.param]
		if !ok {
			t.Fatalf("parameter %s has no check", tt.param)
		}
		if err := check(tt.value); (err == nil) != tt.ok {
			t.Errorf("check %s=%q: err = %v, want ok=%v", tt.param, tt.value, err, tt.ok)
		}
	}
}
