package galera

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/goha-ha/goha/internal/mariadb"
)

// Member is one Galera node of wsrep_cluster_address.
type Member struct {
	Node string // Pacemaker node name
	Host string // host as the address names it
	Port int    // Galera replication port (4567 unless the address says)
}

// DefaultGaleraPort is the port gcomm listens on unless told otherwise.
const DefaultGaleraPort = 4567

// Members maps the hosts of a gcomm:// address to Pacemaker nodes, through
// the host map where it names the host, else the host is the node name.
// Names are compared whole, never as substrings. Sorted by node name.
func Members(address string, m mariadb.HostMap) ([]Member, error) {
	hosts, err := ClusterHosts(address)
	if err != nil {
		return nil, err
	}
	byHost := map[string]string{}
	for node, host := range m {
		byHost[host] = node
	}
	rest, _ := strings.CutPrefix(address, "gcomm://")
	rest, _, _ = strings.Cut(rest, "?")
	ports := map[string]int{}
	for _, h := range strings.Split(rest, ",") {
		h = strings.TrimSpace(h)
		host, _ := stripPort(h)
		ports[host] = portOf(h)
	}
	out := make([]Member, 0, len(hosts))
	for _, h := range hosts {
		node := h
		if n, ok := byHost[h]; ok {
			node = n
		}
		out = append(out, Member{Node: node, Host: h, Port: ports[h]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

// portOf is the :port of host:port or [v6]:port, else DefaultGaleraPort.
func portOf(h string) int {
	var tail string
	if strings.HasPrefix(h, "[") {
		_, tail, _ = strings.Cut(h, "]")
		tail = strings.TrimPrefix(tail, ":")
	} else if strings.Count(h, ":") == 1 {
		_, tail, _ = strings.Cut(h, ":")
	}
	if n, err := strconv.Atoi(tail); err == nil && n > 0 && n < 65536 {
		return n
	}
	return DefaultGaleraPort
}

// ClusterHosts returns the hosts of a gcomm:// address, without ports and
// options ("gcomm://db1:4567,db2?gmcast.segment=1" gives db1, db2).
func ClusterHosts(address string) ([]string, error) {
	rest, ok := strings.CutPrefix(address, "gcomm://")
	if !ok {
		return nil, fmt.Errorf("wsrep_cluster_address %q: want gcomm://host[,host...]", address)
	}
	rest, _, _ = strings.Cut(rest, "?")
	var hosts []string
	seen := map[string]bool{}
	for _, h := range strings.Split(rest, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		host, err := stripPort(h)
		if err != nil {
			return nil, fmt.Errorf("wsrep_cluster_address %q: %w", address, err)
		}
		if !seen[host] {
			seen[host] = true
			hosts = append(hosts, host)
		}
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("wsrep_cluster_address %q names no host", address)
	}
	return hosts, nil
}

// stripPort drops a :port from host:port or [v6]:port.
func stripPort(h string) (string, error) {
	if strings.HasPrefix(h, "[") {
		end := strings.Index(h, "]")
		if end < 0 {
			return "", fmt.Errorf("unclosed [ in %q", h)
		}
		return h[1:end], nil
	}
	if strings.Count(h, ":") == 1 {
		h, _, _ = strings.Cut(h, ":")
	}
	if h == "" {
		return "", fmt.Errorf("empty host")
	}
	return h, nil
}
