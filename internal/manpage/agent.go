package manpage

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/goha-ha/goha/ocf"
)

// Provider is the OCF provider goha's agents are installed under.
const Provider = "goha"

// AgentPageName is the man page name of an agent, as resource-agents names
// its pages: ocf_<provider>_<agent>.
func AgentPageName(agent string) string { return "ocf_" + Provider + "_" + agent }

// actionDoc says what each OCF action does, for the OPERATIONS section.
var actionDoc = map[string]string{
	"start":        "Starts the resource.",
	"stop":         "Stops the resource; succeeds only once it is really gone.",
	"monitor":      "Checks the resource's state; with interval 0 it is a probe.",
	"status":       "Checks the resource's state (LSB style).",
	"promote":      "Promotes the instance to the Promoted role.",
	"demote":       "Demotes the instance to the Unpromoted role.",
	"notify":       "Receives clone notifications before and after actions on other instances.",
	"reload":       "Applies changed reloadable parameters without a restart.",
	"reload-agent": "Applies changed reloadable parameters without a restart.",
	"migrate_to":   "Live-migrates the resource away from this node.",
	"migrate_from": "Completes a live migration onto this node.",
	"meta-data":    "Prints the agent's meta-data (internal use).",
	"validate-all": "Checks the configuration without changing anything.",
}

// param is one parameter as the meta-data declares it.
type param struct {
	name, short, long, typ, def string
	required, unique            bool
}

// action is one advertised action as the meta-data declares it.
type action struct {
	name, timeout, interval, depth, role string
}

// WriteAgent renders the man page of agent (ocf_goha_<name>(7)). The page is
// built from the agent's meta-data document, so it says exactly what
// pcs resource describe and crm_resource show.
func WriteAgent(w io.Writer, a *ocf.Agent, info Info) error {
	params, actions, err := readMetadata(a)
	if err != nil {
		return err
	}
	page := AgentPageName(a.Name)
	spec := "ocf:" + Provider + ":" + a.Name
	r := &roff{w: w}
	r.line(`.\" %s(7): generated from the meta-data of %s by "goha man %s".`, page, spec, a.Name)
	r.header(page, "7", info, "OCF resource agents")

	r.section("NAME")
	r.line("%s \\- %s", escape(page), escape(a.Short))

	r.section("SYNOPSIS")
	r.line(`%s %s %s [%s=%s ...] [op %s %s=%s ...]`, bold("pcs resource create"), italic("name"), bold(spec),
		italic("parameter"), italic("value"), italic("action"), italic("option"), italic("value"))
	r.line(".br")
	var names []string
	for _, act := range actions {
		if !slices.Contains(names, act.name) {
			names = append(names, act.name)
		}
	}
	r.line("%s {%s}", bold("/usr/lib/ocf/resource.d/"+Provider+"/"+a.Name), escape(strings.Join(names, "|")))

	r.section("DESCRIPTION")
	r.text(a.Long)
	if strings.TrimSpace(a.Long) == "" {
		r.text(a.Short)
	}

	r.section("SUPPORTED PARAMETERS")
	if len(params) == 0 {
		r.line("This agent has no parameters.")
	}
	for _, p := range params {
		r.line(".PP")
		r.line("%s", bold(p.name))
		r.line(".RS 4")
		if p.short != "" && !strings.HasPrefix(p.long, p.short) {
			r.text(sentence(p.short))
			r.line(".sp")
		}
		r.text(p.long)
		r.line(".sp")
		r.line("(%s)", escape(paramSummary(p, typeName(a, p))))
		r.line(".RE")
	}

	r.section("OPERATIONS")
	r.line(".PP")
	r.line("The agent advertises these actions with these default timeouts; set others with op options.")
	for _, act := range actions {
		r.line(".PP")
		if act.role != "" {
			r.line("%s (role %s)", bold(act.name), escape(act.role))
		} else {
			r.line("%s", bold(act.name))
		}
		r.line(".RS 4")
		r.text(actionText(act))
		r.line(".RE")
	}

	r.section("EXAMPLE")
	r.line(".PP")
	r.line("Create a resource with %s:", bold("pcs")+"(8)")
	r.example(pcsExample(a, params, actions))
	r.line(".PP")
	r.line("The same with the %s shell:", bold("crm")+"(8)")
	r.example(crmExample(a, params, actions))

	r.section("SEE ALSO")
	r.line(`\fBgoha\fR(8), \fBpcs\fR(8), \fBcrm_resource\fR(8), \fBocf\-tester\fR(8)`)
	return r.err
}

