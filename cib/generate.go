package cib

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/goha-ha/goha/cib/spec"
	"github.com/goha-ha/goha/fencing"
)

// Property names the spec sets through fields of its own.
const (
	propWatchdogTimeout = "stonith-watchdog-timeout"
)

// Generate writes the CIB for s. It assumes s passed Check: references it
// cannot resolve are skipped rather than reported. The output depends only
// on s and t.
func Generate(s *spec.Spec, t Target) *etree.Document {
	g := &generator{t: t, ids: ids{}}
	g.reserve(s)
	doc := etree.NewDocument()
	cib := doc.CreateElement("cib")
	cib.CreateAttr("validate-with", t.Schema)
	cib.CreateAttr("epoch", "1")
	cib.CreateAttr("num_updates", "0")
	cib.CreateAttr("admin_epoch", "0")
	conf := cib.CreateElement("configuration")

	crm := conf.CreateElement("crm_config")
	props := s.Properties
	if s.Fencing.WatchdogTimeout != "" {
		props = append(append(spec.NVList{}, props...), spec.NV{Name: propWatchdogTimeout, Value: s.Fencing.WatchdogTimeout})
	}
	if len(props) > 0 {
		g.nvset(crm, "cluster_property_set", "cib-bootstrap-options", props)
	}

	nodes := conf.CreateElement("nodes")
	for i, n := range s.Nodes {
		ne := nodes.CreateElement("node")
		id := nodeID(i, n)
		ne.CreateAttr("id", id)
		ne.CreateAttr("uname", n.Name)
		g.nvset(ne, "instance_attributes", "nodes-"+id, n.Attributes)
		g.nvset(ne, "utilization", "nodes-"+id+"-utilization", n.Utilization)
	}

	g.resources(conf.CreateElement("resources"), s)
	g.constraints(conf.CreateElement("constraints"), s)

	if len(s.Fencing.Levels) > 0 {
		ft := conf.CreateElement("fencing-topology")
		for _, l := range s.Fencing.Levels {
			fl := ft.CreateElement("fencing-level")
			fl.CreateAttr("id", g.ids.take(fmt.Sprintf("fl-%s-%d", l.Node, l.Index)))
			fl.CreateAttr("target", l.Node)
			fl.CreateAttr("index", strconv.Itoa(l.Index))
			fl.CreateAttr("devices", strings.Join(l.Devices, ","))
		}
	}
	if len(s.RscDefaults) > 0 {
		g.nvset(conf.CreateElement("rsc_defaults"), "meta_attributes", "rsc_defaults-meta_attributes", s.RscDefaults)
	}
	if len(s.OpDefaults) > 0 {
		g.nvset(conf.CreateElement("op_defaults"), "meta_attributes", "op_defaults-meta_attributes", s.OpDefaults)
	}
	if len(s.Alerts) > 0 {
		g.alerts(conf.CreateElement("alerts"), s.Alerts)
	}
	cib.CreateElement("status")
	doc.Indent(2)
	return doc
}

type generator struct {
	t   Target
	ids ids
}

// reserve takes every id the spec names itself, so that generated ids
// never collide with them.
func (g *generator) reserve(s *spec.Spec) {
	for _, p := range s.Primitives {
		g.ids[p.ID] = true
		for _, op := range p.Ops {
			if op.ID != "" {
				g.ids[op.ID] = true
			}
		}
	}
	for _, gr := range s.Groups {
		g.ids[gr.ID] = true
	}
	for _, c := range s.Clones {
		g.ids[cloneID(c)] = true
	}
	for _, d := range s.Fencing.Devices {
		g.ids[d.ID] = true
		for _, op := range d.Ops {
			if op.ID != "" {
				g.ids[op.ID] = true
			}
		}
	}
	for _, l := range s.Locations {
		if l.ID != "" {
			g.ids[l.ID] = true
		}
	}
	for _, c := range s.Colocations {
		if c.ID != "" {
			g.ids[c.ID] = true
		}
	}
	for _, o := range s.Orders {
		if o.ID != "" {
			g.ids[o.ID] = true
		}
	}
	for _, a := range s.Alerts {
		g.ids[a.ID] = true
		for _, r := range a.Recipients {
			if r.ID != "" {
				g.ids[r.ID] = true
			}
		}
	}
}

