package sync

import (
	"net"
	"os"
)

// localHost returns whether a host is this machine: the Pacemaker node name
// or host name, or a name or address that is one of this machine's own
// non-loopback addresses. A loopback peer is never taken for this node: a
// cluster peer is never on loopback, and a local rsync daemon is a target
// like any other.
func localHost(node string) func(host string) bool {
	hostname, _ := os.Hostname()
	own := map[string]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() {
				own[ipn.IP.String()] = true
			}
		}
	}
	return func(host string) bool {
		if host == "" {
			return false
		}
		if host == node || host == hostname {
			return true
		}
		ips, err := net.LookupIP(host)
		if err != nil {
			return false
		}
		for _, ip := range ips {
			if own[ip.String()] {
				return true
			}
		}
		return false
	}
}
