package cib

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/goha-ha/goha/cib/meta"
	"github.com/goha-ha/goha/cib/spec"
	"github.com/goha-ha/goha/fencing"
)

// CheckOptions says what Check looks at.
type CheckOptions struct {
	Target Target
	// Agents, when not nil, is asked for every agent's meta-data: agents
	// that are not installed and parameters they do not take are reported.
	Agents meta.Source
	// AllowUnsafe turns the safety lint's errors into warnings.
	AllowUnsafe bool
}

// Check is goha's semantic validation of a spec. Findings name the field
// they are about; Locate them with the spec's Positions.
func Check(ctx context.Context, s *spec.Spec, opt CheckOptions) spec.Findings {
	c := &checker{s: s, opt: opt}
	c.index()
	c.general()
	c.nodes()
	c.primitives(ctx)
	c.groups()
	c.clones()
	c.locations()
	c.colocations()
	c.orders()
	c.alerts()
	c.fs = append(c.fs, fencing.Check(ctx, s, opt.Agents)...)
	lint := fencing.Lint(s)
	for i := range lint {
		if lint[i].Safety && opt.AllowUnsafe {
			lint[i].Severity = spec.Warning
		}
	}
	c.fs = append(c.fs, lint...)
	return c.fs
}

type checker struct {
	s   *spec.Spec
	opt CheckOptions
	fs  spec.Findings

	kind       map[string]string // resource id -> primitive, group, clone
	promotable map[string]bool   // clone ids
	clonedBy   map[string]string // primitive or group id -> clone id
	groupOf    map[string]string // primitive id -> group id
	nodeSet    map[string]bool
}

func (c *checker) index() {
	s := c.s
	c.kind = map[string]string{}
	c.promotable = map[string]bool{}
	c.clonedBy = map[string]string{}
	c.groupOf = map[string]string{}
	c.nodeSet = map[string]bool{}
	used := map[string]string{} // id -> path of its first use
	claim := func(id, path, what string) {
		if id == "" {
			return
		}
		if !ValidID(id) {
			c.fs.Errorf(path, "%q is not a valid id (letters, digits, '-', '_', '.'; not starting with a digit)", id)
		}
		if first, dup := used[id]; dup {
			c.fs.Errorf(path, "id %q is already used at %s; ids are unique in the whole CIB", id, first)
			return
		}
		used[id] = path
		if what != "" {
			c.kind[id] = what
		}
	}
	for i, p := range s.Primitives {
		if p.ID == "" {
			c.fs.Errorf(fmt.Sprintf("primitives[%d].id", i), "a primitive needs an id")
		}
		claim(p.ID, fmt.Sprintf("primitives[%d].id", i), "primitive")
		for j, op := range p.Ops {
			claim(op.ID, fmt.Sprintf("primitives[%d].ops[%d].id", i, j), "")
		}
	}
	for i, g := range s.Groups {
		if g.ID == "" {
			c.fs.Errorf(fmt.Sprintf("groups[%d].id", i), "a group needs an id")
		}
		claim(g.ID, fmt.Sprintf("groups[%d].id", i), "group")
	}
	for i, cl := range s.Clones {
		path := fmt.Sprintf("clones[%d].id", i)
		if cl.ID == "" {
			path = fmt.Sprintf("clones[%d].resource", i)
		}
		if cl.Resource == "" && cl.ID == "" {
			continue
		}
		claim(cloneID(cl), path, "clone")
		c.promotable[cloneID(cl)] = cl.Promotable
	}
	for i, d := range s.Fencing.Devices {
		if d.ID == "" {
			c.fs.Errorf(fmt.Sprintf("fencing.devices[%d].id", i), "a fence device needs an id")
		}
		claim(d.ID, fmt.Sprintf("fencing.devices[%d].id", i), "")
		for j, op := range d.Ops {
			claim(op.ID, fmt.Sprintf("fencing.devices[%d].ops[%d].id", i, j), "")
		}
	}
	for i, l := range s.Locations {
		claim(l.ID, fmt.Sprintf("locations[%d].id", i), "")
	}
	for i, l := range s.Colocations {
		claim(l.ID, fmt.Sprintf("colocations[%d].id", i), "")
	}
	for i, l := range s.Orders {
		claim(l.ID, fmt.Sprintf("orders[%d].id", i), "")
	}
	for i, a := range s.Alerts {
		if a.ID == "" {
			c.fs.Errorf(fmt.Sprintf("alerts[%d].id", i), "an alert needs an id")
		}
		claim(a.ID, fmt.Sprintf("alerts[%d].id", i), "")
		for j, r := range a.Recipients {
			claim(r.ID, fmt.Sprintf("alerts[%d].recipients[%d].id", i, j), "")
		}
	}
	for _, g := range s.Groups {
		for _, m := range g.Members {
			if _, dup := c.groupOf[m]; !dup {
				c.groupOf[m] = g.ID
			}
		}
	}
	for _, cl := range s.Clones {
		if _, dup := c.clonedBy[cl.Resource]; !dup && cl.Resource != "" {
			c.clonedBy[cl.Resource] = cloneID(cl)
		}
	}
	for _, n := range s.Nodes {
		c.nodeSet[n.Name] = true
	}
}

