package ocf

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Metadata renders the agent's meta-data document. It validates against the
// ra-api-1.dtd that resource-agents ships and ocf-tester checks with, which
// is why OCF 1.1's reloadable attribute, reload-agent action and select type
// are not written as such: reloadable parameters and enum values are named in
// the long descriptions, and reload is advertised as the legacy action.
func (a *Agent) Metadata() *etree.Document {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0"`)
	doc.CreateDirective(`DOCTYPE resource-agent SYSTEM "ra-api-1.dtd"`)
	ra := doc.CreateElement("resource-agent")
	ra.CreateAttr("name", a.Name)
	ra.CreateAttr("version", a.Version)
	ra.CreateElement("version").SetText("1.1")
	desc(ra, "longdesc", a.Long)
	desc(ra, "shortdesc", a.Short)

	params := ra.CreateElement("parameters")
	for i := range a.Params {
		p := &a.Params[i]
		pe := params.CreateElement("parameter")
		pe.CreateAttr("name", p.Name)
		pe.CreateAttr("unique", boolAttr(p.Unique))
		pe.CreateAttr("required", boolAttr(p.Required))
		desc(pe, "longdesc", p.longText())
		desc(pe, "shortdesc", p.Short)
		c := pe.CreateElement("content")
		c.CreateAttr("type", p.Type.dtdType())
		if p.Default != "" {
			c.CreateAttr("default", p.Default)
		}
	}

	actions := ra.CreateElement("actions")
	for _, op := range a.advertisedOps() {
		ae := actions.CreateElement("action")
		ae.CreateAttr("name", op.Name)
		ae.CreateAttr("timeout", seconds(op.Timeout))
		if op.Interval > 0 {
			ae.CreateAttr("interval", seconds(op.Interval))
		}
		if op.Depth > 0 {
			ae.CreateAttr("depth", strconv.Itoa(op.Depth))
		}
		if op.Role != "" {
			ae.CreateAttr("role", op.Role)
		}
	}
	doc.Indent(2)
	return doc
}

// advertisedOps is Ops plus meta-data and validate-all, minus what the DTD
// does not know (reload-agent).
func (a *Agent) advertisedOps() []Op {
	var ops []Op
	seen := map[string]bool{}
	for _, op := range a.Ops {
		if op.Name == "reload-agent" {
			continue
		}
		ops = append(ops, op)
		seen[op.Name] = true
	}
	for _, extra := range []string{"meta-data", "validate-all"} {
		if !seen[extra] {
			ops = append(ops, Op{Name: extra, Timeout: 5 * time.Second})
		}
	}
	return ops
}

// WriteMetadata writes the meta-data document.
func (a *Agent) WriteMetadata(w io.Writer) error {
	_, err := a.Metadata().WriteTo(w)
	return err
}

func (p *Param) longText() string {
	var b strings.Builder
	text := p.Long
	if text == "" {
		text = p.Short
	}
	b.WriteString(text)
	if text != "" && !strings.HasSuffix(text, ".") {
		b.WriteString(".")
	}
	if p.Type == Enum {
		fmt.Fprintf(&b, " Allowed values: %s.", strings.Join(p.Values, ", "))
	}
	if p.Type == Integer && (p.Min != nil || p.Max != nil) {
		switch {
		case p.Min != nil && p.Max != nil:
			fmt.Fprintf(&b, " Range: %d to %d.", *p.Min, *p.Max)
		case p.Min != nil:
			fmt.Fprintf(&b, " Minimum: %d.", *p.Min)
		default:
			fmt.Fprintf(&b, " Maximum: %d.", *p.Max)
		}
	}
	if p.Reloadable {
		b.WriteString(" A change is applied by reload, without a restart.")
	}
	return b.String()
}

func desc(parent *etree.Element, tag, text string) {
	e := parent.CreateElement(tag)
	e.CreateAttr("lang", "en")
	e.SetText(text)
}

func boolAttr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// seconds renders a duration the way meta-data conventionally does ("20s").
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}
