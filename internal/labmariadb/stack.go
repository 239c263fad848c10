package labmariadb

import (
	"fmt"
	"net/netip"

	"github.com/goha-ha/goha/internal/lab"
)

// Agents of the replicated (File Fabric) stack.
const (
	AgentMySQLGoha      = "ocf:goha:mysql"
	AgentMySQLReference = "ocf:heartbeat:mysql"
)

// ReplicationStack is the File Fabric stack on a lab whose nodes have the
// ReplicationHook: two database nodes replicating from each other as a
// promotable clone with one writer, a quorum node without a database, and
// the database VIP colocated with the writer.
type ReplicationStack struct {
	Agent    string // AgentMySQLGoha or AgentMySQLReference
	SemiSync bool   // goha's semi_sync
	VIP      netip.Addr
	Quorum   string // the node that runs no database
	VIPName  string // the VIP's resource id
}

// Commands are the pcs command lines (without "pcs") that create the stack.
func (s ReplicationStack) Commands(l *lab.Lab) ([][]string, error) {
	params, err := s.agentParams(l)
	if err != nil {
		return nil, err
	}
	clone := Resource + "-clone"
	create := append([]string{"resource", "create", Resource, s.Agent}, params...)
	create = append(create,
		"op", "monitor", "interval=3s", "role=Promoted", "timeout=30s",
		"op", "monitor", "interval=5s", "role=Unpromoted", "timeout=30s",
		// A promote that cannot catch up gives up after 30 s, not 120.
		"op", "promote", "timeout=30s",
		// A failed writer moves to the other node instead of being
		// restarted in place; it may run again as a replica after 30 s.
		"meta", "migration-threshold=1", "failure-timeout=30s",
		"promotable", "promoted-max=1", "notify=true")
	return [][]string{
		create,
		{"constraint", "location", clone, "avoids", s.Quorum},
		{"resource", "create", s.VIPName, "ocf:goha:vip", "ip=" + s.VIP.String(), "cidr_netmask=24", "nic=eth0",
			"op", "monitor", "interval=2s"},
		{"constraint", "colocation", "add", s.VIPName, "with", "Promoted", clone, "INFINITY"},
		{"constraint", "order", "promote", clone, "then", "start", s.VIPName},
	}, nil
}

// agentParams are the agent's parameters on the lab's servers. The
// reference takes the replication password only in the CIB, and runs its
// local statements as the replication user.
func (s ReplicationStack) agentParams(l *lab.Lab) ([]string, error) {
	switch s.Agent {
	case AgentMySQLGoha:
		return []string{"replication_defaults_file=" + ReplConfigFile, "log=" + ErrorLog,
			fmt.Sprintf("semi_sync=%v", s.SemiSync)}, nil
	case AgentMySQLReference:
		user, password, err := ReplCredentials(l, "n1")
		if err != nil {
			return nil, err
		}
		return []string{"binary=/usr/sbin/mariadbd", "config=" + ConfigFile, "datadir=" + DataDir,
			"socket=" + Socket, "pid=/run/mysqld/mysqld.pid", "log=" + ErrorLog,
			"replication_user=" + user, "replication_passwd=" + password, "test_user=root"}, nil
	}
	return nil, fmt.Errorf("replication agent %q: want %s or %s", s.Agent, AgentMySQLGoha, AgentMySQLReference)
}