// describe names what a resource id is, for messages.
func (c *checker) describe(id string) string {
	if k, ok := c.kind[id]; ok {
		if k == "clone" && c.promotable[id] {
			return "promotable clone " + id
		}
		return k + " " + id
	}
	return id
}

func (c *checker) general() {
	if c.s.Pacemaker != "" {
		if _, err := ParseTarget(c.s.Pacemaker); err != nil {
			c.fs.Errorf("pacemaker", "%v", err)
		}
	}
	for _, nv := range c.s.Properties {
		path := "properties." + nv.Name
		switch {
		case isManagedProperty(nv.Name):
			c.fs.Errorf(path, "%s is maintained by Pacemaker itself; leave it out", nv.Name)
		case nv.Name == "no-quorum-policy":
			if !oneOf(nv.Value, "stop", "freeze", "ignore", "demote", "suicide", "fence") {
				c.fs.Errorf(path, "no-quorum-policy is stop, freeze, ignore, demote or fence, not %q", nv.Value)
			}
		case strings.HasSuffix(nv.Name, "-enabled") || nv.Name == "symmetric-cluster" || nv.Name == "maintenance-mode":
			if !isBool(nv.Value) {
				c.fs.Errorf(path, "%s is true or false, not %q", nv.Name, nv.Value)
			}
		}
	}
	c.nvNames("properties", c.s.Properties)
	c.nvNames("rsc_defaults", c.s.RscDefaults)
	c.nvNames("op_defaults", c.s.OpDefaults)
	for _, nv := range c.s.RscDefaults {
		c.metaValue("rsc_defaults."+nv.Name, nv)
	}
}

func (c *checker) nvNames(path string, l spec.NVList) {
	for _, nv := range l {
		if nv.Name == "" {
			c.fs.Errorf(path, "an attribute name is empty")
		}
	}
}

// metaValue checks the values of well-known resource meta-attributes.
func (c *checker) metaValue(path string, nv spec.NV) {
	switch nv.Name {
	case "resource-stickiness", "priority", "migration-threshold":
		if !scoreRE.MatchString(nv.Value) {
			c.fs.Errorf(path, "%s is a score (an integer or INFINITY), not %q", nv.Name, nv.Value)
		}
	case "failure-timeout":
		if !validInterval(nv.Value) {
			c.fs.Errorf(path, "failure-timeout is a duration, not %q", nv.Value)
		}
	case "target-role":
		if _, _, ok := CanonicalRole(nv.Value); !ok {
			c.fs.Errorf(path, "target-role is Started, Stopped, Promoted or Unpromoted, not %q", nv.Value)
		}
	case "is-managed", "maintenance", "notify", "globally-unique", "interleave", "ordered", "critical", "allow-migrate":
		if !isBool(nv.Value) {
			c.fs.Errorf(path, "%s is true or false, not %q", nv.Name, nv.Value)
		}
	}
}

