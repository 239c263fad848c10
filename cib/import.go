package cib

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/goha-ha/goha/cib/spec"
	"github.com/goha-ha/goha/fencing"
)

// ManagedProperties are cluster properties Pacemaker maintains itself; a
// spec never sets them and import leaves them out.
var ManagedProperties = []string{"dc-version", "cluster-infrastructure", "cluster-name", "have-watchdog", "last-lrm-refresh"}

func isManagedProperty(name string) bool {
	for _, m := range ManagedProperties {
		if m == name {
			return true
		}
	}
	return false
}

// Import reads a CIB back into a spec. Ids that are what Generate would
// write are left out; constructs the spec has no field for are skipped and
// named in the warnings. Import(Generate(s)) is s for a spec written in
// the order Generate emits (grouped primitives together, in group order).
func Import(doc *etree.Document) (*spec.Spec, []string, error) {
	root := doc.Root()
	if root == nil || root.Tag != "cib" {
		return nil, nil, fmt.Errorf("not a CIB: the root element is not <cib>")
	}
	im := &importer{}
	s := &spec.Spec{}
	if schema := root.SelectAttrValue("validate-with", ""); schema != "" {
		if t, err := TargetForSchema(schema); err == nil {
			s.Pacemaker = t.Release
		} else {
			im.warnf("validate-with %q: %v", schema, err)
		}
	}
	conf := root.SelectElement("configuration")
	if conf == nil {
		return nil, nil, fmt.Errorf("the CIB has no <configuration>")
	}
	for _, child := range conf.ChildElements() {
		switch child.Tag {
		case "crm_config":
			im.crmConfig(s, child)
		case "nodes":
			im.nodes(s, child)
		case "resources":
			im.resources(s, child)
		case "constraints":
			im.constraints(s, child)
		case "fencing-topology":
			im.topology(s, child)
		case "rsc_defaults":
			s.RscDefaults = im.firstSet(child, "meta_attributes", "rsc_defaults")
		case "op_defaults":
			s.OpDefaults = im.firstSet(child, "meta_attributes", "op_defaults")
		case "alerts":
			im.alerts(s, child)
		default:
			im.warnf("<%s> is not part of the spec model; skipped", child.Tag)
		}
	}
	dropDefaultIDs(s)
	return s, im.warnings, nil
}

type importer struct{ warnings []string }

func (im *importer) warnf(format string, args ...any) {
	im.warnings = append(im.warnings, fmt.Sprintf(format, args...))
}

// nvpairs reads one nvset.
func (im *importer) nvpairs(set *etree.Element, where string) spec.NVList {
	if ref := set.SelectAttrValue("id-ref", ""); ref != "" {
		im.warnf("%s: %s refers to %q (id-ref); not imported", where, set.Tag, ref)
		return nil
	}
	if set.SelectElement("rule") != nil {
		im.warnf("%s: %s %q has a rule; imported as unconditional", where, set.Tag, set.SelectAttrValue("id", ""))
	}
	var l spec.NVList
	for _, p := range set.SelectElements("nvpair") {
		l = append(l, spec.NV{Name: p.SelectAttrValue("name", ""), Value: p.SelectAttrValue("value", "")})
	}
	return l
}

// firstSet reads the first set called tag under parent and warns about
// any further ones.
func (im *importer) firstSet(parent *etree.Element, tag, where string) spec.NVList {
	sets := parent.SelectElements(tag)
	if len(sets) == 0 {
		return nil
	}
	for _, extra := range sets[1:] {
		im.warnf("%s: further %s %q not imported (the spec has one set)", where, tag, extra.SelectAttrValue("id", ""))
	}
	return im.nvpairs(sets[0], where)
}

func (im *importer) crmConfig(s *spec.Spec, e *etree.Element) {
	sets := e.SelectElements("cluster_property_set")
	for i, set := range sets {
		if i > 0 && set.SelectAttrValue("id", "") != "cib-bootstrap-options" {
			im.warnf("crm_config: cluster_property_set %q not imported (the spec has one set)", set.SelectAttrValue("id", ""))
			continue
		}
		for _, nv := range im.nvpairs(set, "crm_config") {
			switch {
			case isManagedProperty(nv.Name):
			case nv.Name == propWatchdogTimeout:
				s.Fencing.WatchdogTimeout = nv.Value
			default:
				s.Properties = append(s.Properties, nv)
			}
		}
	}
}

