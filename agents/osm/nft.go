package osm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// firewall is the kernel's nftables, as far as the agent uses it: tables
// of one name, never any other.
type firewall interface {
	// Observe returns the tables called name in each of families that has
	// one, with their chains and rules.
	Observe(name string, families []nftables.TableFamily) ([]Observed, error)
	// Replace writes rs as a table of family in one batch that creates the
	// table, deletes it with whatever it holds, and writes it anew; the
	// tables of the same name in the families of drop go in the same batch.
	Replace(rs Ruleset, family nftables.TableFamily, drop []nftables.TableFamily) error
	// Delete deletes the tables called name in families, in one batch.
	Delete(name string, families []nftables.TableFamily) error
}

// kernel is the firewall of the network namespace the agent runs in,
// spoken to over netlink.
type kernel struct{}

func (kernel) Observe(name string, families []nftables.TableFamily) ([]Observed, error) {
	conn, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink socket: %w", err)
	}
	var tables []Observed
	for _, family := range families {
		t, err := conn.ListTableOfFamily(name, family)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("look up table %s %s: %w", familyName(family), name, err)
		}
		chains, err := conn.ListChainsOfTableFamily(family)
		if err != nil {
			return nil, fmt.Errorf("list chains of family %s: %w", familyName(family), err)
		}
		o := Observed{Family: family}
		for _, c := range chains {
			if c.Table == nil || c.Table.Name != name {
				continue
			}
			rules, err := conn.GetRules(t, c)
			if err != nil {
				return nil, fmt.Errorf("list rules of chain %s in table %s %s: %w", c.Name, familyName(family), name, err)
			}
			oc := ObservedChain{Name: c.Name, Type: c.Type, Hook: c.Hooknum, Priority: c.Priority, Policy: c.Policy}
			for _, r := range rules {
				oc.Rules = append(oc.Rules, ObservedRule{
					Exprs:   r.Exprs,
					Comment: strings.TrimSuffix(string(userdata.Get(r.UserData, userdata.TypeComment)), "\x00"),
				})
			}
			o.Chains = append(o.Chains, oc)
		}
		tables = append(tables, o)
	}
	return tables, nil
}

func (kernel) Replace(rs Ruleset, family nftables.TableFamily, drop []nftables.TableFamily) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables netlink socket: %w", err)
	}
	for _, f := range drop {
		conn.DelTable(rs.TableOf(f))
	}
	t := rs.TableOf(family)
	conn.AddTable(t) // so that the deletion below finds it when it is new
	conn.DelTable(t)
	conn.AddTable(t)
	conn.AddRule(rs.Rule(conn.AddChain(rs.Chain(t))))
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("write table %s %s: %w", familyName(family), rs.Table, err)
	}
	return nil
}

func (kernel) Delete(name string, families []nftables.TableFamily) error {
	if len(families) == 0 {
		return nil
	}
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables netlink socket: %w", err)
	}
	for _, f := range families {
		conn.DelTable(&nftables.Table{Name: name, Family: f})
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("delete table %s: %w", name, err)
	}
	return nil
}

// unsupported reports whether err is the kernel refusing a table family or
// chain type it lacks, which makes start fall back to another family.
func unsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EAFNOSUPPORT)
}