func (c *checker) nodes() {
	if len(c.s.Nodes) == 0 {
		c.fs.Errorf("nodes", "the spec names no nodes: a CIB without node entries breaks fence device registration")
	}
	names, ids := map[string]int{}, map[string]int{}
	for i, n := range c.s.Nodes {
		path := fmt.Sprintf("nodes[%d]", i)
		if n.Name == "" {
			c.fs.Errorf(path+".name", "a node needs a name")
		} else if j, dup := names[n.Name]; dup {
			c.fs.Errorf(path+".name", "node %s is already nodes[%d]", n.Name, j)
		} else {
			names[n.Name] = i
		}
		id := nodeID(i, n)
		if j, dup := ids[id]; dup {
			c.fs.Errorf(path+".id", "node id %s is already the id of nodes[%d] (ids default to the position, from 1)", id, j)
		} else {
			ids[id] = i
		}
		if n.ID != "" && !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(n.ID) {
			c.fs.Warnf(path+".id", "%q is not a corosync node id (a positive number)", n.ID)
		}
		c.nvNames(path+".attributes", n.Attributes)
		c.nvNames(path+".utilization", n.Utilization)
		for _, nv := range n.Utilization {
			if !regexp.MustCompile(`^[0-9]+$`).MatchString(nv.Value) {
				c.fs.Errorf(path+".utilization."+nv.Name, "utilization is a whole number, not %q", nv.Value)
			}
		}
	}
}

var validOps = []string{"monitor", "start", "stop", "promote", "demote", "notify", "reload", "reload-agent", "migrate_to", "migrate_from", "meta-data", "validate-all", "status"}

func (c *checker) primitives(ctx context.Context) {
	for i, p := range c.s.Primitives {
		path := fmt.Sprintf("primitives[%d]", i)
		class, provider, _, err := SplitAgent(p.Agent)
		switch {
		case p.Agent == "":
			c.fs.Errorf(path+".agent", "a primitive needs an agent (ocf:heartbeat:IPaddr2, systemd:haproxy, ...)")
			continue
		case err != nil:
			c.fs.Errorf(path+".agent", "%v", err)
			continue
		case class == "stonith":
			c.fs.Errorf(path+".agent", "fence devices go under fencing.devices, not primitives")
			continue
		case !oneOf(class, "ocf", "systemd", "service", "lsb"):
			c.fs.Errorf(path+".agent", "class %q is not ocf, systemd, service or lsb", class)
			continue
		}
		c.nvNames(path+".params", p.Params)
		for _, nv := range p.Meta {
			c.metaValue(path+".meta."+nv.Name, nv)
		}
		if class != "ocf" && len(p.Params) > 0 {
			c.fs.Errorf(path+".params", "%s resources take no parameters", class)
		}
		for _, nv := range p.Utilization {
			if !regexp.MustCompile(`^[0-9]+$`).MatchString(nv.Value) {
				c.fs.Errorf(path+".utilization."+nv.Name, "utilization is a whole number, not %q", nv.Value)
			}
		}
		c.ops(path, p.Ops)
		if c.opt.Agents != nil {
			c.agent(ctx, path, p, class, provider)
		}
	}
}

func (c *checker) ops(path string, ops []spec.Op) {
	seen := map[string]int{}
	for j, op := range ops {
		op := op
		opath := fmt.Sprintf("%s.ops[%d]", path, j)
		if op.Name == "" {
			c.fs.Errorf(opath+".name", "an operation needs a name (monitor, start, ...)")
		} else if !oneOf(op.Name, validOps...) {
			c.fs.Errorf(opath+".name", "%q is not an operation (%s)", op.Name, strings.Join(validOps, ", "))
		}
		if op.Interval != "" && !validInterval(op.Interval) {
			c.fs.Errorf(opath+".interval", "%q is not a duration (10s, 1min, PT10S)", op.Interval)
		}
		if op.Timeout != "" && !validInterval(op.Timeout) {
			c.fs.Errorf(opath+".timeout", "%q is not a duration (20s, 2min, PT20S)", op.Timeout)
		}
		if op.OnFail != "" && !oneOf(op.OnFail, "ignore", "block", "stop", "restart", "standby", "fence", "restart-container", "demote") {
			c.fs.Errorf(opath+".on_fail", "%q is not an on-fail policy (ignore, block, stop, restart, standby, fence, demote)", op.OnFail)
		}
		if op.Depth != "" && !regexp.MustCompile(`^[0-9]+$`).MatchString(op.Depth) {
			c.fs.Errorf(opath+".depth", "depth (OCF_CHECK_LEVEL) is a number, not %q", op.Depth)
		}
		for field, v := range map[string]string{"enabled": op.Enabled, "record_pending": op.RecordPending} {
			if v != "" && !isBool(v) {
				c.fs.Errorf(opath+"."+field, "%s is true or false, not %q", field, v)
			}
		}
		c.role(opath+".role", op.Role)
		if _, ok := op.Meta.Get("requires"); ok {
			c.fs.Errorf(opath+".meta.requires", "requires is a resource meta attribute; operations do not take it")
		}
		key := op.Name + "/" + normInterval(op.Interval) + "/" + op.Role
		if k, dup := seen[key]; dup {
			c.fs.Errorf(opath, "operation %s with interval %s is already %s.ops[%d]", op.Name, opInterval(op), path, k)
		}
		seen[key] = j
	}
}

