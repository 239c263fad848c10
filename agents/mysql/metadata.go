// Package mysql is ocf:goha:mysql: two MariaDB or MySQL servers that
// replicate from each other (master-master, as the File Fabric and vProtect
// guides build them), run by Pacemaker as a promotable clone with
// promoted-max=1 so that exactly one of them accepts writes.
//
// Roles: a started instance is a read-only replica; the promoted instance is
// the one writable server. The role is the server's own read_only flag, so a
// probe finds it and a server writable behind Pacemaker's back shows up as a
// second promoted instance, which Pacemaker demotes. Every instance
// publishes a promotion score from what its replication threads report:
// the writer highest (no automatic failback), a replica that applied all it
// received next, lag lowering it, and errors or errant transactions (held
// here, lacking at the source) removing it. Promote waits until the relay
// log is applied and, when the old writer can still be asked, until nothing
// it holds is missing here.
//
// The package reads top-down: this file declares the agent; gtid.go and
// replication.go are the pure core (GTID set arithmetic; scores, monitor
// verdicts, promote readiness, whom to replicate from); sqlclient.go is the
// adapter to the servers over the MySQL protocol; actions.go carries out the
// actions. The server process itself is internal/mariadb's.
package mysql

import (
	"time"

	"github.com/goha-ha/goha/internal/mariadb"
	"github.com/goha-ha/goha/internal/version"
	"github.com/goha-ha/goha/ocf"
)

// Parameter names, shared by the declaration and the actions.
const (
	pTestUser        = "test_user"
	pTestPasswd      = "test_passwd"
	pTestTable       = "test_table"
	pCheckDefaults   = "check_defaults_file"
	pReplUser        = "replication_user"
	pReplPasswd      = "replication_passwd"
	pReplDefaults    = "replication_defaults_file"
	pReplPort        = "replication_port"
	pHostMap         = "host_map"
	pMaxLag          = "max_slave_lag"
	pEvict           = "evict_outdated_slaves"
	pSemiSync        = "semi_sync"
	pSemiSyncTimeout = "semi_sync_timeout"
	pForceAttr       = "force_promote_attribute"
	pPositioning     = "replication_positioning"
)

// Agent returns the ocf:goha:mysql declaration and its actions.
func Agent() *ocf.Agent {
	return newAgent(&actions{})
}

// newAgent declares the agent over a.
func newAgent(a *actions) *ocf.Agent {
	return &ocf.Agent{
		Name:    "mysql",
		Version: version.Version,
		Short:   "MariaDB/MySQL master-master replication with exactly one writer",
		Long: "Runs one of two MariaDB or MySQL servers that replicate from each other. Create it as a " +
			"promotable clone with promoted-max=1 and notify=true, and colocate the database VIP with " +
			"the Promoted role. Every instance starts read-only and replicates (GTID positioning); " +
			"the promoted instance alone has read_only (and super_read_only on MySQL) off, and keeps " +
			"replicating from the other so both directions stay configured. Promotion scores come " +
			"from the replication threads: the writer 1000, a replica that applied all it received " +
			"900, one applying its relay log 500, one beyond max_slave_lag 10; a replication error, a " +
			"stopped SQL thread or transactions the source lacks (a split brain's mark) remove the " +
			"score. Since the writer always outranks a replica, a returning node stays a replica " +
			"(no automatic failback). Promote waits until the relay log is applied and the node holds " +
			"everything the old writer holds; a manual move to a node that is behind is refused with " +
			"the reason. semi_sync=true makes every acknowledged commit reach the replica first. " +
			"Monitor speaks the MySQL protocol in-process and forks nothing. Parameter names follow " +
			"ocf:heartbeat:mysql.",
		Params: params(),
		Ops: []ocf.Op{
			{Name: "start", Timeout: 120 * time.Second},
			{Name: "stop", Timeout: 120 * time.Second},
			{Name: "promote", Timeout: 120 * time.Second},
			{Name: "demote", Timeout: 120 * time.Second},
			{Name: "monitor", Timeout: 30 * time.Second, Interval: 5 * time.Second, Role: "Promoted"},
			{Name: "monitor", Timeout: 30 * time.Second, Interval: 10 * time.Second, Role: "Unpromoted"},
			{Name: "notify", Timeout: 90 * time.Second},
			{Name: "validate-all", Timeout: 20 * time.Second},
		},
		Start:    a.start,
		Stop:     a.stop,
		Monitor:  a.monitor,
		Promote:  a.promote,
		Demote:   a.demote,
		Notify:   a.notify,
		Validate: a.validate,
	}
}