// readMetadata takes the parameters and actions from the agent's meta-data
// document, the one declaration Pacemaker also reads.
func readMetadata(a *ocf.Agent) ([]param, []action, error) {
	root := a.Metadata().SelectElement("resource-agent")
	if root == nil {
		return nil, nil, fmt.Errorf("meta-data of %s: no resource-agent element", a.Name)
	}
	var params []param
	if ps := root.SelectElement("parameters"); ps != nil {
		for _, e := range ps.SelectElements("parameter") {
			p := param{
				name:     e.SelectAttrValue("name", ""),
				short:    childText(e, "shortdesc"),
				long:     childText(e, "longdesc"),
				required: e.SelectAttrValue("required", "0") == "1",
				unique:   e.SelectAttrValue("unique", "0") == "1",
			}
			if c := e.SelectElement("content"); c != nil {
				p.typ = c.SelectAttrValue("type", "string")
				p.def = c.SelectAttrValue("default", "")
			}
			params = append(params, p)
		}
	}
	var actions []action
	if as := root.SelectElement("actions"); as != nil {
		for _, e := range as.SelectElements("action") {
			actions = append(actions, action{
				name:     e.SelectAttrValue("name", ""),
				timeout:  e.SelectAttrValue("timeout", ""),
				interval: e.SelectAttrValue("interval", ""),
				depth:    e.SelectAttrValue("depth", ""),
				role:     e.SelectAttrValue("role", ""),
			})
		}
	}
	return params, actions, nil
}

func childText(e *etree.Element, tag string) string {
	if c := e.SelectElement(tag); c != nil {
		return strings.TrimSpace(c.Text())
	}
	return ""
}

// typeName is the parameter's type as goha declares it: the meta-data type,
// except that an enum (a string to the DTD) is called an enum.
func typeName(a *ocf.Agent, p param) string {
	for _, d := range a.Params {
		if d.Name == p.name && d.Type == ocf.Enum {
			return "enum"
		}
	}
	return p.typ
}

// paramSummary is the line after a parameter's description, as in
// resource-agents' pages: "required, unique, string, no default".
func paramSummary(p param, typ string) string {
	parts := []string{"optional"}
	if p.required {
		parts[0] = "required"
	}
	if p.unique {
		parts = append(parts, "unique")
	}
	parts = append(parts, typ)
	if p.def == "" {
		parts = append(parts, "no default")
	} else {
		parts = append(parts, "default "+p.def)
	}
	return strings.Join(parts, ", ")
}

func actionText(act action) string {
	s := actionDoc[act.name]
	if s == "" {
		s = "Agent-specific action."
	}
	s += " Default timeout: " + act.timeout + "."
	if act.interval != "" {
		s += " Default interval: " + act.interval + "."
	}
	if act.depth != "" {
		s += " Check level (OCF_CHECK_LEVEL): " + act.depth + "."
	}
	return s
}

// exampleParams are the parameters an example must set: the required ones
// without a default, each with its type as the placeholder value.
func exampleParams(params []param) []string {
	var out []string
	for _, p := range params {
		if p.required && p.def == "" {
			out = append(out, escape(p.name)+"="+italic(p.typ))
		}
	}
	return out
}

// recurring returns the monitor actions with an interval: the operations an
// example configures.
func recurring(actions []action) []action {
	var out []action
	for _, act := range actions {
		if act.name == "monitor" && act.interval != "" {
			out = append(out, act)
		}
	}
	return out
}

func isPromotable(a *ocf.Agent) bool { return a.Promote != nil && a.Demote != nil }

func pcsExample(a *ocf.Agent, params []param, actions []action) []string {
	lines := []string{escape("pcs resource create p_" + a.Name + " ocf:" + Provider + ":" + a.Name)}
	for _, p := range exampleParams(params) {
		lines = append(lines, "  "+p)
	}
	for i, m := range recurring(actions) {
		op := "  " + escape("monitor")
		if i == 0 {
			op = "  op " + escape("monitor")
		}
		op += " interval=" + escape(m.interval) + " timeout=" + escape(m.timeout)
		if m.role != "" {
			op += " role=" + escape(m.role)
		}
		if m.depth != "" {
			op += " OCF_CHECK_LEVEL=" + escape(m.depth)
		}
		lines = append(lines, op)
	}
	if isPromotable(a) {
		lines = append(lines, "  promotable notify=true")
	}
	return continued(lines)
}

func crmExample(a *ocf.Agent, params []param, actions []action) []string {
	lines := []string{escape("primitive p_" + a.Name + " ocf:" + Provider + ":" + a.Name)}
	if ps := exampleParams(params); len(ps) > 0 {
		lines = append(lines, "  params "+strings.Join(ps, " "))
	}
	for _, m := range recurring(actions) {
		op := "  op monitor interval=" + escape(m.interval) + " timeout=" + escape(m.timeout)
		if m.role != "" {
			op += " role=" + escape(m.role)
		}
		if m.depth != "" {
			op += " depth=" + escape(m.depth)
		}
		lines = append(lines, op)
	}
	lines = continued(lines)
	if isPromotable(a) {
		lines = append(lines, escape("clone c_"+a.Name+" p_"+a.Name+" meta promotable=true notify=true"))
	}
	return lines
}

// continued ends every line but the last with a shell continuation (a
// backslash, escaped for troff).
func continued(lines []string) []string {
	for i := 0; i < len(lines)-1; i++ {
		lines[i] += ` \e`
	}
	return lines
}
