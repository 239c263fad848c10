package cib

import (
	"fmt"

	"github.com/goha-ha/goha/cib/spec"
)

// Synthetic builds a large valid spec for benchmarks: nodes nodes, prims
// ocf:heartbeat:Dummy primitives (every tenth group of five primitives a
// group, every twentieth primitive cloned) and constraints constraints
// spread over locations (scores and pingd rules), colocations and orders.
// It is fenced by one fence_virsh device that maps every node.
func Synthetic(nodes, prims, constraints int) *spec.Spec {
	s := &spec.Spec{
		Properties:  spec.NVList{{Name: "stonith-enabled", Value: "true"}, {Name: "no-quorum-policy", Value: "stop"}},
		RscDefaults: spec.NVList{{Name: "resource-stickiness", Value: "100"}},
	}
	for i := 1; i <= nodes; i++ {
		s.Nodes = append(s.Nodes, spec.Node{Name: fmt.Sprintf("node%02d", i),
			Attributes: spec.NVList{{Name: "rack", Value: fmt.Sprintf("r%d", i%4)}}})
	}
	dev := spec.FenceDevice{ID: "fence-virsh", Agent: "fence_virsh",
		Params: spec.NVList{{Name: "ip", Value: "192.0.2.1"}, {Name: "username", Value: "fence"}, {Name: "identity_file", Value: "/root/.ssh/id_fence"}}}
	for _, n := range s.Nodes {
		dev.HostMap = append(dev.HostMap, spec.NV{Name: n.Name, Value: "vm-" + n.Name})
	}
	if nodes == 2 {
		dev.DelayMax = "15s"
	}
	s.Fencing.Devices = []spec.FenceDevice{dev}

	// Top-level resources: what constraints may refer to.
	var top []string
	for i := 1; i <= prims; i++ {
		id := fmt.Sprintf("rsc%04d", i)
		s.Primitives = append(s.Primitives, spec.Primitive{
			ID: id, Agent: "ocf:heartbeat:Dummy",
			Params: spec.NVList{{Name: "state", Value: "/run/goha-bench/" + id + ".state"}},
			Ops:    []spec.Op{{Name: "monitor", Interval: "30s", Timeout: "20s"}},
		})
	}
	for i := 0; i < prims; {
		switch {
		case i%50 == 0 && i+5 <= prims:
			g := spec.Group{ID: fmt.Sprintf("grp%04d", i/50+1)}
			for j := 0; j < 5; j++ {
				g.Members = append(g.Members, s.Primitives[i+j].ID)
			}
			s.Groups = append(s.Groups, g)
			top = append(top, g.ID)
			i += 5
		case i%20 == 7:
			c := spec.Clone{Resource: s.Primitives[i].ID, Meta: spec.NVList{{Name: "interleave", Value: "true"}}}
			s.Clones = append(s.Clones, c)
			top = append(top, cloneID(c))
			i++
		default:
			top = append(top, s.Primitives[i].ID)
			i++
		}
	}
	if len(top) < 2 {
		return s
	}
	for i := 0; i < constraints; i++ {
		a := top[i%len(top)]
		b := top[(i*7+1)%len(top)]
		if a == b {
			b = top[(i*7+2)%len(top)]
		}
		switch i % 3 {
		case 0:
			if i%6 == 0 {
				s.Locations = append(s.Locations, spec.Location{ID: fmt.Sprintf("loc%05d", i), Resource: a, Rules: []spec.Rule{{
					Score: "-INFINITY", BooleanOp: "or",
					Expressions: []spec.Expression{{Attribute: "pingd", Op: "not_defined"}, {Attribute: "pingd", Op: "lt", Value: "1", Type: "integer"}},
				}}})
			} else {
				s.Locations = append(s.Locations, spec.Location{ID: fmt.Sprintf("loc%05d", i), Resource: a, Node: s.Nodes[i%nodes].Name, Score: fmt.Sprint(i % 200)})
			}
		case 1:
			s.Colocations = append(s.Colocations, spec.Colocation{ID: fmt.Sprintf("col%05d", i), Resource: a, With: b, Score: fmt.Sprint(i%500 + 1)})
		case 2:
			s.Orders = append(s.Orders, spec.Order{ID: fmt.Sprintf("ord%05d", i), First: a, Then: b, Kind: "Optional"})
		}
	}
	return s
}
