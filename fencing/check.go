package fencing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/goha-ha/goha/cib/meta"
	"github.com/goha-ha/goha/cib/spec"
)

// Agents goha knows by name; others are accepted when installed.
var knownAgents = map[string]string{
	"fence_ipmilan":     "IPMI over LAN (BMCs: iLO, iDRAC, IMM, ...)",
	"fence_redfish":     "Redfish BMCs",
	"fence_virsh":       "libvirt guests over SSH",
	"fence_vmware_rest": "VMware vCenter REST API",
	"fence_sbd":         "SBD with a shared disk",
	"fence_goha_lab":    "goha's lab cluster",
}

// Parameters Pacemaker itself takes for every fence device.
var pacemakerParam = regexp.MustCompile(`^pcmk_(host_argument|host_map|host_list|host_check|delay_max|delay_base|action_limit|(reboot|off|on|list|monitor|status)_(action|timeout|retries))$`)

// Parameters of a fence agent that Pacemaker fills in itself, so a
// device needs not set them even where the agent requires them.
var suppliedByPacemaker = map[string]bool{"action": true, "port": true, "plug": true, "nodename": true}

// Check checks the fencing section: devices (against the fence agents'
// meta-data when src is not nil), topology levels and the watchdog.
func Check(ctx context.Context, s *spec.Spec, src meta.Source) spec.Findings {
	var fs spec.Findings
	nodes := map[string]bool{}
	for _, n := range s.Nodes {
		nodes[n.Name] = true
	}
	devices := map[string]bool{}
	for i, d := range s.Fencing.Devices {
		path := fmt.Sprintf("fencing.devices[%d]", i)
		devices[d.ID] = true
		if d.Agent == "" {
			fs.Errorf(path+".agent", "a fence device needs an agent (fence_ipmilan, fence_redfish, ...)")
			continue
		}
		if strings.Contains(d.Agent, ":") {
			fs.Errorf(path+".agent", "write the fence agent's name alone (%q), without a class", d.Agent[strings.LastIndex(d.Agent, ":")+1:])
			continue
		}
		for j, h := range d.Hosts {
			if !nodes[h] {
				fs.Errorf(fmt.Sprintf("%s.hosts[%d]", path, j), "%q is not a node of this spec", h)
			}
		}
		for _, nv := range d.HostMap {
			if !nodes[nv.Name] {
				fs.Errorf(path+".host_map."+nv.Name, "%q is not a node of this spec", nv.Name)
			}
			if nv.Value == "" {
				fs.Errorf(path+".host_map."+nv.Name, "the device's name for node %s is empty", nv.Name)
			}
		}
		for field, v := range map[string]string{"delay_max": d.DelayMax, "delay_base": d.DelayBase} {
			if v != "" && !ValidDuration(v) {
				fs.Errorf(path+"."+field, "%q is not a duration (15, 15s, 1min)", v)
			}
		}
		for _, nv := range d.Params {
			switch nv.Name {
			case HostList:
				fs.Errorf(path+".params."+nv.Name, "use the device's hosts: list instead of %s", nv.Name)
			case HostMap:
				fs.Errorf(path+".params."+nv.Name, "use the device's host_map: instead of %s", nv.Name)
			case DelayMax:
				fs.Errorf(path+".params."+nv.Name, "use the device's delay_max: instead of %s", nv.Name)
			case DelayBase:
				fs.Errorf(path+".params."+nv.Name, "use the device's delay_base: instead of %s", nv.Name)
			}
		}
		if src != nil {
			fs = append(fs, checkAgent(ctx, src, d, path)...)
		}
	}
	seen := map[string]bool{}
	for i, l := range s.Fencing.Levels {
		path := fmt.Sprintf("fencing.levels[%d]", i)
		if !nodes[l.Node] {
			fs.Errorf(path+".node", "%q is not a node of this spec", l.Node)
		}
		if l.Index < 1 || l.Index > 9 {
			fs.Errorf(path+".index", "a level's index is 1 to 9, not %d", l.Index)
		}
		key := fmt.Sprintf("%s/%d", l.Node, l.Index)
		if seen[key] {
			fs.Errorf(path+".index", "node %s has two levels with index %d", l.Node, l.Index)
		}
		seen[key] = true
		if len(l.Devices) == 0 {
			fs.Errorf(path+".devices", "a level needs at least one device")
		}
		for j, dev := range l.Devices {
			if !devices[dev] {
				fs.Errorf(fmt.Sprintf("%s.devices[%d]", path, j), "no fence device %q in fencing.devices", dev)
			}
		}
	}
	if w := s.Fencing.WatchdogTimeout; w != "" && !ValidDuration(w) {
		fs.Errorf("fencing.watchdog_timeout", "%q is not a duration (10s)", w)
	}
	return fs
}