// nvset writes a set of nvpairs (nothing for an empty list).
func (g *generator) nvset(parent *etree.Element, tag, id string, l spec.NVList) {
	if len(l) == 0 {
		return
	}
	set := parent.CreateElement(tag)
	setID := g.ids.take(id)
	set.CreateAttr("id", setID)
	for _, nv := range l {
		p := set.CreateElement("nvpair")
		p.CreateAttr("id", g.ids.take(setID+"-"+nv.Name))
		p.CreateAttr("name", nv.Name)
		p.CreateAttr("value", nv.Value)
	}
}

func attr(e *etree.Element, name, value string) {
	if value != "" {
		e.CreateAttr(name, value)
	}
}

// resources writes the resources section. Each primitive appears where the
// spec first lists it; a grouped or cloned primitive brings its group or
// clone along at that point. Fence devices follow.
func (g *generator) resources(parent *etree.Element, s *spec.Spec) {
	prims := map[string]*spec.Primitive{}
	for i := range s.Primitives {
		prims[s.Primitives[i].ID] = &s.Primitives[i]
	}
	groups := map[string]*spec.Group{}
	groupOf := map[string]string{}
	for i := range s.Groups {
		gr := &s.Groups[i]
		groups[gr.ID] = gr
		for _, m := range gr.Members {
			if _, dup := groupOf[m]; !dup {
				groupOf[m] = gr.ID
			}
		}
	}
	cloneOf := map[string]*spec.Clone{}
	for i := range s.Clones {
		if _, dup := cloneOf[s.Clones[i].Resource]; !dup {
			cloneOf[s.Clones[i].Resource] = &s.Clones[i]
		}
	}
	done := map[string]bool{}
	emitGroup := func(parent *etree.Element, gr *spec.Group) {
		ge := parent.CreateElement("group")
		ge.CreateAttr("id", gr.ID)
		attr(ge, "description", gr.Description)
		g.nvset(ge, "meta_attributes", gr.ID+"-meta_attributes", gr.Meta)
		for _, m := range gr.Members {
			if p := prims[m]; p != nil && !done[m] {
				done[m] = true
				g.primitive(ge, p)
			}
		}
	}
	for i := range s.Primitives {
		p := &s.Primitives[i]
		if done[p.ID] {
			continue
		}
		var gr *spec.Group
		top := p.ID
		if gid, ok := groupOf[p.ID]; ok && groups[gid] != nil {
			gr = groups[gid]
			top = gid
		}
		into := parent
		if c := cloneOf[top]; c != nil {
			ce := parent.CreateElement("clone")
			id := cloneID(*c)
			ce.CreateAttr("id", id)
			attr(ce, "description", c.Description)
			meta := c.Meta
			if c.Promotable {
				meta = append(spec.NVList{{Name: "promotable", Value: "true"}}, meta...)
			}
			g.nvset(ce, "meta_attributes", id+"-meta_attributes", meta)
			into = ce
		}
		if gr != nil {
			emitGroup(into, gr)
			continue
		}
		done[p.ID] = true
		g.primitive(into, p)
	}
	for _, d := range s.Fencing.Devices {
		pe := parent.CreateElement("primitive")
		pe.CreateAttr("id", d.ID)
		pe.CreateAttr("class", "stonith")
		pe.CreateAttr("type", d.Agent)
		attr(pe, "description", d.Description)
		g.nvset(pe, "instance_attributes", d.ID+"-instance_attributes", fencing.Params(d))
		g.nvset(pe, "meta_attributes", d.ID+"-meta_attributes", d.Meta)
		g.ops(pe, d.ID, d.Ops)
	}
}

// SplitAgent splits class:provider:type (provider only for ocf).
func SplitAgent(agent string) (class, provider, typ string, err error) {
	parts := strings.Split(agent, ":")
	switch {
	case len(parts) == 3 && parts[0] == "ocf":
		class, provider, typ = parts[0], parts[1], parts[2]
	case len(parts) == 2 && parts[0] != "ocf":
		class, typ = parts[0], parts[1]
	default:
		return "", "", "", fmt.Errorf("agent %q is not class:provider:type (ocf) or class:type (systemd, service, lsb)", agent)
	}
	for _, p := range []string{class, provider, typ} {
		if strings.ContainsAny(p, " \t\n/") {
			return "", "", "", fmt.Errorf("agent %q has a space or slash in it", agent)
		}
	}
	if class == "" || typ == "" || class == "ocf" && provider == "" {
		return "", "", "", fmt.Errorf("agent %q has an empty part", agent)
	}
	return class, provider, typ, nil
}

