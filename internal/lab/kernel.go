package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// forgetKernelState clears from a powered-off node's network namespace
// what a real power cut clears with the kernel: addresses other than the
// node's own (a VIP it held) and nftables tables other than the lab's
// partition table (an agent's SNAT rule, say). The namespace outlives the
// node's processes, so without this a rebooted node would come back still
// holding them. Sysctls stay, as a machine's sysctl.d applies them again
// at boot.
func forgetKernelState(ns string, own netip.Addr) error {
	if _, err := os.Stat(netnsPath(ns)); errors.Is(err, os.ErrNotExist) {
		return nil // nothing of the node's network is left to clear
	}
	var errs []error
	h, err := nsHandle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	if l, err := h.LinkByName("eth0"); err != nil {
		errs = append(errs, fmt.Errorf("find eth0 in %s: %w", ns, err))
	} else if addrs, err := h.AddrList(l, netlink.FAMILY_ALL); err != nil {
		errs = append(errs, fmt.Errorf("addresses of eth0 in %s: %w", ns, err))
	} else {
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok || ip.Unmap() == own || ip.IsLinkLocalUnicast() {
				continue
			}
			if err := h.AddrDel(l, &a); err != nil {
				errs = append(errs, fmt.Errorf("remove %s from eth0 in %s: %w", ip, ns, err))
			}
		}
	}
	if err := dropForeignTables(ns); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// dropForeignTables deletes every nftables table in ns but the lab's own.
func dropForeignTables(ns string) error {
	nsh, err := netns.GetFromPath(netnsPath(ns))
	if err != nil {
		return fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer nsh.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(nsh)))
	if err != nil {
		return fmt.Errorf("nftables in %s: %w", ns, err)
	}
	tables, err := c.ListTables()
	if err != nil {
		return fmt.Errorf("list nftables tables in %s: %w", ns, err)
	}
	n := 0
	for _, t := range tables {
		if t.Name == nftTable {
			continue
		}
		c.DelTable(t)
		n++
	}
	if n == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("delete nftables tables in %s: %w", ns, err)
	}
	return nil
}
