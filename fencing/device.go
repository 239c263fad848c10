// Package fencing is goha's knowledge of fence devices: how a device of the
// spec becomes stonith instance attributes (pcmk_host_list, pcmk_host_map,
// delays) and back, fence agents' own meta-data and the checks against it,
// fencing topology, and the safety lint that refuses clusters which cannot
// fence their nodes.
package fencing

import (
	"sort"
	"strings"

	"github.com/goha-ha/goha/cib/spec"
)

// Pacemaker's names of the device attributes the spec has fields for.
const (
	HostList  = "pcmk_host_list"
	HostMap   = "pcmk_host_map"
	DelayMax  = "pcmk_delay_max"
	DelayBase = "pcmk_delay_base"
)

// Params is the instance attributes of d as Pacemaker wants them: the
// host and delay fields first, then the agent's own options.
func Params(d spec.FenceDevice) spec.NVList {
	var out spec.NVList
	if len(d.Hosts) > 0 {
		out = append(out, spec.NV{Name: HostList, Value: strings.Join(d.Hosts, " ")})
	}
	if len(d.HostMap) > 0 {
		parts := make([]string, len(d.HostMap))
		for i, nv := range d.HostMap {
			parts[i] = nv.Name + ":" + nv.Value
		}
		out = append(out, spec.NV{Name: HostMap, Value: strings.Join(parts, ";")})
	}
	if d.DelayBase != "" {
		out = append(out, spec.NV{Name: DelayBase, Value: d.DelayBase})
	}
	if d.DelayMax != "" {
		out = append(out, spec.NV{Name: DelayMax, Value: d.DelayMax})
	}
	return append(out, d.Params...)
}

// FromParams is the inverse of Params: it moves the host and delay
// attributes of a stonith resource into their fields of d.
func FromParams(d *spec.FenceDevice, attrs spec.NVList) {
	for _, nv := range attrs {
		switch nv.Name {
		case HostList:
			d.Hosts = splitList(nv.Value)
		case HostMap:
			d.HostMap = parseHostMap(nv.Value)
		case DelayMax:
			d.DelayMax = nv.Value
		case DelayBase:
			d.DelayBase = nv.Value
		default:
			d.Params = append(d.Params, nv)
		}
	}
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == ';' || r == '\t' })
}

// parseHostMap reads "n1:plug1;n2:plug2" (also with spaces or commas
// between entries, and = for :), as Pacemaker does.
func parseHostMap(s string) spec.NVList {
	var out spec.NVList
	for _, entry := range splitList(s) {
		name, value, ok := strings.Cut(entry, ":")
		if !ok {
			name, value, _ = strings.Cut(entry, "=")
		}
		out = append(out, spec.NV{Name: name, Value: value})
	}
	return out
}

// Targets is the nodes d is declared to fence, sorted, and whether it
// declares any (a device without a host list or map is asked at run time
// through its list action).
func Targets(d spec.FenceDevice) (nodes []string, declared bool) {
	seen := map[string]bool{}
	for _, h := range d.Hosts {
		seen[h] = true
	}
	for _, nv := range d.HostMap {
		seen[nv.Name] = true
	}
	for _, nv := range d.Params {
		switch nv.Name {
		case HostList:
			for _, h := range splitList(nv.Value) {
				seen[h] = true
			}
		case HostMap:
			for _, m := range parseHostMap(nv.Value) {
				seen[m.Name] = true
			}
		}
	}
	for n := range seen {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	return nodes, len(nodes) > 0
}
