package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goha-ha/goha/internal/fakecrm"
	"github.com/goha-ha/goha/internal/mysqlpair"
)

// Resource names of the two mysql instances: each agent keeps its state
// files and attributes under its own.
const (
	MySQLGohaResource      = "bench-mysql"
	MySQLReferenceResource = "bench-heartbeat-mysql"
)

// Time limits of the setup's actions and the cleanup's stop, as
// ocf:goha:mysql's meta-data advertises them.
const (
	mysqlActionTimeout = 120 * time.Second
	mysqlNotifyTimeout = 90 * time.Second
	// mysqlReplicaLimit bounds the wait for the replica's threads to run.
	mysqlReplicaLimit = 60 * time.Second
)

// mysqlFeatureSet is the CRM feature set Pacemaker 2.1.5 (Debian 12) passes
// every agent call as OCF_RESKEY_crm_feature_set; the reference agent picks
// between crm_attribute -p and crm_master by it.
const mysqlFeatureSet = "3.16.1"

// mysqlMeasuredNode is the index in the pair of the replica both agents
// monitor; the other node is the writer.
const mysqlMeasuredNode = 1

// MySQLCase compares ocf:goha:mysql with ocf:heartbeat:mysql: both monitor,
// as an unpromoted instance, the same MariaDB replica of a master-master
// pair that goha's agent started, promoted (the other node) and pointed at
// the writer. Both get the monitor op's OCF_CHECK_LEVEL=10, without which
// the reference does not look at replication. The parameters describing
// the servers come from Setup (MySQLNodeEnv), since the port is picked then.
func MySQLCase(cfg Config) Case {
	// What Pacemaker passes a recurring monitor of an unpromoted instance
	// of a promotable clone with notifications, with the op's check level,
	// and the parameters both agents share that Setup does not pick.
	params := map[string]string{
		"CRM_meta_role":           "Unpromoted",
		"CRM_meta_promotable":     "true",
		"CRM_meta_promoted_max":   "1",
		"CRM_meta_master_max":     "1",
		"CRM_meta_clone_max":      "2",
		"CRM_meta_clone_node_max": "1",
		"CRM_meta_notify":         "true",
		"crm_feature_set":         mysqlFeatureSet,
		"OCF_CHECK_LEVEL":         "10",
		"binary":                  mysqlpair.Mariadbd,
		"user":                    mysqlpair.ServerUser,
		"group":                   mysqlpair.ServerUser,
		"test_user":               "root",
		"replication_user":        mysqlpair.ReplUser,
		"replication_passwd":      mysqlpair.ReplPassword,
	}
	goha := Invocation{
		Agent: "ocf:goha:mysql",
		Argv:  []string{filepath.Join(cfg.AgentDir, "mysql")},
		Env:   MonitorEnv(MySQLGohaResource, MonitorInterval, MonitorTimeout, params),
	}
	reference := Invocation{
		Agent: "ocf:heartbeat:mysql",
		Argv:  []string{filepath.Join(cfg.OCFRoot, "resource.d", "heartbeat", "mysql")},
		Env:   MonitorEnv(MySQLReferenceResource, MonitorInterval, MonitorTimeout, params),
	}
	return Case{
		Name: "mysql",
		Notes: "two MariaDB servers on loopback replicating from each other with GTIDs (internal/mysqlpair: " +
			"127.0.0.11 and 127.0.0.12, one port, data directories made for the run), started through ocf:goha:mysql, " +
			"n1 promoted and both notified (post-promote) so that n2 replicates from n1; both agents monitor n2 as an " +
			"unpromoted instance of a promotable clone (CRM_meta_role=Unpromoted, CRM_meta_on_node=n2, promotable, " +
			"promoted-max 1, crm_feature_set " + mysqlFeatureSet + ") with the same config, datadir, socket, pid, log, " +
			"binary=/usr/sbin/mariadbd, test_user=root, the replication account and the op's OCF_CHECK_LEVEL=10, " +
			"without which the reference does not check replication (goha checks it at every level and counts " +
			"test_table at 10). The replication account also gets the privileges the reference documents for " +
			"replication_user (SUPER, PROCESS, RELOAD; without SUPER its SHOW SLAVE STATUS is refused and it skips the " +
			"replication checks), granted with binary logging off. PATH starts with a fake " +
			"crm_attribute (internal/fakecrm) for both: it took goha's promotion score at setup, and goha's monitor, " +
			"finding the score unchanged, calls nothing. No cluster runs: the reference calls /usr/sbin/crm_attribute " +
			"by its full path three times per monitor (promotion score, reader attribute query and update), each " +
			"failing at once, and ignores their exit status; it takes its node name from uname -n, since its " +
			"check of pacemakerd's version does not parse Pacemaker 2.1.5's answer.",
		Goal:      &Goal{MaxRatio: 0.1, MaxForks: 0, CPUOnly: true},
		Goha:      goha,
		Reference: reference,
		Setup:     StartMySQLPair(goha),
	}
}

