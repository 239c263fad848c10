package osm

import (
	"bytes"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// chainName is the one chain of a resource's table. A table is this
// agent's only when it holds a chain of this name: stop never deletes, and
// start never replaces, a table of the configured name that lacks it.
const chainName = "goha_osm_snat"

// register is the nftables register the rule's expressions pass values in.
const register = 1

// Ruleset is the nftables state one resource owns: a table with a nat
// chain at postrouting and one rule that rewrites the source of packets
// to the farm network to the resource's address.
type Ruleset struct {
	Table        string
	Network      netip.Prefix // the farm network, masked
	OutInterface string       // "" matches any outgoing interface
	Address      netip.Addr   // the source packets leave with (the VIP)
	Resource     string       // written into the rule's comment
}

// Families are the table families the ruleset may live in, preferred
// first: inet, where one table serves both IP versions, then the family of
// the network, for kernels without nat in inet tables (before Linux 5.2).
func (rs Ruleset) Families() []nftables.TableFamily {
	return []nftables.TableFamily{nftables.TableFamilyINet, rs.addressFamily()}
}

func (rs Ruleset) addressFamily() nftables.TableFamily {
	if rs.Network.Addr().Is4() {
		return nftables.TableFamilyIPv4
	}
	return nftables.TableFamilyIPv6
}

// Comment is the rule's comment: it names the resource the rule belongs to.
func (rs Ruleset) Comment() string {
	c := "goha:osm " + rs.Resource
	if len(c) > 127 {
		c = c[:127]
	}
	return c
}

// TableOf returns the table of the ruleset in family.
func (rs Ruleset) TableOf(family nftables.TableFamily) *nftables.Table {
	return &nftables.Table{Name: rs.Table, Family: family}
}

// Chain returns the ruleset's chain in table t: type nat, hooked at
// postrouting with the source-nat priority (100), policy accept.
func (rs Ruleset) Chain(t *nftables.Table) *nftables.Chain {
	accept := nftables.ChainPolicyAccept
	return &nftables.Chain{
		Name:     chainName,
		Table:    t,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
		Policy:   &accept,
	}
}

// Rule returns the ruleset's rule in chain c.
func (rs Ruleset) Rule(c *nftables.Chain) *nftables.Rule {
	return &nftables.Rule{
		Table: c.Table,
		Chain: c,
		Exprs: rs.Exprs(c.Table.Family),
		// nft(8) stores comments with their terminating NUL.
		UserData: userdata.Append(nil, userdata.TypeComment, append([]byte(rs.Comment()), 0)),
	}
}

// Exprs are the rule's expressions in a table of family, the same ones
// nft(8) compiles `ip daddr NET [oifname IF] snat ip to ADDR` into.
func (rs Ruleset) Exprs(family nftables.TableFamily) []expr.Any {
	v4 := rs.Network.Addr().Is4()
	var es []expr.Any
	if family == nftables.TableFamilyINet {
		proto := byte(unix.NFPROTO_IPV6)
		if v4 {
			proto = unix.NFPROTO_IPV4
		}
		es = append(es,
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: register},
			&expr.Cmp{Op: expr.CmpOpEq, Register: register, Data: []byte{proto}})
	}
	if n := rs.Network.Bits(); n > 0 {
		offset := uint32(24) // daddr in the IPv6 header
		if v4 {
			offset = 16
		}
		// A whole-byte prefix loads just its bytes; any other loads the
		// whole address and masks it.
		network := rs.Network.Addr().AsSlice()
		size := len(network)
		if n%8 == 0 {
			size = n / 8
		}
		es = append(es, &expr.Payload{
			DestRegister: register, Base: expr.PayloadBaseNetworkHeader,
			Offset: offset, Len: uint32(size),
		})
		if n%8 != 0 {
			mask := make([]byte, size)
			for i := range mask {
				switch {
				case (i+1)*8 <= n:
					mask[i] = 0xff
				case i*8 < n:
					mask[i] = byte(0xff << (8 - n%8))
				}
			}
			es = append(es, &expr.Bitwise{
				SourceRegister: register, DestRegister: register, Len: uint32(size),
				Mask: mask, Xor: make([]byte, size),
			})
		}
		es = append(es, &expr.Cmp{Op: expr.CmpOpEq, Register: register, Data: network[:size]})
	}
	if rs.OutInterface != "" {
		name := make([]byte, unix.IFNAMSIZ)
		copy(name, rs.OutInterface)
		es = append(es,
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: register},
			&expr.Cmp{Op: expr.CmpOpEq, Register: register, Data: name})
	}
	natFamily := uint32(unix.NFPROTO_IPV6)
	if v4 {
		natFamily = unix.NFPROTO_IPV4
	}
	return append(es,
		&expr.Immediate{Register: register, Data: rs.Address.AsSlice()},
		&expr.NAT{Type: expr.NATTypeSourceNAT, Family: natFamily, RegAddrMin: register, RegAddrMax: register})
}

