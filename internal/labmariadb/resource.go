package labmariadb

import (
	"context"
	"encoding/xml"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goha-ha/goha/internal/lab"
)

// Resource is the id of the Galera primitive Create makes; its clone is
// Resource+"-clone".
const Resource = "db"

// Agents Create knows the parameters of.
const (
	AgentGoha      = "ocf:goha:galera"
	AgentReference = "ocf:heartbeat:galera"
)

// AgentParams are the agent-specific parameters: where the check
// credentials and the log are. The reference agent connects as root over
// the socket (unix_socket authentication) and is told the server binary,
// since its default is mysqld_safe, which respawns a killed server and
// hides crashes from the monitor.
func AgentParams(agent string) ([]string, error) {
	switch agent {
	case AgentGoha:
		return []string{"check_defaults_file=" + CheckConfigFile, "log=" + ErrorLog}, nil
	case AgentReference:
		return []string{"binary=/usr/sbin/mariadbd", "check_user=root", "log=" + ErrorLog}, nil
	}
	return nil, fmt.Errorf("galera agent %q: want %s or %s", agent, AgentGoha, AgentReference)
}

// CreateArgs is the pcs command line that creates the promotable Galera
// clone over the given nodes, with every node promoted.
func CreateArgs(agent string, nodes []string, extra ...string) ([]string, error) {
	params, err := AgentParams(agent)
	if err != nil {
		return nil, err
	}
	args := []string{"pcs", "resource", "create", Resource, agent,
		"wsrep_cluster_address=gcomm://" + strings.Join(nodes, ",")}
	args = append(args, params...)
	args = append(args, extra...)
	args = append(args,
		"op", "monitor", "interval=10s", "role=Promoted", "timeout=30s",
		"op", "monitor", "interval=15s", "role=Unpromoted", "timeout=30s",
		"op", "promote", "timeout=300s",
		"op", "start", "timeout=120s",
		"op", "stop", "timeout=120s",
		"promotable", "promoted-max="+strconv.Itoa(len(nodes)), "notify=true")
	return args, nil
}

// Create makes the Galera resource on every node of l with agent; extra
// parameters (name=value) are added to the agent's.
func Create(ctx context.Context, l *lab.Lab, agent string, extra ...string) error {
	nodes := l.Nodes()
	if len(nodes) == 0 {
		return fmt.Errorf("lab %s has no nodes", l.Name())
	}
	args, err := CreateArgs(agent, nodes, extra...)
	if err != nil {
		return err
	}
	var last error
	for _, n := range nodes {
		out, err := l.Exec(ctx, n, args...)
		if err == nil {
			return nil
		}
		last = fmt.Errorf("create %s (%s) on %s: %w\n%s", Resource, agent, n, err, out)
	}
	return last
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
// `crm_mon --output-as=xml`. lab.ParseCrmMon keys roles by primitive id,
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

// Clone reads the state of the Galera clone as node sees it.
func Clone(ctx context.Context, l *lab.Lab, node string) (CloneState, error) {
	out, err := l.Exec(ctx, node, "crm_mon", "-1", "--output-as=xml")
	if err != nil {
		return CloneState{}, err
	}
	return ParseCloneState(out, Resource)
}

// WaitRoles polls crm_mon on the nodes (first that answers) until done
// accepts the clone's state, and returns that state. The error on timeout
// names the last state seen.
func WaitRoles(ctx context.Context, l *lab.Lab, nodes []string, what string, done func(CloneState) bool) (CloneState, error) {
	var last CloneState
	lastErr := "no answer"
	for {
		for _, n := range nodes {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			st, err := Clone(cctx, l, n)
			cancel()
			if err != nil {
				lastErr = err.Error()
				continue
			}
			last, lastErr = st, ""
			if done(st) {
				return st, nil
			}
			break
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("%s: %w (roles %v, failures %v%s)", what, ctx.Err(), last.Roles, last.Failures, errSuffix(lastErr))
		case <-time.After(time.Second):
		}
	}
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return "; last error: " + firstLine(s)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// WaitAllPromoted waits until the instance on every one of nodes is
// promoted, asking crm_mon on those nodes.
func WaitAllPromoted(ctx context.Context, l *lab.Lab, nodes []string) error {
	_, err := WaitRoles(ctx, l, nodes, fmt.Sprintf("%s not promoted on all of %v", Resource, nodes), func(st CloneState) bool {
		for _, n := range nodes {
			if st.Roles[n] != "Promoted" {
				return false
			}
		}
		return true
	})
	return err
}

// WaitStopped waits until no instance runs on any of nodes, asking crm_mon
// on the asked nodes.
func WaitStopped(ctx context.Context, l *lab.Lab, ask, nodes []string) error {
	_, err := WaitRoles(ctx, l, ask, fmt.Sprintf("%s still active on some of %v", Resource, nodes), func(st CloneState) bool {
		for _, n := range nodes {
			if r, ok := st.Roles[n]; ok && r != "Stopped" {
				return false
			}
		}
		return true
	})
	return err
}
