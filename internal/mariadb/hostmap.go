package mariadb

import (
	"fmt"
	"strings"
)

// HostMap maps Pacemaker node names to the hosts the servers know each other
// by, for clusters whose two names differ (cluster_host_map, host_map).
type HostMap map[string]string

// ParseHostMap reads "node1:host1;node2:host2" (spaces and a trailing ;
// are allowed).
func ParseHostMap(s string) (HostMap, error) {
	m := HostMap{}
	for _, pair := range strings.Split(s, ";") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		node, host, ok := strings.Cut(pair, ":")
		node, host = strings.TrimSpace(node), strings.TrimSpace(host)
		if !ok || node == "" || host == "" {
			return nil, fmt.Errorf("host map entry %q: want node:host", pair)
		}
		if _, dup := m[node]; dup {
			return nil, fmt.Errorf("host map names node %s twice", node)
		}
		m[node] = host
	}
	return m, nil
}

// Host is the address node's server has: its mapping, else the node name.
func (m HostMap) Host(node string) string {
	if h, ok := m[node]; ok {
		return h
	}
	return node
}
