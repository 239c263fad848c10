// Package galera is ocf:goha:galera: a MariaDB Galera cluster run by
// Pacemaker as a promotable clone, which recovers by itself from every
// failure of the OpenUDS HA guide without losing a committed transaction.
//
// Roles follow ocf:heartbeat:galera, so switching is a change of provider:
// an unpromoted instance has its server stopped and publishes its position
// (node attribute <resource>-position); promote starts the server, either
// bootstrapping a new Primary component or joining one; a promoted instance
// is a node joined to a Primary component.
//
// The package reads top-down: this file declares the agent; election.go is
// the decision core (who bootstraps, who joins from whom, which scores),
// with position.go, health.go and config.go the pure parsers and verdicts it
// builds on; server.go, sqlclient.go and cluster.go are the adapters to the
// mariadbd process, the MySQL protocol and Pacemaker; actions.go carries out
// start, stop, monitor, promote, demote and notify.
package galera

import (
	"time"

	"github.com/goha-ha/goha/internal/mariadb"

	"github.com/goha-ha/goha/internal/version"
	"github.com/goha-ha/goha/ocf"
)

// Parameter names, shared by the declaration and the actions.
const (
	pAddress       = "wsrep_cluster_address"
	pHostMap       = "cluster_host_map"
	pBinary        = mariadb.ParamBinary
	pClientBinary  = mariadb.ParamClientBinary
	pConfig        = mariadb.ParamConfig
	pDatadir       = mariadb.ParamDatadir
	pUser          = mariadb.ParamUser
	pGroup         = mariadb.ParamGroup
	pLog           = mariadb.ParamLog
	pPid           = mariadb.ParamPid
	pSocket        = mariadb.ParamSocket
	pExtra         = mariadb.ParamExtra
	pCreate        = "enable_creation"
	pCheckUser     = "check_user"
	pCheckPasswd   = "check_passwd"
	pCheckDefaults = "check_defaults_file"
	pCheckDatabase = "check_database"
	pDonorOK       = "donor_ok"
	pTwoNode       = "two_node_mode"
)

// Agent returns the ocf:goha:galera declaration and its actions.
func Agent() *ocf.Agent {
	return newAgent(&actions{view: crmMonView, reachable: tcpReachable})
}

