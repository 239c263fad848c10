package labfence

import (
	"encoding/xml"
	"io"
)

// Meta-data in the shape fence-agents print (see fence_dummy -o metadata),
// which Pacemaker's fencer and pcs read.
type metaAgent struct {
	XMLName    xml.Name     `xml:"resource-agent"`
	Name       string       `xml:"name,attr"`
	ShortDesc  string       `xml:"shortdesc,attr"`
	LongDesc   string       `xml:"longdesc"`
	VendorURL  string       `xml:"vendor-url"`
	Parameters []metaParam  `xml:"parameters>parameter"`
	Actions    []metaAction `xml:"actions>action"`
}

type metaParam struct {
	Name       string      `xml:"name,attr"`
	Unique     string      `xml:"unique,attr"`
	Required   string      `xml:"required,attr"`
	Deprecated string      `xml:"deprecated,attr,omitempty"`
	Obsoletes  string      `xml:"obsoletes,attr,omitempty"`
	Getopt     metaGetopt  `xml:"getopt"`
	Content    metaContent `xml:"content"`
	ShortDesc  metaText    `xml:"shortdesc"`
}

type metaGetopt struct {
	Mixed string `xml:"mixed,attr"`
}

type metaContent struct {
	Type    string `xml:"type,attr"`
	Default string `xml:"default,attr,omitempty"`
}

type metaText struct {
	Lang string `xml:"lang,attr"`
	Text string `xml:",chardata"`
}

type metaAction struct {
	Name      string `xml:"name,attr"`
	Automatic string `xml:"automatic,attr,omitempty"`
}

func metadata() metaAgent {
	m := metaAgent{
		Name:      "fence_goha_lab",
		ShortDesc: "Fence agent for goha lab clusters",
		LongDesc: "fence_goha_lab powers nodes of a goha lab cluster (nodes made of Linux namespaces on one host) " +
			"off and on. It asks the lab controller on the host, through the control socket in the lab run " +
			"directory: off kills every process of the node at once and takes its link down, on boots it again.",
		VendorURL: "https://github.com/goha-ha/goha",
	}
	for _, p := range params {
		mp := metaParam{
			Name:      p.name,
			Unique:    "0",
			Required:  bit(p.required),
			Obsoletes: p.obsoletes,
			Getopt:    metaGetopt{Mixed: p.getopt},
			Content:   metaContent{Type: p.typ, Default: p.def},
			ShortDesc: metaText{Lang: "en", Text: p.desc},
		}
		if p.deprecated {
			mp.Deprecated = "1"
		}
		m.Parameters = append(m.Parameters, mp)
	}
	for _, a := range actions {
		ma := metaAction{Name: a}
		if a == "on" {
			ma.Automatic = "0"
		}
		m.Actions = append(m.Actions, ma)
	}
	return m
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// WriteMetadata prints the agent's meta-data XML.
func WriteMetadata(w io.Writer) error {
	b, err := xml.MarshalIndent(metadata(), "", "\t")
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, `<?xml version="1.0" ?>`+"\n"); err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
