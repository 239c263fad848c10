package fencing

import (
	"fmt"
	"strings"

	"github.com/goha-ha/goha/cib/spec"
)

// Property names and their Pacemaker 3.0.2 aliases (fencing-*).
var propAliases = map[string]string{
	"stonith-enabled":          "fencing-enabled",
	"stonith-action":           "fencing-action",
	"stonith-timeout":          "fencing-timeout",
	"stonith-watchdog-timeout": "fencing-watchdog-timeout",
	"stonith-max-attempts":     "fencing-max-attempts",
}

// Property returns a cluster property by its name or its fencing-* alias.
func Property(s *spec.Spec, name string) (value, path string, ok bool) {
	for _, n := range []string{name, propAliases[name]} {
		if n == "" {
			continue
		}
		if v, found := s.Properties.Get(n); found {
			return v, "properties." + n, true
		}
	}
	return "", "", false
}

// SharedStorage reports whether an agent manages storage that two nodes
// must never use at once (replicated or shared block devices, file
// systems, volume groups).
func SharedStorage(agent string) bool {
	typ := strings.ToLower(agent[strings.LastIndex(agent, ":")+1:])
	switch typ {
	case "drbd", "filesystem", "lvm", "lvm-activate", "vdo", "vdo-vol", "iscsilogicalunit", "iscsitarget", "zfs", "md", "raid1", "clvm", "gfs2", "ocfs2":
		return true
	}
	return false
}

func isFalse(v string) bool {
	switch strings.ToLower(v) {
	case "false", "no", "off", "0", "n":
		return true
	}
	return false
}

// Lint is the safety lint: a cluster that cannot fence a node it lost
// risks two nodes running the same resource. Its findings are marked
// Safety, so a caller can accept them knowingly.
func Lint(s *spec.Spec) spec.Findings {
	var fs spec.Findings
	for old, alias := range propAliases {
		if _, ok := s.Properties.Get(old); ok {
			if _, ok2 := s.Properties.Get(alias); ok2 {
				fs.Errorf("properties."+alias, "%s and %s are the same property (Pacemaker 3.0.2 renamed it); set one", old, alias)
			}
		}
	}
	if v, path, ok := Property(s, "stonith-watchdog-timeout"); ok {
		fs.Errorf(path, "set the watchdog timeout as fencing.watchdog_timeout (%s)", v)
	}

	enabled := true
	if v, path, ok := Property(s, "stonith-enabled"); ok && isFalse(v) {
		enabled = false
		fs.Unsafef(path, "fencing is disabled: a node that stops answering can still run its resources while they are started elsewhere")
	}
	devices := s.Fencing.Devices
	watchdog := s.Fencing.WatchdogTimeout != "" && !DurationIsZero(s.Fencing.WatchdogTimeout)
	haveFencing := enabled && (len(devices) > 0 || watchdog)
	if enabled && len(devices) == 0 && !watchdog {
		fs.Unsafef("fencing", "no fence device and no watchdog: no node can be fenced")
	}
	if enabled && (len(devices) > 0 || watchdog) {
		covered := map[string]bool{}
		dynamic := false
		for i, d := range devices {
			targets, declared := Targets(d)
			if !declared {
				dynamic = true
				fs.Warnf(fmt.Sprintf("fencing.devices[%d]", i), "device %s names no hosts: which nodes it fences is asked of the device at run time (set hosts or host_map)", d.ID)
			}
			for _, t := range targets {
				covered[t] = true
			}
		}
		if !watchdog && !dynamic {
			for i, n := range s.Nodes {
				if !covered[n.Name] {
					fs.Unsafef(fmt.Sprintf("nodes[%d]", i), "node %s is not covered by any fence device (no device lists it in hosts or host_map)", n.Name)
				}
			}
		}
	}
	if v, path, ok := Property(s, "no-quorum-policy"); ok && v == "ignore" && len(s.Nodes) > 2 {
		fs.Unsafef(path, "no-quorum-policy=ignore on %d nodes: a partition without quorum keeps running resources that the quorate side starts too", len(s.Nodes))
	}
	if len(s.Nodes) == 2 && haveFencing {
		if len(devices) == 0 {
			fs.Unsafef("fencing.watchdog_timeout", "watchdog-only fencing on two nodes: it needs quorum, which either node alone does not have (use a fence device or a quorum device)")
		} else if !hasDelay(s) {
			fs.Unsafef("fencing", "two-node cluster without a fencing delay: after a split both nodes fence each other at once (set delay_max or delay_base on a device, or the priority-fencing-delay property)")
		}
	}
	if !haveFencing {
		for i, p := range s.Primitives {
			if SharedStorage(p.Agent) {
				fs.Unsafef(fmt.Sprintf("primitives[%d].agent", i), "%s (%s) is storage that two nodes must never use at once, and this cluster cannot fence", p.ID, p.Agent)
			}
		}
	}
	return fs
}

func hasDelay(s *spec.Spec) bool {
	if v, _, ok := Property(s, "priority-fencing-delay"); ok && !DurationIsZero(v) {
		return true
	}
	for _, d := range s.Fencing.Devices {
		for _, v := range []string{d.DelayMax, d.DelayBase} {
			if v != "" && !DurationIsZero(v) {
				return true
			}
		}
		for _, name := range []string{DelayMax, DelayBase} {
			if v, ok := d.Params.Get(name); ok && !DurationIsZero(v) {
				return true
			}
		}
	}
	return false
}
