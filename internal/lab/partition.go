package lab

import (
	"fmt"
	"net/netip"
	"strings"
)

// nftTable is the table the lab owns in each member's network namespace.
const nftTable = "goha_lab"

// PartitionPlan computes, for each member, the addresses it must not
// exchange packets with. groups name members; members named in no group
// form one more group. A member may appear in one group only.
func PartitionPlan(members []Member, groups [][]string) (map[string][]netip.Addr, error) {
	group := map[string]int{}
	known := map[string]bool{}
	for _, m := range members {
		known[m.Name] = true
	}
	for gi, g := range groups {
		for _, name := range g {
			if !known[name] {
				return nil, fmt.Errorf("partition: no node or client %q", name)
			}
			if prev, dup := group[name]; dup && prev != gi+1 {
				return nil, fmt.Errorf("partition: %s is in two groups", name)
			}
			group[name] = gi + 1
		}
	}
	// Unnamed members are group 0.
	blocked := map[string][]netip.Addr{}
	for _, a := range members {
		for _, b := range members {
			if a.Name != b.Name && group[a.Name] != group[b.Name] {
				blocked[a.Name] = append(blocked[a.Name], b.Addr)
			}
		}
	}
	return blocked, nil
}

// NftRules is the nft script that makes a namespace drop traffic from and
// to the blocked addresses; with none it just removes the lab's table. The
// add-delete-add sequence is one atomic transaction that works whether or
// not the table exists.
func NftRules(blocked []netip.Addr) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\n", nftTable, nftTable)
	if len(blocked) == 0 {
		return b.String()
	}
	set := make([]string, len(blocked))
	for i, a := range blocked {
		set[i] = a.String()
	}
	list := strings.Join(set, ", ")
	fmt.Fprintf(&b, "table inet %s {\n", nftTable)
	fmt.Fprintf(&b, "\tchain input {\n\t\ttype filter hook input priority -10; policy accept;\n")
	fmt.Fprintf(&b, "\t\tip saddr { %s } drop\n\t}\n", list)
	fmt.Fprintf(&b, "\tchain output {\n\t\ttype filter hook output priority -10; policy accept;\n")
	fmt.Fprintf(&b, "\t\tip daddr { %s } drop\n\t}\n", list)
	fmt.Fprintf(&b, "}\n")
	return b.String()
}