func (im *importer) nodes(s *spec.Spec, e *etree.Element) {
	for i, ne := range e.SelectElements("node") {
		n := spec.Node{Name: ne.SelectAttrValue("uname", ""), ID: ne.SelectAttrValue("id", "")}
		if n.ID == strconv.Itoa(i+1) {
			n.ID = ""
		}
		if t := ne.SelectAttrValue("type", "member"); t != "member" {
			im.warnf("node %s: type %q not imported", n.Name, t)
		}
		n.Attributes = im.firstSet(ne, "instance_attributes", "node "+n.Name)
		n.Utilization = im.firstSet(ne, "utilization", "node "+n.Name)
		s.Nodes = append(s.Nodes, n)
	}
}

func (im *importer) resources(s *spec.Spec, e *etree.Element) {
	for _, child := range e.ChildElements() {
		switch child.Tag {
		case "primitive":
			if child.SelectAttrValue("class", "") == "stonith" {
				s.Fencing.Devices = append(s.Fencing.Devices, im.device(child))
				continue
			}
			s.Primitives = append(s.Primitives, im.primitive(child))
		case "group":
			im.group(s, child)
		case "clone", "master":
			c := spec.Clone{ID: child.SelectAttrValue("id", ""), Description: child.SelectAttrValue("description", ""), Promotable: child.Tag == "master"}
			for _, nv := range im.firstSet(child, "meta_attributes", "clone "+c.ID) {
				if nv.Name == "promotable" {
					c.Promotable = isTrue(nv.Value)
					continue
				}
				c.Meta = append(c.Meta, nv)
			}
			if p := child.SelectElement("primitive"); p != nil {
				c.Resource = p.SelectAttrValue("id", "")
				s.Primitives = append(s.Primitives, im.primitive(p))
			} else if g := child.SelectElement("group"); g != nil {
				c.Resource = g.SelectAttrValue("id", "")
				im.group(s, g)
			}
			s.Clones = append(s.Clones, c)
		default:
			im.warnf("resources: <%s> %q is not part of the spec model; skipped", child.Tag, child.SelectAttrValue("id", ""))
		}
	}
}

func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1", "y":
		return true
	}
	return false
}

func (im *importer) group(s *spec.Spec, e *etree.Element) {
	g := spec.Group{ID: e.SelectAttrValue("id", ""), Description: e.SelectAttrValue("description", "")}
	g.Meta = im.firstSet(e, "meta_attributes", "group "+g.ID)
	for _, p := range e.SelectElements("primitive") {
		prim := im.primitive(p)
		g.Members = append(g.Members, prim.ID)
		s.Primitives = append(s.Primitives, prim)
	}
	s.Groups = append(s.Groups, g)
}

func (im *importer) primitive(e *etree.Element) spec.Primitive {
	p := spec.Primitive{ID: e.SelectAttrValue("id", ""), Description: e.SelectAttrValue("description", "")}
	if tmpl := e.SelectAttrValue("template", ""); tmpl != "" {
		im.warnf("primitive %s: template %q not imported", p.ID, tmpl)
	}
	class, provider, typ := e.SelectAttrValue("class", ""), e.SelectAttrValue("provider", ""), e.SelectAttrValue("type", "")
	if provider != "" {
		p.Agent = class + ":" + provider + ":" + typ
	} else {
		p.Agent = class + ":" + typ
	}
	p.Params = im.firstSet(e, "instance_attributes", "primitive "+p.ID)
	p.Meta = im.firstSet(e, "meta_attributes", "primitive "+p.ID)
	p.Utilization = im.firstSet(e, "utilization", "primitive "+p.ID)
	p.Ops = im.ops(e, p.ID)
	return p
}

func (im *importer) device(e *etree.Element) spec.FenceDevice {
	d := spec.FenceDevice{ID: e.SelectAttrValue("id", ""), Agent: e.SelectAttrValue("type", ""), Description: e.SelectAttrValue("description", "")}
	fencing.FromParams(&d, im.firstSet(e, "instance_attributes", "fence device "+d.ID))
	d.Meta = im.firstSet(e, "meta_attributes", "fence device "+d.ID)
	d.Ops = im.ops(e, d.ID)
	return d
}