// agent checks a primitive against its agent's meta-data.
func (c *checker) agent(ctx context.Context, path string, p spec.Primitive, class, provider string) {
	a, err := c.opt.Agents.Metadata(ctx, p.Agent)
	switch {
	case errors.Is(err, meta.ErrNotInstalled):
		if provider == "goha" || class != "ocf" {
			c.fs.Warnf(path+".agent", "agent %s is not installed here; its parameters are not checked", p.Agent)
			return
		}
		c.fs.Errorf(path+".agent", "agent %s is not installed", p.Agent)
		return
	case err != nil:
		c.fs.Errorf(path+".agent", "cannot read the meta-data of %s: %v", p.Agent, err)
		return
	}
	if a.AnyParams {
		return
	}
	given := map[string]bool{}
	for _, nv := range p.Params {
		given[nv.Name] = true
		mp := a.Param(nv.Name)
		if mp == nil {
			c.fs.Errorf(path+".params."+nv.Name, "%s has no parameter %q%s", p.Agent, nv.Name, fencing.Suggest(nv.Name, a))
			continue
		}
		if mp.Deprecated {
			repl := ""
			if mp.ReplacedBy != "" {
				repl = fmt.Sprintf(", use %q", mp.ReplacedBy)
			}
			c.fs.Warnf(path+".params."+nv.Name, "%s: parameter %q is deprecated%s", p.Agent, nv.Name, repl)
		}
	}
	for _, mp := range a.Params {
		if mp.Required && !given[mp.Name] && !(mp.Obsoletes != "" && given[mp.Obsoletes]) {
			c.fs.Errorf(path+".params", "%s requires parameter %q", p.Agent, mp.Name)
		}
	}
	for j, op := range p.Ops {
		if len(a.Actions) > 0 && !a.HasAction(op.Name) && !oneOf(op.Name, "monitor", "start", "stop") {
			c.fs.Warnf(fmt.Sprintf("%s.ops[%d].name", path, j), "%s does not advertise the %s action", p.Agent, op.Name)
		}
	}
	if cl, ok := c.clonedBy[p.ID]; ok && c.promotable[cl] && len(a.Actions) > 0 && !a.HasAction("promote") {
		c.fs.Errorf(path+".agent", "%s is in promotable clone %s but %s has no promote action", p.ID, cl, p.Agent)
	}
}

func (c *checker) groups() {
	for i, g := range c.s.Groups {
		path := fmt.Sprintf("groups[%d]", i)
		if len(g.Members) == 0 {
			c.fs.Errorf(path+".members", "group %s has no members", g.ID)
		}
		seen := map[string]bool{}
		for j, m := range g.Members {
			mpath := fmt.Sprintf("%s.members[%d]", path, j)
			switch {
			case c.kind[m] == "":
				c.fs.Errorf(mpath, "no primitive %q", m)
			case c.kind[m] != "primitive":
				c.fs.Errorf(mpath, "a group holds primitives; %s is not one", c.describe(m))
			case seen[m]:
				c.fs.Errorf(mpath, "%s is listed twice", m)
			case c.groupOf[m] != g.ID:
				c.fs.Errorf(mpath, "%s is already in group %s", m, c.groupOf[m])
			case c.clonedBy[m] != "":
				c.fs.Errorf(mpath, "%s is cloned by %s; clone the group instead", m, c.clonedBy[m])
			}
			seen[m] = true
		}
		for _, nv := range g.Meta {
			c.metaValue(path+".meta."+nv.Name, nv)
		}
	}
}

