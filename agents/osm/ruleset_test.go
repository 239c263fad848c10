package osm

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

func ruleset(network, addr, oif string) Ruleset {
	return Ruleset{
		Table:        "goha_osm_sm",
		Network:      netip.MustParsePrefix(network),
		OutInterface: oif,
		Address:      netip.MustParseAddr(addr),
		Resource:     "sm",
	}
}

var (
	inet = nftables.TableFamilyINet
	ip4  = nftables.TableFamilyIPv4
	ip6  = nftables.TableFamilyIPv6
)

// TestStatements pins what the rule says for each kind of network, and
// that decoding the agent's own expressions says the same.
func TestStatements(t *testing.T) {
	for _, tc := range []struct {
		rs     Ruleset
		family nftables.TableFamily
		want   string
	}{
		{ruleset("10.20.0.0/16", "192.0.2.10", ""), inet, `meta nfproto ipv4|ip daddr 10.20.0.0/16|snat ip to 192.0.2.10`},
		{ruleset("10.20.0.0/20", "192.0.2.10", "eth0"), inet, `meta nfproto ipv4|ip daddr 10.20.0.0/20|oifname "eth0"|snat ip to 192.0.2.10`},
		{ruleset("10.20.30.40/32", "192.0.2.10", ""), inet, `meta nfproto ipv4|ip daddr 10.20.30.40/32|snat ip to 192.0.2.10`},
		{ruleset("10.20.30.40/31", "192.0.2.10", ""), ip4, `ip daddr 10.20.30.40/31|snat ip to 192.0.2.10`},
		{ruleset("128.0.0.0/1", "192.0.2.10", ""), inet, `meta nfproto ipv4|ip daddr 128.0.0.0/1|snat ip to 192.0.2.10`},
		{ruleset("0.0.0.0/0", "192.0.2.10", "bond0.12"), inet, `meta nfproto ipv4|oifname "bond0.12"|snat ip to 192.0.2.10`},
		{ruleset("0.0.0.0/0", "192.0.2.10", ""), ip4, `snat ip to 192.0.2.10`},
		{ruleset("fd00:1:2::/52", "fd01::1", ""), inet, `meta nfproto ipv6|ip6 daddr fd00:1:2::/52|snat ip6 to fd01::1`},
		{ruleset("fd00:1::/64", "fd01::1", "veth0"), ip6, `ip6 daddr fd00:1::/64|oifname "veth0"|snat ip6 to fd01::1`},
		{ruleset("2001:db8::1/128", "fd01::1", ""), inet, `meta nfproto ipv6|ip6 daddr 2001:db8::1/128|snat ip6 to fd01::1`},
	} {
		t.Run(tc.rs.Network.String()+"/"+familyName(tc.family), func(t *testing.T) {
			want := strings.Split(tc.want, "|")
			if got := tc.rs.Statements(tc.family); !slices.Equal(got, want) {
				t.Errorf("Statements = %q, want %q", got, want)
			}
			if got := Decode(tc.rs.Exprs(tc.family)); !slices.Equal(got, want) {
				t.Errorf("Decode(Exprs) = %q, want %q", got, want)
			}
			o := Observed{Family: tc.family, Chains: []ObservedChain{observedChain(tc.rs, tc.family)}}
			if d := tc.rs.Differences(o); len(d) != 0 {
				t.Errorf("the agent's own table differs: %q", d)
			}
		})
	}
}

// TestExprs pins the expressions for the two prefix shapes against what
// nft 1.0.6 compiles (nft --debug=netlink): a whole-byte prefix loads its
// bytes only, any other loads the address and masks it.
func TestExprs(t *testing.T) {
	got := ruleset("10.20.0.0/16", "192.0.2.10", "lo").Exprs(inet)
	want := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 20}},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte("lo\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")},
		&expr.Immediate{Register: 1, Data: []byte{192, 0, 2, 10}},
		&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegAddrMax: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("/16 exprs:\n got %#v\nwant %#v", got, want)
	}
	got = ruleset("fd00:1:2::/52", "fd01::1", "").Exprs(ip6)
	want = []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 16},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 16,
			Mask: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Xor: make([]byte, 16)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: netip.MustParseAddr("fd00:1:2::").AsSlice()},
		&expr.Immediate{Register: 1, Data: netip.MustParseAddr("fd01::1").AsSlice()},
		&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV6, RegAddrMin: 1, RegAddrMax: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("/52 exprs:\n got %#v\nwant %#v", got, want)
	}
}