// checkAgent checks a device's options against its fence agent's own
// meta-data (fence_X -o metadata).
func checkAgent(ctx context.Context, src meta.Source, d spec.FenceDevice, path string) spec.Findings {
	var fs spec.Findings
	a, err := src.Metadata(ctx, "stonith:"+d.Agent)
	switch {
	case errors.Is(err, meta.ErrNotInstalled) && d.Agent == "fence_goha_lab":
		fs.Warnf(path+".agent", "fence agent %s is not installed here (it comes with goha); its options are not checked", d.Agent)
		return fs
	case errors.Is(err, meta.ErrNotInstalled):
		hint := ""
		if what, ok := knownAgents[d.Agent]; ok {
			hint = " (" + what + "; install fence-agents)"
		}
		fs.Errorf(path+".agent", "fence agent %s is not installed%s", d.Agent, hint)
		return fs
	case err != nil:
		fs.Errorf(path+".agent", "cannot read the meta-data of %s: %v", d.Agent, err)
		return fs
	}
	if a.AnyParams {
		return fs
	}
	given := map[string]bool{}
	for _, nv := range d.Params {
		given[nv.Name] = true
		if pacemakerParam.MatchString(nv.Name) {
			continue
		}
		p := a.Param(nv.Name)
		if p == nil {
			fs.Errorf(path+".params."+nv.Name, "%s has no option %q%s", d.Agent, nv.Name, suggest(nv.Name, a))
			continue
		}
		if p.Deprecated && p.ReplacedBy != "" {
			fs.Warnf(path+".params."+nv.Name, "%s: option %q is deprecated, use %q", d.Agent, nv.Name, p.ReplacedBy)
		}
	}
	for _, p := range a.Params {
		if !p.Required || p.Deprecated || suppliedByPacemaker[p.Name] {
			continue
		}
		if given[p.Name] || p.Obsoletes != "" && given[p.Obsoletes] {
			continue
		}
		fs.Errorf(path+".params", "%s requires option %q", d.Agent, p.Name)
	}
	return fs
}

// suggest proposes the closest parameter name for a misspelt one.
func suggest(name string, a *meta.Agent) string {
	best, bestD := "", 3
	for _, p := range a.Params {
		if d := distance(name, p.Name); d < bestD {
			best, bestD = p.Name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// Suggest is suggest for other packages checking agent parameters.
func Suggest(name string, a *meta.Agent) string { return suggest(name, a) }

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var durationRE = regexp.MustCompile(`^[0-9]+(ms|msec|us|usec|s|sec|m|min|h|hr)?$`)

// ValidDuration reports whether v is a Pacemaker duration (a number with an
// optional unit).
func ValidDuration(v string) bool { return durationRE.MatchString(strings.TrimSpace(v)) }

// DurationIsZero reports whether a duration is zero ("0", "0s").
func DurationIsZero(v string) bool {
	return strings.TrimLeft(strings.TrimRight(strings.TrimSpace(v), "abcdefghijklmnopqrstuvwxyz"), "0") == ""
}
