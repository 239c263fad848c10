package filesystem

import (
	"sort"
	"time"
)

// State is what mountinfo says about a resource.
type State struct {
	Mounted *Mount // the resource's mount at its directory; nil when absent
	// Other is a different filesystem mounted at the directory, which
	// start must not mount over.
	Other *Mount
	// Beneath are mounts below the directory while the resource is not
	// mounted: the mount would hide them.
	Beneath []Mount
}

// Observe finds the resource in mounts.
func Observe(mounts []Mount, w Want) State {
	var s State
	for i := len(mounts) - 1; i >= 0; i-- {
		if mounts[i].MountPoint == w.Directory && w.Matches(mounts[i]) {
			m := mounts[i]
			s.Mounted = &m
			break
		}
	}
	if s.Mounted != nil {
		return s
	}
	if top := At(mounts, w.Directory); top != nil {
		m := *top
		s.Other = &m
	}
	for _, m := range mounts {
		if m.MountPoint != w.Directory && isUnder(m.MountPoint, w.Directory) {
			s.Beneath = append(s.Beneath, m)
		}
	}
	return s
}

// PlanUnmount lists the mount points stop unmounts, in order: every
// mount stacked on the resource's filesystem below its directory, then the
// resource's own mount; for a block device also every other mount of the
// same device (and what is mounted on those), since the device stays in use
// until the last of them is gone. A bind mount resource never unmounts the
// filesystem it binds from, and no plan contains the root mount. Children always come before their parents;
// among unrelated mounts the one mounted last goes first. Nil when the
// resource is not mounted.
func PlanUnmount(mounts []Mount, w Want) []Mount {
	s := Observe(mounts, w)
	if s.Mounted == nil {
		return nil
	}
	roots := map[int]bool{s.Mounted.ID: true}
	if w.Block {
		for _, m := range mounts {
			if w.Matches(m) && m.MountPoint != "/" {
				roots[m.ID] = true
			}
		}
	}
	byID := make(map[int]int, len(mounts)) // id -> index
	for i, m := range mounts {
		byID[m.ID] = i
	}
	// depth in the mount tree, and whether a mount descends from a root
	depth := func(i int) (d int, inPlan bool) {
		seen := map[int]bool{}
		for j := i; ; {
			m := mounts[j]
			if roots[m.ID] {
				inPlan = true
			}
			p, ok := byID[m.Parent]
			if !ok || seen[m.ID] || p == j {
				return d, inPlan
			}
			seen[m.ID] = true
			d++
			j = p
		}
	}
	type step struct {
		m     Mount
		depth int
		order int
	}
	var steps []step
	for i, m := range mounts {
		if m.MountPoint == "/" {
			continue // a device that also holds the root: never the root
		}
		if d, in := depth(i); in {
			steps = append(steps, step{m, d, i})
		}
	}
	sort.SliceStable(steps, func(a, b int) bool {
		if steps[a].depth != steps[b].depth {
			return steps[a].depth > steps[b].depth
		}
		return steps[a].order > steps[b].order
	})
	plan := make([]Mount, len(steps))
	for i, s := range steps {
		plan[i] = s.m
	}
	return plan
}

// UnmountTarget is what the search for users looks for while the plan
// runs: its mount points, and for a block device resource the device
// number, which catches memory maps whatever path they were opened by. The
// number is left out when the device has a mount outside the plan (the
// root filesystem): its users are not the resource's.
func UnmountTarget(mounts, plan []Mount, w Want) Target {
	var t Target
	inPlan := map[int]bool{}
	for _, m := range plan {
		t.Dirs = append(t.Dirs, m.MountPoint)
		inPlan[m.ID] = true
	}
	if !w.Block || w.Bind {
		return t
	}
	for _, m := range mounts {
		if m.Major == w.Major && m.Minor == w.Minor && !inPlan[m.ID] {
			return t
		}
	}
	t.Devs = []string{MapsDev(w.Major, w.Minor)}
	return t
}

// Phase is what stop does to the users of a busy mount at one moment.
type Phase int

const (
	// PhaseTerm asks the users to exit (SIGTERM).
	PhaseTerm Phase = iota
	// PhaseKill kills them (SIGKILL).
	PhaseKill
	// PhaseGiveUp means the mount's time is up: stop fails.
	PhaseGiveUp
)

// PhaseAt is where stop is, elapsed into a budget for one mount: SIGTERM
// during the first half, SIGKILL during the second, as the reference
// agent does.
func PhaseAt(elapsed, budget time.Duration) Phase {
	switch {
	case elapsed >= budget:
		return PhaseGiveUp
	case elapsed >= budget/2:
		return PhaseKill
	}
	return PhaseTerm
}