func (im *importer) ops(e *etree.Element, rsc string) []spec.Op {
	ops := e.SelectElement("operations")
	if ops == nil {
		return nil
	}
	var out []spec.Op
	for _, oe := range ops.SelectElements("op") {
		op := spec.Op{
			ID:             oe.SelectAttrValue("id", ""),
			Name:           oe.SelectAttrValue("name", ""),
			Interval:       oe.SelectAttrValue("interval", ""),
			Timeout:        oe.SelectAttrValue("timeout", ""),
			Role:           canonicalRole(oe.SelectAttrValue("role", "")),
			OnFail:         oe.SelectAttrValue("on-fail", ""),
			Enabled:        oe.SelectAttrValue("enabled", ""),
			StartDelay:     oe.SelectAttrValue("start-delay", ""),
			IntervalOrigin: oe.SelectAttrValue("interval-origin", ""),
			RecordPending:  oe.SelectAttrValue("record-pending", ""),
			Description:    oe.SelectAttrValue("description", ""),
		}
		if op.Interval == "0" || op.Interval == "0s" {
			op.Interval = ""
		}
		for _, nv := range im.firstSet(oe, "instance_attributes", "op "+op.ID) {
			if nv.Name == "OCF_CHECK_LEVEL" {
				op.Depth = nv.Value
				continue
			}
			im.warnf("op %s: instance attribute %s not imported", op.ID, nv.Name)
		}
		op.Meta = im.firstSet(oe, "meta_attributes", "op "+op.ID)
		out = append(out, op)
	}
	return out
}

func canonicalRole(r string) string {
	if c, _, ok := CanonicalRole(r); ok {
		return c
	}
	return r
}

func (im *importer) constraints(s *spec.Spec, e *etree.Element) {
	for _, c := range e.ChildElements() {
		id := c.SelectAttrValue("id", "")
		switch c.Tag {
		case "rsc_location":
			if c.SelectElement("resource_set") != nil {
				im.warnf("rsc_location %s: resource sets in locations are not part of the spec model; skipped", id)
				continue
			}
			l := spec.Location{
				ID:                id,
				Resource:          c.SelectAttrValue("rsc", ""),
				ResourcePattern:   c.SelectAttrValue("rsc-pattern", ""),
				Role:              canonicalRole(c.SelectAttrValue("role", "")),
				Node:              c.SelectAttrValue("node", ""),
				Score:             c.SelectAttrValue("score", ""),
				ResourceDiscovery: c.SelectAttrValue("resource-discovery", ""),
			}
			for _, r := range c.SelectElements("rule") {
				l.Rules = append(l.Rules, im.rule(r))
			}
			s.Locations = append(s.Locations, l)
		case "rsc_colocation":
			col := spec.Colocation{
				ID:            id,
				Resource:      c.SelectAttrValue("rsc", ""),
				With:          c.SelectAttrValue("with-rsc", ""),
				Role:          canonicalRole(c.SelectAttrValue("rsc-role", "")),
				WithRole:      canonicalRole(c.SelectAttrValue("with-rsc-role", "")),
				Score:         c.SelectAttrValue("score", ""),
				NodeAttribute: c.SelectAttrValue("node-attribute", ""),
				Sets:          im.sets(c),
			}
			if col.Score == "INFINITY" || col.Score == "+INFINITY" {
				col.Score = ""
			}
			s.Colocations = append(s.Colocations, col)
		case "rsc_order":
			s.Orders = append(s.Orders, spec.Order{
				ID:          id,
				First:       c.SelectAttrValue("first", ""),
				FirstAction: c.SelectAttrValue("first-action", ""),
				Then:        c.SelectAttrValue("then", ""),
				ThenAction:  c.SelectAttrValue("then-action", ""),
				Kind:        c.SelectAttrValue("kind", ""),
				Symmetrical: c.SelectAttrValue("symmetrical", ""),
				Sets:        im.sets(c),
			})
		default:
			im.warnf("constraints: <%s> %q is not part of the spec model; skipped", c.Tag, id)
		}
	}
}