// MySQLNodeEnv is the environment an agent gets for node n of pair: its
// server's parameters, the pair's port and host map, the node name
// Pacemaker would pass, a HA_RSCTMP of the node's own under rsctmp and a
// PATH that starts with bin (the fake crm_attribute).
func MySQLNodeEnv(pair *mysqlpair.Pair, n *mysqlpair.Node, rsctmp, bin string) []string {
	return []string{
		"OCF_RESKEY_config=" + n.Config,
		"OCF_RESKEY_datadir=" + n.Datadir,
		"OCF_RESKEY_socket=" + n.Socket,
		"OCF_RESKEY_pid=" + n.PidFile,
		"OCF_RESKEY_log=" + n.Log,
		"OCF_RESKEY_replication_port=" + strconv.Itoa(pair.Port),
		"OCF_RESKEY_host_map=" + pair.HostMap(),
		"OCF_RESKEY_CRM_meta_on_node=" + n.Name,
		"HA_RSCTMP=" + filepath.Join(rsctmp, n.Name),
		"PATH=" + bin + ":" + envValue(BaseEnv(), "PATH"),
	}
}

// envValue is the value of key in env, "" when absent; a later entry wins.
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if rest, ok := strings.CutPrefix(kv, key+"="); ok {
			v = rest
		}
	}
	return v
}

// referenceReplicationGrant is what ocf:heartbeat:mysql's meta-data asks of
// replication_user besides REPLICATION SLAVE and REPLICATION CLIENT, which
// mysqlpair grants already; SUPER lets it read SHOW SLAVE STATUS.
const referenceReplicationGrant = "GRANT SUPER, PROCESS, RELOAD ON *.* TO '" + mysqlpair.ReplUser + "'@'%'"

// StartMySQLPair returns a Setup that prepares a mysqlpair in a directory
// of its own and, through goha (the agent invoked as inv), starts both
// servers, promotes n1 and notifies both of the promotion, then waits until
// n2 replicates from n1. It returns n2's environment. Its cleanup stops
// both through goha, ends whatever is left by PID and removes the
// directory.
func StartMySQLPair(inv Invocation) func(ctx context.Context) ([]string, func(), error) {
	return func(ctx context.Context) ([]string, func(), error) {
		if why := mysqlpair.Missing(); why != "" {
			return nil, nil, fmt.Errorf("mysql case %s", why)
		}
		dir, err := os.MkdirTemp("", "goha-bench-mysql-")
		if err != nil {
			return nil, nil, fmt.Errorf("create mysql dir: %w", err)
		}
		if err := os.Chmod(dir, 0o755); err != nil { // the server user must reach inside
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("chmod mysql dir: %w", err)
		}
		crm, err := fakecrm.Install(filepath.Join(dir, "crm"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		pair, err := mysqlpair.New(filepath.Join(dir, "pair"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("prepare mysql pair: %w", err)
		}
		rsctmp := filepath.Join(dir, "rsctmp")
		var nodes [2]Invocation
		for i, n := range pair.Nodes {
			if err := os.MkdirAll(filepath.Join(rsctmp, n.Name), 0o755); err != nil {
				pair.Close()
				os.RemoveAll(dir)
				return nil, nil, fmt.Errorf("create HA_RSCTMP: %w", err)
			}
			nodes[i] = inv.With(MySQLNodeEnv(pair, n, rsctmp, crm.BinDir)...)
		}
		cleanup := func() {
			ctx := context.WithoutCancel(ctx)
			for _, node := range nodes {
				if err := runAction(ctx, node, "stop", mysqlActionTimeout, 0); err != nil {
					fmt.Fprintf(os.Stderr, "bench: %v\n", err)
				}
			}
			if err := pair.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "bench: close mysql pair: %v\n", err)
				return // the directory stays while a server may use it
			}
			os.RemoveAll(dir)
		}
		if err := setUpReplica(ctx, pair, nodes); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("mysql case setup: %w (fake crm_attribute calls: %s)", err, crm.Calls())
		}
		return MySQLNodeEnv(pair, pair.Nodes[mysqlMeasuredNode], rsctmp, crm.BinDir), cleanup, nil
	}
}