func (g *generator) primitive(parent *etree.Element, p *spec.Primitive) {
	pe := parent.CreateElement("primitive")
	pe.CreateAttr("id", p.ID)
	class, provider, typ, err := SplitAgent(p.Agent)
	if err != nil {
		class, typ = "ocf", p.Agent
	}
	pe.CreateAttr("class", class)
	if provider != "" {
		pe.CreateAttr("provider", provider)
	}
	pe.CreateAttr("type", typ)
	attr(pe, "description", p.Description)
	g.nvset(pe, "instance_attributes", p.ID+"-instance_attributes", p.Params)
	g.nvset(pe, "meta_attributes", p.ID+"-meta_attributes", p.Meta)
	g.nvset(pe, "utilization", p.ID+"-utilization", p.Utilization)
	g.ops(pe, p.ID, p.Ops)
}

func (g *generator) ops(parent *etree.Element, rsc string, ops []spec.Op) {
	if len(ops) == 0 {
		return
	}
	oe := parent.CreateElement("operations")
	for _, op := range ops {
		e := oe.CreateElement("op")
		id := op.ID
		if id == "" {
			id = g.ids.take(defaultOpID(rsc, op))
		}
		e.CreateAttr("id", id)
		e.CreateAttr("name", op.Name)
		e.CreateAttr("interval", opInterval(op))
		attr(e, "timeout", op.Timeout)
		if op.Role != "" {
			e.CreateAttr("role", g.t.Role(op.Role))
		}
		attr(e, "on-fail", op.OnFail)
		attr(e, "enabled", op.Enabled)
		attr(e, "start-delay", op.StartDelay)
		attr(e, "interval-origin", op.IntervalOrigin)
		attr(e, "record-pending", op.RecordPending)
		attr(e, "description", op.Description)
		if op.Depth != "" {
			g.nvset(e, "instance_attributes", id+"-instance_attributes", spec.NVList{{Name: "OCF_CHECK_LEVEL", Value: op.Depth}})
		}
		g.nvset(e, "meta_attributes", id+"-meta_attributes", op.Meta)
	}
}

func (g *generator) constraints(parent *etree.Element, s *spec.Spec) {
	for _, l := range s.Locations {
		e := parent.CreateElement("rsc_location")
		id := l.ID
		if id == "" {
			id = g.ids.take(defaultLocationID(l))
		}
		e.CreateAttr("id", id)
		attr(e, "rsc", l.Resource)
		attr(e, "rsc-pattern", l.ResourcePattern)
		if l.Role != "" {
			e.CreateAttr("role", g.t.Role(l.Role))
		}
		attr(e, "node", l.Node)
		attr(e, "score", l.Score)
		attr(e, "resource-discovery", l.ResourceDiscovery)
		for _, r := range l.Rules {
			g.rule(e, id+"-rule", r)
		}
	}
	for _, c := range s.Colocations {
		e := parent.CreateElement("rsc_colocation")
		id := c.ID
		if id == "" {
			id = g.ids.take(defaultColocationID(c))
		}
		e.CreateAttr("id", id)
		attr(e, "rsc", c.Resource)
		attr(e, "with-rsc", c.With)
		e.CreateAttr("score", colocationScore(c))
		if c.Role != "" {
			e.CreateAttr("rsc-role", g.t.Role(c.Role))
		}
		if c.WithRole != "" {
			e.CreateAttr("with-rsc-role", g.t.Role(c.WithRole))
		}
		attr(e, "node-attribute", c.NodeAttribute)
		g.sets(e, id, c.Sets)
	}
	for _, o := range s.Orders {
		e := parent.CreateElement("rsc_order")
		id := o.ID
		if id == "" {
			id = g.ids.take(defaultOrderID(o))
		}
		e.CreateAttr("id", id)
		attr(e, "first", o.First)
		attr(e, "first-action", o.FirstAction)
		attr(e, "then", o.Then)
		attr(e, "then-action", o.ThenAction)
		attr(e, "kind", o.Kind)
		attr(e, "symmetrical", o.Symmetrical)
		g.sets(e, id, o.Sets)
	}
}