func params() []ocf.Param {
	return append(mariadb.ServerParams(), []ocf.Param{
		{
			Name: pTestUser, Default: "root",
			Short: "User for the checks",
			Long: "The MySQL user monitor, promote and demote connect as over the unix socket; it needs " +
				"SUPER (or READ_ONLY ADMIN and REPLICATION SLAVE ADMIN) to switch read_only and " +
				"replication. root with unix_socket authentication (the Debian default) needs no password. " +
				"check_defaults_file sets it too; this parameter wins when set.",
		},
		{
			Name: pTestPasswd, Secret: true,
			Short: "Password of test_user",
			Long: "Better kept out of the CIB in check_defaults_file; the agent never logs it or passes " +
				"it on a command line.",
		},
		{
			Name: pTestTable, Default: "mysql.user",
			Short: "Table read by OCF_CHECK_LEVEL=10",
			Long:  "A deep monitor (OCF_CHECK_LEVEL=10) counts the rows of this table.",
			Check: func(v string) error { return checkTableName(v) },
		},
		{
			Name:  pCheckDefaults,
			Short: "File with the check credentials",
			Long:  "A my.cnf-style file (mode 0600) whose [client] section gives test_user's user and password.",
		},
		{
			Name:  pReplUser,
			Short: "Replication user",
			Long: "The user each server connects to the other as (CHANGE MASTER TO MASTER_USER); it " +
				"needs REPLICATION SLAVE on both servers. Either this or replication_defaults_file must " +
				"name it; this parameter wins when both do.",
		},
		{
			Name: pReplPasswd, Secret: true,
			Short: "Password of replication_user",
			Long:  "Better kept out of the CIB in replication_defaults_file.",
		},
		{
			Name:  pReplDefaults,
			Short: "File with the replication credentials",
			Long: "A my.cnf-style file (mode 0600) whose [client] section gives the replication user and " +
				"password, so no password is stored in the CIB.",
		},
		{
			Name: pReplPort, Type: ocf.Integer, Default: "3306", Min: ocf.Bound(1), Max: ocf.Bound(65535),
			Short: "Port of the servers",
			Long:  "The TCP port each server listens on and the other replicates from.",
		},
		{
			Name:  pHostMap,
			Short: "Pacemaker node name to server address map",
			Long: "For clusters whose Pacemaker node names do not resolve to the servers' replication " +
				"addresses: node:host pairs separated by semicolons, e.g. \"pcmk1:10.0.0.1;pcmk2:10.0.0.2\".",
			Check: func(v string) error { _, err := mariadb.ParseHostMap(v); return err },
		},
		{
			Name: pMaxLag, Type: ocf.Integer, Default: "3600", Min: ocf.Bound(0),
			Short: "Largest acceptable replication lag, in seconds",
			Long: "A replica further behind than this scores 10, promoted only when nothing better is " +
				"left; with evict_outdated_slaves=true its monitor fails as well.",
		},
		{
			Name: pEvict, Type: ocf.Boolean, Default: "false",
			Short: "Fail a replica beyond max_slave_lag",
			Long:  "When true, a replica lagging more than max_slave_lag fails its monitor, as in ocf:heartbeat:mysql.",
		},
		{
			Name: pSemiSync, Type: ocf.Boolean, Default: "false",
			Short: "Semi-synchronous replication",
			Long: "When true, the writer acknowledges a commit only once the replica has it in its relay " +
				"log (wait point AFTER_SYNC), and every server starts with the semi-sync replica side on, " +
				"so that after a crash it discards a transaction the replica never received. Together with " +
				"promote's wait for the relay log, no acknowledged commit is lost in a failover. A writer " +
				"whose replica does not answer within semi_sync_timeout carries on asynchronously.",
		},
		{
			Name: pSemiSyncTimeout, Type: ocf.Integer, Default: "60000", Min: ocf.Bound(0),
			Short: "Semi-sync acknowledgement timeout, in milliseconds",
			Long:  "rpl_semi_sync_master_timeout: how long a commit waits for the replica before the writer falls back to asynchronous replication. Keep it longer than the cluster takes to fence a writer cut off from the others, so that such a writer never acknowledges a commit the replica lacks; the cost is one commit stalled that long when the replica goes away.",
		},
		{
			Name: pPositioning, Type: ocf.Enum, Values: []string{positioningAuto, positioningGTID, positioningFile}, Default: positioningAuto,
			Short: "How a replica tells its source where to start",
			Long: "gtid: the replica sends the transactions it holds (MariaDB MASTER_USE_GTID=current_pos, " +
				"MySQL SOURCE_AUTO_POSITION=1); transactions one server holds and the other lacks are then " +
				"seen and such a server is never promoted. file: binary log file and offset, for MySQL " +
				"servers without gtid_mode=ON. Each server publishes where its binary log ends in the " +
				"transient node attribute <resource>-binlog at start, and the writer again at promote; a " +
				"server that changes source begins there, and one that keeps its source resumes at its " +
				"own coordinates. With file positioning a transaction written on one server but never " +
				"shipped (an asynchronous writer's crash) cannot be detected; use semi_sync, and on MySQL " +
				"give replication_user REPLICATION CLIENT so promote can compare the binary logs. " +
				"auto: gtid where the server has GTIDs (always on MariaDB), else file.",
		},
		{
			Name:  pForceAttr,
			Short: "Node attribute that forces a promotion",
			Long: "When a node has this transient node attribute set to true (crm_attribute --node N " +
				"--lifetime reboot --name <value> --update true), promote does not wait for it to catch " +
				"up with the old writer. Empty means <resource>-force-promote.",
		},
	}...)
}