// Statements is what the rule says in family, in nft(8)'s words; Decode of
// the rule's expressions yields the same.
func (rs Ruleset) Statements(family nftables.TableFamily) []string {
	ip := ipWord(rs.Network.Addr())
	var st []string
	if family == nftables.TableFamilyINet {
		st = append(st, "meta nfproto ipv4")
		if ip == "ip6" {
			st[0] = "meta nfproto ipv6"
		}
	}
	if rs.Network.Bits() > 0 {
		st = append(st, ip+" daddr "+rs.Network.String())
	}
	if rs.OutInterface != "" {
		st = append(st, fmt.Sprintf("oifname %q", rs.OutInterface))
	}
	return append(st, "snat "+ipWord(rs.Address)+" to "+rs.Address.String())
}

func ipWord(a netip.Addr) string {
	if a.Is4() {
		return "ip"
	}
	return "ip6"
}

// Decode says in nft(8)'s words what a rule's expressions do, as far as
// they are the kinds this agent writes; any other expression is named by
// its kind, so that a comparison shows it.
func Decode(es []expr.Any) []string {
	var st []string
	for i := 0; i < len(es); {
		s, n := decodeOne(es[i:])
		if n == 0 {
			s, n = "expression "+kindOf(es[i]), 1
		}
		st = append(st, s)
		i += n
	}
	return st
}

// decodeOne recognises the statement es begins with and how many
// expressions it spans; 0 when it is none the agent writes.
func decodeOne(es []expr.Any) (string, int) {
	switch e := es[0].(type) {
	case *expr.Meta:
		cmp, ok := eqOn(es, 1, e.Register)
		if !ok || e.SourceRegister {
			return "", 0
		}
		switch {
		case e.Key == expr.MetaKeyNFPROTO && bytes.Equal(cmp.Data, []byte{unix.NFPROTO_IPV4}):
			return "meta nfproto ipv4", 2
		case e.Key == expr.MetaKeyNFPROTO && bytes.Equal(cmp.Data, []byte{unix.NFPROTO_IPV6}):
			return "meta nfproto ipv6", 2
		case e.Key == expr.MetaKeyOIFNAME:
			return fmt.Sprintf("oifname %q", string(bytes.TrimRight(cmp.Data, "\x00"))), 2
		}
	case *expr.Payload:
		return decodeDaddr(es)
	case *expr.Immediate:
		if len(es) < 2 {
			return "", 0
		}
		nat, ok := es[1].(*expr.NAT)
		if !ok || nat.Type != expr.NATTypeSourceNAT || nat.RegAddrMin != e.Register ||
			(nat.RegAddrMax != 0 && nat.RegAddrMax != e.Register) || nat.RegProtoMin != 0 ||
			nat.Random || nat.FullyRandom || nat.Persistent || nat.Prefix || nat.Specified {
			return "", 0
		}
		addr, ok := netip.AddrFromSlice(e.Data)
		if !ok {
			return "", 0
		}
		switch {
		case nat.Family == unix.NFPROTO_IPV4 && addr.Is4():
			return "snat ip to " + addr.String(), 2
		case nat.Family == unix.NFPROTO_IPV6 && addr.Is6():
			return "snat ip6 to " + addr.String(), 2
		}
	}
	return "", 0
}

// decodeDaddr recognises a match of the destination address against a
// prefix: a load of its leading bytes, an optional mask, and a comparison.
func decodeDaddr(es []expr.Any) (string, int) {
	p := es[0].(*expr.Payload)
	var ip string
	var size int
	switch {
	case p.Base == expr.PayloadBaseNetworkHeader && p.Offset == 16 && p.Len >= 1 && p.Len <= 4:
		ip, size = "ip", 4
	case p.Base == expr.PayloadBaseNetworkHeader && p.Offset == 24 && p.Len >= 1 && p.Len <= 16:
		ip, size = "ip6", 16
	default:
		return "", 0
	}
	if p.OperationType != expr.PayloadLoad {
		return "", 0
	}
	n, prefixBits := 1, int(p.Len)*8
	if b, ok := next[*expr.Bitwise](es, 1); ok {
		ones, contiguous := maskOnes(b.Mask)
		if b.SourceRegister != p.DestRegister || b.DestRegister != p.DestRegister || b.Len != p.Len ||
			len(b.Mask) != int(p.Len) || !contiguous || bytes.Count(b.Xor, []byte{0}) != len(b.Xor) {
			return "", 0
		}
		n, prefixBits = 2, ones
	}
	cmp, ok := eqOn(es, n, p.DestRegister)
	if !ok || len(cmp.Data) != int(p.Len) {
		return "", 0
	}
	full := make([]byte, size)
	copy(full, cmp.Data)
	addr, _ := netip.AddrFromSlice(full)
	return ip + " daddr " + netip.PrefixFrom(addr, prefixBits).String(), n + 1
}