// setUpReplica brings the pair to one writer (node 0) and one replica of
// it (node 1) as Pacemaker would through the agent invoked as nodes, and
// waits until the replica runs both replication threads and goha has
// published its promotion score.
func setUpReplica(ctx context.Context, pair *mysqlpair.Pair, nodes [2]Invocation) error {
	const writer, replica = 0, mysqlMeasuredNode
	// The servers the agent launches detached must not become children
	// of the harness: a measured call waits for all of those to exit.
	err := withoutSubreaper(func() error {
		for _, node := range nodes {
			if err := runAction(ctx, node, "start", mysqlActionTimeout, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range pair.Nodes {
		if err := grantUnlogged(ctx, n, referenceReplicationGrant); err != nil {
			return err
		}
	}
	if err := runAction(ctx, nodes[writer], "promote", mysqlActionTimeout, 0); err != nil {
		return err
	}
	notify := []string{
		"OCF_RESKEY_CRM_meta_notify_type=post",
		"OCF_RESKEY_CRM_meta_notify_operation=promote",
		"OCF_RESKEY_CRM_meta_notify_promote_uname=" + pair.Nodes[writer].Name,
		"OCF_RESKEY_CRM_meta_notify_active_uname=" + pair.Nodes[writer].Name + " " + pair.Nodes[replica].Name,
	}
	for _, node := range nodes {
		if err := runAction(ctx, node.With(notify...), "notify", mysqlNotifyTimeout, 0); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, mysqlReplicaLimit)
	defer cancel()
	if err := waitReplicating(wctx, pair.Nodes[replica], pair.Nodes[writer].Addr); err != nil {
		return err
	}
	// A probe publishes the replica's score through the fake
	// crm_attribute, so that the measured monitors find it unchanged.
	return runAction(ctx, nodes[replica], "monitor", mysqlActionTimeout, 0)
}

// grantUnlogged runs grant on n as root with binary logging off for the
// session, so the two servers' GTID histories stay identical.
func grantUnlogged(ctx context.Context, n *mysqlpair.Node, grant string) error {
	db, err := n.Root()
	if err != nil {
		return fmt.Errorf("connect to %s: %w", n.Name, err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", n.Name, err)
	}
	defer conn.Close()
	for _, stmt := range []string{"SET SESSION sql_log_bin = 0", grant} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s on %s: %w", stmt, n.Name, err)
		}
	}
	return nil
}

// waitReplicating waits until n replicates from source with both threads
// running and nothing left to apply.
func waitReplicating(ctx context.Context, n *mysqlpair.Node, source string) error {
	db, err := n.Root()
	if err != nil {
		return fmt.Errorf("connect to %s: %w", n.Name, err)
	}
	defer db.Close()
	var last string
	for {
		st, err := replicaStatus(ctx, db)
		switch {
		case err != nil:
			last = err.Error()
		case st["Master_Host"] == source && st["Slave_IO_Running"] == "Yes" &&
			st["Slave_SQL_Running"] == "Yes" && st["Seconds_Behind_Master"] == "0":
			return nil
		default:
			last = fmt.Sprintf("source %q, IO thread %q, SQL thread %q, %q s behind",
				st["Master_Host"], st["Slave_IO_Running"], st["Slave_SQL_Running"], st["Seconds_Behind_Master"])
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s does not replicate from %s: %s", n.Name, source, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// replicaStatus is SHOW SLAVE STATUS as column name to value; NULL reads
// as "NULL", no row as an empty map.
func replicaStatus(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, fmt.Errorf("show slave status: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("show slave status: %w", err)
	}
	st := map[string]string{}
	if !rows.Next() {
		return st, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("show slave status: %w", err)
	}
	for i, c := range cols {
		st[c] = "NULL"
		if vals[i].Valid {
			st[c] = vals[i].String
		}
	}
	return st, rows.Err()
}