func (im *importer) sets(c *etree.Element) []spec.ResourceSet {
	var out []spec.ResourceSet
	for _, se := range c.SelectElements("resource_set") {
		rs := spec.ResourceSet{
			Sequential: se.SelectAttrValue("sequential", ""),
			RequireAll: se.SelectAttrValue("require-all", ""),
			Action:     se.SelectAttrValue("action", ""),
			Role:       canonicalRole(se.SelectAttrValue("role", "")),
			Kind:       se.SelectAttrValue("kind", ""),
			Score:      se.SelectAttrValue("score", ""),
		}
		for _, r := range se.SelectElements("resource_ref") {
			rs.Resources = append(rs.Resources, r.SelectAttrValue("id", ""))
		}
		out = append(out, rs)
	}
	return out
}

func (im *importer) rule(e *etree.Element) spec.Rule {
	r := spec.Rule{
		Score:          e.SelectAttrValue("score", ""),
		ScoreAttribute: e.SelectAttrValue("score-attribute", ""),
		Role:           canonicalRole(e.SelectAttrValue("role", "")),
		BooleanOp:      e.SelectAttrValue("boolean-op", ""),
	}
	for _, x := range e.ChildElements() {
		switch x.Tag {
		case "expression":
			r.Expressions = append(r.Expressions, spec.Expression{
				Attribute:   x.SelectAttrValue("attribute", ""),
				Op:          x.SelectAttrValue("operation", ""),
				Value:       x.SelectAttrValue("value", ""),
				Type:        x.SelectAttrValue("type", ""),
				ValueSource: x.SelectAttrValue("value-source", ""),
			})
		case "date_expression":
			d := &spec.Date{Op: x.SelectAttrValue("operation", ""), Start: x.SelectAttrValue("start", ""), End: x.SelectAttrValue("end", "")}
			if du := x.SelectElement("duration"); du != nil {
				d.Duration = attrList(du)
			}
			if ds := x.SelectElement("date_spec"); ds != nil {
				d.Spec = attrList(ds)
			}
			r.Expressions = append(r.Expressions, spec.Expression{Date: d})
		case "rule":
			nested := im.rule(x)
			if nested.Score == "0" {
				nested.Score = "" // written by Generate for the schema's sake
			}
			r.Expressions = append(r.Expressions, spec.Expression{Rule: &nested})
		default:
			im.warnf("rule %s: <%s> is not part of the spec model; skipped", e.SelectAttrValue("id", ""), x.Tag)
		}
	}
	return r
}

// attrList is an element's attributes but its id, in document order.
func attrList(e *etree.Element) spec.NVList {
	var l spec.NVList
	for _, a := range e.Attr {
		if a.Key != "id" {
			l = append(l, spec.NV{Name: a.Key, Value: a.Value})
		}
	}
	return l
}

func (im *importer) topology(s *spec.Spec, e *etree.Element) {
	for _, fl := range e.SelectElements("fencing-level") {
		target := fl.SelectAttrValue("target", "")
		if target == "" {
			im.warnf("fencing-level %s: only node targets are part of the spec model; skipped", fl.SelectAttrValue("id", ""))
			continue
		}
		idx, _ := strconv.Atoi(fl.SelectAttrValue("index", ""))
		s.Fencing.Levels = append(s.Fencing.Levels, spec.FenceLevel{
			Node: target, Index: idx,
			Devices: strings.FieldsFunc(fl.SelectAttrValue("devices", ""), func(r rune) bool { return r == ',' }),
		})
	}
}

func (im *importer) alerts(s *spec.Spec, e *etree.Element) {
	for _, ae := range e.SelectElements("alert") {
		a := spec.Alert{ID: ae.SelectAttrValue("id", ""), Path: ae.SelectAttrValue("path", ""), Description: ae.SelectAttrValue("description", "")}
		a.Meta = im.firstSet(ae, "meta_attributes", "alert "+a.ID)
		a.Params = im.firstSet(ae, "instance_attributes", "alert "+a.ID)
		if ae.SelectElement("select") != nil {
			im.warnf("alert %s: <select> is not part of the spec model; skipped", a.ID)
		}
		for _, re := range ae.SelectElements("recipient") {
			r := spec.Recipient{ID: re.SelectAttrValue("id", ""), Value: re.SelectAttrValue("value", "")}
			r.Meta = im.firstSet(re, "meta_attributes", "recipient "+r.ID)
			r.Params = im.firstSet(re, "instance_attributes", "recipient "+r.ID)
			a.Recipients = append(a.Recipients, r)
		}
		s.Alerts = append(s.Alerts, a)
	}
}