func TestDecodeForeign(t *testing.T) {
	for _, tc := range []struct {
		name string
		es   []expr.Any
		want string
	}{
		{"counter and masquerade", []expr.Any{&expr.Counter{}, &expr.Masq{}}, "expression counter|expression masq"},
		{"dnat", []expr.Any{
			&expr.Immediate{Register: 1, Data: []byte{192, 0, 2, 10}},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1},
		}, "expression immediate|expression nat"},
		{"snat with ports", []expr.Any{
			&expr.Immediate{Register: 1, Data: []byte{192, 0, 2, 10}},
			&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2},
		}, "expression immediate|expression nat"},
		{"snat ipv6 family with an ipv4 address", []expr.Any{
			&expr.Immediate{Register: 1, Data: []byte{192, 0, 2, 10}},
			&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV6, RegAddrMin: 1},
		}, "expression immediate|expression nat"},
		{"snat without addr max", []expr.Any{
			&expr.Immediate{Register: 1, Data: []byte{192, 0, 2, 10}},
			&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1},
		}, "snat ip to 192.0.2.10"},
		{"saddr, not daddr", []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 0, 0, 1}},
		}, "expression payload|expression cmp"},
		{"not-equal comparison", []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 2},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{10, 20}},
		}, "expression payload|expression cmp"},
		{"mask with a hole", []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{0xff, 0, 0xff, 0}, Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 0, 1, 0}},
		}, "expression payload|expression bitwise|expression cmp"},
		{"iifname, not oifname", []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte("lo\x00")},
		}, "expression meta|expression cmp"},
		{"truncated rule", []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}}, "expression meta"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := Decode(tc.es), strings.Split(tc.want, "|"); !slices.Equal(got, want) {
				t.Errorf("Decode = %q, want %q", got, want)
			}
		})
	}
}

func TestMaskOnes(t *testing.T) {
	for _, tc := range []struct {
		mask       []byte
		ones       int
		contiguous bool
	}{
		{[]byte{0xff, 0xff, 0xf0, 0}, 20, true},
		{[]byte{0xff, 0xff, 0xff, 0xff}, 32, true},
		{[]byte{0x80, 0, 0, 0}, 1, true},
		{[]byte{0, 0, 0, 0}, 0, true},
		{[]byte{0xff, 0x0f, 0, 0}, 0, false},
		{[]byte{0xf0, 0, 0x01, 0}, 0, false},
		{[]byte{0xfe, 0xff, 0, 0}, 0, false},
	} {
		ones, ok := maskOnes(tc.mask)
		if ok != tc.contiguous || ok && ones != tc.ones {
			t.Errorf("maskOnes(% x) = %d, %v; want %d, %v", tc.mask, ones, ok, tc.ones, tc.contiguous)
		}
	}
}

// observedChain is the chain start writes, as the kernel lists it.
func observedChain(rs Ruleset, family nftables.TableFamily) ObservedChain {
	c := rs.Chain(rs.TableOf(family))
	return ObservedChain{
		Name: c.Name, Type: c.Type, Hook: c.Hooknum, Priority: c.Priority, Policy: c.Policy,
		Rules: []ObservedRule{{Exprs: rs.Exprs(family), Comment: rs.Comment()}},
	}
}

