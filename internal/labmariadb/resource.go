package labmariadb

import (
	"context"
	"fmt"
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

// Clone reads the state of the Galera clone as node sees it.
func Clone(ctx context.Context, l *lab.Lab, node string) (lab.CloneState, error) {
	out, err := l.Exec(ctx, node, "crm_mon", "-1", "--output-as=xml")
	if err != nil {
		return lab.CloneState{}, err
	}
	return lab.ParseCloneState(out, Resource)
}

// WaitRoles polls crm_mon on the nodes (first that answers) until done
// accepts the clone's state, and returns that state. The error on timeout
// names the last state seen.
func WaitRoles(ctx context.Context, l *lab.Lab, nodes []string, what string, done func(lab.CloneState) bool) (lab.CloneState, error) {
	var last lab.CloneState
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
	_, err := WaitRoles(ctx, l, nodes, fmt.Sprintf("%s not promoted on all of %v", Resource, nodes), func(st lab.CloneState) bool {
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
	_, err := WaitRoles(ctx, l, ask, fmt.Sprintf("%s still active on some of %v", Resource, nodes), func(st lab.CloneState) bool {
		for _, n := range nodes {
			if r, ok := st.Roles[n]; ok && r != "Stopped" {
				return false
			}
		}
		return true
	})
	return err
}