// dropDefaultIDs leaves out every optional id that Generate would write
// anyway. Candidates are ids equal to their default or to default-N; the
// spec is then generated and any candidate that came out different is put
// back, until nothing changes.
func dropDefaultIDs(s *spec.Spec) {
	type slot struct {
		ptr  *string
		orig string
	}
	var slots []slot
	consider := func(ptr *string, def string) {
		if *ptr != "" && isDefaultLike(*ptr, def) {
			slots = append(slots, slot{ptr, *ptr})
			*ptr = ""
		}
	}
	for i := range s.Primitives {
		p := &s.Primitives[i]
		for j := range p.Ops {
			consider(&p.Ops[j].ID, defaultOpID(p.ID, p.Ops[j]))
		}
	}
	for i := range s.Fencing.Devices {
		d := &s.Fencing.Devices[i]
		for j := range d.Ops {
			consider(&d.Ops[j].ID, defaultOpID(d.ID, d.Ops[j]))
		}
	}
	for i := range s.Clones {
		if s.Clones[i].ID == defaultCloneID(s.Clones[i]) {
			s.Clones[i].ID = ""
		}
	}
	for i := range s.Locations {
		consider(&s.Locations[i].ID, defaultLocationID(s.Locations[i]))
	}
	for i := range s.Colocations {
		c := s.Colocations[i]
		c.Score = colocationScore(c)
		consider(&s.Colocations[i].ID, defaultColocationID(c))
	}
	for i := range s.Orders {
		consider(&s.Orders[i].ID, defaultOrderID(s.Orders[i]))
	}
	for i := range s.Alerts {
		a := &s.Alerts[i]
		for j := range a.Recipients {
			consider(&a.Recipients[j].ID, sanitizeID(a.ID+"-recipient"))
		}
	}
	for range 10 {
		got := generatedIDs(s)
		changed := false
		for _, sl := range slots {
			if *sl.ptr == "" && got[sl.ptr] != sl.orig {
				*sl.ptr = sl.orig
				changed = true
			}
		}
		if !changed {
			return
		}
	}
	for _, sl := range slots {
		*sl.ptr = sl.orig
	}
}

var digitsRE = regexp.MustCompile(`^[0-9]+$`)

func isDefaultLike(id, def string) bool {
	if id == def {
		return true
	}
	rest, ok := strings.CutPrefix(id, def+"-")
	return ok && digitsRE.MatchString(rest)
}

// generatedIDs generates s and reports the id each optional id field
// (op, constraint, recipient) received, keyed by the field's address.
func generatedIDs(s *spec.Spec) map[*string]string {
	doc := Generate(s, Target{Schema: "pacemaker-3.7"})
	conf := doc.Root().SelectElement("configuration")
	out := map[*string]string{}
	opsOf := map[string][]*etree.Element{}
	for _, pe := range conf.FindElements("//primitive") {
		if ops := pe.SelectElement("operations"); ops != nil {
			opsOf[pe.SelectAttrValue("id", "")] = ops.SelectElements("op")
		}
	}
	for i := range s.Primitives {
		p := &s.Primitives[i]
		for j, oe := range opsOf[p.ID] {
			if j < len(p.Ops) {
				out[&p.Ops[j].ID] = oe.SelectAttrValue("id", "")
			}
		}
	}
	for i := range s.Fencing.Devices {
		d := &s.Fencing.Devices[i]
		for j, oe := range opsOf[d.ID] {
			if j < len(d.Ops) {
				out[&d.Ops[j].ID] = oe.SelectAttrValue("id", "")
			}
		}
	}
	cons := conf.SelectElement("constraints")
	for i, e := range cons.SelectElements("rsc_location") {
		out[&s.Locations[i].ID] = e.SelectAttrValue("id", "")
	}
	for i, e := range cons.SelectElements("rsc_colocation") {
		out[&s.Colocations[i].ID] = e.SelectAttrValue("id", "")
	}
	for i, e := range cons.SelectElements("rsc_order") {
		out[&s.Orders[i].ID] = e.SelectAttrValue("id", "")
	}
	if al := conf.SelectElement("alerts"); al != nil {
		for i, ae := range al.SelectElements("alert") {
			for j, re := range ae.SelectElements("recipient") {
				out[&s.Alerts[i].Recipients[j].ID] = re.SelectAttrValue("id", "")
			}
		}
	}
	return out
}