func TestDifferences(t *testing.T) {
	rs := ruleset("10.20.0.0/16", "192.0.2.10", "")
	other := ruleset("10.20.0.0/16", "192.0.2.99", "")
	widerNet := ruleset("10.0.0.0/8", "192.0.2.10", "")
	withOif := ruleset("10.20.0.0/16", "192.0.2.10", "eth1")
	prio := nftables.ChainPriority(0)
	hook := *nftables.ChainHookInput
	drop := nftables.ChainPolicyDrop
	for _, tc := range []struct {
		name  string
		edit  func(o *Observed)
		owned bool
		want  []string // substrings, one per difference, in order
	}{
		{"as written", func(o *Observed) {}, true, nil},
		{"another address", func(o *Observed) { o.Chains[0].Rules[0].Exprs = other.Exprs(inet) },
			true, []string{`lacks ["snat ip to 192.0.2.10"], has ["snat ip to 192.0.2.99"] instead`}},
		{"another network", func(o *Observed) { o.Chains[0].Rules[0].Exprs = widerNet.Exprs(inet) },
			true, []string{`lacks ["ip daddr 10.20.0.0/16"], has ["ip daddr 10.0.0.0/8"] instead`}},
		{"an interface match added", func(o *Observed) { o.Chains[0].Rules[0].Exprs = withOif.Exprs(inet) },
			true, []string{`has ["oifname \"eth1\""] instead`}},
		{"a counter added", func(o *Observed) {
			r := &o.Chains[0].Rules[0]
			r.Exprs = append([]expr.Any{&expr.Counter{}}, r.Exprs...)
		}, true, []string{`has ["expression counter"] instead`}},
		{"statements reordered", func(o *Observed) {
			es := o.Chains[0].Rules[0].Exprs
			o.Chains[0].Rules[0].Exprs = append(slices.Clone(es[2:4]), append(slices.Clone(es[:2]), es[4:]...)...)
		}, true, []string{`want "meta nfproto ipv4 ip daddr 10.20.0.0/16 snat ip to 192.0.2.10"`}},
		{"another resource's comment", func(o *Observed) { o.Chains[0].Rules[0].Comment = "goha:osm sm2" },
			true, []string{`comment "goha:osm sm2", want "goha:osm sm"`}},
		{"rule deleted", func(o *Observed) { o.Chains[0].Rules = nil }, true, []string{"has no rule"}},
		{"rule duplicated", func(o *Observed) { o.Chains[0].Rules = append(o.Chains[0].Rules, o.Chains[0].Rules[0]) },
			true, []string{"has 2 rules, want 1"}},
		{"priority changed", func(o *Observed) { o.Chains[0].Priority = &prio }, true, []string{"priority srcnat"}},
		{"hook changed", func(o *Observed) { o.Chains[0].Hook = &hook }, true, []string{"not hooked at postrouting"}},
		{"filter chain", func(o *Observed) { o.Chains[0].Type = nftables.ChainTypeFilter }, true, []string{`type "filter"`}},
		{"policy drop", func(o *Observed) { o.Chains[0].Policy = &drop }, true, []string{"policy drop"}},
		{"a foreign chain added", func(o *Observed) { o.Chains = append(o.Chains, ObservedChain{Name: "extra"}) },
			true, []string{`foreign chain "extra"`}},
		{"not ours", func(o *Observed) { o.Chains = []ObservedChain{{Name: "postrouting"}} },
			false, []string{`foreign chain "postrouting"`, `no chain "goha_osm_snat"`}},
		{"empty table", func(o *Observed) { o.Chains = nil }, false, []string{`no chain "goha_osm_snat"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Observed{Family: inet, Chains: []ObservedChain{observedChain(rs, inet)}}
			tc.edit(&o)
			if o.Owned() != tc.owned {
				t.Errorf("Owned = %v, want %v", o.Owned(), tc.owned)
			}
			got := rs.Differences(o)
			if len(got) != len(tc.want) {
				t.Fatalf("Differences = %q, want %d matching %q", got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("difference %d = %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestDifferencesFamily: the rule of an inet table does not pass for one
// of an ip table, which needs no protocol match.
func TestDifferencesFamily(t *testing.T) {
	rs := ruleset("10.20.0.0/16", "192.0.2.10", "")
	o := Observed{Family: ip4, Chains: []ObservedChain{observedChain(rs, ip4)}}
	if d := rs.Differences(o); len(d) != 0 {
		t.Fatalf("ip table as written differs: %q", d)
	}
	o.Chains[0].Rules[0].Exprs = rs.Exprs(inet)
	if d := rs.Differences(o); len(d) != 1 || !strings.Contains(d[0], `has ["meta nfproto ipv4"] instead`) {
		t.Fatalf("ip table with the inet rule: %q", d)
	}
}

func TestFamilies(t *testing.T) {
	if got := ruleset("10.0.0.0/8", "192.0.2.1", "").Families(); !slices.Equal(got, []nftables.TableFamily{inet, ip4}) {
		t.Errorf("IPv4 families = %v", got)
	}
	if got := ruleset("fd00::/8", "fd01::1", "").Families(); !slices.Equal(got, []nftables.TableFamily{inet, ip6}) {
		t.Errorf("IPv6 families = %v", got)
	}
}