// eqOn returns es[i] when it is an equality comparison of register reg.
func eqOn(es []expr.Any, i int, reg uint32) (*expr.Cmp, bool) {
	c, ok := next[*expr.Cmp](es, i)
	if !ok || c.Op != expr.CmpOpEq || c.Register != reg {
		return nil, false
	}
	return c, true
}

func next[T expr.Any](es []expr.Any, i int) (T, bool) {
	var zero T
	if i >= len(es) {
		return zero, false
	}
	e, ok := es[i].(T)
	return e, ok
}

// maskOnes counts the leading one bits of a mask and reports whether no
// one bit follows a zero bit.
func maskOnes(mask []byte) (int, bool) {
	ones, ended := 0, false
	for _, b := range mask {
		lead := bits.LeadingZeros8(^b)
		if ended && b != 0 || lead != 8 && b<<lead != 0 {
			return 0, false
		}
		ones += lead
		ended = ended || lead < 8
	}
	return ones, true
}

func kindOf(e expr.Any) string {
	return strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", e), "*expr."))
}

// Observed is a table of the resource's name as the kernel holds it.
type Observed struct {
	Family nftables.TableFamily
	Chains []ObservedChain
}

// ObservedChain is one chain of an observed table with its rules.
type ObservedChain struct {
	Name     string
	Type     nftables.ChainType
	Hook     *nftables.ChainHook
	Priority *nftables.ChainPriority
	Policy   *nftables.ChainPolicy
	Rules    []ObservedRule
}

// ObservedRule is one rule: its expressions and its comment.
type ObservedRule struct {
	Exprs   []expr.Any
	Comment string
}

// Owned reports whether the table is this agent's: it holds the chain the
// agent names its chain.
func (o Observed) Owned() bool {
	return slices.ContainsFunc(o.Chains, func(c ObservedChain) bool { return c.Name == chainName })
}

// Differences lists how an observed table differs from the ruleset, each
// as a phrase naming what is wrong; none when it is exactly as start
// leaves it.
func (rs Ruleset) Differences(o Observed) []string {
	var diffs []string
	for _, c := range o.Chains {
		if c.Name != chainName {
			diffs = append(diffs, fmt.Sprintf("it holds a foreign chain %q", c.Name))
			continue
		}
		diffs = append(diffs, rs.chainDifferences(o.Family, c)...)
	}
	if !o.Owned() {
		diffs = append(diffs, fmt.Sprintf("it has no chain %q", chainName))
	}
	return diffs
}

func (rs Ruleset) chainDifferences(family nftables.TableFamily, c ObservedChain) []string {
	var diffs []string
	if c.Type != nftables.ChainTypeNAT {
		diffs = append(diffs, fmt.Sprintf("chain %s has type %q, want nat", chainName, c.Type))
	}
	if c.Hook == nil || *c.Hook != *nftables.ChainHookPostrouting {
		diffs = append(diffs, fmt.Sprintf("chain %s is not hooked at postrouting", chainName))
	}
	if c.Priority == nil || *c.Priority != *nftables.ChainPriorityNATSource {
		diffs = append(diffs, fmt.Sprintf("chain %s does not have priority srcnat (100)", chainName))
	}
	if c.Policy != nil && *c.Policy != nftables.ChainPolicyAccept {
		diffs = append(diffs, fmt.Sprintf("chain %s has policy drop", chainName))
	}
	want := rs.Statements(family)
	switch len(c.Rules) {
	case 0:
		return append(diffs, fmt.Sprintf("chain %s has no rule (want %q)", chainName, strings.Join(want, " ")))
	case 1:
	default:
		diffs = append(diffs, fmt.Sprintf("chain %s has %d rules, want 1", chainName, len(c.Rules)))
	}
	for i, r := range c.Rules {
		got := Decode(r.Exprs)
		if slices.Equal(got, want) {
			if r.Comment != rs.Comment() {
				diffs = append(diffs, fmt.Sprintf("rule %d has comment %q, want %q", i+1, r.Comment, rs.Comment()))
			}
			continue
		}
		missing, extra := subtract(want, got), subtract(got, want)
		d := fmt.Sprintf("rule %d is %q", i+1, strings.Join(got, " "))
		if len(missing) > 0 {
			d += fmt.Sprintf(", lacks %q", missing)
		}
		if len(extra) > 0 {
			d += fmt.Sprintf(", has %q instead", extra)
		}
		if len(missing) == 0 && len(extra) == 0 {
			d += fmt.Sprintf(", want %q", strings.Join(want, " "))
		}
		diffs = append(diffs, d)
	}
	return diffs
}

// subtract returns the elements of a that are not in b.
func subtract(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// familyName is a table family as nft(8) names it.
func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	}
	return fmt.Sprintf("family %d", f)
}
