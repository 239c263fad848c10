package cib

import (
	"context"
	"strings"

	"github.com/beevik/etree"

	"github.com/goha-ha/goha/cib/pcmk"
	"github.com/goha-ha/goha/cib/spec"
)

// VerifyResult is what Pacemaker's own validation said.
type VerifyResult struct {
	// Skipped is why crm_verify did not run ("" when it ran).
	Skipped string
	// Output is crm_verify's messages.
	Output string
	// Valid is false when crm_verify found errors; warnings alone leave it
	// true.
	Valid bool
}

// Verify runs crm_verify on the CIB generated for s. The CIB is given a
// status section in which every node is online and the cluster has
// quorum, so that crm_verify checks the configuration rather than
// complaining about a cluster that never started.
func Verify(ctx context.Context, tools pcmk.Tools, s *spec.Spec, doc *etree.Document) (VerifyResult, error) {
	schema := doc.Root().SelectAttrValue("validate-with", "")
	if !pcmk.Installed("crm_verify") {
		return VerifyResult{Skipped: "crm_verify is not installed"}, nil
	}
	if !pcmk.KnowsSchema(schema) {
		return VerifyResult{Skipped: "the installed Pacemaker has no schema " + schema}, nil
	}
	xml, err := XML(withStatus(doc, s, nil))
	if err != nil {
		return VerifyResult{}, err
	}
	out, err := tools.Verify(ctx, xml)
	res := VerifyResult{Output: out, Valid: true}
	if err != nil {
		if !strings.Contains(err.Error(), "Warnings found") || strings.Contains(err.Error(), "Errors found") {
			res.Valid = false
		}
		res.Output = strings.TrimPrefix(err.Error(), "crm_verify rejected the CIB:\n")
	}
	return res, nil
}

// withStatus is a copy of doc with quorum and a status section in which
// every node of s is online, carrying the given transient attributes.
func withStatus(doc *etree.Document, s *spec.Spec, attrs map[string]spec.NVList) *etree.Document {
	c := doc.Copy()
	root := c.Root()
	root.CreateAttr("have-quorum", "1")
	if old := root.SelectElement("status"); old != nil {
		root.RemoveChild(old)
	}
	st := root.CreateElement("status")
	for i, n := range s.Nodes {
		id := nodeID(i, n)
		ns := st.CreateElement("node_state")
		ns.CreateAttr("id", id)
		ns.CreateAttr("uname", n.Name)
		ns.CreateAttr("in_ccm", "true")
		ns.CreateAttr("crmd", "online")
		ns.CreateAttr("join", "member")
		ns.CreateAttr("expected", "member")
		if len(attrs[n.Name]) > 0 {
			ta := ns.CreateElement("transient_attributes")
			ta.CreateAttr("id", id)
			set := ta.CreateElement("instance_attributes")
			set.CreateAttr("id", "status-"+id)
			for _, nv := range attrs[n.Name] {
				p := set.CreateElement("nvpair")
				p.CreateAttr("id", sanitizeID("status-"+id+"-"+nv.Name))
				p.CreateAttr("name", nv.Name)
				p.CreateAttr("value", nv.Value)
			}
		}
	}
	c.Indent(2)
	return c
}
