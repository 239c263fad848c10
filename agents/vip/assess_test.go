package vip

import (
	"net/netip"
	"testing"
)

func TestAssess(t *testing.T) {
	target := Target{IP: netip.MustParseAddr("192.0.2.10"), Prefix: 24, NIC: "eth0", Label: "eth0:web"}
	ours := Addr{Net: netip.MustParsePrefix("192.0.2.10/24"), Label: "eth0:web"}
	static := Addr{Net: netip.MustParsePrefix("192.0.2.1/24"), Label: "eth0"}
	up := func(addrs ...Addr) Observed {
		return Observed{LinkFound: true, AdminUp: true, Carrier: true, Addrs: addrs}
	}
	with := func(o Observed, f func(*Observed)) Observed { f(&o); return o }
	flag := func(a Addr, f func(*Addr)) Addr { f(&a); return a }

	tests := []struct {
		name    string
		o       Observed
		want    State
		warn    bool
		running bool
	}{
		{"up", up(static, ours), Up, false, true},
		{"absent", up(static), Absent, false, false},
		{"no addresses", up(), Absent, false, false},
		{"no link", Observed{}, NoLink, false, false},
		{"admin down", with(up(ours), func(o *Observed) { o.AdminUp, o.Carrier = false, false }), LinkDown, false, false},
		{"no carrier", with(up(ours), func(o *Observed) { o.Carrier = false }), LinkDown, false, false},
		{"other prefix", up(Addr{Net: netip.MustParsePrefix("192.0.2.10/16")}), OtherPrefix, false, false},
		{"ours among other prefixes", up(Addr{Net: netip.MustParsePrefix("192.0.2.10/16")}, ours), Up, false, true},
		{"tentative", up(flag(ours, func(a *Addr) { a.Tentative = true })), Tentative, false, true},
		{"dad failed", up(flag(ours, func(a *Addr) { a.DADFailed = true; a.Tentative = true })), Duplicate, false, false},
		{"dad failed beats link down", with(up(flag(ours, func(a *Addr) { a.DADFailed = true })), func(o *Observed) { o.Carrier = false }), Duplicate, false, false},
		{"label differs warns only", up(flag(ours, func(a *Addr) { a.Label = "eth0" })), Up, true, true},
		{"elsewhere only", with(up(static), func(o *Observed) { o.Elsewhere = []string{"eth1"} }), Absent, true, false},
		{"elsewhere and here", with(up(ours), func(o *Observed) { o.Elsewhere = []string{"eth1"} }), Up, true, true},
	}
	for _, tt := range tests {
		v := assess(target, tt.o)
		if v.State != tt.want || (v.Warn != "") != tt.warn || v.State.Running() != tt.running || v.Why == "" {
			t.Errorf("%s: assess = %+v (running %v), want %v warn=%v running=%v", tt.name, v, v.State.Running(), tt.want, tt.warn, tt.running)
		}
	}
}