func (c *checker) clones() {
	for i, cl := range c.s.Clones {
		path := fmt.Sprintf("clones[%d]", i)
		switch k := c.kind[cl.Resource]; {
		case cl.Resource == "":
			c.fs.Errorf(path+".resource", "a clone needs the resource it clones")
		case k == "":
			c.fs.Errorf(path+".resource", "no primitive or group %q", cl.Resource)
		case k == "clone":
			c.fs.Errorf(path+".resource", "%s is a clone; a clone holds a primitive or a group", cl.Resource)
		case c.clonedBy[cl.Resource] != cloneID(cl):
			c.fs.Errorf(path+".resource", "%s is already cloned by %s", cl.Resource, c.clonedBy[cl.Resource])
		case k == "primitive" && c.groupOf[cl.Resource] != "":
			c.fs.Errorf(path+".resource", "%s is in group %s; clone the group instead", cl.Resource, c.groupOf[cl.Resource])
		}
		for _, nv := range cl.Meta {
			switch nv.Name {
			case "promotable":
				c.fs.Errorf(path+".meta.promotable", "write promotable: true on the clone instead of the meta attribute")
			case "clone-max", "clone-node-max", "promoted-max", "promoted-node-max", "master-max", "master-node-max":
				if !regexp.MustCompile(`^[0-9]+$`).MatchString(nv.Value) {
					c.fs.Errorf(path+".meta."+nv.Name, "%s is a number, not %q", nv.Name, nv.Value)
				}
				if strings.HasPrefix(nv.Name, "master-") {
					c.legacy(path+".meta."+nv.Name, nv.Name, "promoted-"+strings.TrimPrefix(nv.Name, "master-"))
				}
			default:
				c.metaValue(path+".meta."+nv.Name, nv)
			}
			if !cl.Promotable && strings.Contains(nv.Name, "promoted") {
				c.fs.Errorf(path+".meta."+nv.Name, "%s applies to promotable clones; set promotable: true", nv.Name)
			}
		}
	}
}

// legacy reports a legacy spelling: deprecated before Pacemaker 3, gone in 3.
func (c *checker) legacy(path, old, repl string) {
	if c.opt.Target.NoLegacyRoles {
		c.fs.Errorf(path, "%s is not accepted by Pacemaker %s; write %s", old, c.opt.Target.Release, repl)
		return
	}
	c.fs.Warnf(path, "%s is deprecated; write %s", old, repl)
}

// role checks a role name.
func (c *checker) role(path, role string) {
	if role == "" {
		return
	}
	canon, legacy, ok := CanonicalRole(role)
	if !ok {
		c.fs.Errorf(path, "%q is not a role (Started, Stopped, Promoted, Unpromoted)", role)
		return
	}
	if legacy {
		c.legacy(path, role, canon)
	}
}

// promotedRole checks that a Promoted/Unpromoted role is used with a
// promotable clone.
func (c *checker) promotedRole(path, role, rsc string) {
	canon, _, ok := CanonicalRole(role)
	if !ok || (canon != "Promoted" && canon != "Unpromoted") || rsc == "" || c.kind[rsc] == "" {
		return
	}
	if !c.promotable[rsc] {
		c.fs.Errorf(path, "role %s needs a promotable clone; %s is not one", role, c.describe(rsc))
	}
}

// ref checks a resource reference of a constraint.
func (c *checker) ref(path, id string) {
	switch {
	case id == "":
		c.fs.Errorf(path, "a resource is required")
	case c.kind[id] == "":
		c.fs.Errorf(path, "no resource %q (primitive, group or clone)", id)
	case c.clonedBy[id] != "":
		c.fs.Errorf(path, "%s is inside clone %s; constrain the clone", id, c.clonedBy[id])
	case c.groupOf[id] != "" && c.clonedBy[c.groupOf[id]] != "":
		c.fs.Errorf(path, "%s is inside cloned group %s; constrain the clone %s", id, c.groupOf[id], c.clonedBy[c.groupOf[id]])
	}
}

var scoreRE = regexp.MustCompile(`^[+-]?(INFINITY|[0-9]+)$`)

func (c *checker) score(path, score string) {
	if score != "" && !scoreRE.MatchString(score) {
		c.fs.Errorf(path, "%q is not a score (an integer, INFINITY or -INFINITY)", score)
	}
}

