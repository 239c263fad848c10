package osm

import (
	"slices"
	"testing"
)

// FuzzRuleRoundTrip: for any farm network and address the parameter
// checks accept, in either family, decoding the expressions start writes
// says exactly what the monitor expects, so a fresh table never differs.
func FuzzRuleRoundTrip(f *testing.F) {
	for _, seed := range [][3]string{
		{"10.20.0.0/16", "192.0.2.10", ""},
		{"10.20.0.0/20", "192.0.2.10", "eth0"},
		{"0.0.0.0/0", "192.0.2.10", "bond0.100"},
		{"255.255.255.255/32", "10.0.0.1", ""},
		{"fd00:1:2::/52", "fd01::1", "veth0"},
		{"2001:db8::/127", "2001:db8::1", ""},
		{"10.20.0.1/16", "192.0.2.10", ""},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, network, address, oif string) {
		p, err := parseNetwork(network)
		if err != nil {
			return
		}
		a, err := parseAddress(address)
		if err != nil || a.Is4() != p.Addr().Is4() || checkInterface(oif) != nil {
			return
		}
		rs := Ruleset{Table: "t", Network: p, Address: a, OutInterface: oif, Resource: "r"}
		for _, family := range rs.Families() {
			if got, want := Decode(rs.Exprs(family)), rs.Statements(family); !slices.Equal(got, want) {
				t.Fatalf("%s %s %q in %s: Decode = %q, Statements = %q", network, address, oif, familyName(family), got, want)
			}
		}
	})
}
