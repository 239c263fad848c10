package cib

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/goha-ha/goha/cib/pcmk"
	"github.com/goha-ha/goha/cib/spec"
)

// Instance is where one resource instance runs.
type Instance struct {
	Resource string // primitive id (clone instances share it)
	Parent   string // group or clone, if any
	Role     string // Started, Promoted, Unpromoted, Stopped
	Node     string // "" when stopped
}

func (i Instance) String() string {
	name := i.Resource
	if i.Parent != "" {
		name = i.Parent + "/" + i.Resource
	}
	node := i.Node
	if node == "" {
		node = "-"
	}
	return fmt.Sprintf("%-40s %-11s %s", name, i.Role, node)
}

// Placement is every instance, sorted.
type Placement []Instance

// Unplaced are the instances that run nowhere.
func (p Placement) Unplaced() []Instance {
	var out []Instance
	for _, i := range p {
		if i.Node == "" {
			out = append(out, i)
		}
	}
	return out
}

// SimulationResult is the placement with every node up, and after the
// failures.
type SimulationResult struct {
	Initial Placement
	// After is the placement after Failed nodes failed (nil without
	// failures).
	After  Placement
	Failed []string
	// Moves lists what changed: "vip: Started n1 -> Started n2".
	Moves []string
}

// SimulationAttrs are the transient node attributes a simulation starts
// with, so that rules and promotion behave as on a running cluster: every
// instance of a promotable clone gets a promotion score (master-<rsc>=10),
// and every node the attribute of each ping resource (name, default pingd,
// set to multiplier times the number of hosts, as if all answered).
func SimulationAttrs(s *spec.Spec) map[string]spec.NVList {
	var attrs spec.NVList
	promotable := map[string]bool{}
	for _, c := range s.Clones {
		if c.Promotable {
			promotable[c.Resource] = true
		}
	}
	members := map[string][]string{}
	for _, g := range s.Groups {
		members[g.ID] = g.Members
	}
	for rsc := range promotable {
		for _, m := range append([]string{rsc}, members[rsc]...) {
			attrs = attrs.Set("master-"+m, "10")
		}
	}
	for _, p := range s.Primitives {
		typ := p.Agent[strings.LastIndex(p.Agent, ":")+1:]
		if typ != "ping" && typ != "pingd" {
			continue
		}
		name, ok := p.Params.Get("name")
		if !ok {
			name = "pingd"
		}
		mult := 1
		if v, ok := p.Params.Get("multiplier"); ok {
			mult, _ = strconv.Atoi(v)
		}
		hosts, _ := p.Params.Get("host_list")
		attrs = attrs.Set(name, strconv.Itoa(mult*len(strings.Fields(hosts))))
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Name < attrs[j].Name })
	out := map[string]spec.NVList{}
	for _, n := range s.Nodes {
		out[n.Name] = append(spec.NVList{}, attrs...)
	}
	return out
}

// Simulate runs the CIB generated for s through crm_simulate: first with
// every node online, then with the fail nodes failing. extra attributes
// (node -> name/value) are added to SimulationAttrs.
func Simulate(ctx context.Context, tools pcmk.Tools, s *spec.Spec, doc *etree.Document, fail []string, extra map[string]spec.NVList) (*SimulationResult, error) {
	attrs := SimulationAttrs(s)
	for node, l := range extra {
		for _, nv := range l {
			attrs[node] = attrs[node].Set(nv.Name, nv.Value)
		}
	}
	in, err := XML(withStatus(doc, s, attrs))
	if err != nil {
		return nil, err
	}
	started, _, err := tools.Simulate(ctx, in)
	if err != nil {
		return nil, err
	}
	res := &SimulationResult{Failed: fail}
	if res.Initial, err = placement(ctx, tools, started); err != nil {
		return nil, err
	}
	if len(fail) == 0 {
		return res, nil
	}
	var args []string
	for _, n := range fail {
		args = append(args, "--node-fail", n)
	}
	after, _, err := tools.Simulate(ctx, started, args...)
	if err != nil {
		return nil, err
	}
	if res.After, err = placement(ctx, tools, after); err != nil {
		return nil, err
	}
	res.Moves = moves(res.Initial, res.After)
	return res, nil
}

// placement asks crm_mon where everything runs in a CIB.
func placement(ctx context.Context, tools pcmk.Tools, cib []byte) (Placement, error) {
	out, err := tools.Status(ctx, cib)
	if err != nil {
		return nil, err
	}
	return ParseStatus(out)
}

// ParseStatus reads crm_mon --output-as=xml into a placement.
func ParseStatus(xml []byte) (Placement, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		return nil, fmt.Errorf("parse crm_mon output: %w", err)
	}
	rs := doc.FindElement("//resources")
	if rs == nil {
		return nil, fmt.Errorf("crm_mon output has no <resources>")
	}
	var p Placement
	var walk func(e *etree.Element, parent string)
	walk = func(e *etree.Element, parent string) {
		for _, c := range e.ChildElements() {
			switch c.Tag {
			case "resource":
				inst := Instance{Resource: c.SelectAttrValue("id", ""), Parent: parent, Role: c.SelectAttrValue("role", "")}
				inst.Role = canonicalRole(inst.Role)
				nodes := c.SelectElements("node")
				if len(nodes) == 0 {
					inst.Role = "Stopped"
					p = append(p, inst)
				}
				for _, n := range nodes {
					inst.Node = n.SelectAttrValue("name", "")
					p = append(p, inst)
				}
			case "group", "clone", "bundle":
				name := c.SelectAttrValue("id", "")
				if parent != "" {
					name = parent + "/" + name
				}
				walk(c, name)
			}
		}
	}
	walk(rs, "")
	sort.SliceStable(p, func(i, j int) bool {
		a, b := p[i], p[j]
		if a.Parent+"/"+a.Resource != b.Parent+"/"+b.Resource {
			return a.Parent+"/"+a.Resource < b.Parent+"/"+b.Resource
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.Role < b.Role
	})
	return p, nil
}

// moves compares two placements resource by resource.
func moves(before, after Placement) []string {
	group := func(p Placement) map[string][]string {
		m := map[string][]string{}
		for _, i := range p {
			name := i.Resource
			if i.Parent != "" {
				name = i.Parent + "/" + i.Resource
			}
			where := i.Role
			if i.Node != "" {
				where += "@" + i.Node
			}
			m[name] = append(m[name], where)
		}
		for k := range m {
			sort.Strings(m[k])
		}
		return m
	}
	b, a := group(before), group(after)
	var out []string
	for _, n := range keysOfBoth(b, a) {
		x, y := strings.Join(b[n], " "), strings.Join(a[n], " ")
		if x != y {
			out = append(out, fmt.Sprintf("%s: %s -> %s", n, orNone(x), orNone(y)))
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