func (c *checker) locations() {
	for i, l := range c.s.Locations {
		path := fmt.Sprintf("locations[%d]", i)
		switch {
		case l.Resource != "" && l.ResourcePattern != "":
			c.fs.Errorf(path+".resource_pattern", "give resource or resource_pattern, not both")
		case l.ResourcePattern != "":
			if _, err := regexp.Compile(l.ResourcePattern); err != nil {
				c.fs.Errorf(path+".resource_pattern", "not a regular expression: %v", err)
			}
		default:
			c.ref(path+".resource", l.Resource)
		}
		c.role(path+".role", l.Role)
		c.promotedRole(path+".role", l.Role, l.Resource)
		if l.ResourceDiscovery != "" && !oneOf(l.ResourceDiscovery, "always", "never", "exclusive") {
			c.fs.Errorf(path+".resource_discovery", "resource_discovery is always, never or exclusive, not %q", l.ResourceDiscovery)
		}
		switch {
		case len(l.Rules) > 0 && (l.Node != "" || l.Score != ""):
			c.fs.Errorf(path, "a location has a node and a score, or rules, not both")
		case len(l.Rules) == 0 && (l.Node == "" || l.Score == ""):
			c.fs.Errorf(path, "a location needs a node and a score, or rules")
		}
		if l.Node != "" && !c.nodeSet[l.Node] {
			c.fs.Errorf(path+".node", "%q is not a node of this spec", l.Node)
		}
		c.score(path+".score", l.Score)
		if c.opt.Target.OneRulePerLocation && len(l.Rules) > 1 {
			c.fs.Errorf(path+".rules", "Pacemaker %s (schema %s) allows one rule per location; split this location into one per rule", c.opt.Target.Release, c.opt.Target.Schema)
		}
		for j, r := range l.Rules {
			c.rule(fmt.Sprintf("%s.rules[%d]", path, j), r, l.Resource, true, 0)
		}
	}
}

func (c *checker) rule(path string, r spec.Rule, rsc string, top bool, depth int) {
	if depth > 20 {
		c.fs.Errorf(path, "rules nest too deep")
		return
	}
	switch {
	case r.Score != "" && r.ScoreAttribute != "":
		c.fs.Errorf(path+".score_attribute", "give score or score_attribute, not both")
	case top && r.Score == "" && r.ScoreAttribute == "":
		c.fs.Errorf(path+".score", "a location rule needs a score (or score_attribute)")
	}
	c.score(path+".score", r.Score)
	c.role(path+".role", r.Role)
	c.promotedRole(path+".role", r.Role, rsc)
	if r.BooleanOp != "" && !oneOf(r.BooleanOp, "and", "or") {
		c.fs.Errorf(path+".boolean_op", "boolean_op is and or or, not %q", r.BooleanOp)
	}
	if len(r.Expressions) == 0 {
		c.fs.Errorf(path+".expressions", "a rule needs at least one expression")
	}
	for k, x := range r.Expressions {
		xpath := fmt.Sprintf("%s.expressions[%d]", path, k)
		kinds := 0
		if x.Attribute != "" || x.Op != "" && x.Date == nil && x.Rule == nil {
			kinds++
		}
		if x.Date != nil {
			kinds++
		}
		if x.Rule != nil {
			kinds++
		}
		if kinds != 1 {
			c.fs.Errorf(xpath, "an expression is one of: attribute and op, date, or rule")
			continue
		}
		switch {
		case x.Rule != nil:
			c.rule(xpath+".rule", *x.Rule, rsc, false, depth+1)
		case x.Date != nil:
			c.date(xpath+".date", x.Date)
		default:
			c.expression(xpath, x)
		}
	}
}

