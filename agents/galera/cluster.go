package galera

import (
	"github.com/goha-ha/goha/agents/galera/grastate"

	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os/exec"
	"strings"
)

// ClusterView is what Pacemaker reports about the nodes and this resource's
// instances: one `crm_mon --output-as=xml` run.
type ClusterView struct {
	Nodes map[string]NodeView
}

// NodeView is one node of a ClusterView.
type NodeView struct {
	Online, Unclean, Pending bool
	Promoted                 bool // an instance of the resource is promoted here and has not failed
	Attrs                    map[string]string
}

type crmMon struct {
	Nodes []struct {
		Name    string `xml:"name,attr"`
		Online  bool   `xml:"online,attr"`
		Unclean bool   `xml:"unclean,attr"`
		Pending bool   `xml:"pending,attr"`
	} `xml:"nodes>node"`
	Clones []struct {
		Resources []struct {
			ID     string `xml:"id,attr"`
			Role   string `xml:"role,attr"`
			Failed bool   `xml:"failed,attr"`
			Nodes  []struct {
				Name string `xml:"name,attr"`
			} `xml:"node"`
		} `xml:"resource"`
	} `xml:"resources>clone"`
	Attributes []struct {
		Name  string `xml:"name,attr"`
		Attrs []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"attribute"`
	} `xml:"node_attributes>node"`
}

// ParseClusterView reads crm_mon's XML for resource (the primitive id,
// without a clone suffix).
func ParseClusterView(b []byte, resource string) (ClusterView, error) {
	var x crmMon
	if err := xml.Unmarshal(b, &x); err != nil {
		return ClusterView{}, fmt.Errorf("parse crm_mon XML: %w", err)
	}
	v := ClusterView{Nodes: map[string]NodeView{}}
	for _, n := range x.Nodes {
		v.Nodes[n.Name] = NodeView{Online: n.Online, Unclean: n.Unclean, Pending: n.Pending, Attrs: map[string]string{}}
	}
	for _, c := range x.Clones {
		for _, r := range c.Resources {
			if strings.SplitN(r.ID, ":", 2)[0] != resource || r.Failed {
				continue
			}
			if r.Role != "Promoted" && r.Role != "Master" {
				continue
			}
			for _, n := range r.Nodes {
				nv := v.Nodes[n.Name]
				nv.Promoted = true
				v.Nodes[n.Name] = nv
			}
		}
	}
	for _, n := range x.Attributes {
		nv, ok := v.Nodes[n.Name]
		if !ok {
			continue
		}
		for _, a := range n.Attrs {
			nv.Attrs[a.Name] = a.Value
		}
	}
	return v, nil
}

// Peers turns the view into the election's input: what each member's state
// is, with its published position (attribute posAttr). A node Pacemaker does
// not know, or whose fate is unknown, counts as unreported: it may run a
// server.
func (v ClusterView) Peers(members []Member, posAttr string) []Peer {
	peers := make([]Peer, 0, len(members))
	for _, m := range members {
		p := Peer{Node: m.Node, State: Unreported}
		nv, known := v.Nodes[m.Node]
		switch {
		case !known || nv.Unclean || nv.Pending:
		case !nv.Online:
			p.State = Down
		case nv.Promoted:
			p.State = Joined
		default:
			if pos, err := grastate.ParsePosition(nv.Attrs[posAttr]); err == nil {
				p.State, p.Position = Reported, pos
			}
		}
		peers = append(peers, p)
	}
	return peers
}

// crmMonView runs crm_mon once for the view.
func crmMonView(ctx context.Context, resource string) (ClusterView, error) {
	cmd := exec.CommandContext(ctx, "crm_mon", "--one-shot", "--inactive", "--show-node-attributes", "--output-as=xml")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return ClusterView{}, fmt.Errorf("crm_mon: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return ParseClusterView(out.Bytes(), resource)
}