func (g *generator) sets(parent *etree.Element, cid string, sets []spec.ResourceSet) {
	for _, s := range sets {
		e := parent.CreateElement("resource_set")
		e.CreateAttr("id", g.ids.take(cid+"_set"))
		attr(e, "sequential", s.Sequential)
		attr(e, "require-all", s.RequireAll)
		attr(e, "action", s.Action)
		if s.Role != "" {
			e.CreateAttr("role", g.t.Role(s.Role))
		}
		attr(e, "kind", s.Kind)
		attr(e, "score", s.Score)
		for _, r := range s.Resources {
			e.CreateElement("resource_ref").CreateAttr("id", r)
		}
	}
}

func (g *generator) rule(parent *etree.Element, base string, r spec.Rule) {
	e := parent.CreateElement("rule")
	id := g.ids.take(base)
	e.CreateAttr("id", id)
	attr(e, "score", r.Score)
	attr(e, "score-attribute", r.ScoreAttribute)
	if r.Role != "" {
		e.CreateAttr("role", g.t.Role(r.Role))
	}
	attr(e, "boolean-op", r.BooleanOp)
	for _, x := range r.Expressions {
		switch {
		case x.Rule != nil:
			nested := *x.Rule
			if nested.Score == "" && nested.ScoreAttribute == "" {
				// Rule schemas before 4.0 want a score on nested rules
				// too; Pacemaker ignores it there.
				nested.Score = "0"
			}
			g.rule(e, id+"-rule", nested)
		case x.Date != nil:
			de := e.CreateElement("date_expression")
			did := g.ids.take(id + "-expr")
			de.CreateAttr("id", did)
			de.CreateAttr("operation", x.Date.Op)
			attr(de, "start", x.Date.Start)
			attr(de, "end", x.Date.End)
			if len(x.Date.Duration) > 0 {
				g.attrElement(de, "duration", did+"-duration", x.Date.Duration)
			}
			if len(x.Date.Spec) > 0 {
				g.attrElement(de, "date_spec", did+"-datespec", x.Date.Spec)
			}
		default:
			xe := e.CreateElement("expression")
			xe.CreateAttr("id", g.ids.take(id+"-expr"))
			xe.CreateAttr("attribute", x.Attribute)
			xe.CreateAttr("operation", x.Op)
			attr(xe, "value", x.Value)
			attr(xe, "type", g.t.ExprType(x.Type))
			attr(xe, "value-source", x.ValueSource)
		}
	}
}

// attrElement writes an element whose settings are attributes
// (date_spec, duration).
func (g *generator) attrElement(parent *etree.Element, tag, id string, l spec.NVList) {
	e := parent.CreateElement(tag)
	e.CreateAttr("id", g.ids.take(id))
	for _, nv := range l {
		e.CreateAttr(nv.Name, nv.Value)
	}
}

func (g *generator) alerts(parent *etree.Element, alerts []spec.Alert) {
	for _, a := range alerts {
		e := parent.CreateElement("alert")
		e.CreateAttr("id", a.ID)
		e.CreateAttr("path", a.Path)
		attr(e, "description", a.Description)
		g.nvset(e, "meta_attributes", a.ID+"-meta_attributes", a.Meta)
		g.nvset(e, "instance_attributes", a.ID+"-instance_attributes", a.Params)
		for _, r := range a.Recipients {
			re := e.CreateElement("recipient")
			id := r.ID
			if id == "" {
				id = g.ids.take(a.ID + "-recipient")
			}
			re.CreateAttr("id", id)
			re.CreateAttr("value", r.Value)
			g.nvset(re, "meta_attributes", id+"-meta_attributes", r.Meta)
			g.nvset(re, "instance_attributes", id+"-instance_attributes", r.Params)
		}
	}
}

// XML renders a document as the bytes goha writes.
func XML(doc *etree.Document) ([]byte, error) {
	doc.WriteSettings.CanonicalEndTags = false
	b, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("render CIB: %w", err)
	}
	return b, nil
}