func (c *checker) expression(path string, x spec.Expression) {
	if x.Attribute == "" {
		c.fs.Errorf(path+".attribute", "an expression needs the node attribute it tests (pingd, #uname, ...)")
	}
	switch {
	case oneOf(x.Op, "defined", "not_defined"):
		if x.Value != "" {
			c.fs.Errorf(path+".value", "%s takes no value", x.Op)
		}
	case oneOf(x.Op, "lt", "gt", "lte", "gte", "eq", "ne"):
		if x.Value == "" {
			c.fs.Errorf(path+".value", "%s needs a value", x.Op)
		}
	default:
		c.fs.Errorf(path+".op", "%q is not an expression op (lt, gt, lte, gte, eq, ne, defined, not_defined)", x.Op)
	}
	if x.Type != "" && !oneOf(x.Type, "string", "integer", "number", "version") {
		c.fs.Errorf(path+".type", "type is string, integer, number or version, not %q", x.Type)
	}
	if x.Type == "integer" && !c.opt.Target.IntegerType {
		c.fs.Warnf(path+".type", "type integer needs rule schema 3.5; for Pacemaker %s it is written as number", c.opt.Target.Release)
	}
	if x.Type == "integer" && x.Value != "" && !regexp.MustCompile(`^[+-]?[0-9]+$`).MatchString(x.Value) && x.ValueSource == "" {
		c.fs.Errorf(path+".value", "%q is not an integer", x.Value)
	}
	if x.ValueSource != "" && !oneOf(x.ValueSource, "literal", "param", "meta") {
		c.fs.Errorf(path+".value_source", "value_source is literal, param or meta, not %q", x.ValueSource)
	}
}

var dateSpecFields = []string{"hours", "monthdays", "weekdays", "yeardays", "months", "weeks", "years", "weekyears", "moon"}
var durationFields = []string{"years", "months", "weeks", "days", "hours", "minutes", "seconds"}

func (c *checker) date(path string, d *spec.Date) {
	switch d.Op {
	case "in_range":
		if d.Start == "" && d.End == "" {
			c.fs.Errorf(path, "in_range needs start, end or both")
		}
		if d.End != "" && len(d.Duration) > 0 {
			c.fs.Errorf(path+".duration", "give end or duration, not both")
		}
	case "gt":
		if d.Start == "" {
			c.fs.Errorf(path+".start", "gt compares with start; it is missing")
		}
	case "lt":
		if d.End == "" {
			c.fs.Errorf(path+".end", "lt compares with end; it is missing")
		}
	case "date_spec":
		if len(d.Spec) == 0 {
			c.fs.Errorf(path+".spec", "date_spec needs a spec (hours, weekdays, ...)")
		}
	default:
		c.fs.Errorf(path+".op", "%q is not a date op (in_range, gt, lt, date_spec)", d.Op)
	}
	if d.Op != "date_spec" && len(d.Spec) > 0 {
		c.fs.Errorf(path+".spec", "spec belongs to op date_spec")
	}
	if d.Op != "in_range" && len(d.Duration) > 0 {
		c.fs.Errorf(path+".duration", "duration belongs to op in_range")
	}
	for _, nv := range d.Spec {
		if !oneOf(nv.Name, dateSpecFields...) {
			c.fs.Errorf(path+".spec."+nv.Name, "%q is not a date_spec field (%s)", nv.Name, strings.Join(dateSpecFields, ", "))
		} else if nv.Name == "moon" && c.opt.Target.NoLegacyRoles {
			c.fs.Errorf(path+".spec.moon", "moon was removed in Pacemaker 3")
		}
		if !regexp.MustCompile(`^[0-9]+(-[0-9]+)?$`).MatchString(nv.Value) {
			c.fs.Errorf(path+".spec."+nv.Name, "%q is not a number or a range (9-16)", nv.Value)
		}
	}
	for _, nv := range d.Duration {
		if !oneOf(nv.Name, durationFields...) {
			c.fs.Errorf(path+".duration."+nv.Name, "%q is not a duration field (%s)", nv.Name, strings.Join(durationFields, ", "))
		}
	}
}

func (c *checker) colocations() {
	for i, col := range c.s.Colocations {
		path := fmt.Sprintf("colocations[%d]", i)
		c.score(path+".score", col.Score)
		c.role(path+".role", col.Role)
		c.role(path+".with_role", col.WithRole)
		if len(col.Sets) > 0 {
			if col.Resource != "" || col.With != "" || col.Role != "" || col.WithRole != "" {
				c.fs.Errorf(path+".sets", "a colocation has resource and with, or sets, not both")
			}
			c.sets(path, col.Sets, false)
			continue
		}
		c.ref(path+".resource", col.Resource)
		c.ref(path+".with", col.With)
		if col.Resource != "" && col.Resource == col.With {
			c.fs.Errorf(path+".with", "%s cannot be colocated with itself", col.With)
		}
		c.promotedRole(path+".role", col.Role, col.Resource)
		c.promotedRole(path+".with_role", col.WithRole, col.With)
	}
}

