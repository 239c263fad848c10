package labmariadb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/goha-ha/goha/internal/lab"
)

// The Galera arbitrator of a lab: ocf:goha:garbd on a node that runs no
// database, voting in the cluster the Galera clone forms.
const (
	AgentArbitrator    = "ocf:goha:garbd"
	ArbitratorResource = "arb"
	// ClusterName is the wsrep_cluster_name of MyCnf; garbd must join
	// under the same name.
	ClusterName = "goha-lab"
	// ArbitratorLog is garbd's log inside its node: /var/log/cluster is
	// a directory of each lab node, so the log is the node's own.
	ArbitratorLog = "/var/log/cluster/garbd.log"
)

// ArbitratorCreateArgs is the pcs command line that creates the garbd
// resource, named after node, joining the cluster of the database nodes
// dbNodes; extra (pcs arguments such as --disabled) follow.
func ArbitratorCreateArgs(node string, dbNodes []string, extra ...string) []string {
	args := []string{"pcs", "resource", "create", ArbitratorResource, AgentArbitrator,
		"wsrep_cluster_address=gcomm://" + strings.Join(dbNodes, ","),
		"wsrep_cluster_name=" + ClusterName,
		"name=" + node,
		"log=" + ArbitratorLog}
	return append(args, extra...)
}

// PinArgs are the pcs command lines that keep rsc on the nodes on and off
// the nodes off, with mandatory scores.
func PinArgs(rsc string, on, off []string) [][]string {
	var cmds [][]string
	if len(on) > 0 {
		cmds = append(cmds, append([]string{"pcs", "constraint", "location", rsc, "prefers"}, on...))
	}
	if len(off) > 0 {
		cmds = append(cmds, append([]string{"pcs", "constraint", "location", rsc, "avoids"}, off...))
	}
	return cmds
}

// SyncedIn reports whether every node of nodes answered and is Synced in
// a primary component of size members (the database nodes and any
// arbitrators); it says which node is not, and why.
func SyncedIn(nodes []string, size int, st map[string]WsrepStatus, errs map[string]error) (bool, string) {
	for _, n := range nodes {
		if err := errs[n]; err != nil {
			return false, n + ": " + firstLine(err.Error())
		}
		s, ok := st[n]
		if !ok {
			return false, n + ": no status"
		}
		if !s.Synced() || s.ClusterSize != size {
			return false, fmt.Sprintf("%s: %s, want Synced in a Primary component of %d", n, s, size)
		}
	}
	return true, ""
}

// WaitSyncedIn waits until every node is Synced in a primary component of
// size members, and returns their status. WaitSynced is the case of a
// cluster without arbitrators (size = len(nodes)).
func WaitSyncedIn(ctx context.Context, l *lab.Lab, nodes []string, size int) (map[string]WsrepStatus, error) {
	for {
		st, errs, err := Status(ctx, l, nodes)
		if err != nil {
			return nil, err
		}
		ok, why := SyncedIn(nodes, size, st, errs)
		if ok {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("nodes not all Synced in a cluster of %d (%s): %s: %w", size, why, describeStatus(nodes, st, errs), ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