// newAgent declares the agent over a, which tests build with fakes.
func newAgent(a *actions) *ocf.Agent {
	return &ocf.Agent{
		Name:    "galera",
		Version: version.Version,
		Short:   "MariaDB Galera cluster as a promotable clone (galera-compatible, self-recovering)",
		Long: "Runs one node of a MariaDB Galera cluster. Create it as a promotable clone with " +
			"promoted-max equal to the number of database nodes and notify=true. An unpromoted " +
			"instance has its server stopped and publishes the node's position (cluster UUID, last " +
			"committed seqno, safe_to_bootstrap) as the node attribute <resource>-position; promote " +
			"starts the server. When no node is joined, exactly one node bootstraps a new Primary " +
			"component: the one with the highest committed seqno, and only once every node that may " +
			"hold data has reported (a node counts as gone only when Pacemaker confirms it down, by " +
			"fencing or a clean leave); positions lost in a crash are recovered with --wsrep-recover. " +
			"Joining nodes take state only from joined nodes, which hold every write set. Monitor " +
			"speaks the MySQL protocol on the unix socket in-process (no forked client) and checks " +
			"wsrep_ready, wsrep_cluster_status=Primary, wsrep_local_state and the state UUID; " +
			"OCF_CHECK_LEVEL=10 also writes and reads back a row in a table of the agent's own. stop " +
			"ends the server this resource started, also one left behind by a timed-out start or " +
			"promote, and succeeds only when it is gone. Parameter names follow ocf:heartbeat:galera.",
		Params: params(),
		Ops: []ocf.Op{
			{Name: "start", Timeout: 120 * time.Second},
			{Name: "stop", Timeout: 120 * time.Second},
			{Name: "promote", Timeout: 300 * time.Second},
			{Name: "demote", Timeout: 120 * time.Second},
			{Name: "monitor", Timeout: 30 * time.Second, Interval: 5 * time.Second, Role: "Promoted"},
			{Name: "monitor", Timeout: 30 * time.Second, Interval: 20 * time.Second, Role: "Unpromoted"},
			{Name: "notify", Timeout: 30 * time.Second},
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
	list := []ocf.Param{
		{
			Name: pAddress, Required: true,
			Short: "Galera cluster address",
			Long: "The gcomm:// address listing every database node, e.g. gcomm://db1,db2,db3 " +
				"(host:port and ?options are accepted). It is passed to the server as " +
				"--wsrep-cluster-address, and its hosts are the members of the bootstrap election. " +
				"Each host is the Pacemaker node name unless cluster_host_map says otherwise; an " +
				"arbitrator (ocf:goha:garbd) is not listed here.",
			Check: func(v string) error { _, err := ClusterHosts(v); return err },
		},
		{
			Name:  pHostMap,
			Short: "Pacemaker node name to Galera host map",
			Long: "For clusters whose Pacemaker node names differ from the hosts in " +
				"wsrep_cluster_address: node:host pairs separated by semicolons, e.g. " +
				"\"pcmk1:10.0.0.1;pcmk2:10.0.0.2\". Names are compared whole. The Pacemaker node " +
				"name is also the donor name given to wsrep_sst_donor, so each server's " +
				"wsrep_node_name must be its Pacemaker node name (the default, the host name, " +
				"usually is).",
			Check: func(v string) error { _, err := mariadb.ParseHostMap(v); return err },
		},
		{
			Name: pCreate, Type: ocf.Boolean, Default: "false",
			Short: "Create an empty data directory",
			Long:  "When true, start initialises a data directory that has none with mariadb-install-db.",
		},
		{
			Name: pCheckUser, Default: "root",
			Short: "User for the health checks",
			Long: "The MySQL user monitor and promote connect as over the unix socket. root with " +
				"unix_socket authentication (the Debian default) needs no password. check_defaults_file " +
				"sets it too; this parameter wins when set.",
		},
		{
			Name: pCheckPasswd, Secret: true,
			Short: "Password of check_user",
			Long: "The password of check_user. Better kept out of the CIB in check_defaults_file; " +
				"the agent never logs it or passes it on a command line.",
		},
		{
			Name:  pCheckDefaults,
			Short: "File with the check credentials",
			Long: "A my.cnf-style file (mode 0600) whose [client] section gives user and password for " +
				"the health checks, so no password is stored in the CIB.",
		},
		{
			Name: pCheckDatabase, Default: "goha",
			Short: "Database of the write check",
			Long: "OCF_CHECK_LEVEL=10 writes and reads back a row in <check_database>.galera_check, " +
				"creating both when missing; check_user needs CREATE, INSERT, DELETE and SELECT there.",
		},
		{
			Name: pDonorOK, Type: ocf.Boolean, Default: "true",
			Short: "A donor is healthy",
			Long: "When true, a promoted node that is Donor/Desynced (or Joined, catching up after " +
				"donating) passes monitor; when false such a node fails it.",
		},
		{
			Name: pTwoNode, Type: ocf.Boolean, Default: "false",
			Short: "Two-node cluster (compatibility)",
			Long: "Accepted for ocf:heartbeat:galera configurations. The election already treats a " +
				"peer that Pacemaker confirms down (fenced) as gone, which is what this parameter " +
				"enabled there, so it changes nothing here.",
		},
	}
	// The server process, declared as ocf:goha:mysql declares it; after
	// the cluster address so the meta-data lists what matters first.
	return append(list[:2:2], append(mariadb.ServerParams(), list[2:]...)...)
}
