package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Link is what the actions need to know about a network interface.
type Link struct {
	Name    string
	Index   int
	MAC     net.HardwareAddr // nil when the link has no Ethernet address
	NoARP   bool             // IFF_NOARP: the link does not resolve neighbours
	AdminUp bool             // IFF_UP
	Carrier bool             // IFF_RUNNING
}

// errNoLink is returned for an interface that does not exist.
var errNoLink = errors.New("no such interface")

// network is the kernel's side of the agent: links, addresses and routes.
type network interface {
	Routes(family int) ([]Route, error)
	Link(name string) (Link, error) // errNoLink when missing
	Observe(t Target) (Observed, error)
	AddAddr(t Target, lft Lifetime) error
	DelAddr(t Target) error
	SetUp(nic string) error
}

// kernel implements network over rtnetlink: no ip(8), no forked process.
type kernel struct{}

// dumpRetries bounds the retries of a netlink dump interrupted by a
// concurrent change (NLM_F_DUMP_INTR).
const dumpRetries = 5

// retryDump reruns a netlink dump until it is consistent.
func retryDump[T any](dump func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpRetries {
		v, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}

func familyOf(ip netip.Addr) int {
	if ip.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// Routes lists the main table's routes of family, with interface names.
func (kernel) Routes(family int) ([]Route, error) {
	nl, err := retryDump(func() ([]netlink.Route, error) {
		return netlink.RouteList(nil, family)
	})
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	names, err := linkNames()
	if err != nil {
		return nil, err
	}
	routes := make([]Route, 0, len(nl))
	for _, r := range nl {
		if r.Dst == nil {
			continue // default route
		}
		dst, ok := prefixOf(*r.Dst)
		if !ok {
			continue
		}
		routes = append(routes, Route{
			Dst: dst, NIC: names[r.LinkIndex], Metric: r.Priority,
			LinkScope: r.Scope == netlink.SCOPE_LINK, Unicast: r.Type == unix.RTN_UNICAST,
		})
	}
	return routes, nil
}

func linkNames() (map[int]string, error) {
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	return names, nil
}

func prefixOf(n net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	if len(n.Mask) == net.IPv4len {
		a = a.Unmap()
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a, bits), true
}

func (kernel) Link(name string) (Link, error) {
	l, err := linkByName(name)
	if err != nil {
		return Link{}, err
	}
	return linkOf(l), nil
}

// linkByName looks an interface up; errNoLink when it does not exist.
func linkByName(name string) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) || errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("interface %s: %w", name, errNoLink)
		}
		return nil, fmt.Errorf("look up interface %s: %w", name, err)
	}
	return l, nil
}

func linkOf(l netlink.Link) Link {
	a := l.Attrs()
	out := Link{
		Name: a.Name, Index: a.Index,
		NoARP:   a.RawFlags&unix.IFF_NOARP != 0,
		AdminUp: a.RawFlags&unix.IFF_UP != 0,
		Carrier: a.RawFlags&unix.IFF_RUNNING != 0,
	}
	if len(a.HardwareAddr) == 6 {
		out.MAC = a.HardwareAddr
	}
	return out
}

// Observe reads the target's interface and its addresses, and which other
// interfaces hold the target's IP.
func (k kernel) Observe(t Target) (Observed, error) {
	var o Observed
	all, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, familyOf(t.IP)) })
	if err != nil {
		return o, fmt.Errorf("list addresses: %w", err)
	}
	link, err := k.Link(t.NIC)
	switch {
	case errors.Is(err, errNoLink):
	case err != nil:
		return o, err
	default:
		o.LinkFound, o.AdminUp, o.Carrier = true, link.AdminUp, link.Carrier
	}
	var names map[int]string
	for _, a := range all {
		p, ok := prefixOf(*a.IPNet)
		if !ok {
			continue
		}
		if o.LinkFound && a.LinkIndex == link.Index {
			o.Addrs = append(o.Addrs, Addr{
				Net: p, Label: a.Label,
				Tentative: a.Flags&unix.IFA_F_TENTATIVE != 0,
				DADFailed: a.Flags&unix.IFA_F_DADFAILED != 0,
			})
			continue
		}
		if p.Addr() == t.IP {
			if names == nil {
				if names, err = linkNames(); err != nil {
					return o, err
				}
			}
			o.Elsewhere = append(o.Elsewhere, names[a.LinkIndex])
		}
	}
	return o, nil
}

func (k kernel) nlAddr(t Target) (netlink.Link, *netlink.Addr, error) {
	l, err := linkByName(t.NIC)
	if err != nil {
		return nil, nil, err
	}
	a := &netlink.Addr{
		IPNet: &net.IPNet{IP: t.IP.AsSlice(), Mask: net.CIDRMask(t.Prefix, t.IP.BitLen())},
		Label: t.Label,
	}
	if t.IP.Is4() {
		a.Broadcast = net.IPv4zero // none, unless set below
		if t.Broadcast.IsValid() {
			a.Broadcast = t.Broadcast.AsSlice()
		}
	}
	return l, a, nil
}

// AddAddr adds the target's address; for IPv6 with the preferred lifetime.
func (k kernel) AddAddr(t Target, lft Lifetime) error {
	l, a, err := k.nlAddr(t)
	if err != nil {
		return err
	}
	if t.IP.Is6() && lft != Forever {
		a.PreferedLft, a.ValidLft = int(lft), int(Forever)
	}
	if err := netlink.AddrAdd(l, a); err != nil {
		return fmt.Errorf("add %s to %s: %w", t.Net(), t.NIC, err)
	}
	return nil
}

// DelAddr removes exactly the target's address (IP and prefix length).
func (k kernel) DelAddr(t Target) error {
	l, a, err := k.nlAddr(t)
	if err != nil {
		return err
	}
	a.Label = "" // the kernel would match the label too: remove ours whatever it is
	if err := netlink.AddrDel(l, a); err != nil {
		return fmt.Errorf("remove %s from %s: %w", t.Net(), t.NIC, err)
	}
	return nil
}

// SetUp enables the interface, as IPaddr2 does on start.
func (kernel) SetUp(nic string) error {
	l, err := linkByName(nic)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", nic, err)
	}
	return nil
}
