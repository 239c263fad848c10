package lab

import (
	"context"
	"encoding/xml"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ClusterView is what one node's crm_mon reports.
type ClusterView struct {
	Quorum  bool
	DC      string
	Online  []string          // node names online, sorted
	Offline []string          // node names known but not online, sorted
	Roles   map[string]string // resource id -> role, for primitives
	Where   map[string]string // resource id -> node it is active on
}

type crmMonXML struct {
	Summary struct {
		DC struct {
			Present    bool   `xml:"present,attr"`
			Name       string `xml:"name,attr"`
			WithQuorum bool   `xml:"with_quorum,attr"`
		} `xml:"current_dc"`
	} `xml:"summary"`
	Nodes []struct {
		Name   string `xml:"name,attr"`
		Online bool   `xml:"online,attr"`
	} `xml:"nodes>node"`
	Resources []crmResource `xml:"resources>resource"`
	Groups    []struct {
		Resources []crmResource `xml:"resource"`
	} `xml:"resources>group"`
	Clones []struct {
		Resources []crmResource `xml:"resource"`
	} `xml:"resources>clone"`
}

type crmResource struct {
	ID    string `xml:"id,attr"`
	Role  string `xml:"role,attr"`
	Nodes []struct {
		Name string `xml:"name,attr"`
	} `xml:"node"`
}

// ParseCrmMon reads the output of `crm_mon -1 --output-as=xml`.
func ParseCrmMon(b []byte) (ClusterView, error) {
	var x crmMonXML
	if err := xml.Unmarshal(b, &x); err != nil {
		return ClusterView{}, fmt.Errorf("parse crm_mon XML: %w", err)
	}
	v := ClusterView{Quorum: x.Summary.DC.Present && x.Summary.DC.WithQuorum, Roles: map[string]string{}, Where: map[string]string{}}
	if x.Summary.DC.Present {
		v.DC = x.Summary.DC.Name
	}
	for _, n := range x.Nodes {
		if n.Online {
			v.Online = append(v.Online, n.Name)
		} else {
			v.Offline = append(v.Offline, n.Name)
		}
	}
	sort.Strings(v.Online)
	sort.Strings(v.Offline)
	rs := x.Resources
	for _, g := range x.Groups {
		rs = append(rs, g.Resources...)
	}
	for _, c := range x.Clones {
		rs = append(rs, c.Resources...)
	}
	for _, r := range rs {
		v.Roles[r.ID] = r.Role
		if len(r.Nodes) > 0 {
			v.Where[r.ID] = r.Nodes[0].Name
		}
	}
	return v, nil
}

// View runs crm_mon on a node and parses it.
func (l *Lab) View(ctx context.Context, node string) (ClusterView, error) {
	out, err := l.Exec(ctx, node, "crm_mon", "-1", "--output-as=xml")
	if err != nil {
		return ClusterView{}, err
	}
	return ParseCrmMon(out)
}

// WaitOnline waits until each of the given nodes (all nodes if none) sees
// all of them online and has quorum. It reports progress through the lab's
// log function.
func (l *Lab) WaitOnline(ctx context.Context, nodes ...string) error {
	if len(nodes) == 0 {
		nodes = l.Nodes()
	}
	want := append([]string(nil), nodes...)
	sort.Strings(want)
	start := time.Now()
	lastLog := start
	for {
		online, quorate, last := l.onlineCount(ctx, want)
		if online == len(want) && quorate {
			l.logf("%d/%d online with quorum after %s", online, len(want), time.Since(start).Round(100*time.Millisecond))
			return nil
		}
		if time.Since(lastLog) >= 5*time.Second {
			l.logf("waiting for quorum… %d/%d online after %s", online, len(want), time.Since(start).Round(time.Second))
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			var stacks []string
			if st, err := l.Status(); err == nil {
				for _, n := range st {
					stacks = append(stacks, n.Name+" "+n.Stack)
				}
			}
			return fmt.Errorf("nodes %v not online with quorum after %s (%s; stacks: %s): %w",
				want, time.Since(start).Round(time.Second), last, strings.Join(stacks, ", "), ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// onlineCount returns how many wanted nodes are online in the view of
// every wanted node that answers (a node that does not answer is not
// online), whether all of them have quorum, and the last problem seen.
func (l *Lab) onlineCount(ctx context.Context, want []string) (int, bool, string) {
	online := map[string]int{}
	quorate, last, views := true, "", 0
	failed := map[string]bool{}
	for _, n := range want {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		v, err := l.View(cctx, n)
		cancel()
		if err != nil {
			failed[n] = true
			quorate, last = false, firstLine(err.Error())
			continue
		}
		views++
		for _, o := range v.Online {
			online[o]++
		}
		if !v.Quorum {
			quorate, last = false, n+" has no quorum"
		} else if len(v.Online) < len(want) {
			last = fmt.Sprintf("%s sees online %v", n, v.Online)
		}
	}
	count := 0
	for _, w := range want {
		if !failed[w] && views > 0 && online[w] == views {
			count++
		}
	}
	return count, quorate && count == len(want), last
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// WaitRole waits until a resource has the role (e.g. "Started") as seen
// from node, and returns the node it is active on.
func (l *Lab) WaitRole(ctx context.Context, node, resource, role string) (string, error) {
	for {
		v, err := l.View(ctx, node)
		if err == nil && v.Roles[resource] == role {
			return v.Where[resource], nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%s not %s (seen from %s): %w", resource, role, node, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// fenceXML is the stonith resource Up creates: fence_goha_lab for every node.
func fenceXML(lab string, nodes []string) string {
	id := FenceResourceID
	return fmt.Sprintf(`<primitive id="%[1]s" class="stonith" type="fence_goha_lab">`+
		`<instance_attributes id="%[1]s-instance_attributes">`+
		`<nvpair id="%[1]s-instance_attributes-lab" name="lab" value="%[2]s"/>`+
		`<nvpair id="%[1]s-instance_attributes-pcmk_host_list" name="pcmk_host_list" value="%[3]s"/>`+
		`</instance_attributes>`+
		`<operations><op id="%[1]s-monitor-interval-60s" name="monitor" interval="60s"/></operations>`+
		`</primitive>`, id, lab, strings.Join(nodes, " "))
}

// InitialCIB is the CIB every node starts from: stonith-enabled, the fence
// device when fencing, and a short dc-deadtime so that a fresh cluster
// elects its DC a few seconds after quorum instead of after the default
// 20 s. Pacemaker reads a cib.xml without a .sig digest file.
func InitialCIB(lab string, nodes []string, fencing bool) string {
	enabled, resources := "false", "<resources/>"
	if fencing {
		enabled, resources = "true", "<resources>"+fenceXML(lab, nodes)+"</resources>"
	}
	return `<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">` + "\n" +
		`  <configuration>` + "\n" +
		`    <crm_config><cluster_property_set id="cib-bootstrap-options">` +
		`<nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="` + enabled + `"/>` +
		`<nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="5s"/>` +
		`<nvpair id="cib-bootstrap-options-cluster-name" name="cluster-name" value="goha-` + lab + `"/>` +
		`</cluster_property_set></crm_config>` + "\n" +
		`    <nodes/>` + "\n" +
		`    ` + resources + "\n" +
		`    <constraints/>` + "\n" +
		`  </configuration>` + "\n" +
		`  <status/>` + "\n" +
		`</cib>` + "\n"
}

// configureFencing waits until the fence device of the initial CIB is
// started (nothing to do without fencing).
func (l *Lab) configureFencing(ctx context.Context, s *State) error {
	if !s.Fencing {
		return nil
	}
	first := s.Nodes[0].Name
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	where, err := l.WaitRole(wctx, first, FenceResourceID, "Started")
	if err != nil {
		return err
	}
	l.logf("fencing on: %s (fence_goha_lab) started on %s", FenceResourceID, where)
	return nil
}

// CloneState is what crm_mon reports about the instances of a clone.
type CloneState struct {
	Roles    map[string]string // node -> role of the instance active there
	Failures []string          // failed operations, "node op rc=N (reason)"
}

// Promoted lists the nodes whose instance is promoted, sorted.
func (c CloneState) Promoted() []string { return c.withRole("Promoted") }

func (c CloneState) withRole(role string) []string {
	var ns []string
	for n, r := range c.Roles {
		if r == role {
			ns = append(ns, n)
		}
	}
	sort.Strings(ns)
	return ns
}

type crmMonClones struct {
	Clones []struct {
		ID        string `xml:"id,attr"`
		Resources []struct {
			ID    string `xml:"id,attr"`
			Role  string `xml:"role,attr"`
			Nodes []struct {
				Name string `xml:"name,attr"`
			} `xml:"node"`
		} `xml:"resource"`
	} `xml:"resources>clone"`
	Failures []struct {
		OpKey      string `xml:"op_key,attr"`
		Node       string `xml:"node,attr"`
		ExitStatus string `xml:"exitstatus,attr"`
		ExitReason string `xml:"exitreason,attr"`
		RC         string `xml:"exitcode,attr"`
	} `xml:"failures>failure"`
}

// ParseCloneState reads the instances of the clone of primitive rsc from
// `crm_mon --output-as=xml`. ParseCrmMon keys roles by primitive id,
// which every instance of an anonymous clone shares; here they are keyed
// by node. Instances that run nowhere (role Stopped) are left out.
func ParseCloneState(b []byte, rsc string) (CloneState, error) {
	var x crmMonClones
	if err := xml.Unmarshal(b, &x); err != nil {
		return CloneState{}, fmt.Errorf("parse crm_mon XML: %w", err)
	}
	st := CloneState{Roles: map[string]string{}}
	for _, c := range x.Clones {
		for _, r := range c.Resources {
			if r.ID != rsc && !strings.HasPrefix(r.ID, rsc+":") {
				continue
			}
			for _, n := range r.Nodes {
				st.Roles[n.Name] = r.Role
			}
		}
	}
	for _, f := range x.Failures {
		if !strings.HasPrefix(f.OpKey, rsc+"_") {
			continue
		}
		s := fmt.Sprintf("%s %s rc=%s", f.Node, f.OpKey, f.RC)
		if f.ExitReason != "" {
			s += " (" + f.ExitReason + ")"
		}
		st.Failures = append(st.Failures, s)
	}
	return st, nil
}