var orderActions = []string{"start", "stop", "promote", "demote"}

func (c *checker) orders() {
	for i, o := range c.s.Orders {
		path := fmt.Sprintf("orders[%d]", i)
		if o.Kind != "" && !oneOf(o.Kind, "Mandatory", "Optional", "Serialize") {
			c.fs.Errorf(path+".kind", "kind is Mandatory, Optional or Serialize, not %q", o.Kind)
		}
		if o.Symmetrical != "" && !isBool(o.Symmetrical) {
			c.fs.Errorf(path+".symmetrical", "symmetrical is true or false, not %q", o.Symmetrical)
		}
		if len(o.Sets) > 0 {
			if o.First != "" || o.Then != "" || o.FirstAction != "" || o.ThenAction != "" {
				c.fs.Errorf(path+".sets", "an order has first and then, or sets, not both")
			}
			c.sets(path, o.Sets, true)
			continue
		}
		c.ref(path+".first", o.First)
		c.ref(path+".then", o.Then)
		if o.First != "" && o.First == o.Then {
			c.fs.Errorf(path+".then", "%s cannot be ordered after itself", o.Then)
		}
		for field, pair := range map[string][2]string{"first_action": {o.FirstAction, o.First}, "then_action": {o.ThenAction, o.Then}} {
			act, rsc := pair[0], pair[1]
			if act == "" {
				continue
			}
			if !oneOf(act, orderActions...) {
				c.fs.Errorf(path+"."+field, "%q is not an action (start, stop, promote, demote)", act)
			} else if (act == "promote" || act == "demote") && c.kind[rsc] != "" && !c.promotable[rsc] {
				c.fs.Errorf(path+"."+field, "%s needs a promotable clone; %s is not one", act, c.describe(rsc))
			}
		}
	}
}

func (c *checker) sets(path string, sets []spec.ResourceSet, order bool) {
	for j, set := range sets {
		spath := fmt.Sprintf("%s.sets[%d]", path, j)
		if len(set.Resources) == 0 {
			c.fs.Errorf(spath+".resources", "a resource set needs resources")
		}
		for k, r := range set.Resources {
			c.ref(fmt.Sprintf("%s.resources[%d]", spath, k), r)
			if set.Role != "" {
				c.promotedRole(spath+".role", set.Role, r)
			}
		}
		for field, v := range map[string]string{"sequential": set.Sequential, "require_all": set.RequireAll} {
			if v != "" && !isBool(v) {
				c.fs.Errorf(spath+"."+field, "%s is true or false, not %q", field, v)
			}
		}
		if set.Action != "" && !oneOf(set.Action, orderActions...) {
			c.fs.Errorf(spath+".action", "%q is not an action (start, stop, promote, demote)", set.Action)
		}
		if set.Kind != "" && (!order || !oneOf(set.Kind, "Mandatory", "Optional", "Serialize")) {
			c.fs.Errorf(spath+".kind", "kind is for order sets: Mandatory, Optional or Serialize")
		}
		c.role(spath+".role", set.Role)
		c.score(spath+".score", set.Score)
	}
}

func (c *checker) alerts() {
	for i, a := range c.s.Alerts {
		path := fmt.Sprintf("alerts[%d]", i)
		if !strings.HasPrefix(a.Path, "/") {
			c.fs.Errorf(path+".path", "an alert's path is the absolute path of its agent, not %q", a.Path)
		}
		for j, r := range a.Recipients {
			if r.Value == "" {
				c.fs.Errorf(fmt.Sprintf("%s.recipients[%d].value", path, j), "a recipient needs a value")
			}
		}
	}
}

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

func isBool(v string) bool {
	return oneOf(strings.ToLower(v), "true", "false", "yes", "no", "on", "off", "1", "0", "y", "n")
}

var intervalRE = regexp.MustCompile(`^([0-9]+(ms|msec|us|usec|s|sec|m|min|h|hr)?|P(T?[0-9]+[YMWDHS])+|PT[0-9HMS]+)$`)

func validInterval(v string) bool { return intervalRE.MatchString(v) }

// normInterval makes "0", "0s" and "" one key for duplicate detection.
func normInterval(v string) string {
	if v == "" || fencing.DurationIsZero(v) {
		return "0"
	}
	return v
}
